"""coprolib-webhook: deliver shares as signed Standard Webhooks v1 messages.

Each share becomes one ``POST`` with the headers ``webhook-id`` (the share's idempotency key, so
a receiver that de-duplicates by id stores it once however often it is retried),
``webhook-timestamp`` (Unix seconds) and ``webhook-signature`` (``v1,<base64 HMAC-SHA256 of
"id.timestamp.body">``, one per configured secret, space-separated, for key rotation). The body is
``{"type", "timestamp", "data"}`` with type ``insight.shared``, ``feedback.<kind>`` or
``insight.retracted``. 410 disables the destination; 429, 502 and 504 slow it down.
"""

from __future__ import annotations

from coprolib import hookimpl
from coprolib.hookspecs import RegisterAdapter
from coprolib_webhook.adapter import WebhookAdapter, WebhookConfig, sign

__all__ = ["WebhookAdapter", "WebhookConfig", "register_adapters", "sign"]


@hookimpl
def register_adapters(register: RegisterAdapter) -> None:
    """Register the ``webhook`` destination adapter."""
    register("webhook", WebhookAdapter)
