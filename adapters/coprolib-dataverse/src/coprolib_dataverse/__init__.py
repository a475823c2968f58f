"""coprolib-dataverse: shares as rows of a Microsoft Dataverse (Dynamics 365) table.

Each share is upserted with ``PATCH <entityset>(<keycolumn>='<idempotency key>')``, so delivering
it again updates the same row; batches go as one ``$batch`` of up to 1,000 requests with
``Prefer: odata.continue-on-error`` and give one result per share; retraction deletes the row by
the same key. Sign-in is app-only through ``msal`` (see :mod:`coprolib_entra`). A 429 pauses the
whole destination for ``Retry-After``.
"""

from __future__ import annotations

from coprolib import hookimpl
from coprolib.hookspecs import RegisterAdapter
from coprolib_dataverse.adapter import DataverseAdapter, DataverseConfig

__all__ = ["DataverseAdapter", "DataverseConfig", "register_adapters"]


@hookimpl
def register_adapters(register: RegisterAdapter) -> None:
    """Register the ``dataverse`` destination adapter."""
    register("dataverse", DataverseAdapter)
