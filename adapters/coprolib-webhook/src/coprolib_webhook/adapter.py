"""The webhook adapter: Standard Webhooks v1 signing, payloads and status handling."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import attrs

from coprolib.adapters import (
    Adapter,
    Capabilities,
    CheckResult,
    ConfigError,
    DeliveryResult,
    RetractRef,
    RetractResult,
    Secret,
    Status,
)
from coprolib.adapters.http import HttpClient, HttpOptions, check_endpoint
from coprolib.records import Share, convert
from coprolib.records.enums import ShareKind

SECRET_PREFIX = "whsec_"

#: How this adapter reads statuses, over the shared defaults: 410 means the endpoint is gone for
#: good; 429, 502 and 504 mean the receiver is overloaded, so the whole destination slows down.
STATUS_OVERRIDES = {
    410: Status.DISABLED,
    429: Status.THROTTLED,
    502: Status.THROTTLED,
    504: Status.THROTTLED,
}


def _positive(instance: Any, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 1:
        raise ValueError(f"{attribute.name} must be at least 1, got {value}")


@attrs.frozen(kw_only=True)
class WebhookConfig:
    """Settings of a ``webhook`` destination.

    ``secrets``: one or more ``$env:NAME`` references to ``whsec_``-prefixed base64 keys; every
    message is signed with each (list the new key first while rotating). ``concurrency``: how
    many requests of a batch are in flight at once.
    """

    url: str
    secrets: tuple[Secret, ...]
    http: HttpOptions = attrs.field(factory=HttpOptions)
    concurrency: int = attrs.field(default=8, validator=_positive)
    headers: dict[str, str] = attrs.field(factory=dict)

    def __attrs_post_init__(self) -> None:
        if not self.secrets:
            raise ValueError("secrets: list at least one signing secret ($env:NAME)")
        check_endpoint(self.url, "url")


#: Signing key sizes Standard Webhooks allows (the decoded bytes after ``whsec_``).
KEY_MIN_BYTES, KEY_MAX_BYTES = 24, 64


def _key(secret: Secret) -> bytes:
    text = secret.reveal()
    if text.startswith(SECRET_PREFIX):
        text = text[len(SECRET_PREFIX) :]
    try:
        key = base64.b64decode(text + "==", validate=False)
    except (binascii.Error, ValueError):
        key = b""
    if not key:
        raise ConfigError(
            str(secret), "not a webhook signing secret (expected whsec_ followed by base64)"
        )
    if not KEY_MIN_BYTES <= len(key) <= KEY_MAX_BYTES:
        raise ConfigError(
            str(secret),
            f"a webhook signing key must be {KEY_MIN_BYTES} to {KEY_MAX_BYTES} bytes "
            f"(Standard Webhooks), this one is {len(key)}; make one with "
            "python -c \"import base64, os; print('whsec_' + base64.b64encode(os.urandom(32))"
            '.decode())"',
        )
    return key


def sign(keys: Sequence[bytes], msg_id: str, timestamp: int, body: str) -> str:
    """The ``webhook-signature`` header: ``v1,<sig>`` for each key, space-separated."""
    signed = f"{msg_id}.{timestamp}.{body}".encode()
    return " ".join(
        "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        for key in keys
    )


def _iso(moment: dt.datetime) -> str:
    return str(convert.unstructure(moment))


class WebhookAdapter(Adapter[WebhookConfig]):
    """Signed Standard Webhooks v1 delivery to one receiver URL."""

    name = "webhook"
    config_class = WebhookConfig
    capabilities = Capabilities(max_batch_size=50, can_retract=True, can_upsert=True)

    def __init__(
        self,
        config: Any,
        *,
        destination: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(config, destination=destination)
        self._keys = [_key(secret) for secret in self.config.secrets]
        self._clock = clock
        pool = max(self.config.http.pool_maxsize, self.config.concurrency)
        self.http = HttpClient(
            options=attrs.evolve(self.config.http, pool_maxsize=pool),  # one per worker
            status_overrides=STATUS_OVERRIDES,
            headers={"Content-Type": "application/json", **self.config.headers},
            redact=self.redact,
        )
        self._pool: ThreadPoolExecutor | None = None

    # --- messages -------------------------------------------------------------------------

    def event_type(self, share: Share) -> str:
        """``insight.shared`` or ``feedback.<kind>``."""
        if share.kind is ShareKind.FEEDBACK:
            return f"feedback.{share.feedback_kind or 'message'}"
        return "insight.shared"

    def payload(self, event_type: str, data: dict[str, Any]) -> str:
        """The JSON body ``{"type", "timestamp", "data"}`` (compact, UTF-8)."""
        now = dt.datetime.fromtimestamp(int(self._clock()), dt.UTC)
        message = {"type": event_type, "timestamp": _iso(now), "data": data}
        return json.dumps(message, ensure_ascii=False, separators=(",", ":"))

    def post(self, msg_id: str, body: str) -> Any:
        """Sign and send one message; raises classified errors unless the receiver took it."""
        timestamp = int(self._clock())
        headers = {
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(self._keys, msg_id, timestamp, body),
        }
        return self.http.request("POST", self.config.url, data=body.encode(), headers=headers)

    # --- the adapter API ------------------------------------------------------------------

    def deliver_one(self, share: Share) -> DeliveryResult:
        """Send ``insight.shared`` (or ``feedback.*``) with ``webhook-id`` = the idempotency key."""
        data = convert.unstructure(share)
        response = self.post(share.idempotency_key, self.payload(self.event_type(share), data))
        response.close()
        return DeliveryResult(
            share_id=share.id,
            idempotency_key=share.idempotency_key,
            status=Status.OK,
            remote_id=share.idempotency_key,
        )

    def retract_one(self, ref: RetractRef) -> RetractResult:
        """Send ``insight.retracted``; the receiver must delete what it stored for the key."""
        data = {
            "share_id": ref.share_id,
            "idempotency_key": ref.idempotency_key,
            "remote_id": ref.remote_id,
        }
        response = self.post(
            f"{ref.idempotency_key}.retracted", self.payload("insight.retracted", data)
        )
        response.close()
        return self.retracted(ref)

    def deliver(self, shares: Sequence[Share]) -> list[DeliveryResult]:
        """Send a batch with up to ``concurrency`` requests in flight; one result per share."""
        if len(shares) <= 1 or self.config.concurrency == 1:
            return super().deliver(shares)
        return list(
            self._executor().map(lambda s: super(WebhookAdapter, self).deliver([s])[0], shares)
        )

    def retract(self, refs: Sequence[RetractRef]) -> list[RetractResult]:
        """Send retractions with up to ``concurrency`` requests in flight."""
        if len(refs) <= 1 or self.config.concurrency == 1:
            return super().retract(refs)
        return list(
            self._executor().map(lambda r: super(WebhookAdapter, self).retract([r])[0], refs)
        )

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                max_workers=self.config.concurrency, thread_name_prefix="coprolib-webhook"
            )
        return self._pool

    def check(self) -> CheckResult:
        """Send a signed ``coprolib.ping`` message; any 2xx means reachable and accepted."""
        msg_id = f"ping-{int(self._clock() * 1000)}"
        try:
            self.post(msg_id, self.payload("coprolib.ping", {})).close()
        except Exception as exc:  # reported as the check result
            status, _, message = self.classify(exc)
            return CheckResult(ok=False, status=status, message=message)
        return CheckResult(ok=True, status=Status.OK, message="receiver accepted a signed ping")

    def close(self) -> None:
        """Stop the worker threads and close pooled connections."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self.http.close()
