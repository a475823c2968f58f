"""coprolib-salesforce: shares as records of a Salesforce object, upserted by an External ID
field that holds coprolib's idempotency key, batched through sObject Collections, deleted by the
same key to retract, with OAuth 2.0 client-credentials sign-in."""

from __future__ import annotations

from coprolib import hookimpl
from coprolib.hookspecs import RegisterAdapter
from coprolib_salesforce.adapter import SalesforceAdapter, SalesforceConfig

__all__ = ["SalesforceAdapter", "SalesforceConfig", "register_adapters"]


@hookimpl
def register_adapters(register: RegisterAdapter) -> None:
    """Register the ``salesforce`` destination adapter."""
    register("salesforce", SalesforceAdapter)
