"""coprolib-civicrm: deliver shares into CiviCRM through APIv4.

Each share becomes one record (an Activity of type "Lived experience insight" by default)
written with ``save`` and ``match`` on a custom "External ID" field holding the share's
idempotency key, so sending again updates the same record. Retraction is ``delete`` where that
field equals the key; nothing matching counts as done. Authentication is the contact's API key
in ``X-Civi-Auth: Bearer …``.
"""

from __future__ import annotations

from coprolib import hookimpl
from coprolib.hookspecs import RegisterAdapter
from coprolib_civicrm.adapter import CiviCRMAdapter, CiviCRMConfig

__all__ = ["CiviCRMAdapter", "CiviCRMConfig", "register_adapters"]


@hookimpl
def register_adapters(register: RegisterAdapter) -> None:
    """Register the ``civicrm`` destination adapter."""
    register("civicrm", CiviCRMAdapter)
