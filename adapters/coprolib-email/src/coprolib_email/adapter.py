"""The SMTP email adapter: feedback shares to contributors by email, over STARTTLS or implicit
TLS with optional login, through :mod:`smtplib`.

Follows RFC 5321 (reply codes: 4xx transient, 5xx permanent), RFC 3207 (STARTTLS), RFC 8314
(implicit TLS on port 465) and RFC 4954 (AUTH), as exposed by Python's :mod:`smtplib` and
:mod:`ssl` (https://docs.python.org/3/library/smtplib.html).

Idempotency. SMTP cannot be asked whether a message was already delivered. Each share's
``Message-ID`` is derived from its idempotency key (see :func:`coprolib_email.message.message_id`)
and the key travels in ``X-Coprolib-Key``, so a retry after a lost reply carries the same
Message-ID, which mailbox providers use to discard duplicates. The engine only retries a share
whose attempt failed, so duplicates can arise only when the server accepted the message but the
reply was lost.

Sign-in. ``username`` + ``password`` is SMTP AUTH with a password (RFC 4954). ``oauth`` is SMTP
AUTH ``XOAUTH2`` with an app-only token from Microsoft Entra ID (client credentials, through
``coprolib-entra``), for Exchange Online, where Microsoft is retiring Basic (password)
authentication for SMTP AUTH client submission. The token's scope is
``https://outlook.office365.com/.default`` and the SASL XOAUTH2 initial response is
``base64("user=" + mailbox + "^Aauth=Bearer " + token + "^A^A")``, as "Authenticate an IMAP, POP
or SMTP connection using OAuth" describes
(https://learn.microsoft.com/exchange/client-developer/legacy-protocols/how-to-authenticate-an-imap-pop-smtp-application-by-using-oauth,
section "Use client credentials grant flow to authenticate SMTP, IMAP and POP connections").
A refused token is fetched again once (it may have been revoked early) before the failure is
reported.
"""

from __future__ import annotations

import datetime as dt
import re
import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from coprolib.adapters import (
    Adapter,
    AuthError,
    Capabilities,
    CheckResult,
    DeliveryResult,
    PermanentError,
    RetractRef,
    RetractResult,
    RetryableError,
    Secret,
    Status,
    ThrottledError,
)
from coprolib.adapters.errors import AdapterError
from coprolib.adapters.http import HttpOptions
from coprolib.records import Share
from coprolib.records.enums import FeedbackChannel, ShareKind
from coprolib_email.message import Sender, build_message, message_id

_LOCAL = ("127.0.0.1", "localhost", "::1")
#: The app-only scope of Exchange Online, whose token SMTP AUTH XOAUTH2 takes.
EXCHANGE_SCOPE = "https://outlook.office365.com/.default"
DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com"
#: Addresses in server replies are masked: they are personal data and must not reach the ledger.
_ADDRESS = re.compile(r"<?[^\s<>@]+@[^\s<>]+>?")


def _security(instance: Any, attribute: attrs.Attribute[str], value: str) -> None:
    if value not in ("starttls", "tls", "none"):
        raise ValueError("security must be starttls (port 587), tls (port 465) or none")


@attrs.frozen(kw_only=True)
class SmtpOAuth:
    """App-only sign-in to SMTP with an Entra ID token (XOAUTH2): the app registration's tenant,
    client id and secret; ``http`` holds the token endpoint's CA bundle and timeouts."""

    tenant_id: str
    client_id: str
    client_secret: Secret
    scope: str = EXCHANGE_SCOPE
    authority_host: str = DEFAULT_AUTHORITY_HOST
    instance_discovery: bool = True
    http: HttpOptions = attrs.field(factory=HttpOptions)


@attrs.frozen(kw_only=True)
class EmailConfig:
    """Settings of an ``email`` destination (see the README's configuration reference).

    ``security = "none"`` (no encryption) is accepted only for a relay on this machine
    (``127.0.0.1``/``localhost``); TLS certificates are always verified, against the system's
    trusted authorities plus ``ca_file`` when given.
    """

    host: str
    from_address: str
    port: int | None = None
    security: str = attrs.field(default="starttls", validator=_security)
    username: str | None = None
    password: Secret | None = None
    oauth: SmtpOAuth | None = None
    from_name: str | None = None
    reply_to: str | None = None
    organisation: str | None = None
    subject_prefix: str = ""
    ca_file: str | None = None
    timeout: float = 30.0
    local_hostname: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.security == "none" and self.host not in _LOCAL:
            raise ValueError(
                "security: 'none' sends in clear text and is allowed only for a relay on this "
                "machine; use starttls or tls"
            )
        if self.oauth is not None:
            if self.username is None or self.password is not None:
                raise ValueError(
                    "oauth: give username (the mailbox that sends, e.g. the from_address) and "
                    "no password: the token replaces it"
                )
            if self.security == "none":
                raise ValueError("oauth: a token is only sent over starttls or tls")
        elif (self.username is None) != (self.password is None):
            raise ValueError("give both username and password, or neither")
        if "@" not in self.from_address:
            raise ValueError("from_address: not an email address")

    @property
    def effective_port(self) -> int:
        """The port: as configured, else 465 for implicit TLS, 587 for STARTTLS, 25 for none."""
        if self.port is not None:
            return self.port
        return {"tls": 465, "starttls": 587}.get(self.security, 25)


def classify_smtp(exc: BaseException) -> AdapterError:
    """An :mod:`smtplib`/socket/TLS failure as a classified error. Messages never include the
    recipient's address."""
    if isinstance(exc, AdapterError):
        return exc
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return AuthError(f"the mail server refused the username or password ({exc.smtp_code})")
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return PermanentError(
            f"the mail server does not support what the settings ask for ({exc}): check "
            "security (starttls on 587, tls on 465) and whether it offers AUTH"
        )
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        code = codes[0] if codes else 550
        text = _reply_text(next(iter(exc.recipients.values()), (550, b""))[1])
        return _by_code(code, f"the mail server refused the recipient address ({code} {text})")
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return _by_code(
            exc.smtp_code,
            f"the mail server refused the sender address ({exc.smtp_code} "
            f"{_reply_text(exc.smtp_error)}): check from_address is allowed to send",
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        return _by_code(
            exc.smtp_code, f"the mail server answered {exc.smtp_code} {_reply_text(exc.smtp_error)}"
        )
    if isinstance(exc, ssl.SSLCertVerificationError):
        return PermanentError(
            f"the mail server's TLS certificate is not trusted ({exc.verify_message}): if it is "
            "signed by your organisation's own authority, set ca_file to that CA certificate"
        )
    if isinstance(exc, ssl.SSLError):
        return RetryableError(f"TLS failed ({exc.reason or type(exc).__name__})")
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return RetryableError("the mail server closed the connection")
    if isinstance(exc, socket.timeout | TimeoutError):
        return RetryableError("the mail server did not answer in time")
    if isinstance(exc, ConnectionRefusedError):
        return RetryableError("connection refused: is the mail server running on that port?")
    if isinstance(exc, socket.gaierror):
        return RetryableError("the mail server's host name could not be found (DNS)")
    if isinstance(exc, OSError | smtplib.SMTPException):
        return RetryableError(f"mail transport failed ({type(exc).__name__})")
    return RetryableError(f"unexpected {type(exc).__name__}")


def _reply_text(raw: bytes | str) -> str:
    text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
    return _ADDRESS.sub("<address>", " ".join(text.split()))[:200]


def _by_code(code: int, message: str) -> AdapterError:
    if code == 421 or (code in (450, 451, 452) and "rate" in message.lower()):
        return ThrottledError(message, retry_after=60.0)
    if 400 <= code < 500:
        return RetryableError(message)
    return PermanentError(message)


class EmailAdapter(Adapter[EmailConfig]):
    """Feedback shares as emails (text and HTML, Easy Read when needed) over SMTP."""

    name = "email"
    config_class = EmailConfig
    capabilities = Capabilities(max_batch_size=20, can_retract=False, can_upsert=False)

    def __init__(
        self,
        config: Any,
        *,
        destination: str | None = None,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        super().__init__(config, destination=destination)
        self._clock = clock
        self._smtp: smtplib.SMTP | None = None
        self.credentials: Any = None
        if self.config.oauth is not None:
            from coprolib_entra.service import credentials_for

            self.credentials = credentials_for(
                self.config.oauth, self.config.oauth.scope, time.monotonic
            )
        self.sender = Sender(
            address=self.config.from_address,
            name=self.config.from_name,
            reply_to=self.config.reply_to,
            organisation=self.config.organisation,
            subject_prefix=self.config.subject_prefix,
        )

    # --- connection -----------------------------------------------------------------------

    def tls_context(self) -> ssl.SSLContext:
        """A verifying TLS context: system CAs plus ``ca_file``; verification cannot be off."""
        context = ssl.create_default_context()
        if self.config.ca_file:
            context.load_verify_locations(cafile=self.config.ca_file)
        return context

    def connect(self) -> smtplib.SMTP:
        """An open, secured and logged-in connection (reused across a batch)."""
        if self._smtp is not None:
            return self._smtp
        cfg = self.config
        smtp: smtplib.SMTP
        if cfg.security == "tls":
            smtp = smtplib.SMTP_SSL(
                cfg.host,
                cfg.effective_port,
                local_hostname=cfg.local_hostname,
                timeout=cfg.timeout,
                context=self.tls_context(),
            )
        else:
            smtp = smtplib.SMTP(
                cfg.host, cfg.effective_port, local_hostname=cfg.local_hostname, timeout=cfg.timeout
            )
        try:
            smtp.ehlo()
            if cfg.security == "starttls":
                smtp.starttls(context=self.tls_context())
                smtp.ehlo()
            if self.credentials is not None and cfg.username is not None:
                self._xoauth2(smtp, cfg.username)
            elif cfg.username is not None and cfg.password is not None:
                smtp.login(cfg.username, cfg.password.reveal())
        except BaseException:
            _quietly_close(smtp)
            raise
        self._smtp = smtp
        return smtp

    def _xoauth2(self, smtp: smtplib.SMTP, user: str) -> None:
        """SMTP AUTH XOAUTH2 with an Entra ID token; a refused token is fetched again once."""
        for refresh in (False, True):
            token = self.credentials.token(refresh=refresh)
            response = f"user={user}\x01auth=Bearer {token}\x01\x01"
            try:
                # After a refusal the server may send a challenge (an error description): the
                # answer is an empty line, and the server then sends its final 535.
                smtp.auth(
                    "XOAUTH2",
                    lambda challenge=None, first=response: first if challenge is None else "",
                )
                return
            except smtplib.SMTPAuthenticationError as exc:
                if refresh:
                    raise AuthError(
                        f"the mail server refused the OAuth token ({exc.smtp_code}): check the "
                        "app registration has the SMTP.SendAsApp permission with admin consent, "
                        "its service principal is registered in Exchange Online with "
                        "permission on this mailbox, and SMTP AUTH is on for the mailbox"
                    ) from None

    def close(self) -> None:
        """Say QUIT and close the connection."""
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                _quietly_close(smtp)

    # --- the adapter API ------------------------------------------------------------------

    def recipient_address(self, share: Share) -> str:
        """The address to send to; a :class:`PermanentError` when the share is not email feedback."""
        if share.kind is not ShareKind.FEEDBACK:
            raise PermanentError("email destinations take feedback shares only")
        if share.channel not in (None, FeedbackChannel.EMAIL):
            raise PermanentError(f"feedback channel is {share.channel}, not email")
        if share.recipient is None or not share.recipient.email:
            raise PermanentError("feedback by email, but the recipient has no email address")
        return share.recipient.email

    def deliver(self, shares: Sequence[Share]) -> list[DeliveryResult]:
        """Send each share over one connection, reconnecting after a transport failure."""
        results = []
        for share in shares:
            try:
                result = self.deliver_one(share)
            except Exception as exc:
                error = classify_smtp(exc)
                if error.status in (Status.RETRYABLE, Status.THROTTLED, Status.AUTH):
                    self._drop()
                result = self.failed_delivery(share, error)
            results.append(self._clean_delivery(result))
        return results

    def deliver_one(self, share: Share) -> DeliveryResult:
        """Send one feedback email; the remote id is its Message-ID."""
        to = self.recipient_address(share)
        try:
            msg = build_message(share, to, self.sender, now=self._clock())
        except (ValueError, TypeError) as exc:
            # The same share builds the same message: a retry cannot help. The error's text
            # can quote the address, so only its type is kept.
            raise PermanentError(f"the email could not be built ({type(exc).__name__})") from None
        smtp = self.connect()
        refused = smtp.send_message(msg, from_addr=self.config.from_address, to_addrs=[to])
        if refused:
            raise smtplib.SMTPRecipientsRefused(refused)
        return DeliveryResult(
            share_id=share.id,
            idempotency_key=share.idempotency_key,
            status=Status.OK,
            remote_id=str(msg["Message-ID"]),
        )

    def retract_one(self, ref: RetractRef) -> RetractResult:
        """Email cannot be recalled: record what a person should do instead."""
        domain = self.config.from_address.rsplit("@", 1)[-1]
        msg_id = ref.remote_id or message_id(ref.idempotency_key, domain)
        action = (
            f"An email cannot be recalled once sent (Message-ID {msg_id}). No further email "
            "will be sent for this share. If the contributor should be told their withdrawal "
            "was acted on, send the withdrawal_confirmed feedback; delete the copy in the "
            f"sending mailbox ({self.config.from_address}) under your retention rules."
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
        """Connect, secure, log in and say NOOP: proves host, port, TLS trust and credentials."""
        try:
            self.connect().noop()
        except Exception as exc:
            self._drop()
            error = classify_smtp(exc)
            where = f"{self.config.host}:{self.config.effective_port}"
            return CheckResult(
                ok=False, status=error.status, message=self.redact(f"{where}: {error.message}")
            )
        finally:
            self.close()
        return CheckResult(
            ok=True,
            status=Status.OK,
            message=f"mail server accepted a {self.config.security} connection"
            + (
                " and the OAuth token"
                if self.config.oauth
                else " and the login"
                if self.config.username
                else ""
            ),
        )

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            _quietly_close(smtp)


def _quietly_close(smtp: smtplib.SMTP) -> None:
    try:
        smtp.close()
    except OSError:
        return
