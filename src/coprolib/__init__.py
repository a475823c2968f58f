"""coprolib: lived experience to prevention change, with consent enforced and the loop closed.

The public API is re-exported here: records and enumerations are imported eagerly (they are
small); modules with heavier dependencies load on first use.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
from coprolib.records.enums import (
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

# Names whose modules import cattrs or other heavier dependencies: loaded on first access.
_LAZY_MODULES: dict[str, tuple[str, ...]] = {
    "coprolib.adapters": (
        "Adapter",
        "Capabilities",
        "Secret",
        "Status",
    ),
    "coprolib.records.bundle": (
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
    "coprolib.rights.receipts": (
        "consent_receipt",
        "consent_receipt_json",
    ),
    "coprolib.records.convert": (
        "StructureError",
        "structure",
        "unstructure",
    ),
    "coprolib.delivery": (
        "RetryPolicy",
        "SyncSummary",
        "sync",
    ),
    "coprolib.cli.doctor": (
        "Finding",
        "run_checks",
    ),
    "coprolib.feedback.owed": (
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
    "coprolib.redaction": (
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
    __version__: str
    from coprolib.adapters import Adapter, Capabilities, Secret, Status
    from coprolib.cli.doctor import Finding, run_checks
    from coprolib.config import Config, ConfigError, Destination, FeedbackPolicy, load_config
    from coprolib.consent import (
        Decision,
        DecisionCache,
        InForce,
        ShareRequest,
        decide,
        evaluate,
    )
    from coprolib.delivery import RetryPolicy, SyncSummary, sync
    from coprolib.feedback.owed import FeedbackPlan, feedback_done, feedback_due, plan_feedback
    from coprolib.impact import Impact, measure
    from coprolib.ledger import Ledger, LedgerError, ShareStatus, open_ledger, resolve_ledger_url
    from coprolib.outcomes import LifecycleError, advance, change_feedback, propose
    from coprolib.planner import Plan, Retraction, Withdrawal, insight_text_digest, plan, withdraw
    from coprolib.records.bundle import Bundle, BundleError, dump_bundle, load_bundle
    from coprolib.records.convert import StructureError, structure, unstructure
    from coprolib.redaction import Recognizer, Redaction, Span, find_spans, redact
    from coprolib.report import render_html, write_report
    from coprolib.rights.receipts import consent_receipt, consent_receipt_json


# Modules that moved into their stage's package in 0.2 stay importable by their old names,
# with a DeprecationWarning, until 0.3: each old name is a file in ``_moved/``, which is not a
# package, so only an import of an old name reaches it.
__path__.append(str(Path(__file__).with_name("_moved")))


def _moved_module(old: str, new: str) -> None:
    """Make the module ``old`` an alias of ``new``, warning the code that imported it."""
    warnings.warn(
        f"{old} has moved to {new}; the old name will be removed in coprolib 0.3",
        DeprecationWarning,
        stacklevel=3,
    )
    sys.modules[old] = importlib.import_module(new)


def __getattr__(name: str) -> Any:
    if name == "__version__":  # from the installed metadata, the one place it is written
        from importlib import metadata  # on first use: importing it costs more than coprolib

        return metadata.version("coprolib")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'coprolib' has no attribute {name!r}")

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
