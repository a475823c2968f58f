"""A real SMTP server on 127.0.0.1 for tests, built on ``aiosmtpd`` (install
``coprolib-email[test]``), and a self-signed certificate made with ``cryptography``.

Follows the aiosmtpd documentation (https://aiosmtpd.aio-libs.org/en/latest/controller.html and
https://aiosmtpd.aio-libs.org/en/latest/smtp.html: ``Controller`` with ``ssl_context`` for
implicit TLS, ``tls_context`` + ``require_starttls`` for STARTTLS, ``authenticator`` returning
``AuthResult``; ``auth_require_tls=False`` under implicit TLS, see aio-libs/aiosmtpd issue 281)
and RFC 5321 reply codes.

:class:`Mailbox` is the handler: it stores messages by ``Message-ID`` as a mailbox provider does
(so a duplicate delivery is discarded and counted), refuses listed recipients with ``550``,
answers ``451`` to listed ones (transient), and can drop the connection during ``DATA``.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import ipaddress
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import unquote

KEY_HEADER = "X-Coprolib-Key"


class Mailbox:
    """An aiosmtpd handler that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: dict[str, EmailMessage] = {}
        self.transactions = 0
        self.duplicates = 0
        self.refuse: set[str] = set()
        self.defer: set[str] = set()
        self.drop_next = 0
        self.logins: list[str] = []
        self._lock = threading.Lock()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        """Refuse (550) or defer (451) listed recipients; accept the rest."""
        if address in self.refuse:
            return f"550 5.1.1 <{address}>: Recipient address rejected: user unknown"
        if address in self.defer:
            return "451 4.3.0 Mailbox temporarily unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Store the message by Message-ID, or drop the connection when asked to."""
        with self._lock:
            if self.drop_next > 0:
                self.drop_next -= 1
                server.transport.abort()
                return "421 4.4.2 connection dropped"
            self.transactions += 1
            parsed = message_from_bytes(envelope.content, policy=policy.default)
            assert isinstance(parsed, EmailMessage)
            msg_id = str(parsed["Message-ID"]).strip()
            if msg_id in self.messages:
                self.duplicates += 1
            self.messages[msg_id] = parsed
        return "250 Message accepted for delivery"

    def keys(self) -> list[str]:
        """The coprolib key of each message held (one per Message-ID)."""
        with self._lock:
            # A long header arrives folded: unfold, then undo the adapter's percent-encoding.
            return [unquote(str(m[KEY_HEADER]).strip()) for m in self.messages.values()]


class OAuthMailbox(Mailbox):
    """A :class:`Mailbox` whose server signs clients in as Exchange Online does with Basic
    authentication turned off: SMTP AUTH ``XOAUTH2`` only (``valid(user, token)`` decides), a
    password login refused with ``535 5.7.139``, a refused token with ``535 5.7.3``.

    The XOAUTH2 initial response is ``base64("user=" + user + "^Aauth=Bearer " + token + "^A^A")``
    (https://learn.microsoft.com/exchange/client-developer/legacy-protocols/how-to-authenticate-an-imap-pop-smtp-application-by-using-oauth).
    """

    def __init__(self, valid: Callable[[str, str], bool]) -> None:
        super().__init__()
        self.valid = valid
        self.refused_tokens = 0

    async def auth_XOAUTH2(self, server: Any, args: list[str]) -> Any:
        """The XOAUTH2 mechanism (aiosmtpd calls ``auth_<MECHANISM>`` on the handler)."""
        from aiosmtpd.smtp import MISSING, AuthResult

        if len(args) == 1:
            blob = await server.challenge_auth("")
            if blob is MISSING:
                return AuthResult(success=False)
        else:
            try:
                blob = base64.b64decode(args[1].encode(), validate=True)
            except ValueError:
                await server.push("501 5.5.2 Can't decode base64")
                return AuthResult(success=False, handled=True)
        fields = dict(
            part.split("=", 1)
            for part in blob.decode(errors="replace").split("\x01")
            if "=" in part
        )
        user, auth = fields.get("user", ""), fields.get("auth", "")
        token = auth[len("Bearer ") :] if auth.startswith("Bearer ") else ""
        if user and token and self.valid(user, token):
            with self._lock:
                self.logins.append(user)
            return AuthResult(success=True, auth_data=user)
        with self._lock:
            self.refused_tokens += 1
        await server.push("535 5.7.3 Authentication unsuccessful")
        return AuthResult(success=False, handled=True)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A certificate for ``127.0.0.1``/``localhost`` and its key, written under ``directory``.

    The certificate is its own authority: trust it by giving it as ``ca_file``.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "coprolib test mail server")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "mail-cert.pem", directory / "mail-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """The server side TLS context for a certificate and key."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


@contextlib.contextmanager
def smtp_server(
    mailbox: Mailbox,
    *,
    security: str = "none",
    cert: tuple[Path, Path] | None = None,
    credentials: dict[str, str] | None = None,
) -> Iterator[int]:
    """Run an aiosmtpd server on 127.0.0.1 in a thread; yields its port.

    ``security``: ``none``, ``starttls`` (STARTTLS required before mail) or ``tls`` (implicit).
    ``credentials``: username -> password; when given, AUTH is required. An
    :class:`OAuthMailbox` requires AUTH XOAUTH2 and refuses passwords.
    """
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def authenticator(
        server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and credentials is not None
            and credentials.get(auth_data.login.decode()) == auth_data.password.decode()
        )
        if ok:
            mailbox.logins.append(auth_data.login.decode())
        return AuthResult(success=ok, handled=False)

    def basic_disabled(
        server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        return AuthResult(
            success=False,
            handled=False,
            message="535 5.7.139 Authentication unsuccessful, basic authentication is disabled.",
        )

    kwargs: dict[str, Any] = {}
    if isinstance(mailbox, OAuthMailbox):
        kwargs.update(authenticator=basic_disabled, auth_required=True)
    elif credentials is not None:
        kwargs.update(authenticator=authenticator, auth_required=True)
    if security == "starttls":
        assert cert is not None
        kwargs.update(tls_context=server_context(*cert), require_starttls=True)
    else:
        kwargs.update(auth_require_tls=False)
    ssl_context = server_context(*cert) if security == "tls" and cert is not None else None
    port = free_port()
    controller = Controller(
        mailbox, hostname="127.0.0.1", port=port, ready_timeout=5, ssl_context=ssl_context, **kwargs
    )
    controller.start()
    try:
        yield port
    finally:
        controller.stop()
