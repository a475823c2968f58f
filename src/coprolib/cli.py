"""The ``coprolib`` command line: a thin layer over the documented Python API.

Commands come from plugins through the ``register_commands(cli)`` hook, the built-in ones
included (see :mod:`coprolib.plugins.core_commands`).
"""

from __future__ import annotations

import sys

import click

from coprolib import __version__


@click.group()
@click.version_option(__version__, prog_name="coprolib")
def cli() -> None:
    """coprolib: lived experience to prevention change, with consent enforced."""


def build_cli() -> click.Group:
    """The ``coprolib`` group with every plugin's commands added."""
    from coprolib.plugin_host import collect_commands

    collect_commands(cli)
    return cli


def main() -> None:
    """Console-script entry point."""
    from coprolib.adapters.secrets import protect_logging

    # The command line is the host program: it may mask secrets in the HTTP libraries' logs.
    protect_logging()
    try:
        build_cli()
    except Exception as exc:
        click.echo(f"coprolib: {exc}", err=True)
        sys.exit(2)
    cli(prog_name="coprolib")
