"""A GOV.UK Notify API subset on 127.0.0.1 for tests and demonstrations.

Use :meth:`NotifyServer.app` as the app of a :class:`coprolib.testing.fault_server.FaultServer`.
It follows the REST API documentation (https://docs.notifications.service.gov.uk/rest-api.html)
and the Python client's documented errors (https://docs.notifications.service.gov.uk/python.html):

* Authorisation: ``Authorization: Bearer <JWT>``, HS256-signed with the API key's secret,
  verified with PyJWT: ``iss`` must be the service id (else ``403 AuthError "Invalid token:
  service not found"``), ``iat`` within 30 seconds of the server's clock (else ``403 AuthError
  "Error: Your system clock must be accurate to within 30 seconds"``), a bad signature gives
  ``403 AuthError "Invalid token: signature, api token not found"``, no header ``401``.
* ``POST /v2/notifications/email|sms|letter``: the template must exist and be of that type
  (``400 BadRequestError "Template not found"`` / ``"… template is not suitable for …"``), every
  ``((placeholder))`` of the template must be in ``personalisation`` (``400 BadRequestError
  "Missing personalisation: …"``), a letter needs ``address_line_1`` to ``_3`` at least; a
  team-only key may send only to team members (``400 BadRequestError "Can't send to this
  recipient using a team-only API key"``). Success: ``201`` with ``id``, ``reference``,
  ``content``, ``uri`` and ``template``.
* ``reference``: optional; when given it must be a string (``400 ValidationError "reference …
  is not of type string"``) and, as the Python client documentation says ("An identifier you
  can create if necessary … It must not contain any personal information such as name or postal
  address", https://docs.notifications.service.gov.uk/python.html), must not
  look like personal data: a reference holding an ``@``, or nine or more digits in a row (or a
  run of nine or more digits, spaces and hyphens from digit to digit, as a phone number is
  written) is refused with ``400 BadRequestError``. The exact rule is not published; this one is what production refused
  (keys ``coprolib-<40 hex>`` with a run of nine digits), and :data:`PERSONAL_LOOKING` holds it.
* Limits: a per-channel daily limit (``429 TooManyRequestsError "Exceeded send limits (N) for
  today"``) and :meth:`NotifyServer.throttle` for the per-minute rate limit (``429
  RateLimitError "Exceeded rate limit for key type LIVE of 3000 requests per 60 seconds"``).
* ``GET /v2/notifications?reference=…``, ``GET /v2/notifications/<id>`` and
  ``GET /v2/template/<id>``.

Error bodies have the documented shape ``{"status_code": N, "errors": [{"error": "...",
"message": "..."}]}``.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from coprolib.testing.fault_server import Reply, Request

_PLACEHOLDER = re.compile(r"\(\(([^()]+)\)\)")
#: A reference Notify takes for personal data: an email address or a phone / account number.
PERSONAL_LOOKING = re.compile(r"@|\d[\d\s-]{7,}\d")


def error_reply(status: int, error: str, message: str) -> Reply:
    """A Notify error response."""
    return Reply.json(
        status, {"status_code": status, "errors": [{"error": error, "message": message}]}
    )


def api_key(service_id: str, secret: str, name: str = "coprolib_test") -> str:
    """A key in Notify's format: ``<name>-<service id>-<secret>``."""
    return f"{name}-{service_id}-{secret}"


class NotifyServer:
    """The in-memory Notify service; see the module docstring."""

    def __init__(
        self,
        *,
        service_id: str | None = None,
        secret: str | None = None,
        daily_limit: int = 250,
        team_only: set[str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.service_id = service_id or str(uuid.uuid4())
        self.secret = secret or str(uuid.uuid4())
        self.daily_limit = daily_limit
        self.team_only = team_only
        self.clock = clock
        self.templates: dict[str, dict[str, Any]] = {}
        self.notifications: list[dict[str, Any]] = []
        self.requests: Counter[str] = Counter()
        self.sent_today: Counter[str] = Counter()
        self.auth_failures: list[str] = []
        self._throttle = 0
        self._lock = threading.Lock()

    @property
    def api_key(self) -> str:
        """The API key the client must be given."""
        return api_key(self.service_id, self.secret)

    def add_template(self, kind: str, body: str, subject: str | None = None) -> str:
        """Create a template (``email``, ``sms`` or ``letter``); returns its id."""
        template_id = str(uuid.uuid4())
        self.templates[template_id] = {
            "id": template_id,
            "type": kind,
            "name": f"{kind} template",
            "version": 1,
            "body": body,
            "subject": subject,
            "created_at": "2026-03-01T09:00:00.000000Z",
            "updated_at": None,
            "created_by": "someone@council.example",
            "letter_contact_block": None,
            "postage": "second" if kind == "letter" else None,
        }
        return template_id

    def throttle(self, count: int) -> None:
        """Answer the next ``count`` requests with the per-minute rate-limit error."""
        with self._lock:
            self._throttle = count

    def references(self) -> list[str]:
        """The reference of every notification sent (duplicates included)."""
        with self._lock:
            return [n["reference"] for n in self.notifications if n.get("reference")]

    # --- HTTP -------------------------------------------------------------------------------

    def app(self, request: Request) -> Reply:
        """Handle one request (the FaultServer app)."""
        parts = urlsplit(request.path)
        self.requests[f"{request.method} {parts.path}"] += 1
        denied = self._authorise(request.headers.get("authorization"))
        if denied is not None:
            return denied
        with self._lock:
            if self._throttle > 0:
                self._throttle -= 1
                return error_reply(
                    429,
                    "RateLimitError",
                    "Exceeded rate limit for key type LIVE of 3000 requests per 60 seconds",
                )
        path = parts.path.rstrip("/")
        if request.method == "POST" and path.startswith("/v2/notifications/"):
            return self._send(path.rsplit("/", 1)[1], request)
        if request.method == "GET" and path == "/v2/notifications":
            reference = parse_qs(parts.query).get("reference", [None])[0]
            with self._lock:
                found = [
                    n for n in reversed(self.notifications) if reference in (None, n["reference"])
                ]
            return Reply.json(
                200, {"notifications": found, "links": {"current": f"{path}?{parts.query}"}}
            )
        if request.method == "GET" and path.startswith("/v2/notifications/"):
            wanted = path.rsplit("/", 1)[1]
            with self._lock:
                match = [n for n in self.notifications if n["id"] == wanted]
            if not match:
                return error_reply(404, "NoResultFound", "No result found")
            return Reply.json(200, match[0])
        if request.method == "GET" and path.startswith("/v2/template/"):
            template = self.templates.get(path.rsplit("/", 1)[1])
            if template is None:
                return error_reply(404, "NoResultFound", "No result found")
            return Reply.json(200, template)
        return error_reply(404, "NotFound", "Not found")

    def _authorise(self, header: str | None) -> Reply | None:
        import jwt

        if not header:
            return error_reply(
                401, "AuthError", "Unauthorized: authentication token must be provided"
            )
        if not header.startswith("Bearer "):
            return error_reply(
                401, "AuthError", "Unauthorized: authentication bearer scheme must be used"
            )
        token = header[len("Bearer ") :]
        try:
            claims = jwt.decode(
                token,
                key=self.secret,
                algorithms=["HS256"],
                options={"verify_iat": False, "require": ["iss", "iat"]},
            )
        except jwt.InvalidTokenError:
            self.auth_failures.append("signature")
            return error_reply(403, "AuthError", "Invalid token: signature, api token not found")
        if claims.get("iss") != self.service_id:
            self.auth_failures.append("iss")
            return error_reply(403, "AuthError", "Invalid token: service not found")
        if abs(self.clock() - float(claims["iat"])) > 30:
            self.auth_failures.append("iat")
            return error_reply(
                403, "AuthError", "Error: Your system clock must be accurate to within 30 seconds"
            )
        return None

    def _send(self, kind: str, request: Request) -> Reply:
        if kind not in ("email", "sms", "letter"):
            return error_reply(404, "NotFound", "Not found")
        try:
            data = request.json()
        except ValueError:
            return error_reply(400, "BadRequestError", "Invalid JSON supplied in POST data")
        reference = data.get("reference")
        if reference is not None and not isinstance(reference, str):
            return error_reply(
                400, "ValidationError", f"reference {reference!r} is not of type string"
            )
        if reference is not None and PERSONAL_LOOKING.search(reference):
            return error_reply(
                400,
                "BadRequestError",
                "reference looks like it contains personal information: a reference must not "
                "contain any personal information",
            )
        template = self.templates.get(str(data.get("template_id")))
        if template is None:
            return error_reply(400, "BadRequestError", "Template not found")
        if template["type"] != kind:
            return error_reply(
                400,
                "BadRequestError",
                f"{template['type']} template is not suitable for {kind} notification",
            )
        personalisation = data.get("personalisation") or {}
        needed = set(_PLACEHOLDER.findall(template["body"] + (template["subject"] or "")))
        if kind == "letter":
            needed |= {"address_line_1", "address_line_2", "address_line_3"}
        missing = sorted(needed - set(personalisation))
        if missing:
            return error_reply(
                400, "BadRequestError", f"Missing personalisation: {', '.join(missing)}"
            )
        to = data.get("email_address") if kind == "email" else data.get("phone_number")
        if kind != "letter" and not to:
            field = "email_address" if kind == "email" else "phone_number"
            return error_reply(400, "ValidationError", f"{field} is a required property")
        if self.team_only is not None and to not in self.team_only:
            return error_reply(
                400, "BadRequestError", "Can't send to this recipient using a team-only API key"
            )
        with self._lock:
            if self.sent_today[kind] >= self.daily_limit:
                return error_reply(
                    429,
                    "TooManyRequestsError",
                    f"Exceeded send limits ({self.daily_limit}) for today",
                )
            self.sent_today[kind] += 1
            body = _PLACEHOLDER.sub(
                lambda m: str(personalisation.get(m.group(1), "")), template["body"]
            )
            notification = {
                "id": str(uuid.uuid4()),
                "reference": data.get("reference"),
                "type": kind,
                "status": "created" if kind == "letter" else "sending",
                "email_address": data.get("email_address"),
                "phone_number": data.get("phone_number"),
                "template": {
                    "id": template["id"],
                    "version": 1,
                    "uri": f"/v2/template/{template['id']}",
                },
                "body": body,
                "subject": template["subject"],
                "created_at": "2026-03-02T09:30:00.000000Z",
                "personalisation": personalisation,
            }
            self.notifications.append(notification)
        content: dict[str, Any] = {"body": body}
        if kind == "email":
            content.update(
                subject=template["subject"], from_email="council@notifications.service.gov.uk"
            )
        return Reply.json(
            201,
            {
                "id": notification["id"],
                "reference": notification["reference"],
                "content": content,
                "uri": f"/v2/notifications/{notification['id']}",
                "template": notification["template"],
                "scheduled_for": None,
            },
        )
