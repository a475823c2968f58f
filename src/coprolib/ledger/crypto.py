"""Protection at rest: per-field AES-256-GCM with key ids, so keys can rotate.

``COPROLIB_KEY`` holds one or more keys, comma separated, each 32 random bytes in URL-safe base64
(:func:`generate_key` makes one). The first key encrypts; the others only decrypt (during a key
rotation). A field is stored as ``enc:v1:<key id>:<base64 of nonce + ciphertext>``; the associated
data binds it to its table, record and field, so a value copied into another row fails to decrypt.
Messages never contain a key or a plaintext.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets

from coprolib.ledger.errors import LedgerError

PREFIX = "enc:v1:"
KEY_ENV = "COPROLIB_KEY"


def generate_key() -> str:
    """A new random key, as text to put in ``COPROLIB_KEY``."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")


def key_id(key: bytes) -> str:
    """The public id of a key (16 hex digits): stored beside ciphertext, reveals nothing."""
    return hashlib.sha256(b"coprolib key id\x00" + key).hexdigest()[:16]


def _decode_key(text: str, position: int) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text.strip().encode("ascii") + b"==")
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raw = b""
    if len(raw) != 32:
        raise LedgerError(
            f"{KEY_ENV} key number {position} is not a coprolib key (32 bytes in URL-safe "
            "base64; make one with `coprolib init --generate-key`)"
        )
    return raw


class KeyRing:
    """The keys this process holds: the first encrypts, all decrypt."""

    def __init__(self, keys: list[bytes]) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if not keys:
            raise LedgerError("a key ring needs at least one key")
        self._ciphers = {key_id(k): AESGCM(k) for k in keys}
        self.current_id = key_id(keys[0])
        self._current = self._ciphers[self.current_id]

    @classmethod
    def from_text(cls, text: str | None) -> KeyRing | None:
        """Parse ``COPROLIB_KEY``-style text; ``None`` or blank gives no key ring."""
        if text is None or not text.strip():
            return None
        parts = [p for p in text.split(",") if p.strip()]
        return cls([_decode_key(p, i + 1) for i, p in enumerate(parts)])

    @classmethod
    def from_env(cls) -> KeyRing | None:
        """The key ring from the ``COPROLIB_KEY`` environment variable, if set."""
        return cls.from_text(os.environ.get(KEY_ENV))

    def union(self, other: KeyRing) -> KeyRing:
        """A key ring that decrypts with the keys of both and encrypts with this one's."""
        ring = KeyRing.__new__(KeyRing)
        ring._ciphers = {**other._ciphers, **self._ciphers}
        ring.current_id = self.current_id
        ring._current = self._current
        return ring

    @property
    def ids(self) -> tuple[str, ...]:
        """Ids of every key held."""
        return tuple(self._ciphers)

    def encrypt(self, plaintext: str, context: str, kid: str | None = None) -> str:
        """Encrypt one field value, bound to ``context``, with key ``kid`` (default: the
        current key; the ledger passes the key id it stores, so every writer uses that one)."""
        kid = kid or self.current_id
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise LedgerError(f"{KEY_ENV} does not hold key id {kid}, which the ledger uses")
        nonce = secrets.token_bytes(12)
        ct = cipher.encrypt(nonce, plaintext.encode("utf-8"), context.encode("utf-8"))
        blob = base64.b64encode(nonce + ct).decode("ascii")
        return f"{PREFIX}{kid}:{blob}"

    def decrypt(self, stored: str, context: str, where: str) -> str:
        """Decrypt a stored field value; ``where`` names the record and field for errors."""
        from cryptography.exceptions import InvalidTag

        if not stored.startswith(PREFIX):
            raise LedgerError(
                "is stored unencrypted in an encrypted ledger (run `coprolib rekey`)", record=where
            )
        kid, _, blob = stored[len(PREFIX) :].partition(":")
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise LedgerError(
                f"is encrypted with key id {kid}, which {KEY_ENV} does not hold "
                f"(it holds {', '.join(self.ids)})",
                record=where,
            )
        try:
            raw = base64.b64decode(blob, validate=True)
            return cipher.decrypt(raw[:12], raw[12:], context.encode("utf-8")).decode("utf-8")
        except (InvalidTag, binascii.Error, ValueError):
            raise LedgerError(
                "could not be decrypted: it was altered or moved from another record",
                record=where,
            ) from None
