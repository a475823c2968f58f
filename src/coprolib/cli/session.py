"""What every ``coprolib`` command shares: the ``--ledger``, ``--config`` and ``--json`` options,
and opening the ledger and configuration they name.

The ledger's location is decided once, by :func:`coprolib.ledger.locate_ledger` (``--ledger``,
``$COPROLIB_LEDGER``, the ``ledger`` key of ``--config`` / ``$COPROLIB_CONFIG`` /
``./coprolib.toml``, then ``sqlite:///coprolib.db``). Only ``init``, ``import`` and ``demo``
create a ledger; every other command refuses a missing one, saying which path it looked for and
where that came from. Plugins adding commands use the same options and :func:`session`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import click

from coprolib.errors import EXIT_USAGE, CoprolibError

# The options are used by every command module, which loads when `coprolib` starts: the
# configuration and the ledger are imported by the functions that need them, not here.

if TYPE_CHECKING:
    from coprolib.config import Config
    from coprolib.ledger import Ledger, LedgerLocation

F = TypeVar("F", bound=Callable[..., Any])

#: Help shared by every command's ``--ledger``.
LEDGER_HELP = (
    "The ledger: sqlite:///path.db or postgresql://... "
    "(default: $COPROLIB_LEDGER, then 'ledger' in the config, then sqlite:///coprolib.db)."
)
#: Help shared by every command's ``--config``.
CONFIG_HELP = "The coprolib.toml to use (default: $COPROLIB_CONFIG, then ./coprolib.toml)."


class ConfigurationProblem(CoprolibError, click.ClickException):
    """A missing ledger, an unreadable configuration: a setup problem, exit code 2."""

    exit_code = EXIT_USAGE


def ledger_option(f: F) -> F:
    """``--ledger URL`` (passed as ``ledger_opt``)."""
    return click.option("--ledger", "ledger_opt", metavar="URL", default=None, help=LEDGER_HELP)(f)


def config_option(f: F) -> F:
    """``--config PATH`` (passed as ``config_opt``)."""
    return click.option(
        "--config",
        "config_opt",
        metavar="PATH",
        type=click.Path(dir_okay=False),
        default=None,
        help=CONFIG_HELP,
    )(f)


def ledger_options(f: F) -> F:
    """Both ``--ledger URL`` and ``--config PATH``."""
    return ledger_option(config_option(f))


def json_option(f: F) -> F:
    """``--json`` (passed as ``as_json``)."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON.")(f)


def load(config_opt: str | None) -> Config:
    """The configuration ``--config`` names (or the default one), errors made one line."""
    from coprolib.config import ConfigError, load_config

    try:
        return load_config(config_opt)
    except ConfigError as exc:
        raise ConfigurationProblem(str(exc)) from None


def locate(ledger_opt: str | None, config: Config) -> LedgerLocation:
    """Where the ledger is (see :func:`coprolib.ledger.locate_ledger`)."""
    from coprolib.ledger import LedgerError, locate_ledger

    try:
        return locate_ledger(ledger_opt, config)
    except LedgerError as exc:
        raise ConfigurationProblem(str(exc)) from None


def open_session(
    ledger_opt: str | None,
    config_opt: str | None,
    *,
    create: bool = False,
    need_destinations: bool = False,
    **open_kwargs: Any,
) -> tuple[Ledger, Config]:
    """The opened ledger (the caller closes it) and the loaded configuration for one command.

    ``create`` lets the command make a new ledger (``init``, ``import``, ``demo`` only). With
    ``need_destinations`` a configuration without destinations is an error. Errors end the
    command with one line, never a traceback: a missing ledger or a bad configuration exits 2."""
    from coprolib.ledger import LedgerError, open_ledger

    config = load(config_opt)
    if need_destinations and not config.destinations:
        raise ConfigurationProblem(
            "no destinations configured: add [destinations.NAME] to coprolib.toml "
            "(or point --config / $COPROLIB_CONFIG at one)"
        )
    location = locate(ledger_opt, config)
    open_kwargs.setdefault("actor", "cli")
    try:
        return open_ledger(location, create=create, **open_kwargs), config
    except LedgerError as exc:
        raise failure(exc) from None


def failure(exc: Exception) -> click.ClickException:
    """The one-line error that ends a command for a ledger error: exit 2 for a missing ledger
    (a setup problem), 1 for the others."""
    from coprolib.ledger.opening import LedgerMissing

    cls = ConfigurationProblem if isinstance(exc, LedgerMissing) else click.ClickException
    return cls(str(exc))


@contextmanager
def session(
    ledger_opt: str | None,
    config_opt: str | None,
    *,
    create: bool = False,
    need_destinations: bool = False,
    **open_kwargs: Any,
) -> Iterator[tuple[Ledger, Config]]:
    """:func:`open_session` as a context manager that closes the ledger; ledger errors raised
    inside end the command with one line."""
    from coprolib.ledger import LedgerError

    ledger, config = open_session(
        ledger_opt, config_opt, create=create, need_destinations=need_destinations, **open_kwargs
    )
    with ledger:
        try:
            yield ledger, config
        except LedgerError as exc:
            raise failure(exc) from None
