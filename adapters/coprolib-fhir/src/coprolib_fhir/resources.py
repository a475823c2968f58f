"""FHIR R4 JSON the adapter sends: a ``Communication`` per share and the batch/transaction Bundles
that create, update, mark and delete them.

Follows (FHIR R4, 4.0.1): Communication (https://hl7.org/fhir/R4/communication.html), Bundle
(https://hl7.org/fhir/R4/bundle.html), the RESTful API's conditional create, update and delete
(https://hl7.org/fhir/R4/http.html) and search escaping of token parameters
(https://hl7.org/fhir/R4/search.html#escaping).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import attrs

from coprolib.records import Share

#: The Communication.category coding used unless the config names another.
DEFAULT_CATEGORY_SYSTEM = "https://coprolib.org/fhir/CodeSystem/share-kind"
#: The identifier system used unless the config names another (set your organisation's own).
DEFAULT_IDENTIFIER_SYSTEM = "https://coprolib.org/fhir/sid/share-idempotency-key"


@attrs.frozen(kw_only=True)
class Coding:
    """A code from a code system, with its display text."""

    system: str
    code: str
    display: str | None = None

    def as_json(self) -> dict[str, str]:
        """The FHIR ``Coding`` JSON."""
        data = {"system": self.system, "code": self.code}
        if self.display:
            data["display"] = self.display
        return data


def escape_token(value: str) -> str:
    """A token search value with FHIR's reserved characters (``\\ | , $``) escaped."""
    out = value.replace("\\", "\\\\")
    for char in ("|", ",", "$"):
        out = out.replace(char, "\\" + char)
    return out


def identifier_query(system: str, value: str) -> str:
    """``identifier=<system>|<value>``, escaped for FHIR and percent-encoded for a URL."""
    token = f"{escape_token(system)}|{escape_token(value)}"
    return "identifier=" + quote(token, safe="")


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def communication(
    share: Share,
    *,
    identifier_system: str,
    category: Sequence[Coding],
    recipients: Sequence[str],
    sender: str | None,
    sent: dt.datetime,
    status: str = "completed",
) -> dict[str, Any]:
    """The ``Communication`` for one share.

    ``identifier`` holds the idempotency key (under ``identifier_system``); ``payload`` holds the
    title, the body, the recommendation and each consented quote as ``contentString``s; themes
    and the safeguarding domain become ``category`` text alongside the configured coding.
    """
    payload = [{"contentString": share.title}, {"contentString": share.body}]
    if share.recommendation:
        payload.append({"contentString": f"Recommendation: {share.recommendation}"})
    for quote_ in share.quotes:
        payload.append({"contentString": f"\u201c{quote_.text}\u201d"})
    categories: list[dict[str, Any]] = [
        {"coding": [coding.as_json()], "text": coding.display or coding.code} for coding in category
    ]
    for theme in share.themes:
        categories.append({"text": f"theme: {theme}"})
    if share.domain is not None:
        categories.append({"text": f"domain: {share.domain}"})
    resource: dict[str, Any] = {
        "resourceType": "Communication",
        "identifier": [{"system": identifier_system, "value": share.idempotency_key}],
        "status": status,
        "category": categories,
        "topic": {"text": share.title},
        "sent": _iso(sent),
        "payload": payload,
        "note": [
            {
                "text": (
                    f"Shared by coprolib at identity level {share.identity_level}, "
                    f"{share.contributor_count} contributor(s); content digest {share.digest}."
                )
            }
        ],
    }
    if recipients:
        resource["recipient"] = [{"reference": ref} for ref in recipients]
    if sender:
        resource["sender"] = {"reference": sender}
    return resource


def create_entry(resource: dict[str, Any], system: str, key: str, full_url: str) -> dict[str, Any]:
    """A conditional create entry: ``POST Communication`` unless the identifier exists."""
    return {
        "fullUrl": full_url,
        "resource": resource,
        "request": {
            "method": "POST",
            "url": "Communication",
            "ifNoneExist": identifier_query(system, key),
        },
    }


def update_entry(resource: dict[str, Any], system: str, key: str, full_url: str) -> dict[str, Any]:
    """A conditional update entry: ``PUT Communication?identifier=…`` (creates if none match)."""
    return {
        "fullUrl": full_url,
        "resource": resource,
        "request": {"method": "PUT", "url": f"Communication?{identifier_query(system, key)}"},
    }


def search_entry(system: str, key: str) -> dict[str, Any]:
    """A search entry: ``GET Communication?identifier=…``."""
    return {"request": {"method": "GET", "url": f"Communication?{identifier_query(system, key)}"}}


def put_entry(resource: dict[str, Any], logical_id: str, base_url: str) -> dict[str, Any]:
    """An update of a known resource: ``PUT Communication/<id>``."""
    return {
        "fullUrl": f"{base_url}/Communication/{logical_id}",
        "resource": resource,
        "request": {"method": "PUT", "url": f"Communication/{logical_id}"},
    }


def delete_entry(system: str, key: str) -> dict[str, Any]:
    """A conditional delete entry: ``DELETE Communication?identifier=…``."""
    return {
        "request": {"method": "DELETE", "url": f"Communication?{identifier_query(system, key)}"}
    }


def bundle(kind: str, entries: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A ``batch`` or ``transaction`` Bundle of ``entries``."""
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


def logical_id(location: str | None) -> str | None:
    """``Communication/<id>`` from a response location (absolute or relative, with or without
    ``/_history/<v>``); None when there is none."""
    if not location:
        return None
    parts = [p for p in location.split("?")[0].split("/") if p]
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    if len(parts) >= 2:
        return f"{parts[-2]}/{parts[-1]}"
    return None
