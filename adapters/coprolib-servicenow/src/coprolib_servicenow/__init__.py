"""coprolib-servicenow: shares as ServiceNow records through the Import Set API (a transform
map that coalesces on coprolib's idempotency key, so a repeat updates the same record),
``insertMultiple`` for batches, Table API ``DELETE`` to retract, OAuth 2.0 client credentials."""

from __future__ import annotations

from coprolib import hookimpl
from coprolib.hookspecs import RegisterAdapter
from coprolib_servicenow.adapter import ServiceNowAdapter, ServiceNowConfig

__all__ = ["ServiceNowAdapter", "ServiceNowConfig", "register_adapters"]


@hookimpl
def register_adapters(register: RegisterAdapter) -> None:
    """Register the ``servicenow`` destination adapter."""
    register("servicenow", ServiceNowAdapter)
