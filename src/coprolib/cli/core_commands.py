"""Built-in CLI commands, registered through ``register_commands`` like any plugin's."""

from __future__ import annotations

import json

import click

from coprolib.cli.session import json_option
from coprolib.hookspecs import hookimpl

# Commands import what they run inside their bodies: every command module is loaded when
# `coprolib` starts, so an import here would be paid by every command, `--help` included.


@hookimpl
def register_commands(cli: click.Group) -> None:
    """Add the foundation commands: plugins, validate, schema."""

    @cli.command(name="plugins")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
    def plugins_command(as_json: bool) -> None:
        """List installed plugins, the hooks each implements, and any that failed to load."""
        from coprolib.plugins import get_plugins, load_errors

        plugins = get_plugins()
        errors = load_errors()
        if as_json:
            data = {
                "plugins": [
                    {
                        "name": p.name,
                        "version": p.version,
                        "hooks": list(p.hooks),
                        "builtin": p.builtin,
                    }
                    for p in plugins
                ],
                "errors": [{"name": e.name, "error": e.error} for e in errors],
            }
            click.echo(json.dumps(data, indent=2))
            return
        for p in plugins:
            origin = "built-in" if p.builtin else (p.version or "")
            click.echo(f"{p.name}  {origin}  hooks: {', '.join(p.hooks)}")
        for e in errors:
            click.echo(f"{e.name}  FAILED TO LOAD: {e.error}", err=True)

    @cli.command(name="validate")
    @click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
    @json_option
    def validate_command(files: tuple[str, ...], as_json: bool) -> None:
        """Check bundle (.json), JSONL or stories CSV (.csv) files; list every problem with
        file and place. Exits 1 if any file has a problem."""
        from coprolib.ledger.csv_stories import story_csv_problems
        from coprolib.records.bundle import validate_files

        results: list[tuple[str, list[str]]] = []
        for path in files:
            if path.lower().endswith(".csv"):
                # Each CSV problem names the file, line and column already.
                results.append((path, story_csv_problems(path)))
            else:
                for name, found in validate_files([path]):
                    results.append((name, [f"{name}: {p}" for p in found]))
        failed = any(problems for _path, problems in results)
        if as_json:
            click.echo(
                json.dumps(
                    [
                        {"file": path, "ok": not problems, "problems": problems}
                        for path, problems in results
                    ],
                    indent=2,
                )
            )
        else:
            for path, problems in results:
                for line in problems:
                    click.echo(line, err=True)
                if not problems:
                    click.echo(f"{path}: ok")
        if failed:
            raise SystemExit(1)

    @cli.command(name="schema")
    def schema_command() -> None:
        """Print the JSON Schema of the bundle format."""
        from coprolib.records.schema import bundle_schema_text

        click.echo(bundle_schema_text(), nl=False)
