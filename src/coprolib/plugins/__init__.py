"""The plugin host (``host``): one pluggy manager, the built-in plugins and entry points.

Built-in plugins live in their stage (consent rules in :mod:`coprolib.consent.rules`,
recognisers in :mod:`coprolib.redaction`, commands in :mod:`coprolib.cli`, ...) and are
registered exactly as a third-party plugin is."""

from pathlib import Path

from coprolib.plugins.host import (
    DEFAULT_PLUGINS as DEFAULT_PLUGINS,
)
from coprolib.plugins.host import (
    ENTRY_POINT_GROUP as ENTRY_POINT_GROUP,
)
from coprolib.plugins.host import (
    LoadError as LoadError,
)
from coprolib.plugins.host import (
    PluginInfo as PluginInfo,
)
from coprolib.plugins.host import (
    PluginLoadError as PluginLoadError,
)
from coprolib.plugins.host import (
    call_each as call_each,
)
from coprolib.plugins.host import (
    collect_commands as collect_commands,
)
from coprolib.plugins.host import (
    collect_registrations as collect_registrations,
)
from coprolib.plugins.host import (
    get_adapters as get_adapters,
)
from coprolib.plugins.host import (
    get_plugin_manager as get_plugin_manager,
)
from coprolib.plugins.host import (
    get_plugins as get_plugins,
)
from coprolib.plugins.host import (
    load_errors as load_errors,
)
from coprolib.plugins.host import (
    reset_plugin_manager as reset_plugin_manager,
)

# The built-in plugins' old module names (``coprolib.plugins.rule_review``, ...) stay
# importable, with a DeprecationWarning, until coprolib 0.3 (see ``coprolib._moved_module``).
__path__.append(str(Path(__file__).parent.parent / "_moved" / "plugins"))
