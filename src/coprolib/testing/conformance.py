"""The adapter conformance suite: subclass :class:`AdapterConformance` and every standard test runs
against your adapter.

The subclass contract (a few lines; see ``docs/adapter_tutorial.md``)::

    import pytest
    from coprolib.testing.conformance import AdapterConformance

    class TestMyAdapter(AdapterConformance):
        @pytest.fixture
        def adapter(self, tmp_path):              # required: a working adapter aimed at a test
            return MyAdapter({...}, destination="test")   # remote that you start or fake locally

        def remote_keys(self, adapter):           # required: the idempotency key of every record
            return [...]                          # the remote holds now, duplicates included

        def http_adapter(self, base_url, *, read_timeout):   # HTTP adapters: the same adapter
            return MyAdapter({"url": base_url, ...})        # aimed at base_url (fault tests)

What the suite checks: capabilities are declared; the canonical shares (unicode, long text, quotes,
every identity level, feedback) are delivered with one result each, in order; delivering twice
leaves one remote record per key (and an update keeps one); retraction leaves none, or, for an
adapter declaring ``can_retract=False``, returns a compensating action; a share whose consent was
withdrawn after planning never reaches the remote; batches up to ``max_batch_size`` work;
connection refused, read timeout, 500, 429 with ``Retry-After``, connection resets and malformed
bodies are classified and never raise, during delivery, retraction and ``check()``; retracting
twice, and retracting what was never delivered, are success; keys shaped as the planner makes
them (``coprolib-<40 hex>``, with the ``-<YYYYmmddTHHMMSS>`` of a delivery after a retraction)
and hypothesis keys over every printable ASCII character (:data:`KEY_ALPHABET`, so
``/ < > * % & : \\ ? + # '`` and spaces) are delivered and retracted; secrets never appear in
logs, result messages, ``repr`` or ``describe()``.

A destination that takes only some shares (a feedback channel such as GOV.UK Notify or email)
overrides ``shares()`` and ``make_share(share_id, **fields)`` so every test sends it shares it
accepts (feedback shares with a recipient its channel reaches).

An adapter declaring ``can_upsert=False`` (the remote cannot recognise a repeated key, as with
email or SMS) is only required to deliver each share at least once when it is sent twice.

Class attributes to tune: ``malformed_body_statuses`` (what a 200 with a broken body may give:
``OK`` for adapters that ignore the body), ``fault_share_count``.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any, ClassVar

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coprolib.adapters import (
    Adapter,
    Capabilities,
    DeliveryResult,
    RetractRef,
    RetractResult,
    Status,
)
from coprolib.delivery.send import deliver_checked
from coprolib.feedback.owed import feedback_share_identity
from coprolib.planner.rendering import redelivery_key, share_identity
from coprolib.records import Share
from coprolib.testing.fault_server import FaultServer, refused_url
from coprolib.testing.shares import PLANNED_AT, canonical_shares, make_share

#: The characters of the hypothesis keys: every printable ASCII character, space included. An
#: adapter whose remote refuses some of them in a key (Dataverse's alternate keys, URL paths)
#: encodes the key; the suite checks the record is found again by the key it was given.
KEY_ALPHABET = "".join(chr(c) for c in range(32, 127))
_DIGIT_RUN = re.compile(r"[0-9]{9,}")


class AdapterConformance:
    """Standard tests every coprolib adapter must pass. Subclass it in a ``Test*`` class."""

    #: Statuses a ``200`` reply with a truncated JSON body may produce.
    malformed_body_statuses: ClassVar[frozenset[Status]] = frozenset({Status.OK, Status.RETRYABLE})
    #: How many shares the random-fault test sends.
    fault_share_count: ClassVar[int] = 12
    #: The destination name the canonical shares are planned for.
    destination: ClassVar[str] = "test"

    # --- what a subclass provides -----------------------------------------------------------

    @pytest.fixture
    def adapter(self) -> Adapter[Any]:
        """A working adapter aimed at a test remote. Override this fixture."""
        pytest.fail("define an `adapter` fixture in your AdapterConformance subclass")

    def remote_keys(self, adapter: Adapter[Any]) -> list[str]:
        """The idempotency key of every record at the remote now, duplicates included."""
        pytest.fail("define remote_keys(self, adapter) in your AdapterConformance subclass")

    def http_adapter(self, base_url: str, *, read_timeout: float) -> Adapter[Any] | None:
        """The adapter aimed at ``base_url`` with that read timeout; None if not HTTP-based."""
        return None

    # --- helpers ----------------------------------------------------------------------------

    def shares(self) -> list[Share]:
        """The canonical shares for this destination."""
        return canonical_shares(self.destination)

    def make_share(self, share_id: str, **fields: Any) -> Share:
        """One test share for this destination (see :func:`coprolib.testing.shares.make_share`).

        Override it, and :meth:`shares`, when the destination takes only some shares: a
        feedback channel returns feedback shares with a recipient its channel can reach.
        """
        return make_share(share_id, destination=self.destination, **fields)

    def production_shares(self) -> list[Share]:
        """Shares identified exactly as the planner identifies them: ``sh-<20 hex>`` ids and
        ``coprolib-<40 hex>`` keys from :func:`~coprolib.planner.rendering.share_identity` and
        :func:`~coprolib.feedback.owed.feedback_share_identity`, one key of a share delivered
        again after a retraction (:func:`~coprolib.planner.rendering.redelivery_key`), and at
        least one key holding a run of nine or more digits (about one real key in six does)."""
        plain: list[tuple[str, str]] = []
        digits: list[tuple[str, str]] = []
        i = 0
        while len(plain) < 4 or not digits:
            made = share_identity("insight", f"insight-{i}", self.destination, f"{i:064x}")
            (digits if _DIGIT_RUN.search(made[1]) else plain).append(made)
            i += 1
        identities = [*plain[:4], digits[0]]
        share_id, key = feedback_share_identity("feedback-1", self.destination)
        identities.append((share_id, key))
        identities.append((f"{share_id}-again", redelivery_key(key, PLANNED_AT)))
        return [
            attrs.evolve(self.make_share(share_id), id=share_id, idempotency_key=key)
            for share_id, key in identities
        ]

    def _refs(self, results: list[DeliveryResult]) -> list[RetractRef]:
        return [
            RetractRef(
                share_id=r.share_id, idempotency_key=r.idempotency_key, remote_id=r.remote_id
            )
            for r in results
        ]

    def _assert_one_each(self, results: list[Any], ids: list[str]) -> None:
        assert [r.share_id for r in results] == ids, "one result per share, in order"

    def _http(self, url: str, read_timeout: float = 0.5) -> Adapter[Any]:
        made = self.http_adapter(url, read_timeout=read_timeout)
        if made is None:
            pytest.skip("not an HTTP adapter: transport fault tests do not apply")
        self._built.append(made)
        return made

    @pytest.fixture(autouse=True)
    def _secrets_never_logged(
        self, request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
    ) -> Iterator[None]:
        caplog.set_level(logging.DEBUG)
        # The fault tests build their own adapters (http_adapter): their logs count too, and
        # a failing request is where a token is most likely to be logged.
        self._built: list[Adapter[Any]] = []
        yield
        made = [request.node.funcargs.get("adapter"), *self._built]
        secrets = [s for a in made if isinstance(a, Adapter) for s in a.secret_values()]
        if not secrets:
            return
        records = caplog.get_records("setup") + caplog.get_records("call")
        logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in records)
        for secret in secrets:
            assert secret not in logged, "a secret was written to the log"

    # --- the standard tests -----------------------------------------------------------------

    def test_capabilities_declared(self, adapter: Adapter[Any]) -> None:
        caps = type(adapter).capabilities
        assert isinstance(caps, Capabilities)
        assert caps.max_batch_size >= 1
        assert type(adapter).name, "set the adapter's registered name"
        assert attrs.has(type(adapter).config_class), "config_class must be an attrs class"

    def test_check_reaches_remote(self, adapter: Adapter[Any]) -> None:
        result = adapter.check()
        assert result.ok, result.message
        assert result.status is Status.OK

    def test_deliver_canonical_shares(self, adapter: Adapter[Any]) -> None:
        shares = self.shares()
        results = adapter.deliver(shares)
        self._assert_one_each(results, [s.id for s in shares])
        assert all(r.status is Status.OK for r in results), [r.message for r in results]
        assert [r.idempotency_key for r in results] == [s.idempotency_key for s in shares]
        keys = Counter(self.remote_keys(adapter))
        assert all(keys[s.idempotency_key] == 1 for s in shares), keys

    def test_deliver_twice_leaves_one_record_each(self, adapter: Adapter[Any]) -> None:
        shares = self.shares()
        first = adapter.deliver(shares)
        second = adapter.deliver(shares)
        assert all(r.ok for r in first + second), [r.message for r in first + second]
        keys = Counter(self.remote_keys(adapter))
        if not type(adapter).capabilities.can_upsert:
            # The remote cannot recognise a repeat (email, SMS): each share arrived; the engine's
            # receipts keep repeats to the moment between sending and recording.
            assert all(keys[s.idempotency_key] >= 1 for s in shares), keys
            return
        assert {s.idempotency_key: keys[s.idempotency_key] for s in shares} == {
            s.idempotency_key: 1 for s in shares
        }

    def test_updated_share_keeps_one_record(self, adapter: Adapter[Any]) -> None:
        old = self.make_share("canon-update")
        new = self.make_share("canon-update", body="Revised wording.", version=2)
        results = adapter.deliver([old]) + adapter.deliver([new])
        if not type(adapter).capabilities.can_upsert:
            assert results[0].ok
            return
        assert all(r.ok for r in results), [r.message for r in results]
        assert Counter(self.remote_keys(adapter))[old.idempotency_key] == 1

    def test_retract_removes_or_compensates(self, adapter: Adapter[Any]) -> None:
        shares = self.shares()
        delivered = adapter.deliver(shares)
        assert all(r.ok for r in delivered), [r.message for r in delivered]
        retracted = adapter.retract(self._refs(delivered))
        self._assert_one_each(retracted, [s.id for s in shares])
        assert all(r.status is Status.OK for r in retracted), [r.message for r in retracted]
        if type(adapter).capabilities.can_retract:
            assert all(r.retracted for r in retracted)
            left = set(self.remote_keys(adapter)) & {s.idempotency_key for s in shares}
            assert not left, f"still at the remote after retraction: {sorted(left)}"
        else:
            assert all(not r.retracted and r.compensating_action for r in retracted), (
                "an adapter that cannot retract must say what it did instead"
            )

    def test_retract_twice_is_success(self, adapter: Adapter[Any]) -> None:
        shares = self.shares()[:3]
        delivered = adapter.deliver(shares)
        assert all(r.ok for r in delivered), [r.message for r in delivered]
        first = adapter.retract(self._refs(delivered))
        second = adapter.retract(self._refs(delivered))
        self._assert_one_each(second, [s.id for s in shares])
        assert all(r.status is Status.OK for r in first + second), [
            r.message for r in first + second
        ]
        self._assert_retracted_or_compensated(adapter, second, shares)

    def test_retract_of_a_share_never_delivered_is_success(self, adapter: Adapter[Any]) -> None:
        shares = [self.make_share("never-sent-1"), self.make_share("never-sent-2")]
        refs = [RetractRef(share_id=s.id, idempotency_key=s.idempotency_key) for s in shares]
        retracted = adapter.retract(refs)
        self._assert_one_each(retracted, [s.id for s in shares])
        assert all(r.status is Status.OK for r in retracted), [r.message for r in retracted]
        self._assert_retracted_or_compensated(adapter, retracted, shares)

    def test_production_shaped_keys(self, adapter: Adapter[Any]) -> None:
        shares = self.production_shares()
        assert any(_DIGIT_RUN.search(s.idempotency_key) for s in shares)
        results = adapter.deliver(shares)
        self._assert_one_each(results, [s.id for s in shares])
        assert all(r.status is Status.OK for r in results), [r.message for r in results]
        assert [r.idempotency_key for r in results] == [s.idempotency_key for s in shares]
        self._assert_at_remote(adapter, shares)
        retracted = adapter.retract(self._refs(results))
        assert all(r.status is Status.OK for r in retracted), [r.message for r in retracted]
        self._assert_retracted_or_compensated(adapter, retracted, shares)

    @settings(
        max_examples=12,
        deadline=None,
        derandomize=True,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            # Each adapter's subclass runs this inherited test: one executor per class.
            HealthCheck.differing_executors,
        ],
    )
    @given(key=st.text(alphabet=KEY_ALPHABET, min_size=1, max_size=30))
    def test_keys_over_the_whole_alphabet(self, adapter: Adapter[Any], key: str) -> None:
        share = attrs.evolve(self.make_share("any-key"), idempotency_key=key)
        results = adapter.deliver([share])
        assert results[0].status is Status.OK, (key, results[0].message)
        assert results[0].idempotency_key == key
        self._assert_at_remote(adapter, [share])
        retracted = adapter.retract(self._refs(results))
        assert retracted[0].status is Status.OK, (key, retracted[0].message)
        self._assert_retracted_or_compensated(adapter, retracted, [share])

    def _assert_at_remote(self, adapter: Adapter[Any], shares: list[Share]) -> None:
        keys = Counter(self.remote_keys(adapter))
        upsert = type(adapter).capabilities.can_upsert
        for share in shares:
            count = keys[share.idempotency_key]
            assert count == 1 if upsert else count >= 1, (share.idempotency_key, count)

    def _assert_retracted_or_compensated(
        self, adapter: Adapter[Any], results: list[RetractResult], shares: list[Share]
    ) -> None:
        if type(adapter).capabilities.can_retract:
            assert all(r.retracted for r in results), [r.message for r in results]
            left = set(self.remote_keys(adapter)) & {s.idempotency_key for s in shares}
            assert not left, f"still at the remote after retraction: {sorted(left)}"
        else:
            assert all(not r.retracted and r.compensating_action for r in results), (
                "an adapter that cannot retract must say what it did instead"
            )

    def test_withdrawn_consent_is_never_sent(self, adapter: Adapter[Any]) -> None:
        shares = self.shares()
        withdrawn = {shares[0].id, shares[2].id}

        def recheck(share: Share) -> str | None:
            return "consent withdrawn after planning" if share.id in withdrawn else None

        results = deliver_checked(adapter, shares, recheck=recheck)
        self._assert_one_each(results, [s.id for s in shares])
        for share, result in zip(shares, results, strict=True):
            expected = Status.CANCELLED if share.id in withdrawn else Status.OK
            assert result.status is expected, (share.id, result.message)
        at_remote = set(self.remote_keys(adapter))
        assert not at_remote & {s.idempotency_key for s in shares if s.id in withdrawn}

    def test_full_batches(self, adapter: Adapter[Any]) -> None:
        size = min(type(adapter).capabilities.max_batch_size, 30) + 1
        shares = [self.make_share(f"batch-{i}") for i in range(size)]
        results = deliver_checked(adapter, shares)
        self._assert_one_each(results, [s.id for s in shares])
        assert all(r.ok for r in results), [r.message for r in results]
        keys = Counter(self.remote_keys(adapter))
        assert all(keys[s.idempotency_key] == 1 for s in shares)

    def test_describe_and_repr_mask_secrets(self, adapter: Adapter[Any]) -> None:
        described = json.dumps(adapter.describe(), default=str)
        assert described, "describe() returns the settings"
        for secret in adapter.secret_values():
            assert secret not in described
            assert secret not in repr(adapter)
            assert secret not in repr(adapter.config)
            assert secret not in str(adapter.config)

    # --- transport faults (HTTP adapters) ---------------------------------------------------

    @pytest.mark.parametrize(
        ("fault", "expected"),
        [
            ("500", {Status.RETRYABLE}),
            ("503", {Status.RETRYABLE}),
            ("reset", {Status.RETRYABLE}),
            ("slow", {Status.RETRYABLE}),
            ("429", {Status.THROTTLED}),
        ],
    )
    def test_transport_fault_is_classified(
        self, fault_server: FaultServer, fault: str, expected: set[Status]
    ) -> None:
        fault_server.retry_after = "7"
        fault_server.slow_seconds = 1.5
        adapter = self._http(fault_server.url, read_timeout=0.4)
        with adapter:
            fault_server.force(*[fault] * 20)
            share = self.make_share(f"fault-{fault}")
            results = adapter.deliver([share])
        self._assert_one_each(results, [share.id])
        assert results[0].status in expected, (fault, results[0].status, results[0].message)
        if fault == "429":
            assert results[0].retry_after == pytest.approx(7, abs=1)
        self._assert_clean(adapter, [r.message for r in results])

    @pytest.mark.parametrize("fault", ["500", "reset", "slow", "429"])
    def test_transport_fault_during_retract_is_classified(
        self, fault_server: FaultServer, fault: str
    ) -> None:
        fault_server.retry_after = "7"
        fault_server.slow_seconds = 1.5
        adapter = self._http(fault_server.url, read_timeout=0.4)
        shares = [self.make_share(f"retract-{fault}")]
        refs = [
            RetractRef(share_id=s.id, idempotency_key=s.idempotency_key, remote_id="1")
            for s in shares
        ]
        with adapter:
            fault_server.force(*[fault] * 20)
            retracted = adapter.retract(refs)
        self._assert_one_each(retracted, [s.id for s in shares])
        result = retracted[0]
        if type(adapter).capabilities.can_retract:
            expected = {Status.THROTTLED} if fault == "429" else {Status.RETRYABLE}
            assert result.status in expected, (fault, result.status, result.message)
            assert not result.retracted
        else:
            assert result.status in {Status.OK, Status.RETRYABLE, Status.THROTTLED}, result.message
            assert result.status is not Status.OK or result.compensating_action
        self._assert_clean(adapter, [result.message, result.compensating_action])

    @pytest.mark.parametrize("fault", ["500", "reset", "slow", "429"])
    def test_transport_fault_during_check_is_reported(
        self, fault_server: FaultServer, fault: str
    ) -> None:
        fault_server.retry_after = "7"
        fault_server.slow_seconds = 1.5
        adapter = self._http(fault_server.url, read_timeout=0.4)
        with adapter:
            fault_server.force(*[fault] * 20)
            checked = adapter.check()
        assert not checked.ok, (fault, checked.message)
        expected = {Status.THROTTLED} if fault == "429" else {Status.RETRYABLE}
        assert checked.status in expected, (fault, checked.status, checked.message)
        self._assert_clean(adapter, [checked.message])

    def test_malformed_body_is_classified(self, fault_server: FaultServer) -> None:
        adapter = self._http(fault_server.url)
        with adapter:
            fault_server.force(*["malformed"] * 20)
            share = self.make_share("fault-malformed")
            results = adapter.deliver([share])
        self._assert_one_each(results, [share.id])
        assert results[0].status in self.malformed_body_statuses, results[0].message

    def test_connection_refused_is_retryable(self) -> None:
        adapter = self._http(refused_url())
        with adapter:
            share = self.make_share("fault-refused")
            results = adapter.deliver([share])
            checked = adapter.check()
        assert results[0].status is Status.RETRYABLE, results[0].message
        assert not checked.ok
        self._assert_clean(adapter, [results[0].message, checked.message])

    def test_random_faults_never_crash(self, fault_server: FaultServer) -> None:
        fault_server.fail_prob = fault_server.throttle_prob = fault_server.reset_prob = 0.2
        fault_server.slow_prob, fault_server.slow_seconds = 0.05, 1.0
        adapter = self._http(fault_server.url, read_timeout=0.4)
        shares = [self.make_share(f"random-{i}") for i in range(self.fault_share_count)]
        with adapter:
            results = deliver_checked(adapter, shares)
            refs = self._refs([r for r in results if r.ok])
            retracted = adapter.retract(refs)
        self._assert_one_each(results, [s.id for s in shares])
        assert len(retracted) == len(refs)
        allowed = {Status.OK, Status.RETRYABLE, Status.THROTTLED}
        assert {r.status for r in results} <= allowed
        messages = [r.message for r in results] + [r.message for r in retracted]
        self._assert_clean(adapter, messages)

    def _assert_clean(self, adapter: Adapter[Any], messages: list[str | None]) -> None:
        for secret in adapter.secret_values():
            for message in messages:
                assert secret not in (message or ""), "a secret leaked into a result message"
