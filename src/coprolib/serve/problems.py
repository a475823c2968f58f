"""RFC 9457 problem details: every refusal the API gives is one of these, naming the field."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from coprolib.errors import CoprolibError

#: The media type of a problem document.
PROBLEM_JSON = "application/problem+json"


class Problem(CoprolibError):
    """A request the API refuses: ``status``, a one-line ``detail`` and the ``field`` it is about
    (a body key such as ``terms.purposes``, a path or query parameter, or a header)."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.field = field
        self.headers = headers or {}

    def document(self, instance: str | None = None) -> dict[str, Any]:
        """The problem+json body."""
        phrase = HTTPStatus(self.status).phrase
        doc: dict[str, Any] = {
            "type": "about:blank",
            "title": phrase,
            "status": self.status,
            "detail": self.detail,
        }
        if self.field is not None:
            doc["field"] = self.field
        if instance is not None:
            doc["instance"] = instance
        return doc

    def body(self, instance: str | None = None) -> bytes:
        """The document as UTF-8 JSON."""
        return json.dumps(self.document(instance), ensure_ascii=False).encode("utf-8")


#: The OpenAPI schema of a problem document.
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "field": {"type": "string"},
        "instance": {"type": "string"},
    },
}
