"""The ledger: what coprolib holds, what it shared where under which consent, and who changed
what. SQLite by default, PostgreSQL for shared deployments, with encrypted fields and a verified
audit chain. See ``docs/ledger.md``; the contract other modules code against is
:class:`Ledger` (records, consent events, shares, receipts, outbox jobs, audit, erasure).
"""

from __future__ import annotations

from coprolib.ledger.crypto import KEY_ENV, KeyRing, generate_key
from coprolib.ledger.errors import LedgerError
from coprolib.ledger.ledger import Ledger
from coprolib.ledger.opening import (
    DEFAULT_LEDGER_URL,
    LEDGER_ENV,
    LedgerLocation,
    NewLedger,
    create_ledger,
    locate_ledger,
    migrate,
    open_ledger,
    resolve_ledger_url,
)
from coprolib.ledger.schema import SCHEMA_VERSION
from coprolib.ledger.types import (
    AuditEntry,
    AuditVerification,
    DestinationState,
    Job,
    JobCounts,
    JobEvent,
    JobKind,
    JobStatus,
    ShareRow,
    ShareStatus,
)

__all__ = [
    "DEFAULT_LEDGER_URL",
    "KEY_ENV",
    "LEDGER_ENV",
    "SCHEMA_VERSION",
    "AuditEntry",
    "AuditVerification",
    "DestinationState",
    "Job",
    "JobCounts",
    "JobEvent",
    "JobKind",
    "JobStatus",
    "KeyRing",
    "Ledger",
    "LedgerError",
    "LedgerLocation",
    "NewLedger",
    "ShareRow",
    "ShareStatus",
    "create_ledger",
    "generate_key",
    "locate_ledger",
    "migrate",
    "open_ledger",
    "resolve_ledger_url",
]
