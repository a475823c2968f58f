"""The second stage: ``coprolib.toml``, read (:mod:`~coprolib.config.loading`) and validated
into a :class:`Config` (:mod:`~coprolib.config.model`); secrets by ``$env:NAME`` reference
(:mod:`~coprolib.config.secrets`)."""

from coprolib.config.lines import key_lines as key_lines
from coprolib.config.loading import find_config as find_config
from coprolib.config.loading import load_config as load_config
from coprolib.config.loading import parse_config as parse_config
from coprolib.config.model import CARRIES_FEEDBACK as CARRIES_FEEDBACK
from coprolib.config.model import CARRIES_INSIGHT as CARRIES_INSIGHT
from coprolib.config.model import CONFIG_ENV as CONFIG_ENV
from coprolib.config.model import CONFIG_NAME as CONFIG_NAME
from coprolib.config.model import DESTINATION_NAME as DESTINATION_NAME
from coprolib.config.model import SENDABLE_CHANNELS as SENDABLE_CHANNELS
from coprolib.config.model import Config as Config
from coprolib.config.model import ConfigError as ConfigError
from coprolib.config.model import Destination as Destination
from coprolib.config.model import FeedbackPolicy as FeedbackPolicy
from coprolib.config.model import ImpactPolicy as ImpactPolicy
from coprolib.config.secrets import MASK as MASK
from coprolib.config.secrets import SecretRef as SecretRef
from coprolib.config.secrets import mask_url as mask_url
