"""coprolib: lived experience to prevention change, with consent enforced and the loop closed.

The public API is re-exported here: records and enumerations are imported eagerly (they are
small); modules with heavier dependencies load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from coprolib.enums import (
    AbuseType,
    Audience,
    ChangeDepth,
    ConsentEventType,
    ConsentMethod,
    DecisionBasis,
    DecisionHolder,
    FeedbackChannel,
    FeedbackKind,
    FeedbackStatus,
    IdentityLevel,
    InsightStatus,
    LadderRung,
    OutcomeKind,
    OutcomeStatus,
    Purpose,
    RiskLocation,
    RiskSource,
    SARDomain,
    ShareKind,
    StorySource,
    Support,
)
from coprolib.hookspecs import hookimpl
from coprolib.records import (
    Accessibility,
    Activity,
    Consent,
    ConsentEvent,
    ConsentRef,
    ConsentState,
    ConsentTerms,
    ContactDetails,
    Contributor,
    EvidenceRef,
    Feedback,
    Insight,
    Outcome,
    OutcomeEvent,
    Quote,
    Receipt,
    Recipient,
    RecordError,
    Share,
    SharedQuote,
    Story,
)

__version__ = "0.1.0"

# Names whose modules import cattrs or other heavier dependencies: loaded on first access.
_LAZY = {
    "Bundle": "coprolib.bundle",
    "BundleError": "coprolib.bundle",
    "dump_bundle": "coprolib.bundle",
    "load_bundle": "coprolib.bundle",
    "StructureError": "coprolib.convert",
    "structure": "coprolib.convert",
    "unstructure": "coprolib.convert",
    "Ledger": "coprolib.ledger",
    "LedgerError": "coprolib.ledger",
    "ShareStatus": "coprolib.ledger",
    "open_ledger": "coprolib.ledger",
    "resolve_ledger_url": "coprolib.ledger",
}

if TYPE_CHECKING:
    from coprolib.bundle import Bundle, BundleError, dump_bundle, load_bundle
    from coprolib.convert import StructureError, structure, unstructure
    from coprolib.ledger import Ledger, LedgerError, ShareStatus, open_ledger, resolve_ledger_url


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'coprolib' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "AbuseType",
    "Accessibility",
    "Activity",
    "Audience",
    "Bundle",
    "BundleError",
    "ChangeDepth",
    "Consent",
    "ConsentEvent",
    "ConsentEventType",
    "ConsentMethod",
    "ConsentRef",
    "ConsentState",
    "ConsentTerms",
    "ContactDetails",
    "Contributor",
    "DecisionBasis",
    "DecisionHolder",
    "EvidenceRef",
    "Feedback",
    "FeedbackChannel",
    "FeedbackKind",
    "FeedbackStatus",
    "IdentityLevel",
    "Insight",
    "InsightStatus",
    "LadderRung",
    "Ledger",
    "LedgerError",
    "Outcome",
    "OutcomeEvent",
    "OutcomeKind",
    "OutcomeStatus",
    "Purpose",
    "Quote",
    "Receipt",
    "Recipient",
    "RecordError",
    "RiskLocation",
    "RiskSource",
    "SARDomain",
    "Share",
    "ShareKind",
    "ShareStatus",
    "SharedQuote",
    "Story",
    "StorySource",
    "StructureError",
    "Support",
    "__version__",
    "dump_bundle",
    "hookimpl",
    "load_bundle",
    "open_ledger",
    "resolve_ledger_url",
    "structure",
    "unstructure",
]
