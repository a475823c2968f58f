"""``coprolib serve``: an HTTP API over the functions the ``coprolib`` commands call.

:func:`create_app` gives the ASGI app (Starlette); :func:`run` serves it with uvicorn. Install
with ``pip install 'coprolib[serve]'``. See ``docs/serve.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from coprolib.config import Config
    from coprolib.ledger import LedgerLocation

__all__ = ["create_app", "run"]


def create_app(location: str | LedgerLocation, config: Config | None = None, **kw: Any) -> Any:
    """The ASGI app (see :func:`coprolib.serve.app.create_app`)."""
    # Starlette comes with the optional [serve] extra: importing coprolib.serve must not need it.
    from coprolib.serve.app import create_app as make

    return make(location, config, **kw)


def run(
    location: str | LedgerLocation,
    config: Config | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    schema: str | None = None,
) -> None:
    """Serve the API with uvicorn until interrupted (access logs off: paths hold ids)."""
    import uvicorn

    app = create_app(location, config, schema=schema)
    uvicorn.run(app, host=host, port=port, access_log=False, server_header=False)
