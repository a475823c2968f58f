"""The SFTP drop adapter: a document and a JSON manifest per share, written atomically into a
folder that a case-management system's import job reads.

Every file is written under a temporary dot-name in the same folder and then renamed over its
final name with ``posix-rename@openssh.com`` (an atomic replace), so the import job never sees a
half-written file and a re-delivery replaces the old files in one step. The manifest is written
after the document and names it with its SHA-256, so "a manifest exists" means "its document is
complete". A retraction writes ``<name>.retracted.json`` and then removes the share's document
and manifest from the drop.

The server's host key is pinned in the settings; an unknown or changed key is refused before
any credential is sent, and nothing is ever added to a known-hosts file.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import errno
import hashlib
import io
import json
import posixpath
import re
import secrets
import socket
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import attrs
import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from coprolib.adapters import (
    Adapter,
    AuthError,
    Capabilities,
    CheckResult,
    ConfigError,
    DeliveryResult,
    PermanentError,
    RetractRef,
    RetractResult,
    RetryableError,
    Secret,
    Status,
)
from coprolib.adapters.errors import AdapterError
from coprolib.records import Share, convert
from coprolib.records.enums import ShareKind

T = TypeVar("T")

SCHEMA = "coprolib.sftp/1"
DOCUMENT_SUFFIX = ".txt"
MANIFEST_SUFFIX = ".json"
RETRACTION_SUFFIX = ".retracted.json"

#: A key already safe as a file name on any server (Windows included) is used as it is.
_SAFE_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")
_SLUG = re.compile(r"[^A-Za-z0-9_-]+")
_FINGERPRINT = re.compile(r"^SHA256:[A-Za-z0-9+/]{43}=?$")
#: Host key algorithms paramiko may negotiate for each pinned key type.
_ALGORITHMS = {
    "ssh-ed25519": ("ssh-ed25519",),
    "ssh-rsa": ("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"),
    "ecdsa-sha2-nistp256": ("ecdsa-sha2-nistp256",),
    "ecdsa-sha2-nistp384": ("ecdsa-sha2-nistp384",),
    "ecdsa-sha2-nistp521": ("ecdsa-sha2-nistp521",),
}


def file_stem(key: str) -> str:
    """The file-name stem for an idempotency key: the key itself when it is made of letters,
    digits, ``-`` and ``_`` (as the planner's ``coprolib-<40 hex>`` keys are), otherwise a
    readable slug and a hash of the whole key, so any key gives a safe, distinct, stable name."""
    if _SAFE_KEY.match(key):
        return key
    slug = _SLUG.sub("_", key).strip("_")[:40]
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"k-{slug}-{digest}" if slug else f"k-{digest}"


def fingerprint(key: paramiko.PKey) -> str:
    """``SHA256:<base64>``, as ``ssh-keygen -lf`` prints a key's fingerprint."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


@attrs.frozen
class PinnedKey:
    """One accepted host key: its type and its SHA-256 fingerprint."""

    key_type: str | None
    fingerprint: str


def parse_pin(text: str) -> PinnedKey:
    """A host key as written in the settings: a known_hosts / ``.pub`` line (``[host] type
    base64 [comment]``) or a fingerprint ``SHA256:…``; ``ValueError`` says what is wrong."""
    text = text.strip()
    if _FINGERPRINT.match(text):
        return PinnedKey(None, text.rstrip("="))
    words = text.split()
    for i, word in enumerate(words[:-1]):
        if word in _ALGORITHMS:
            try:
                blob = base64.b64decode(words[i + 1], validate=True)
                key = paramiko.PKey.from_type_string(word, blob)
            except (ValueError, paramiko.SSHException) as exc:
                raise ValueError(f"the {word} key does not decode ({exc})") from None
            return PinnedKey(word, fingerprint(key))
    raise ValueError(
        "expected a host key line such as 'ssh-ed25519 AAAAC3Nz…' (from ssh-keyscan or the "
        "server's /etc/ssh/ssh_host_ed25519_key.pub) or a fingerprint 'SHA256:…'"
    )


def _port(instance: Any, attribute: attrs.Attribute[int], value: int) -> None:
    if not 0 < value < 65536:
        raise ValueError(f"port must be between 1 and 65535, got {value}")


def _pins(instance: Any, attribute: attrs.Attribute[tuple[str, ...]], value: Any) -> None:
    if not value:
        raise ValueError(
            "host_keys: pin at least one host key (the server's key is never accepted unseen)"
        )
    for i, text in enumerate(value):
        try:
            parse_pin(text)
        except ValueError as exc:
            raise ValueError(f"host_keys[{i}]: {exc}") from None


@attrs.frozen(kw_only=True)
class SftpConfig:
    """Settings of an ``sftp`` destination.

    ``host``/``port``/``username``: the SFTP server and account. ``host_keys``: the server's
    host key(s), as known_hosts lines or ``SHA256:`` fingerprints (list the new key beside the
    old while the server's key is changed). ``private_key``: ``$env:NAME`` holding the private
    key text, or ``private_key_file``: the path of the key file; ``passphrase``: ``$env:NAME``
    if the key is encrypted. ``directory``: the drop folder on the server.
    ``connect_timeout``/``timeout``: seconds to connect and log in, and for each file operation.
    ``file_mode``: the permissions every file gets before anything is written to it (octal;
    others never get access).
    """

    host: str
    username: str
    host_keys: tuple[str, ...] = attrs.field(validator=_pins)
    directory: str
    port: int = attrs.field(default=22, validator=_port)
    private_key: Secret | None = None
    private_key_file: str | None = None
    passphrase: Secret | None = None
    connect_timeout: float = 10.0
    timeout: float = 30.0
    file_mode: str = "0640"

    def __attrs_post_init__(self) -> None:
        if not re.fullmatch(r"0?[0-7]{3}", self.file_mode) or int(self.file_mode, 8) & 0o007:
            raise ValueError(
                f'file_mode: {self.file_mode!r} must be an octal mode such as "0640" or "0600", '
                "with no access for others"
            )
        if (self.private_key is None) == (self.private_key_file is None):
            raise ValueError(
                'private_key: set either private_key = "$env:NAME" or private_key_file = '
                '"/path/to/key" (one of them)'
            )
        if not self.directory.strip():
            raise ValueError("directory: name the drop folder on the server")


def load_private_key(text: bytes, passphrase: str | None, where: str) -> paramiko.PKey:
    """A paramiko key from OpenSSH or PEM private key text; ``ConfigError`` naming ``where``
    when it cannot be read (the key itself is never shown)."""
    password = passphrase.encode() if passphrase else None
    loaded: Any
    try:
        try:
            loaded = serialization.load_ssh_private_key(text, password=password)
        except ValueError:
            loaded = serialization.load_pem_private_key(text, password=password)
    except TypeError:
        raise ConfigError(where, "the key is encrypted: set passphrase") from None
    except ValueError:
        raise ConfigError(
            where, "not a readable private key (or the passphrase is wrong)"
        ) from None
    key_class: type[paramiko.PKey]
    if isinstance(loaded, ed25519.Ed25519PrivateKey):
        key_class = paramiko.Ed25519Key
    elif isinstance(loaded, rsa.RSAPrivateKey):
        key_class = paramiko.RSAKey
    elif isinstance(loaded, ec.EllipticCurvePrivateKey):
        key_class = paramiko.ECDSAKey
    else:
        raise ConfigError(where, "use an Ed25519, ECDSA or RSA key")
    return key_class.from_private_key(io.StringIO(text.decode()), password=passphrase)


def _now() -> str:
    return str(convert.unstructure(dt.datetime.now(dt.UTC).replace(microsecond=0)))


class _Session:
    """One logged-in SSH transport and its SFTP channel."""

    def __init__(self, transport: paramiko.Transport, sftp: paramiko.SFTPClient) -> None:
        self.transport = transport
        self.sftp = sftp
        self.posix_rename = True

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.sftp.close()
        with contextlib.suppress(Exception):
            self.transport.close()


class SftpAdapter(Adapter[SftpConfig]):
    """Drops a document and a manifest per share into a folder on an SFTP server."""

    name = "sftp"
    config_class = SftpConfig
    capabilities = Capabilities(max_batch_size=50, can_retract=True, can_upsert=True)

    def __init__(self, config: Any, *, destination: str | None = None) -> None:
        super().__init__(config, destination=destination)
        cfg = self.config
        self.pins = [parse_pin(text) for text in cfg.host_keys]
        if cfg.private_key is not None:
            # Parsed now: a bad key in the environment is a configuration error at once.
            self._key: paramiko.PKey | None = self._load_key()
        else:
            self._key = None  # the file is read when first needed (doctor --offline reads none)
        self._session: _Session | None = None
        self.server = f"{cfg.host}:{cfg.port}"
        self.file_mode = int(cfg.file_mode, 8)

    def _load_key(self) -> paramiko.PKey:
        cfg = self.config
        where = f"destinations.{self.destination}.settings"
        passphrase = cfg.passphrase.reveal() if cfg.passphrase else None
        if cfg.private_key is not None:
            return load_private_key(
                cfg.private_key.reveal().encode(), passphrase, f"{where}.private_key"
            )
        path = Path(cfg.private_key_file or "")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ConfigError(
                f"{where}.private_key_file", f"cannot read {path} ({exc.strerror})"
            ) from None
        return load_private_key(data, passphrase, f"{where}.private_key_file")

    @property
    def key(self) -> paramiko.PKey:
        """coprolib's private key (read from its file on first use)."""
        if self._key is None:
            self._key = self._load_key()
        return self._key

    # --- connection -------------------------------------------------------------------------

    def _connect(self) -> _Session:
        cfg = self.config
        try:
            sock = socket.create_connection((cfg.host, cfg.port), timeout=cfg.connect_timeout)
        except TimeoutError:
            raise RetryableError(f"connect timeout to {self.server}") from None
        except OSError as exc:
            raise RetryableError(
                f"cannot connect to {self.server} ({exc.strerror or type(exc).__name__})"
            ) from None
        transport = paramiko.Transport(sock)
        transport.banner_timeout = transport.handshake_timeout = cfg.connect_timeout
        transport.auth_timeout = cfg.connect_timeout
        try:
            if all(pin.key_type for pin in self.pins):
                # Ask for the pinned key types only, so a server with several host keys shows a
                # pinned one (paramiko no longer offers SHA-1 "ssh-rsa" signatures).
                options = transport.get_security_options()
                offered = set(options.key_types)
                types = [
                    a for p in self.pins for a in _ALGORITHMS[p.key_type or ""] if a in offered
                ]
                options.key_types = tuple(dict.fromkeys(types)) or options.key_types
            try:
                transport.start_client(timeout=cfg.connect_timeout)
            except paramiko.SSHException as exc:
                if "host key" in str(exc).lower():
                    pinned = ", ".join(sorted({p.key_type or "any" for p in self.pins}))
                    raise AuthError(
                        f"{self.server} offers no host key of the pinned type ({pinned}): "
                        "refusing to connect; ask its administrator for the current host key"
                    ) from None
                raise RetryableError(f"SSH handshake with {self.server} failed ({exc})") from None
            except (EOFError, OSError) as exc:
                raise RetryableError(
                    f"SSH handshake with {self.server} failed ({type(exc).__name__})"
                ) from None
            self._verify_host_key(transport.get_remote_server_key())
            try:
                transport.auth_publickey(cfg.username, self.key)
            except paramiko.AuthenticationException:
                raise AuthError(
                    f"{self.server} refused the private key for user {cfg.username!r}: add the "
                    "public key to that account's authorized keys"
                ) from None
            except (paramiko.SSHException, EOFError, OSError) as exc:
                raise RetryableError(
                    f"logging in to {self.server} failed ({type(exc).__name__})"
                ) from None
            try:
                sftp = paramiko.SFTPClient.from_transport(transport)
            except (paramiko.SSHException, EOFError, OSError) as exc:
                raise AuthError(
                    f"{self.server} did not start SFTP for {cfg.username!r} "
                    f"({type(exc).__name__}): is the sftp subsystem enabled for this account?"
                ) from None
            if sftp is None:
                raise RetryableError(f"{self.server} closed the SFTP channel")
            sftp.get_channel().settimeout(cfg.timeout)  # type: ignore[union-attr]
        except BaseException:
            transport.close()
            raise
        return _Session(transport, sftp)

    def _verify_host_key(self, key: paramiko.PKey) -> None:
        seen = fingerprint(key)
        for pin in self.pins:
            if pin.fingerprint == seen and (pin.key_type in (None, key.get_name())):
                return
        raise AuthError(
            f"the host key of {self.server} is {key.get_name()} {seen}, which is not pinned in "
            "host_keys: refusing to connect. If the server's administrator confirms the key was "
            "changed, add it to host_keys; otherwise someone may be intercepting the connection"
        )

    def _run(self, op: Callable[[_Session], T]) -> T:
        """``op`` on the open session (connecting if needed). A kept-open connection that the
        server or a firewall closed while idle fails on first use: then ``op`` runs once more on
        a new connection (every operation here is safe to repeat). Transport failures come out
        as :class:`RetryableError`, file errors classified."""
        reused = self._session is not None and self._session.transport.is_active()
        while True:
            if self._session is None or not self._session.transport.is_active():
                self._drop()
                self._session = self._connect()
            session = self._session
            try:
                return op(session)
            except AdapterError:
                raise
            except OSError as exc:
                lost = not session.transport.is_active() or isinstance(
                    exc, TimeoutError | ConnectionError
                )
                if not lost:
                    raise self._file_error(exc) from None
                failure: BaseException = exc
            except (paramiko.SSHException, EOFError) as exc:
                failure = exc
            self._drop()
            if reused and not isinstance(failure, TimeoutError):
                reused = False
                continue
            raise RetryableError(
                f"the connection to {self.server} failed ({type(failure).__name__})"
            ) from None

    def _drop(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def _file_error(self, exc: OSError) -> AdapterError:
        folder = self.config.directory
        if exc.errno == errno.EACCES:
            return AuthError(
                f"{self.server} denied {self.config.username!r} permission to write in "
                f"{folder}: ask the server's administrator for write, rename and delete there"
            )
        if exc.errno == errno.ENOENT:
            return PermanentError(f"the folder {folder} does not exist on {self.server}")
        text = exc.strerror or (str(exc.args[0]) if exc.args else type(exc).__name__)
        return RetryableError(f"{self.server} could not complete a file operation ({text})")

    # --- files ------------------------------------------------------------------------------

    def path(self, name: str) -> str:
        """The full path of ``name`` in the drop folder."""
        return posixpath.join(self.config.directory, name)

    def _put(self, session: _Session, name: str, data: bytes) -> None:
        """Write ``data`` to a temporary dot-file, then rename it over ``name`` atomically."""
        temp = self.path(f".{name}.{secrets.token_hex(6)}.tmp")
        final = self.path(name)
        try:
            with session.sftp.open(temp, "wb") as handle:
                handle.chmod(self.file_mode)  # before any content: never readable more widely
                handle.set_pipelined(True)
                handle.write(data)
            size = session.sftp.stat(temp).st_size
            if size != len(data):
                raise RetryableError(f"{self.server} holds {size} of {len(data)} bytes written")
            self._rename(session, temp, final)
        except BaseException:
            with contextlib.suppress(Exception):
                if session.transport.is_active():
                    session.sftp.remove(temp)
            raise

    def _rename(self, session: _Session, temp: str, final: str) -> None:
        if session.posix_rename:
            try:
                session.sftp.posix_rename(temp, final)
                return
            except OSError as exc:
                if exc.errno is not None or "unsupported" not in str(exc).lower():
                    raise
                session.posix_rename = False
        # Servers without posix-rename (SFTP v3 rename refuses to replace): remove, then rename.
        with contextlib.suppress(FileNotFoundError):
            session.sftp.remove(final)
        session.sftp.rename(temp, final)

    def _remove(self, session: _Session, name: str) -> bool:
        try:
            session.sftp.remove(self.path(name))
        except FileNotFoundError:
            return False
        return True

    # --- content ----------------------------------------------------------------------------

    def document(self, share: Share) -> bytes:
        """The share as a plain-text document (UTF-8, CRLF line ends, for Windows importers)."""
        lines = [share.title, "=" * min(len(share.title), 72), ""]
        if share.kind is ShareKind.FEEDBACK:
            lines.append(f"Feedback: {share.feedback_kind or 'message'}")
        else:
            lines.append(f"Insight ({share.identity_level.value})")
            if share.domain:
                lines.append(f"Domain: {share.domain.value}")
            if share.themes:
                lines.append("Themes: " + ", ".join(share.themes))
        lines += ["", share.body]
        if share.recommendation:
            lines += ["", "Recommendation:", share.recommendation]
        for quote in share.quotes:
            lines += ["", f"“{quote.text}”"]
        lines += ["", f"Reference: {share.idempotency_key}"]
        text = "\n".join(lines).replace("\r\n", "\n").replace("\r", "\n")
        return (text.replace("\n", "\r\n") + "\r\n").encode("utf-8")

    def manifest(self, share: Share, stem: str, document: bytes) -> bytes:
        """The JSON manifest naming the document, its SHA-256 and size, and the whole share."""
        data = {
            "schema": SCHEMA,
            "type": "share",
            "idempotency_key": share.idempotency_key,
            "share_id": share.id,
            "kind": share.kind.value,
            "digest": share.digest,
            "written_at": _now(),
            "document": {
                "file": stem + DOCUMENT_SUFFIX,
                "media_type": "text/plain; charset=utf-8",
                "bytes": len(document),
                "sha256": hashlib.sha256(document).hexdigest(),
            },
            "share": convert.unstructure(share),
        }
        return (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode("utf-8")

    def retraction(self, ref: RetractRef, stem: str) -> bytes:
        """The JSON retraction manifest: the key, and the files the import must delete."""
        data = {
            "schema": SCHEMA,
            "type": "retraction",
            "idempotency_key": ref.idempotency_key,
            "share_id": ref.share_id,
            "written_at": _now(),
            "files": [stem + DOCUMENT_SUFFIX, stem + MANIFEST_SUFFIX],
        }
        return (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode("utf-8")

    # --- the adapter API ----------------------------------------------------------------------

    def deliver_one(self, share: Share) -> DeliveryResult:
        """Document, then manifest (each by temporary name and atomic rename); a retraction
        manifest left by an earlier retraction of the same key is removed last."""
        stem = file_stem(share.idempotency_key)
        document = self.document(share)
        manifest = self.manifest(share, stem, document)

        def write(session: _Session) -> None:
            self._put(session, stem + DOCUMENT_SUFFIX, document)
            self._put(session, stem + MANIFEST_SUFFIX, manifest)
            self._remove(session, stem + RETRACTION_SUFFIX)

        self._run(write)
        return DeliveryResult(
            share_id=share.id,
            idempotency_key=share.idempotency_key,
            status=Status.OK,
            remote_id=stem + MANIFEST_SUFFIX,
        )

    def retract_one(self, ref: RetractRef) -> RetractResult:
        """Write the retraction manifest, then remove the document and manifest if still there.
        Retracting again, or what was never delivered, is done too."""
        stem = file_stem(ref.idempotency_key)
        notice = self.retraction(ref, stem)

        def write(session: _Session) -> list[bool]:
            self._put(session, stem + RETRACTION_SUFFIX, notice)
            return [self._remove(session, stem + s) for s in (MANIFEST_SUFFIX, DOCUMENT_SUFFIX)]

        removed = self._run(write)
        note = None if any(removed) else "no document was in the drop (already retracted or taken)"
        return self.retracted(ref, note)

    def check(self) -> CheckResult:
        """Connect (host key checked, key accepted), then write, rename and remove a probe file
        in the drop folder."""
        probe = f".coprolib-check-{secrets.token_hex(6)}"

        def probe_folder(session: _Session) -> tuple[str, paramiko.PKey]:
            mode = session.sftp.stat(self.config.directory).st_mode or 0
            if not stat.S_ISDIR(mode):
                raise PermanentError(f"{self.config.directory} on {self.server} is not a folder")
            self._put(session, probe, b"coprolib check\r\n")
            self._remove(session, probe)
            rename = "atomic posix-rename" if session.posix_rename else "rename (not atomic)"
            return rename, session.transport.get_remote_server_key()

        try:
            rename, key = self._run(probe_folder)
        except Exception as exc:  # reported as the check result
            status, _, message = self.classify(exc)
            return CheckResult(ok=False, status=status, message=message)
        return CheckResult(
            ok=True,
            status=Status.OK,
            message=(
                f"host key {key.get_name()} {fingerprint(key)} matches; logged in as "
                f"{self.config.username!r}; wrote, renamed ({rename}) and removed a file in "
                f"{self.config.directory}"
            ),
        )

    def close(self) -> None:
        """Close the SSH connection."""
        self._drop()

    def describe(self) -> dict[str, Any]:
        """Settings (secrets masked) plus the pinned fingerprints."""
        described = super().describe()
        described["host_key_fingerprints"] = [pin.fingerprint for pin in self.pins]
        return described
