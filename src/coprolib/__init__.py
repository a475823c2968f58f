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
    # consent gate, planner, receipts, feedback owed
    "Config": "coprolib.config",
    "ConfigError": "coprolib.config",
    "Destination": "coprolib.config",
    "FeedbackPolicy": "coprolib.config",
    "load_config": "coprolib.config",
    "Decision": "coprolib.consent",
    "InForce": "coprolib.consent",
    "ShareRequest": "coprolib.consent",
    "evaluate": "coprolib.consent",
    "Plan": "coprolib.planner",
    "Retraction": "coprolib.planner",
    "Withdrawal": "coprolib.planner",
    "insight_text_digest": "coprolib.planner",
    "plan": "coprolib.planner",
    "withdraw": "coprolib.planner",
    "consent_receipt": "coprolib.consent_receipts",
    "consent_receipt_json": "coprolib.consent_receipts",
    "feedback_done": "coprolib.feedback_owed",
    "feedback_due": "coprolib.feedback_owed",
    "Recognizer": "coprolib.redact",
    "Redaction": "coprolib.redact",
    "Span": "coprolib.redact",
    "find_spans": "coprolib.redact",
    "redact": "coprolib.redact",
    "Ledger": "coprolib.ledger",
    "LedgerError": "coprolib.ledger",
    "ShareStatus": "coprolib.ledger",
    "open_ledger": "coprolib.ledger",
    "resolve_ledger_url": "coprolib.ledger",
    "Adapter": "coprolib.adapters",
    "Capabilities": "coprolib.adapters",
    "Secret": "coprolib.adapters",
    "Status": "coprolib.adapters",
    "RetryPolicy": "coprolib.delivery",
    "SyncSummary": "coprolib.delivery",
    "sync": "coprolib.delivery",
}

if TYPE_CHECKING:
    from coprolib.adapters import Adapter, Capabilities, Secret, Status
    from coprolib.bundle import Bundle, BundleError, dump_bundle, load_bundle
    from coprolib.config import Config, ConfigError, Destination, FeedbackPolicy, load_config
    from coprolib.consent import Decision, InForce, ShareRequest, evaluate
    from coprolib.consent_receipts import consent_receipt, consent_receipt_json
    from coprolib.convert import StructureError, structure, unstructure
    from coprolib.delivery import RetryPolicy, SyncSummary, sync
    from coprolib.feedback_owed import feedback_done, feedback_due
    from coprolib.ledger import Ledger, LedgerError, ShareStatus, open_ledger, resolve_ledger_url
    from coprolib.planner import Plan, Retraction, Withdrawal, insight_text_digest, plan, withdraw
    from coprolib.redact import Recognizer, Redaction, Span, find_spans, redact


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
    "Adapter",
    "Audience",
    "Bundle",
    "BundleError",
    "Capabilities",
    "ChangeDepth",
    "Config",
    "ConfigError",
    "Consent",
    "ConsentEvent",
    "ConsentEventType",
    "ConsentMethod",
    "ConsentRef",
    "ConsentState",
    "ConsentTerms",
    "ContactDetails",
    "Contributor",
    "Decision",
    "DecisionBasis",
    "DecisionHolder",
    "Destination",
    "EvidenceRef",
    "Feedback",
    "FeedbackChannel",
    "FeedbackKind",
    "FeedbackPolicy",
    "FeedbackStatus",
    "IdentityLevel",
    "InForce",
    "Insight",
    "InsightStatus",
    "LadderRung",
    "Ledger",
    "LedgerError",
    "Outcome",
    "OutcomeEvent",
    "OutcomeKind",
    "OutcomeStatus",
    "Plan",
    "Purpose",
    "Quote",
    "Receipt",
    "Recipient",
    "Recognizer",
    "RecordError",
    "Redaction",
    "Retraction",
    "RetryPolicy",
    "RiskLocation",
    "RiskSource",
    "SARDomain",
    "Secret",
    "Share",
    "ShareKind",
    "ShareRequest",
    "ShareStatus",
    "SharedQuote",
    "Span",
    "Status",
    "Story",
    "StorySource",
    "StructureError",
    "Support",
    "SyncSummary",
    "Withdrawal",
    "__version__",
    "consent_receipt",
    "consent_receipt_json",
    "dump_bundle",
    "evaluate",
    "feedback_done",
    "feedback_due",
    "find_spans",
    "hookimpl",
    "insight_text_digest",
    "load_bundle",
    "load_config",
    "open_ledger",
    "plan",
    "redact",
    "resolve_ledger_url",
    "structure",
    "sync",
    "unstructure",
    "withdraw",
]
