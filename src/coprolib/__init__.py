"""coprolib: lived experience to prevention change, with consent enforced and the loop closed.

The public API is re-exported here, and the import statements below are its one list: each
name imported ``as`` itself is public (so type checkers and IDEs see it), and ``__all__`` and
the lazy loading are read from the same statements when the package is imported. Records and
enumerations are imported now (they are small); the names under ``if TYPE_CHECKING:`` come
from modules with heavier dependencies and are imported on first use.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coprolib.errors import CoprolibError as CoprolibError
from coprolib.hookspecs import hookimpl as hookimpl
from coprolib.records import Accessibility as Accessibility
from coprolib.records import Activity as Activity
from coprolib.records import Consent as Consent
from coprolib.records import ConsentEvent as ConsentEvent
from coprolib.records import ConsentRef as ConsentRef
from coprolib.records import ConsentState as ConsentState
from coprolib.records import ConsentTerms as ConsentTerms
from coprolib.records import ContactDetails as ContactDetails
from coprolib.records import Contributor as Contributor
from coprolib.records import EvidenceRef as EvidenceRef
from coprolib.records import Feedback as Feedback
from coprolib.records import Insight as Insight
from coprolib.records import Outcome as Outcome
from coprolib.records import OutcomeEvent as OutcomeEvent
from coprolib.records import Quote as Quote
from coprolib.records import Receipt as Receipt
from coprolib.records import Recipient as Recipient
from coprolib.records import RecordError as RecordError
from coprolib.records import Share as Share
from coprolib.records import SharedQuote as SharedQuote
from coprolib.records import Story as Story
from coprolib.records.enums import AbuseType as AbuseType
from coprolib.records.enums import Audience as Audience
from coprolib.records.enums import ChangeDepth as ChangeDepth
from coprolib.records.enums import ConsentEventType as ConsentEventType
from coprolib.records.enums import ConsentMethod as ConsentMethod
from coprolib.records.enums import DecisionBasis as DecisionBasis
from coprolib.records.enums import DecisionHolder as DecisionHolder
from coprolib.records.enums import FeedbackChannel as FeedbackChannel
from coprolib.records.enums import FeedbackKind as FeedbackKind
from coprolib.records.enums import FeedbackStatus as FeedbackStatus
from coprolib.records.enums import IdentityLevel as IdentityLevel
from coprolib.records.enums import InsightStatus as InsightStatus
from coprolib.records.enums import LadderRung as LadderRung
from coprolib.records.enums import OutcomeKind as OutcomeKind
from coprolib.records.enums import OutcomeStatus as OutcomeStatus
from coprolib.records.enums import Purpose as Purpose
from coprolib.records.enums import RiskLocation as RiskLocation
from coprolib.records.enums import RiskSource as RiskSource
from coprolib.records.enums import SARDomain as SARDomain
from coprolib.records.enums import ShareKind as ShareKind
from coprolib.records.enums import StorySource as StorySource
from coprolib.records.enums import Support as Support

# Loaded on first access: modules that import cattrs or other heavier dependencies.
if TYPE_CHECKING:
    __version__: str
    from coprolib.adapters import Adapter as Adapter
    from coprolib.adapters import Capabilities as Capabilities
    from coprolib.adapters import Secret as Secret
    from coprolib.adapters import Status as Status
    from coprolib.cli.doctor import Finding as Finding
    from coprolib.cli.doctor import run_checks as run_checks
    from coprolib.config import Config as Config
    from coprolib.config import ConfigError as ConfigError
    from coprolib.config import Destination as Destination
    from coprolib.config import FeedbackPolicy as FeedbackPolicy
    from coprolib.config import load_config as load_config
    from coprolib.consent import Decision as Decision
    from coprolib.consent import DecisionCache as DecisionCache
    from coprolib.consent import InForce as InForce
    from coprolib.consent import ShareRequest as ShareRequest
    from coprolib.consent import decide as decide
    from coprolib.consent import evaluate as evaluate
    from coprolib.delivery import RetryPolicy as RetryPolicy
    from coprolib.delivery import SyncSummary as SyncSummary
    from coprolib.delivery import sync as sync
    from coprolib.feedback.owed import FeedbackPlan as FeedbackPlan
    from coprolib.feedback.owed import feedback_done as feedback_done
    from coprolib.feedback.owed import feedback_due as feedback_due
    from coprolib.feedback.owed import plan_feedback as plan_feedback
    from coprolib.impact import Impact as Impact
    from coprolib.impact import measure as measure
    from coprolib.ledger import Ledger as Ledger
    from coprolib.ledger import LedgerError as LedgerError
    from coprolib.ledger import ShareStatus as ShareStatus
    from coprolib.ledger import open_ledger as open_ledger
    from coprolib.ledger import resolve_ledger_url as resolve_ledger_url
    from coprolib.outcomes import LifecycleError as LifecycleError
    from coprolib.outcomes import advance as advance
    from coprolib.outcomes import change_feedback as change_feedback
    from coprolib.outcomes import propose as propose
    from coprolib.planner import Plan as Plan
    from coprolib.planner import Retraction as Retraction
    from coprolib.planner import Withdrawal as Withdrawal
    from coprolib.planner import insight_text_digest as insight_text_digest
    from coprolib.planner import plan as plan
    from coprolib.planner import withdraw as withdraw
    from coprolib.records.bundle import Bundle as Bundle
    from coprolib.records.bundle import BundleError as BundleError
    from coprolib.records.bundle import dump_bundle as dump_bundle
    from coprolib.records.bundle import load_bundle as load_bundle
    from coprolib.records.convert import StructureError as StructureError
    from coprolib.records.convert import structure as structure
    from coprolib.records.convert import unstructure as unstructure
    from coprolib.redaction import Recognizer as Recognizer
    from coprolib.redaction import Redaction as Redaction
    from coprolib.redaction import Span as Span
    from coprolib.redaction import find_spans as find_spans
    from coprolib.redaction import redact as redact
    from coprolib.report import render_html as render_html
    from coprolib.report import write_report as write_report
    from coprolib.rights.receipts import consent_receipt as consent_receipt
    from coprolib.rights.receipts import consent_receipt_json as consent_receipt_json


def _exports() -> tuple[list[str], dict[str, str]]:
    """``__all__`` and the lazily loaded names with their modules, read from the import
    statements above: a name imported ``as`` itself is public, and lazy when it is imported
    under ``if TYPE_CHECKING:``. One list for people, type checkers and the import system."""
    import ast

    public = ["__version__"]
    lazy: dict[str, str] = {}
    for node in ast.parse(Path(__file__).read_text(encoding="utf-8")).body:
        checking = isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING"
        statements = node.body if isinstance(node, ast.If) and checking else [node]
        for statement in statements:
            if not isinstance(statement, ast.ImportFrom) or statement.module is None:
                continue
            for alias in statement.names:
                if alias.asname == alias.name:
                    public.append(alias.name)
                    if checking:
                        lazy[alias.name] = statement.module
    return sorted(public), lazy


_PUBLIC, _LAZY = _exports()
# Set through globals(): a type checker reads only a literal ``__all__``, and without one it
# takes the names imported ``as`` themselves above (``from coprolib import *`` included), which
# is the same list.
globals()["__all__"] = _PUBLIC


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
