"""``coprolib serve`` and ``coprolib token create|revoke|list``: thin layers over
:mod:`coprolib.serve` and :mod:`coprolib.ledger.api_store`."""

from __future__ import annotations

import json

import click

from coprolib.cli.session import json_option, ledger_options, session
from coprolib.hookspecs import hookimpl

# Commands import what they run inside their bodies: every command module is loaded when
# `coprolib` starts, so an import here would be paid by every command, `--help` included.


def _serve_command(cli: click.Group) -> None:
    @cli.command(name="serve")
    @click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
    @click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
    @click.option(
        "--openapi-v2",
        "openapi_v2",
        is_flag=True,
        help="Print the OpenAPI 2.0 document (for Power Platform custom connectors) and stop.",
    )
    @click.option(
        "--openapi", "openapi_v3", is_flag=True, help="Print the OpenAPI 3.0 document and stop."
    )
    @click.option(
        "--public-host",
        metavar="HOST",
        help="With --openapi-v2: the host name the connector calls (api.example.gov.uk).",
    )
    @ledger_options
    def serve_command(
        host: str,
        port: int,
        openapi_v2: bool,
        openapi_v3: bool,
        public_host: str | None,
        ledger_opt: str | None,
        config_opt: str | None,
    ) -> None:
        """Serve the HTTP API (/v1/...) over the ledger with uvicorn."""
        from coprolib.cli.session import ConfigurationProblem, load, locate
        from coprolib.config import ConfigError

        config = load(config_opt)
        try:
            from coprolib.serve.settings import serve_settings

            settings = serve_settings(config)
        except ConfigError as exc:
            raise ConfigurationProblem(str(exc)) from None
        except ImportError:
            raise ConfigurationProblem(
                "coprolib serve needs its extra: pip install 'coprolib[serve]'"
            ) from None
        if openapi_v2 or openapi_v3:
            from coprolib.serve.openapi import openapi_document, to_openapi_v2

            doc = openapi_document(settings)
            if openapi_v2:
                doc = to_openapi_v2(doc, host=public_host)
            click.echo(json.dumps(doc, indent=2))
            return
        location = locate(ledger_opt, config)
        from coprolib.ledger.opening import require_ledger

        try:
            require_ledger(location.url, location)
        except Exception as exc:
            raise ConfigurationProblem(str(exc)) from None
        import logging

        # This command is the host here: it decides where the request log goes.
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
        serve_log = logging.getLogger("coprolib.serve")
        serve_log.addHandler(handler)
        serve_log.setLevel(logging.INFO)
        from coprolib.serve import run

        click.echo(f"serving {location.describe()} on http://{host}:{port}/v1/", err=True)
        run(location, config, host=host, port=port)


def _token_commands(cli: click.Group) -> None:
    @cli.group(name="token")
    def token_group() -> None:
        """API tokens for coprolib serve: create, revoke, list."""

    @token_group.command(name="create")
    @click.argument("name")
    @click.option(
        "--scope",
        "scopes",
        multiple=True,
        required=True,
        type=click.Choice(["read", "records:write", "consent:write", "feedback:write"]),
        help="What it may do (repeatable).",
    )
    @json_option
    @ledger_options
    def create_command(
        name: str,
        scopes: tuple[str, ...],
        as_json: bool,
        ledger_opt: str | None,
        config_opt: str | None,
    ) -> None:
        """Create a token called NAME (written in the audit for every write it makes).

        The token is printed once; only its hash is kept."""
        from coprolib.ledger.api_store import TokenError, create_token

        with session(ledger_opt, config_opt) as (ledger, _config):
            try:
                token = create_token(ledger, name, scopes)
            except TokenError as exc:
                raise click.ClickException(str(exc)) from None
        if as_json:
            click.echo(json.dumps({"name": name, "scopes": list(scopes), "token": token}))
            return
        click.echo(token)
        click.echo(
            f"token {name!r} ({', '.join(scopes)}): shown once; keep it in a secret store",
            err=True,
        )

    @token_group.command(name="revoke")
    @click.argument("name")
    @json_option
    @ledger_options
    def revoke_command(
        name: str, as_json: bool, ledger_opt: str | None, config_opt: str | None
    ) -> None:
        """Revoke the token called NAME; it is refused from now on."""
        from coprolib.ledger.api_store import TokenError, revoke_token

        with session(ledger_opt, config_opt) as (ledger, _config):
            try:
                token = revoke_token(ledger, name)
            except TokenError as exc:
                raise click.ClickException(str(exc)) from None
        if as_json:
            click.echo(json.dumps({"name": token.name, "revoked_at": token.revoked_at}))
            return
        click.echo(f"revoked {token.name} at {token.revoked_at}")

    @token_group.command(name="list")
    @json_option
    @ledger_options
    def list_command(as_json: bool, ledger_opt: str | None, config_opt: str | None) -> None:
        """List tokens: name, scopes, created, revoked (never the token)."""
        from coprolib.ledger.api_store import list_tokens

        with session(ledger_opt, config_opt) as (ledger, _config):
            tokens = list_tokens(ledger)
        if as_json:
            click.echo(
                json.dumps(
                    [
                        {
                            "name": t.name,
                            "scopes": list(t.scopes),
                            "created_at": t.created_at,
                            "revoked_at": t.revoked_at,
                        }
                        for t in tokens
                    ],
                    indent=2,
                )
            )
            return
        for t in tokens:
            state = f"revoked {t.revoked_at}" if t.revoked_at else "active"
            click.echo(f"{t.name}  {' '.join(t.scopes)}  created {t.created_at}  {state}")
        click.echo(f"{len(tokens)} token(s)")


@hookimpl
def register_commands(cli: click.Group) -> None:
    """Add serve and token create/revoke/list."""
    _serve_command(cli)
    _token_commands(cli)
