"""The :class:`Adapter` base class: what every destination adapter declares and implements.

An adapter subclass sets three class attributes and implements at least ``deliver_one``::

    @attrs.frozen(kw_only=True)
    class MyConfig:
        url: str
        token: Secret                       # "$env:MY_TOKEN" in coprolib.toml

    class MyAdapter(Adapter[MyConfig]):
        name = "my-system"
        config_class = MyConfig
        capabilities = Capabilities(max_batch_size=50, can_retract=True, can_upsert=True)

        def deliver_one(self, share: Share) -> DeliveryResult: ...
        def retract_one(self, ref: RetractRef) -> RetractResult: ...
        def check(self) -> CheckResult: ...

Override ``deliver``/``retract`` instead when the remote takes whole batches
(:meth:`Adapter.deliver_in_groups` and :meth:`Adapter.retract_in_groups` cut a batch into the
remote's request size and keep one result per share). Raise the classified
errors from :mod:`coprolib.adapters.errors` (or return results with a :class:`Status`); anything
else an adapter raises becomes a ``RETRYABLE`` result, so a bug never crashes a sync. Every message
that leaves the adapter passes through :meth:`Adapter.redact`, which masks the config's secrets.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeVar

import attrs

from coprolib.adapters.errors import AdapterError, ConfigError
from coprolib.adapters.results import (
    Capabilities,
    CheckResult,
    DeliveryResult,
    RetractRef,
    RetractResult,
    Status,
)
from coprolib.adapters.secrets import redact, secret_values
from coprolib.records import Share, convert

#: An adapter's settings class. Covariant: an adapter only reads its settings, so any adapter is
#: an ``Adapter[object]``, which is how the delivery engine names "an adapter, whatever its
#: settings" without ``Any``.
C = TypeVar("C", covariant=True)

log = logging.getLogger("coprolib.adapters")


class Adapter(Generic[C]):
    """A destination adapter: delivers shares, retracts them, and checks it can reach the remote.

    Construct with a config instance or with plain settings (a mapping, as read from
    ``coprolib.toml``), which are structured into ``config_class`` and their ``$env:NAME``
    secrets resolved now.
    """

    #: The name the adapter is registered under and that ``adapter = "..."`` in config uses.
    name: ClassVar[str] = ""
    #: The attrs class of this adapter's settings.
    config_class: ClassVar[type[Any]]
    #: What the destination can do.
    capabilities: ClassVar[Capabilities] = Capabilities()

    def __init__(self, config: C | Mapping[str, Any], *, destination: str | None = None) -> None:
        self.destination = destination or self.name
        self.config: C = self.build_config(config, destination=self.destination)
        self._secrets = secret_values(self.config)

    @classmethod
    def build_config(cls, config: C | Mapping[str, Any], *, destination: str | None = None) -> C:
        """Structure plain settings into ``config_class``; errors name the destination and field."""
        if isinstance(config, Mapping):
            where = f"destinations.{destination or cls.name}.settings"
            try:
                built: C = convert.structure(dict(config), cls.config_class, path=where)
                return built
            except convert.StructureError as exc:
                # One line: the first bad setting is the key, any others follow it.
                first, *more = exc.problems
                message = "; ".join([first.message, *(str(p) for p in more)])
                raise ConfigError(first.path, message) from None
        return config

    # --- what a subclass implements -------------------------------------------------------

    def deliver_one(self, share: Share) -> DeliveryResult:
        """Deliver one share (the default ``deliver`` calls this for each share)."""
        raise AdapterError(f"adapter {self.name!r} implements neither deliver nor deliver_one")

    def retract_one(self, ref: RetractRef) -> RetractResult:
        """Retract one delivered record (the default ``retract`` calls this for each ref)."""
        raise AdapterError(f"adapter {self.name!r} implements neither retract nor retract_one")

    def check(self) -> CheckResult:
        """Whether the destination is reachable and accepts the credentials."""
        return CheckResult(ok=True, status=Status.OK, message="no check implemented")

    def close(self) -> None:
        """Release connections and files. The engine calls this when a sync ends."""

    # --- batch entry points the engine calls ----------------------------------------------

    def deliver(self, shares: Sequence[Share]) -> list[DeliveryResult]:
        """Deliver up to ``capabilities.max_batch_size`` shares: exactly one result per share."""
        results = []
        for share in shares:
            try:
                result = self.deliver_one(share)
            except Exception as exc:
                result = self.failed_delivery(share, exc)
            results.append(self._clean_delivery(result))
        return results

    def retract(self, refs: Sequence[RetractRef]) -> list[RetractResult]:
        """Retract up to ``capabilities.max_batch_size`` records: exactly one result per ref."""
        results = []
        for ref in refs:
            try:
                result = self.retract_one(ref)
            except Exception as exc:
                result = self.failed_retraction(ref, exc)
            results.append(self._clean_retraction(result))
        return results

    # --- helpers for subclasses and the engine --------------------------------------------

    def secret_values(self) -> list[str]:
        """The resolved secret values that :meth:`redact` masks (for tests; never log them)."""
        return list(self._secrets)

    def redact(self, text: str) -> str:
        """``text`` with this adapter's secret values masked."""
        return redact(text, self._secrets)

    def classify(self, exc: BaseException) -> tuple[Status, float | None, str]:
        """The status, retry delay and a redacted message for an exception from adapter code."""
        if isinstance(exc, AdapterError):
            return exc.status, exc.retry_after, self.redact(exc.message)
        log.warning("adapter %s raised %s", self.name, type(exc).__name__)
        return Status.RETRYABLE, None, self.redact(f"unexpected {type(exc).__name__}: {exc}")

    def failed_delivery(self, share: Share, exc: BaseException) -> DeliveryResult:
        """The result for a share whose delivery raised ``exc``."""
        status, retry_after, message = self.classify(exc)
        return DeliveryResult(
            share_id=share.id,
            idempotency_key=share.idempotency_key,
            status=status,
            retry_after=retry_after,
            message=message,
            reached=exc.reached if isinstance(exc, AdapterError) else None,
        )

    def failed_retraction(self, ref: RetractRef, exc: BaseException) -> RetractResult:
        """The result for a ref whose retraction raised ``exc``."""
        status, retry_after, message = self.classify(exc)
        return RetractResult(
            share_id=ref.share_id,
            idempotency_key=ref.idempotency_key,
            remote_id=ref.remote_id,
            status=status,
            retry_after=retry_after,
            message=message,
        )

    def retracted(self, ref: RetractRef, message: str | None = None) -> RetractResult:
        """The result for a ref whose record is gone from the destination (``message`` says how,
        e.g. "already deleted")."""
        return RetractResult(
            share_id=ref.share_id,
            idempotency_key=ref.idempotency_key,
            remote_id=ref.remote_id,
            status=Status.OK,
            retracted=True,
            message=message,
        )

    def deliver_in_groups(
        self,
        shares: Sequence[Share],
        size: int,
        deliver_group: Callable[[Sequence[Share]], list[DeliveryResult]],
    ) -> list[DeliveryResult]:
        """Deliver ``size`` shares at a time with ``deliver_group`` (one result per share of its
        group); a group that raises fails each of its shares with that error."""
        results: list[DeliveryResult] = []
        for start in range(0, len(shares), size):
            group = shares[start : start + size]
            try:
                results += deliver_group(group)
            except Exception as exc:
                results += [self.failed_delivery(share, exc) for share in group]
        return [self._clean_delivery(r) for r in results]

    def retract_in_groups(
        self,
        refs: Sequence[RetractRef],
        size: int,
        retract_group: Callable[[Sequence[RetractRef]], list[RetractResult]],
    ) -> list[RetractResult]:
        """Retract ``size`` refs at a time with ``retract_group`` (one result per ref of its
        group); a group that raises fails each of its refs with that error."""
        results: list[RetractResult] = []
        for start in range(0, len(refs), size):
            group = refs[start : start + size]
            try:
                results += retract_group(group)
            except Exception as exc:
                results += [self.failed_retraction(ref, exc) for ref in group]
        return [self._clean_retraction(r) for r in results]

    def _clean_delivery(self, result: DeliveryResult) -> DeliveryResult:
        if result.message and self._secrets:
            return attrs.evolve(result, message=self.redact(result.message))
        return result

    def _clean_retraction(self, result: RetractResult) -> RetractResult:
        if result.message and self._secrets:
            return attrs.evolve(result, message=self.redact(result.message))
        return result

    def describe(self) -> dict[str, Any]:
        """The adapter's name, capabilities and settings, with every secret masked."""
        settings = convert.unstructure(self.config)
        return {
            "adapter": self.name,
            "destination": self.destination,
            "capabilities": {
                "max_batch_size": self.capabilities.max_batch_size,
                "can_retract": self.capabilities.can_retract,
                "can_upsert": self.capabilities.can_upsert,
            },
            "settings": settings,
        }

    def __repr__(self) -> str:
        return f"<{type(self).__name__} destination={self.destination!r}>"

    def __enter__(self) -> Adapter[C]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
