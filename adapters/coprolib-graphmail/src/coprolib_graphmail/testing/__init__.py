"""A local stand-in for Microsoft Graph ``sendMail`` (app-only), for the adapter's tests.

It lives in the source tree for tests but is left out of the built wheel: the adapter never
imports it. Serve :meth:`LocalGraphMail.app` with :class:`coprolib.testing.fault_server.FaultServer`
on 127.0.0.1, with tokens from :class:`RolesEntra` (a :class:`coprolib_entra.testing.LocalEntra`
whose access tokens are JWT-shaped and carry the ``roles`` the app registration was granted,
as Entra ID's app-only tokens do).

What it implements, and the pages it follows:

* ``POST /v1.0/users/{id | userPrincipalName}/sendMail`` with ``Content-Type: text/plain`` and
  a base64-encoded MIME message: ``202 Accepted``, empty body
  (https://learn.microsoft.com/en-us/graph/api/user-sendmail). Refused as Graph refuses it:
  no or unknown token ``401 InvalidAuthenticationToken``; a token without the ``Mail.Send``
  role ``403 ErrorAccessDenied``; a mailbox outside the application access policy's group
  ``403 ErrorAccessDenied`` ("Blocked by tenant configured AppOnly AccessPolicy settings",
  https://learn.microsoft.com/powershell/module/exchange/new-applicationaccesspolicy); an unknown
  mailbox ``404 ErrorInvalidUser``; content that is not base64 ``400
  ErrorMimeContentInvalidBase64String`` ("Invalid base64 string for MIME content."); a ``From``
  other than the mailbox ``403 ErrorSendAsDenied``; no recipient ``400 ErrorInvalidRecipients``.
  Only the MIME form is implemented (the adapter sends nothing else).
* ``GET /v1.0/``: the service document.
* Throttling: :meth:`LocalGraphMail.throttle` answers the next requests ``429
  ApplicationThrottled`` with ``Retry-After`` (https://learn.microsoft.com/graph/throttling).
* Errors as ``{"error": {"code", "message"}}``.
"""

from __future__ import annotations

import base64
import binascii
import email
import email.policy
import json
import re
import urllib.parse
from email.utils import getaddresses
from pathlib import Path
from typing import Any

import attrs
from coprolib_entra.testing import LocalEntra, LocalService, error_reply

from coprolib.testing.fault_server import Reply, Request

_SEND = re.compile(r"^/v1\.0/users/([^/]+)/sendMail$")
_B64 = re.compile(rb"^[A-Za-z0-9+/\r\n]*={0,2}\s*$")


def _b64url(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


class RolesEntra(LocalEntra):
    """A local Entra ID whose tokens are JWT-shaped with the app's granted ``roles``."""

    def __init__(self, directory: Path, *, tenant_id: str) -> None:
        super().__init__(directory, tenant_id=tenant_id)
        #: client id -> application permissions granted with admin consent.
        self.roles: dict[str, list[str]] = {}

    def issue(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """Answer one token request; a granted token becomes a JWT-shaped one with roles."""
        status, data = super().issue(form)
        if status != 200:
            return status, data
        opaque = str(data["access_token"])
        claims = {
            "aud": "https://graph.microsoft.com",
            "tid": self.tenant_id,
            "appid": form.get("client_id", ""),
            "roles": self.roles.get(form.get("client_id", ""), []),
            "jti": opaque.rsplit(".", 1)[-1],
        }
        token = f"{_b64url({'typ': 'JWT', 'alg': 'RS256'})}.{_b64url(claims)}.c2lnbmF0dXJl"
        with self._issuing:
            self._tokens[token] = self._tokens.pop(opaque)
        return status, {**data, "access_token": token}


@attrs.frozen(kw_only=True)
class SentMessage:
    """A message Graph accepted."""

    mailbox: str
    message_id: str
    key: str
    to: list[str]
    subject: str
    mime: bytes


class LocalGraphMail(LocalService):
    """Mailboxes of one tenant and the application access policy for one app."""

    def __init__(self, *, mailboxes: list[str], policy_scope: list[str] | None) -> None:
        super().__init__()
        self.mailboxes = {m.lower() for m in mailboxes}
        #: Members of the policy's mail-enabled security group; None when there is no policy
        #: (Mail.Send then reaches every mailbox, which is why the README requires one).
        self.policy_scope = None if policy_scope is None else {m.lower() for m in policy_scope}
        #: ``token_check(token) -> roles or None`` (None: not a token Entra issued for Graph).
        self.token_roles: Any = None
        self.sent: list[SentMessage] = []

    def keys(self) -> list[str]:
        """The idempotency key of every accepted message, repeats included."""
        with self._lock:
            return [m.key for m in self.sent]

    def app(self, request: Request) -> Reply:
        """Answer one HTTP request (use as a FaultServer app)."""
        retry_after = self.next_throttle()
        if retry_after is not None:
            return error_reply(
                429,
                "ApplicationThrottled",
                "Application is over its MailboxConcurrency limit.",
                {"Retry-After": retry_after},
            )
        path = urllib.parse.urlsplit(request.path).path
        header = request.headers.get("authorization", "")
        roles = self.token_roles(header[7:]) if header.startswith("Bearer ") else None
        if roles is None:
            with self._lock:
                self.requests["unauthorised"] += 1
            return error_reply(
                401, "InvalidAuthenticationToken", "Access token validation failure."
            )
        if request.method == "GET" and path in ("/v1.0", "/v1.0/"):
            return Reply.json(
                200,
                {
                    "@odata.context": "https://graph.microsoft.com/v1.0/$metadata",
                    "value": [{"name": "users", "kind": "EntitySet", "url": "users"}],
                },
            )
        match = _SEND.match(path)
        if match is None or request.method != "POST":
            return error_reply(400, "BadRequest", f"Resource not found for the segment '{path}'.")
        with self._lock:
            self.requests["sendMail"] += 1
        return self._send(urllib.parse.unquote(match.group(1)).lower(), roles, request)

    def _send(self, mailbox: str, roles: list[str], request: Request) -> Reply:
        if "Mail.Send" not in roles:
            return error_reply(
                403, "ErrorAccessDenied", "Access is denied. Check credentials and try again."
            )
        if mailbox not in self.mailboxes:
            return error_reply(
                404, "ErrorInvalidUser", f"The requested user '{mailbox}' is invalid."
            )
        if self.policy_scope is not None and mailbox not in self.policy_scope:
            return error_reply(
                403,
                "ErrorAccessDenied",
                "Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly "
                "AccessPolicy settings.",
            )
        if not request.headers.get("content-type", "").startswith("text/plain"):
            return error_reply(
                400,
                "ErrorInvalidRequest",
                "This stand-in implements the MIME (text/plain) form only.",
            )
        try:
            if not _B64.match(request.body):
                raise ValueError("not base64")
            raw = base64.b64decode(request.body, validate=False)
        except (ValueError, binascii.Error):
            raw = b""
        if not raw:
            return error_reply(
                400,
                "ErrorMimeContentInvalidBase64String",
                "Invalid base64 string for MIME content.",
            )
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        senders = [a.lower() for _, a in getaddresses([str(msg.get("From", ""))]) if a]
        if senders and senders != [mailbox]:
            return error_reply(
                403,
                "ErrorSendAsDenied",
                "The user account which was used to submit this request does not have the right "
                "to send mail on behalf of the specified sending account.",
            )
        to = [a for _, a in getaddresses([str(v) for v in msg.get_all("To", [])]) if a]
        if not to:
            return error_reply(
                400, "ErrorInvalidRecipients", "At least one recipient is not valid."
            )
        with self._lock:
            self.sent.append(
                SentMessage(
                    mailbox=mailbox,
                    message_id=str(msg.get("Message-ID", "")).strip(),
                    key=urllib.parse.unquote(str(msg.get("X-Coprolib-Key", "")).strip()),
                    to=to,
                    subject=str(msg.get("Subject", "")),
                    mime=raw,
                )
            )
        return Reply(status=202)
