"""The conformance suite itself: it must fail adapters that break the rules, not only pass good
ones. A deliberately faulty adapter is run through the suite in a separate pytest process."""

from __future__ import annotations

import pytest

pytest_plugins = ("pytester",)

FAULTY = '''
import logging
import attrs
import pytest
import requests
from coprolib.adapters import Adapter, Capabilities, DeliveryResult, RetractResult, Secret, Status
from coprolib.testing.conformance import AdapterConformance

log = logging.getLogger("faulty")


@attrs.frozen(kw_only=True)
class Cfg:
    url: str = "http://127.0.0.1:9"
    token: Secret = Secret("tok-s3cr3t-value")


class Faulty(Adapter[Cfg]):
    """Appends on every delivery (duplicates), logs its token, lets HTTP errors escape."""

    name = "faulty"
    config_class = Cfg
    capabilities = Capabilities(max_batch_size=10)

    def __init__(self, config, *, destination=None):
        super().__init__(config, destination=destination)
        self.store = []

    def deliver(self, shares):
        out = []
        for share in shares:
            log.info("sending with token %s", self.config.token.reveal())
            self.store.append(share.idempotency_key)
            out.append(DeliveryResult(share_id=share.id, idempotency_key=share.idempotency_key,
                                      status=Status.OK))
        return out

    def retract(self, refs):
        return [RetractResult(share_id=r.share_id, idempotency_key=r.idempotency_key,
                              status=Status.OK, retracted=True) for r in refs]


class HttpFaulty(Faulty):
    def deliver(self, shares):
        requests.post(self.config.url, timeout=0.4).raise_for_status()
        return super().deliver(shares)


class TestFaulty(AdapterConformance):
    @pytest.fixture
    def adapter(self):
        return Faulty({}, destination="test")

    def remote_keys(self, adapter):
        return list(adapter.store)

    def http_adapter(self, base_url, *, read_timeout):
        return HttpFaulty(Cfg(url=base_url), destination="test")


class GoneIsAnError(Adapter[Cfg]):
    """Upserts correctly, but a retraction of a record that is not there fails as permanent."""

    name = "gone-is-an-error"
    config_class = Cfg
    capabilities = Capabilities(max_batch_size=10)

    def __init__(self, config, *, destination=None):
        super().__init__(config, destination=destination)
        self.store = {}

    def deliver_one(self, share):
        self.store[share.idempotency_key] = share.id
        return DeliveryResult(share_id=share.id, idempotency_key=share.idempotency_key,
                              status=Status.OK)

    def retract_one(self, ref):
        if self.store.pop(ref.idempotency_key, None) is None:
            return RetractResult(share_id=ref.share_id, idempotency_key=ref.idempotency_key,
                                 status=Status.PERMANENT, message="no such record")
        return RetractResult(share_id=ref.share_id, idempotency_key=ref.idempotency_key,
                             status=Status.OK, retracted=True)


class TestGoneIsAnError(AdapterConformance):
    @pytest.fixture
    def adapter(self):
        return GoneIsAnError({}, destination="test")

    def remote_keys(self, adapter):
        return list(adapter.store)


class QuietUntilItFails(GoneIsAnError):
    """Correct, except that over HTTP a failed request logs the token."""

    name = "quiet-until-it-fails"
    http = False

    def deliver_one(self, share):
        if self.http:
            try:
                requests.post(self.config.url, timeout=0.4).raise_for_status()
            except requests.RequestException:
                log.warning("post failed (token %s)", self.config.token.reveal())
                return DeliveryResult(share_id=share.id, idempotency_key=share.idempotency_key,
                                      status=Status.RETRYABLE, message="transport failed")
        return super().deliver_one(share)

    def retract_one(self, ref):
        self.store.pop(ref.idempotency_key, None)
        return RetractResult(share_id=ref.share_id, idempotency_key=ref.idempotency_key,
                             status=Status.OK, retracted=True)


class TestQuietUntilItFails(AdapterConformance):
    @pytest.fixture
    def adapter(self):
        return QuietUntilItFails({}, destination="test")

    def remote_keys(self, adapter):
        return list(adapter.store)

    def http_adapter(self, base_url, *, read_timeout):
        made = QuietUntilItFails(Cfg(url=base_url), destination="test")
        made.http = True
        return made
'''


def test_suite_fails_a_faulty_adapter(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_faulty=FAULTY)
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) + outcomes.get("errors", 0) > 0
    failed = "\n".join(line for line in result.outlines if "FAILED" in line or "ERROR" in line)
    # Duplicates on redelivery, a retraction that leaves records, the token in the log.
    assert "test_deliver_twice_leaves_one_record_each" in failed
    assert "test_retract_removes_or_compensates" in failed
    assert "a secret was written to the log" in result.stdout.str()
    # A second retraction, or one of a record never delivered, must be success.
    assert "TestGoneIsAnError::test_retract_twice_is_success" in failed
    assert "TestGoneIsAnError::test_retract_of_a_share_never_delivered_is_success" in failed
    assert "TestGoneIsAnError::test_deliver_twice_leaves_one_record_each" not in failed
    # Its deliver() lets transport errors escape instead of returning classified results.
    assert "test_transport_fault_is_classified[500" in failed
    assert "test_connection_refused_is_retryable" in failed


def test_suite_checks_the_log_of_adapters_it_builds_for_fault_tests(
    pytester: pytest.Pytester,
) -> None:
    # The secret only reaches the log when a request fails, in an adapter the suite builds
    # itself (http_adapter), not the one from the `adapter` fixture.
    pytester.makepyfile(test_faulty=FAULTY)
    result = pytester.runpytest_subprocess(
        "-q",
        "-p",
        "no:cacheprovider",
        "-k",
        "QuietUntilItFails and transport_fault_is_classified and 500",
    )
    assert result.parseoutcomes().get("failed", 0) + result.parseoutcomes().get("errors", 0) == 1
    assert "a secret was written to the log" in result.stdout.str()
    quiet = pytester.runpytest_subprocess(
        "-q", "-p", "no:cacheprovider", "-k", "QuietUntilItFails and deliver_canonical"
    )
    assert quiet.parseoutcomes()["passed"] == 1
