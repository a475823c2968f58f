"""The Adapter base class's helpers for batching adapters: groups, one result each, retracted."""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coprolib.adapters import (
    Adapter,
    Capabilities,
    DeliveryResult,
    RetractRef,
    RetractResult,
    Secret,
    Status,
    ThrottledError,
)
from coprolib.records import Share
from coprolib.testing.shares import make_share


@attrs.frozen(kw_only=True)
class GroupConfig:
    token: Secret


class GroupAdapter(Adapter[GroupConfig]):
    name = "groups"
    config_class = GroupConfig
    capabilities = Capabilities(max_batch_size=100, can_retract=True)

    def __init__(self, failing: set[int]) -> None:
        super().__init__(GroupConfig(token=Secret("tok-Secret-9", "$env:T")))
        self.failing = failing
        self.groups: list[list[str]] = []

    def deliver_group(self, shares: Sequence[Share]) -> list[DeliveryResult]:
        self.groups.append([s.id for s in shares])
        if len(self.groups) - 1 in self.failing:
            raise ThrottledError("slow down, tok-Secret-9", retry_after=4.0)
        return [
            DeliveryResult(
                share_id=s.id,
                idempotency_key=s.idempotency_key,
                status=Status.OK,
                message="sent with tok-Secret-9",
            )
            for s in shares
        ]

    def retract_group(self, refs: Sequence[RetractRef]) -> list[RetractResult]:
        self.groups.append([r.share_id for r in refs])
        if len(self.groups) - 1 in self.failing:
            raise RuntimeError("boom")
        return [self.retracted(ref, "gone") for ref in refs]


@settings(max_examples=60, deadline=None)
@given(
    count=st.integers(min_value=0, max_value=23),
    size=st.integers(min_value=1, max_value=7),
    failing=st.sets(st.integers(min_value=0, max_value=4)),
)
def test_deliver_in_groups_keeps_one_result_per_share_in_order(
    count: int, size: int, failing: set[int]
) -> None:
    shares = [make_share(f"s-{i}") for i in range(count)]
    adapter = GroupAdapter(failing)
    results = adapter.deliver_in_groups(shares, size, adapter.deliver_group)
    assert [r.share_id for r in results] == [s.id for s in shares]
    assert [len(g) for g in adapter.groups] == [
        min(size, count - start) for start in range(0, count, size)
    ]
    for number, group in enumerate(adapter.groups):
        for share_id in group:
            result = results[[s.id for s in shares].index(share_id)]
            if number in failing:
                assert (result.status, result.retry_after) == (Status.THROTTLED, 4.0)
            else:
                assert result.status is Status.OK
    assert all("tok-Secret-9" not in (r.message or "") for r in results)


@pytest.mark.parametrize("failing", [set(), {1}])
def test_retract_in_groups_and_retracted(failing: set[int]) -> None:
    refs = [
        RetractRef(share_id=f"s-{i}", idempotency_key=f"k-{i}", remote_id=f"r-{i}")
        for i in range(5)
    ]
    adapter = GroupAdapter(failing)
    results = adapter.retract_in_groups(refs, 2, adapter.retract_group)
    assert [r.share_id for r in results] == [r.share_id for r in refs]
    for index, result in enumerate(results):
        if index // 2 in failing:
            assert result.status is Status.RETRYABLE and not result.retracted
        else:
            assert result == RetractResult(
                share_id=f"s-{index}",
                idempotency_key=f"k-{index}",
                remote_id=f"r-{index}",
                status=Status.OK,
                retracted=True,
                message="gone",
            )
    assert adapter.retracted(refs[0]).message is None
