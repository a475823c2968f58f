"""A Standard Webhooks receiver for tests and demonstrations: verifies every signature with the
``standardwebhooks`` reference library (install ``coprolib-webhook[test]``), de-duplicates by
``webhook-id`` and deletes on ``insight.retracted``.

Use its :meth:`Receiver.app` as the app of a :class:`coprolib.testing.fault_server.FaultServer`.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from coprolib.testing.fault_server import Reply, Request


class Receiver:
    """Stores the latest data per key; counts deliveries and rejected signatures."""

    def __init__(self, secret: str) -> None:
        from standardwebhooks import Webhook

        self._webhook = Webhook(secret)
        self._lock = threading.Lock()
        self.stored: dict[str, Any] = {}
        self.deliveries: Counter[str] = Counter()
        self.retracted: list[str] = []
        self.types: Counter[str] = Counter()
        self.bad_signatures = 0

    def app(self, request: Request) -> Reply:
        """Verify, then store, de-duplicate or delete; 401 for a bad signature."""
        from standardwebhooks import WebhookVerificationError

        try:
            event = self._webhook.verify(request.body, request.headers)
        except WebhookVerificationError:
            with self._lock:
                self.bad_signatures += 1
            return Reply.json(401, {"error": "bad signature"})
        msg_id = request.headers["webhook-id"]
        kind = str(event["type"])
        with self._lock:
            self.types[kind] += 1
            if kind == "insight.retracted":
                self.stored.pop(event["data"]["idempotency_key"], None)
                self.retracted.append(event["data"]["idempotency_key"])
            elif kind != "coprolib.ping":
                self.deliveries[msg_id] += 1
                self.stored[msg_id] = event["data"]
        return Reply.json(200, {"received": msg_id})

    def keys(self) -> list[str]:
        """The keys of the records held now."""
        with self._lock:
            return list(self.stored)
