"""The plugin host (``host``): one pluggy manager, the built-in plugins and entry points.

Built-in plugins live in their stage (consent rules in :mod:`coprolib.consent.rules`,
recognisers in :mod:`coprolib.redaction`, commands in :mod:`coprolib.cli`, ...) and are
registered exactly as a third-party plugin is. Hooks are called through pluggy
(``pm.hook.<name>``, traced with ``COPROLIB_TRACE_PLUGINS=1``) by :func:`notify`,
:func:`registrations` and :func:`answers`, which report a plugin that raises and call the
others; :func:`failed_plugin` names the plugin behind an exception from a hook call."""

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
    answers as answers,
)
from coprolib.plugins.host import (
    collect_commands as collect_commands,
)
from coprolib.plugins.host import (
    failed_plugin as failed_plugin,
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
    is_builtin as is_builtin,
)
from coprolib.plugins.host import (
    load_errors as load_errors,
)
from coprolib.plugins.host import (
    notify as notify,
)
from coprolib.plugins.host import (
    registrations as registrations,
)
from coprolib.plugins.host import (
    report_failure as report_failure,
)
from coprolib.plugins.host import (
    reset_plugin_manager as reset_plugin_manager,
)

# The built-in plugins' old module names (``coprolib.plugins.rule_review``, ...) stay
# importable, with a DeprecationWarning, until coprolib 0.3 (see ``coprolib._moved_module``).
__path__.append(str(Path(__file__).parent.parent / "_moved" / "plugins"))
