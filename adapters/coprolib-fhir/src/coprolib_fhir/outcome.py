"""Reading what a FHIR server said: ``OperationOutcome`` issues and HTTP status lines, turned into
coprolib's error classes.

Follows OperationOutcome (https://hl7.org/fhir/R4/operationoutcome.html), the IssueType codes
(https://hl7.org/fhir/R4/valueset-issue-type.html) and the status codes of the RESTful API
(https://hl7.org/fhir/R4/http.html): a batch-response entry carries ``response.status`` as a
status line (``"201 Created"``) and may carry an ``OperationOutcome`` in ``response.outcome``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from coprolib.adapters import Status
from coprolib.adapters.errors import AdapterError, error_for
from coprolib.adapters.http import classify_status

#: IssueType codes that say more than the HTTP status does.
ISSUE_CLASSES: Mapping[str, Status] = {
    "throttled": Status.THROTTLED,
    "transient": Status.RETRYABLE,
    "lock-error": Status.RETRYABLE,
    "no-store": Status.RETRYABLE,
    "timeout": Status.RETRYABLE,
    "incomplete": Status.RETRYABLE,
    "security": Status.AUTH,
    "login": Status.AUTH,
    "unknown": Status.AUTH,
    "expired": Status.AUTH,
    "forbidden": Status.AUTH,
    "conflict": Status.CONFLICT,
    "duplicate": Status.CONFLICT,
    "multiple-matches": Status.CONFLICT,
}

_SEVERITY = {"fatal": 0, "error": 1, "warning": 2, "information": 3}


def status_code(line: str | None) -> int | None:
    """The number at the start of a status line (``"412 Precondition Failed"`` -> 412)."""
    if not line:
        return None
    head = line.strip().split(" ", 1)[0]
    return int(head) if head.isdigit() else None


def issues(outcome: Any) -> list[dict[str, Any]]:
    """The issues of an ``OperationOutcome`` JSON object, worst first; [] for anything else."""
    if not isinstance(outcome, dict) or outcome.get("resourceType") != "OperationOutcome":
        return []
    found = [i for i in outcome.get("issue") or [] if isinstance(i, dict)]
    return sorted(found, key=lambda i: _SEVERITY.get(str(i.get("severity")), 9))


def describe(outcome: Any) -> str:
    """A one-line summary of the errors in an ``OperationOutcome`` (code and diagnostics)."""
    parts = []
    for issue in issues(outcome):
        if issue.get("severity") not in ("fatal", "error"):
            continue
        text = issue.get("diagnostics") or (issue.get("details") or {}).get("text") or ""
        parts.append(f"{issue.get('code', 'unknown')}: {text}".rstrip(": "))
    return "; ".join(parts)


def classify(code: int, outcome: Any = None) -> Status:
    """The status for an HTTP code and the worst issue of an ``OperationOutcome``.

    429 is always throttled and 5xx always retryable; for other failures an issue code that
    says more (``throttled``, ``transient``, ``multiple-matches``…) wins over the HTTP default.
    """
    base = classify_status(code)
    if base is Status.OK or code == 429 or code >= 500:
        return base
    for issue in issues(outcome):
        if issue.get("severity") in ("fatal", "error"):
            found = ISSUE_CLASSES.get(str(issue.get("code")))
            if found is not None:
                return found
            break
    return base


def error(
    code: int, outcome: Any = None, *, retry_after: float | None = None, what: str = "FHIR server"
) -> AdapterError:
    """The classified error for a failed request or entry, with the outcome's diagnostics."""
    summary = describe(outcome)
    message = f"{what} answered HTTP {code}" + (f" ({summary})" if summary else "")
    if code == 412:
        message += ": more than one Communication has this identifier; a person must merge them"
    return error_for(classify(code, outcome), message, retry_after=retry_after)
