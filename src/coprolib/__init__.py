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
from coprolib.errors import CoprolibError
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
_LAZY_MODULES: dict[str, tuple[str, ...]] = {
    "coprolib.adapters": (
        "Adapter",
        "Capabilities",
        "Secret",
        "Status",
    ),
    "coprolib.bundle": (
        "Bundle",
        "BundleError",
        "dump_bundle",
        "load_bundle",
    ),
    "coprolib.config": (
        "Config",
        "ConfigError",
        "Destination",
        "FeedbackPolicy",
        "load_config",
    ),
    "coprolib.consent": (
        "Decision",
        "DecisionCache",
        "InForce",
        "ShareRequest",
        "decide",
        "evaluate",
    ),
    "coprolib.consent_receipts": (
        "consent_receipt",
        "consent_receipt_json",
    ),
    "coprolib.convert": (
        "StructureError",
        "structure",
        "unstructure",
    ),
    "coprolib.delivery": (
        "RetryPolicy",
        "SyncSummary",
        "sync",
    ),
    "coprolib.doctor": (
        "Finding",
        "run_checks",
    ),
    "coprolib.feedback_owed": (
        "FeedbackPlan",
        "feedback_done",
        "feedback_due",
        "plan_feedback",
    ),
    "coprolib.impact": (
        "Impact",
        "measure",
    ),
    "coprolib.ledger": (
        "Ledger",
        "LedgerError",
        "ShareStatus",
        "open_ledger",
        "resolve_ledger_url",
    ),
    "coprolib.outcomes": (
        "LifecycleError",
        "advance",
        "change_feedback",
        "propose",
    ),
    "coprolib.planner": (
        "Plan",
        "Retraction",
        "Withdrawal",
        "insight_text_digest",
        "plan",
        "withdraw",
    ),
    "coprolib.redact": (
        "Recognizer",
        "Redaction",
        "Span",
        "find_spans",
        "redact",
    ),
    "coprolib.report": (
        "render_html",
        "write_report",
    ),
}
_LAZY = {name: module for module, names in _LAZY_MODULES.items() for name in names}

if TYPE_CHECKING:
    from coprolib.adapters import Adapter, Capabilities, Secret, Status
    from coprolib.bundle import Bundle, BundleError, dump_bundle, load_bundle
    from coprolib.config import Config, ConfigError, Destination, FeedbackPolicy, load_config
    from coprolib.consent import (
        Decision,
        DecisionCache,
        InForce,
        ShareRequest,
        decide,
        evaluate,
    )
    from coprolib.consent_receipts import consent_receipt, consent_receipt_json
    from coprolib.convert import StructureError, structure, unstructure
    from coprolib.delivery import RetryPolicy, SyncSummary, sync
    from coprolib.doctor import Finding, run_checks
    from coprolib.feedback_owed import FeedbackPlan, feedback_done, feedback_due, plan_feedback
    from coprolib.impact import Impact, measure
    from coprolib.ledger import Ledger, LedgerError, ShareStatus, open_ledger, resolve_ledger_url
    from coprolib.outcomes import LifecycleError, advance, change_feedback, propose
    from coprolib.planner import Plan, Retraction, Withdrawal, insight_text_digest, plan, withdraw
    from coprolib.redact import Recognizer, Redaction, Span, find_spans, redact
    from coprolib.report import render_html, write_report


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
    "CoprolibError",
    "Decision",
    "DecisionBasis",
    "DecisionCache",
    "DecisionHolder",
    "Destination",
    "EvidenceRef",
    "Feedback",
    "FeedbackChannel",
    "FeedbackKind",
    "FeedbackPlan",
    "FeedbackPolicy",
    "FeedbackStatus",
    "Finding",
    "IdentityLevel",
    "Impact",
    "InForce",
    "Insight",
    "InsightStatus",
    "LadderRung",
    "Ledger",
    "LedgerError",
    "LifecycleError",
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
    "advance",
    "change_feedback",
    "consent_receipt",
    "consent_receipt_json",
    "decide",
    "dump_bundle",
    "evaluate",
    "feedback_done",
    "feedback_due",
    "find_spans",
    "hookimpl",
    "insight_text_digest",
    "load_bundle",
    "load_config",
    "measure",
    "open_ledger",
    "plan",
    "plan_feedback",
    "propose",
    "redact",
    "render_html",
    "resolve_ledger_url",
    "run_checks",
    "structure",
    "sync",
    "unstructure",
    "withdraw",
    "write_report",
]
