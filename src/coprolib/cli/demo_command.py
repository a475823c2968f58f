"""``coprolib demo``: the whole chain on the embedded default (see :mod:`coprolib.cli.demo`)."""

from __future__ import annotations

import tempfile

import click

from coprolib.hookspecs import hookimpl


@hookimpl
def register_commands(cli: click.Group) -> None:
    """Add ``coprolib demo``."""

    @cli.command(name="demo")
    @click.option(
        "--dir",
        "directory",
        type=click.Path(file_okay=False),
        help="Folder to write the demo's ledger, config, board pack and report "
        "(default: a new temporary folder).",
    )
    def demo_command(directory: str | None) -> None:
        """Run story -> insight -> change -> feedback end to end on a fictional example."""
        from coprolib.cli.demo import run_demo

        folder = directory or tempfile.mkdtemp(prefix="coprolib-demo-")
        try:
            run_demo(folder, say=click.echo)
        except FileExistsError as exc:
            raise click.ClickException(str(exc)) from None
