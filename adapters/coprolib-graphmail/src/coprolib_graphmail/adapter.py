"""The Microsoft Graph mail adapter: one ``sendMail`` per feedback share, app-only.

Docs followed:

* ``POST /users/{id | userPrincipalName}/sendMail`` with the message in MIME format: the
  RFC 5322 message base64-encoded as a ``text/plain`` body; ``202 Accepted`` with no body, which
  means Exchange Online accepted it, not that it reached the recipient; malformed MIME answers
  ``400`` "Invalid base64 string for MIME content."; application permission ``Mail.Send``
  (https://learn.microsoft.com/en-us/graph/api/user-sendmail).
* ``Mail.Send`` alone lets the app send as *any* mailbox; an application access policy
  (``New-ApplicationAccessPolicy -AccessRight RestrictAccess``) limits it to the members of one
  mail-enabled security group, and Graph answers ``403 ErrorAccessDenied`` for any other mailbox
  (https://learn.microsoft.com/powershell/module/exchange/new-applicationaccesspolicy).
* Throttling: ``429`` with ``Retry-After``; the whole client waits
  (https://learn.microsoft.com/graph/throttling).

The message itself (plain text and HTML, the Easy Read layout, a Message-ID made from the
idempotency key) is built by :func:`coprolib_email.message.build_message`, so email feedback
reads the same whichever way it is sent.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
import time
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

import attrs
from coprolib_email.message import Sender, build_message, message_id
from coprolib_entra import DEFAULT_AUTHORITY_HOST
from coprolib_entra.replies import read_error
from coprolib_entra.service import ServiceClient, credentials_for

from coprolib.adapters import (
    Adapter,
    Capabilities,
    CheckResult,
    DeliveryResult,
    RetractRef,
    RetractResult,
    Secret,
    Status,
)
from coprolib.adapters.errors import (
    AdapterError,
    AuthError,
    PermanentError,
    RetryableError,
    ThrottledError,
)
from coprolib.adapters.http import HttpClient, HttpOptions, check_endpoint
from coprolib.records import Share
from coprolib.records.enums import FeedbackChannel, ShareKind

GRAPH_URL = "https://graph.microsoft.com/v1.0"
#: The application permission sendMail needs.
MAIL_SEND = "Mail.Send"
#: When a 429 carries no ``Retry-After``, how long the destination pauses (seconds).
DEFAULT_THROTTLE_SECONDS = 30.0

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _guid(instance: Any, attribute: attrs.Attribute[str], value: str) -> None:
    if not _GUID.match(value):
        raise ValueError(
            f"{attribute.name}: {value!r} is not a GUID (copy it from the Entra admin centre)"
        )


@attrs.frozen(kw_only=True)
class GraphMailConfig:
    """Settings of a ``graph-mail`` destination (see the README's configuration reference).

    ``mailbox``: the sending mailbox's address (its user principal name); messages come from it.
    ``access_control``: how the app is kept to that mailbox: ``access-policy`` (Entra ID grants
    ``Mail.Send``, an application access policy narrows it) or ``exchange-rbac`` (Exchange
    Online's RBAC for Applications grants "Application Mail.Send" on a management scope, and
    Entra ID grants nothing).
    """

    tenant_id: str = attrs.field(validator=_guid)
    client_id: str = attrs.field(validator=_guid)
    client_secret: Secret
    mailbox: str
    access_control: str = attrs.field(
        default="access-policy", validator=attrs.validators.in_(("access-policy", "exchange-rbac"))
    )
    from_name: str | None = None
    reply_to: str | None = None
    organisation: str | None = None
    subject_prefix: str = ""
    graph_url: str = GRAPH_URL
    authority_host: str = DEFAULT_AUTHORITY_HOST
    instance_discovery: bool = True
    http: HttpOptions = attrs.field(factory=HttpOptions)

    def __attrs_post_init__(self) -> None:
        if not _ADDRESS.match(self.mailbox):
            raise ValueError(f"mailbox: {self.mailbox!r} is not an email address")
        check_endpoint(self.graph_url, "graph_url")
        check_endpoint(self.authority_host, "authority_host")

    @property
    def scope(self) -> str:
        """The app-only scope: ``https://graph.microsoft.com/.default``."""
        split = urllib.parse.urlsplit(self.graph_url)
        return f"{split.scheme}://{split.netloc}/.default"


def classify(
    status: int, headers: Mapping[str, str], body: bytes | str | None, *, what: str
) -> AdapterError:
    """The coprolib error for a non-2xx Graph reply to ``what``."""
    reply = read_error("Microsoft Graph", status, headers, body)
    detail, code = reply.detail, reply.code
    if status == 429:
        return ThrottledError(
            f"{what}: Microsoft Graph asked us to slow down ({detail})",
            retry_after=DEFAULT_THROTTLE_SECONDS
            if reply.retry_after is None
            else reply.retry_after,
        )
    if status == 401:
        return AuthError(f"{what}: token refused ({detail}); check the app registration")
    if code == "ErrorSendAsDenied":
        return AuthError(
            f"{what}: refused ({detail}); the message must come from the mailbox setting"
        )
    if code == "ErrorAccessDenied" or status == 403:
        return AuthError(
            f"{what}: refused ({detail}); the app needs the Mail.Send application permission "
            "with admin consent, and the application access policy must include the mailbox"
        )
    if code == "ErrorInvalidUser" or status == 404:
        return AuthError(f"{what}: no such mailbox ({detail}); check the mailbox setting")
    if status in (503, 504) or status >= 500:
        return RetryableError(f"{what}: {detail}", retry_after=reply.retry_after)
    return PermanentError(f"{what}: {detail}")


def token_roles(token: str) -> list[str] | None:
    """The ``roles`` claim of an Entra ID access token (a JWT), or None when it cannot be read.

    Only read to tell an administrator what is missing; the token is never verified here (Graph
    does that).
    """
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return None
    roles = claims.get("roles") if isinstance(claims, dict) else None
    return [str(r) for r in roles] if isinstance(roles, list) else []


class GraphMailAdapter(Adapter[GraphMailConfig]):
    """Feedback shares as emails from one Microsoft 365 mailbox, through Graph ``sendMail``."""

    name = "graph-mail"
    config_class = GraphMailConfig
    # Email cannot be recalled or recognised again once sent.
    capabilities = Capabilities(max_batch_size=20, can_retract=False, can_upsert=False)

    def __init__(
        self,
        config: Any,
        *,
        destination: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        super().__init__(config, destination=destination)
        cfg = self.config
        self.now = now
        self.credentials = credentials_for(cfg, cfg.scope, clock)
        self.http = HttpClient(options=cfg.http, token_source=self.credentials, redact=self.redact)
        self.service = ServiceClient(
            service="Microsoft Graph",
            http=self.http,
            classify=classify,
            redact=self.redact,
            clock=clock,
        )
        self.sender = Sender(
            address=cfg.mailbox,
            name=cfg.from_name,
            reply_to=cfg.reply_to,
            organisation=cfg.organisation,
            subject_prefix=cfg.subject_prefix,
        )

    @property
    def send_url(self) -> str:
        """``<graph_url>/users/<mailbox>/sendMail``."""
        mailbox = urllib.parse.quote(self.config.mailbox, safe="@")
        return f"{self.config.graph_url.rstrip('/')}/users/{mailbox}/sendMail"

    def recipient_address(self, share: Share) -> str:
        """The address to send to; a :class:`PermanentError` unless the share is email feedback
        with an address."""
        if share.kind is not ShareKind.FEEDBACK:
            raise PermanentError("graph-mail destinations take feedback shares only")
        if share.channel not in (None, FeedbackChannel.EMAIL):
            raise PermanentError(f"feedback channel is {share.channel}, not email")
        if share.recipient is None or not share.recipient.email:
            raise PermanentError("feedback by email, but the recipient has no email address")
        return share.recipient.email

    def deliver_one(self, share: Share) -> DeliveryResult:
        """Send one feedback email; the remote id is its Message-ID."""
        to = self.recipient_address(share)
        try:
            msg = build_message(share, to, self.sender, now=self.now())
            mime = base64.b64encode(msg.as_bytes())
        except ValueError as exc:  # a header value with a line break: never sendable
            raise PermanentError(f"the email could not be built: {exc}") from None
        self.service.send(
            "POST",
            self.send_url,
            what="sendMail",
            data=mime,
            headers={"Content-Type": "text/plain"},
        ).close()
        return DeliveryResult(
            share_id=share.id,
            idempotency_key=share.idempotency_key,
            status=Status.OK,
            remote_id=str(msg["Message-ID"]),
        )

    def retract_one(self, ref: RetractRef) -> RetractResult:
        """Email cannot be recalled: record what a person should do instead."""
        domain = self.config.mailbox.rsplit("@", 1)[-1]
        msg_id = ref.remote_id or message_id(ref.idempotency_key, domain)
        action = (
            f"An email cannot be recalled once sent (Message-ID {msg_id}). No further email will "
            "be sent for this share. If the contributor should be told their withdrawal was acted "
            "on, send the withdrawal_confirmed feedback; delete the copy in the Sent Items of "
            f"{self.config.mailbox} under your retention rules."
        )
        return RetractResult(
            share_id=ref.share_id,
            idempotency_key=ref.idempotency_key,
            remote_id=msg_id,
            status=Status.OK,
            retracted=False,
            compensating_action=action,
        )

    def check(self) -> CheckResult:
        """Sign in, reach Graph (its service document), and confirm the token carries
        ``Mail.Send``; nothing is sent.

        Whether the application access policy lets the app send as the mailbox can only be seen
        by sending; the message says how to test it in Exchange Online PowerShell.
        """
        cfg = self.config
        try:
            token = self.credentials.token()
            self.service.send("GET", f"{cfg.graph_url.rstrip('/')}/", what="reach Graph").close()
        except Exception as exc:  # reported as the check result
            status, _, message = self.classify(exc)
            return CheckResult(ok=False, status=status, message=message)
        roles = token_roles(token)
        if cfg.access_control == "exchange-rbac":
            return self._rbac_check(roles)
        policy = (
            f"to confirm the application access policy allows {cfg.mailbox}, run "
            f"Test-ApplicationAccessPolicy -Identity {cfg.mailbox} -AppId {cfg.client_id}"
        )
        if roles is None:
            return CheckResult(
                ok=True,
                status=Status.OK,
                message=f"signed in (the token's permissions could not be read); {policy}",
            )
        if MAIL_SEND not in roles:
            return CheckResult(
                ok=False,
                status=Status.AUTH,
                message="signed in, but the token does not carry the Mail.Send application "
                "permission: in the app registration add Microsoft Graph > Application "
                "permissions > Mail.Send and grant admin consent",
            )
        return CheckResult(ok=True, status=Status.OK, message=f"signed in with Mail.Send; {policy}")

    def _rbac_check(self, roles: list[str] | None) -> CheckResult:
        cfg = self.config
        if roles is not None and MAIL_SEND in roles:
            return CheckResult(
                ok=False,
                status=Status.AUTH,
                message="the app holds Mail.Send in Entra ID, which lets it send as every "
                "mailbox whatever Exchange RBAC says: remove that permission (or its admin "
                "consent) from the app registration",
            )
        return CheckResult(
            ok=True,
            status=Status.OK,
            message=f"signed in; to confirm Exchange RBAC lets the app send as {cfg.mailbox}, run "
            f"Test-ServicePrincipalAuthorization -Identity {cfg.client_id} -Resource {cfg.mailbox}",
        )

    def close(self) -> None:
        """Close pooled connections."""
        self.http.close()
