"""Prometheus metrics: counts and durations by route template and status, never ids or data.

Each app has its own registry, so nothing is added to the host's global one."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST


class Metrics:
    """The counters one ``coprolib serve`` instance exposes at ``/v1/metrics``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "coprolib_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self.duration = Histogram(
            "coprolib_http_request_duration_seconds",
            "Time to answer a request, by route template.",
            ("route",),
            registry=self.registry,
        )
        self.writes = Counter(
            "coprolib_writes",
            "Writes made through the API, by operation.",
            ("operation",),
            registry=self.registry,
        )

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request."""
        self.requests.labels(method, route, str(status)).inc()
        self.duration.labels(route).observe(seconds)

    def write(self, operation: str) -> None:
        """Count one write that was made."""
        self.writes.labels(operation).inc()

    def exposition(self) -> tuple[bytes, str]:
        """The text exposition format and its media type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
