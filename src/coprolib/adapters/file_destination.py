"""The built-in ``file`` destination: shares as JSON Lines or CSV in a folder.

The embedded default, and the simplest adapter to copy. Each destination is one file
(``<directory>/<destination>.jsonl`` or ``.csv``) holding one row per idempotency key: a shared
record, or, after a retraction, a tombstone row (``status = "retracted"``) with the content
removed. Every batch is written atomically (a temporary file in the same folder, flushed, then
renamed over the old one) under an exclusive lock, so a crash or a second process never leaves a
half-written file.

Fault knobs (all default off) make the adapter fail on purpose, like dlt's dummy destination:
``fail_prob`` (permanent errors), ``retry_prob`` (retryable errors), ``throttle_prob`` (throttled,
``throttle_seconds``), ``lost_reply_prob`` (the row is written but the reply is "lost": a
retryable error, so idempotency is exercised), all drawn from ``seed``.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import fcntl
import io
import json
import os
import random
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs

from coprolib.adapters import (
    Adapter,
    Capabilities,
    CheckResult,
    DeliveryResult,
    PermanentError,
    RetractRef,
    RetractResult,
    RetryableError,
    Status,
    ThrottledError,
)
from coprolib.adapters.errors import ConfigError
from coprolib.hookspecs import RegisterAdapter, hookimpl
from coprolib.records import Share, convert

FORMATS = ("jsonl", "csv")

#: CSV columns, in order. Lists and quotes are JSON inside their cell.
CSV_COLUMNS = (
    "key",
    "share_id",
    "status",
    "at",
    "kind",
    "subject_id",
    "identity_level",
    "title",
    "body",
    "recommendation",
    "domain",
    "themes",
    "quotes",
    "contributor_count",
    "digest",
)


#: Characters that make a spreadsheet read a cell as a formula (OWASP, "CSV Injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: Any) -> Any:
    """A CSV cell that a spreadsheet will show as text: a cell starting with ``= + - @``, a tab
    or a carriage return gets a leading ``'``, as OWASP's CSV injection advice says. A cell that
    already starts with ``'`` gets one more, so :func:`restore_cell` can undo it exactly."""
    if isinstance(value, str) and value.startswith((*FORMULA_START, "'")):
        return "'" + value
    return value


def restore_cell(value: str) -> str:
    """The cell as it was before :func:`neutralise_cell` (for reading the file back)."""
    return value[1:] if value.startswith("'") else value


def _probability(instance: Any, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{attribute.name} must be between 0 and 1, got {value}")


def _format(instance: Any, attribute: attrs.Attribute[str], value: str) -> None:
    if value not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {value!r}")


@attrs.frozen(kw_only=True)
class FileConfig:
    """Settings of a ``file`` destination (``[destinations.NAME.settings]``)."""

    directory: str
    format: str = attrs.field(default="jsonl", validator=_format)
    filename: str | None = None
    fail_prob: float = attrs.field(default=0.0, validator=_probability)
    retry_prob: float = attrs.field(default=0.0, validator=_probability)
    throttle_prob: float = attrs.field(default=0.0, validator=_probability)
    throttle_seconds: float = 1.0
    lost_reply_prob: float = attrs.field(default=0.0, validator=_probability)
    seed: int | None = None


def contained(directory: Path, filename: str) -> Path:
    """``directory / filename``, refusing any name that would put the file anywhere else
    (a path separator, ``..``, an absolute path or a hidden name): the file destination only
    ever writes inside its folder."""
    if (
        not filename
        or filename in (".", "..")
        or filename.startswith(".")
        or "/" in filename
        or "\\" in filename
        or "\x00" in filename
    ):
        raise ConfigError(
            "settings.filename",
            f"{filename!r} is not a plain file name (no folders, no leading '.'): "
            "the file destination writes only inside its directory",
        )
    base = directory.resolve()
    path = (base / filename).resolve()
    if path.parent != base:
        raise ConfigError("settings.filename", f"{filename!r} would be written outside {directory}")
    return base / filename


def _now() -> str:
    return convert.unstructure(dt.datetime.now(dt.UTC).replace(microsecond=0)) or ""


class FileAdapter(Adapter[FileConfig]):
    """Writes shares to a JSONL or CSV file, one row per key, atomically and idempotently."""

    name = "file"
    config_class = FileConfig
    capabilities = Capabilities(max_batch_size=500, can_retract=True, can_upsert=True)

    def __init__(self, config: Any, *, destination: str | None = None) -> None:
        super().__init__(config, destination=destination)
        filename = self.config.filename or f"{self.destination}.{self.config.format}"
        self.path = contained(Path(self.config.directory), filename)
        self._rng = random.Random(self.config.seed)

    # --- reading and writing the file -----------------------------------------------------

    def rows(self) -> list[dict[str, Any]]:
        """Every row in the file, shared and retracted, in file order."""
        if not self.path.exists():
            return []
        with open(self.path, encoding="utf-8", newline="") as handle:
            text = handle.read()
        if self.config.format == "csv":
            return [
                {k: restore_cell(v) if isinstance(v, str) else v for k, v in row.items()}
                for row in csv.DictReader(io.StringIO(text, newline=""))
            ]
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def records(self) -> list[dict[str, Any]]:
        """The rows currently shared (not retracted)."""
        return [row for row in self.rows() if row.get("status") == "shared"]

    def _dump(self, rows: list[dict[str, Any]]) -> str:
        if self.config.format == "csv":
            out = io.StringIO(newline="")
            writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
            writer.writeheader()
            writer.writerows({k: neutralise_cell(v) for k, v in row.items()} for row in rows)
            return out.getvalue()
        return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)

    @contextlib.contextmanager
    def _locked_rows(self) -> Iterator[dict[str, dict[str, Any]]]:
        """Rows by key under an exclusive lock; written back atomically if the block succeeds."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(self.path.name + ".lock")
        # O_NOFOLLOW: a lock file swapped for a symbolic link cannot make us touch another file.
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "r+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                rows = {row["key"]: row for row in self.rows()}
                before = dict(rows)
                yield rows
                if rows != before:
                    self._write_atomically(list(rows.values()))
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _write_atomically(self, rows: list[dict[str, Any]]) -> None:
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                handle.write(self._dump(rows))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def _row(self, share: Share) -> dict[str, Any]:
        if self.config.format == "csv":
            return {
                "key": share.idempotency_key,
                "share_id": share.id,
                "status": "shared",
                "at": _now(),
                "kind": str(share.kind),
                "subject_id": share.subject_id,
                "identity_level": str(share.identity_level),
                "title": share.title,
                "body": share.body,
                "recommendation": share.recommendation or "",
                "domain": str(share.domain or ""),
                "themes": json.dumps(list(share.themes), ensure_ascii=False),
                "quotes": json.dumps(
                    [convert.unstructure(q) for q in share.quotes], ensure_ascii=False
                ),
                "contributor_count": str(share.contributor_count),
                "digest": share.digest,
            }
        return {
            "key": share.idempotency_key,
            "share_id": share.id,
            "status": "shared",
            "at": _now(),
            "share": convert.unstructure(share),
        }

    def _tombstone(self, ref: RetractRef) -> dict[str, Any]:
        row: dict[str, Any] = {"key": ref.idempotency_key, "share_id": ref.share_id}
        row.update(status="retracted", at=_now())
        if self.config.format == "csv":
            return {column: row.get(column, "") for column in CSV_COLUMNS}
        return row

    # --- fault knobs ----------------------------------------------------------------------

    def _injected_fault(self) -> Exception | None:
        roll = self._rng.random
        cfg = self.config
        if cfg.fail_prob and roll() < cfg.fail_prob:
            return PermanentError("injected permanent failure (fail_prob)")
        if cfg.retry_prob and roll() < cfg.retry_prob:
            return RetryableError("injected retryable failure (retry_prob)")
        if cfg.throttle_prob and roll() < cfg.throttle_prob:
            return ThrottledError("injected throttling", retry_after=cfg.throttle_seconds)
        return None

    def _lost_reply(self) -> bool:
        return (
            bool(self.config.lost_reply_prob) and self._rng.random() < self.config.lost_reply_prob
        )

    # --- the adapter API ------------------------------------------------------------------

    def deliver(self, shares: Sequence[Share]) -> list[DeliveryResult]:
        """Write the shares in one atomic rewrite; a key already present is updated in place."""
        return self._batch(shares, self._deliver_into, self.failed_delivery)

    def retract(self, refs: Sequence[RetractRef]) -> list[RetractResult]:
        """Replace each key's row with a tombstone in one atomic rewrite."""
        return self._batch(refs, self._retract_into, self.failed_retraction)

    def _batch(
        self,
        items: Sequence[Any],
        apply: Callable[[dict[str, dict[str, Any]], Any], Any],
        failed: Callable[[Any, BaseException], Any],
    ) -> list[Any]:
        results: list[Any] = []
        try:
            with self._locked_rows() as rows:
                for item in items:
                    fault = self._injected_fault()
                    if fault is not None:
                        results.append(failed(item, fault))
                        continue
                    result = apply(rows, item)
                    if self._lost_reply():
                        result = failed(item, RetryableError("injected lost reply"))
                    results.append(result)
        except OSError as exc:
            error = RetryableError(f"could not write {self.path.name}: {exc.strerror}")
            return [failed(item, error) for item in items]
        return results

    def _deliver_into(self, rows: dict[str, dict[str, Any]], share: Share) -> DeliveryResult:
        key = share.idempotency_key
        old = rows.get(key)
        if not (old and old.get("status") == "shared" and self._same(old, share)):
            rows.pop(key, None)  # an update moves the row to the end, like an append
            rows[key] = self._row(share)
        return DeliveryResult(
            share_id=share.id, idempotency_key=key, status=Status.OK, remote_id=key
        )

    def _same(self, row: dict[str, Any], share: Share) -> bool:
        digest = row.get("digest") if self.config.format == "csv" else row["share"]["digest"]
        return bool(digest == share.digest)

    def _retract_into(self, rows: dict[str, dict[str, Any]], ref: RetractRef) -> RetractResult:
        key = ref.idempotency_key
        rows.pop(key, None)
        rows[key] = self._tombstone(ref)
        return RetractResult(
            share_id=ref.share_id,
            idempotency_key=key,
            status=Status.OK,
            remote_id=ref.remote_id or key,
            retracted=True,
        )

    def check(self) -> CheckResult:
        """Whether the folder exists (or can be made) and is writable."""
        folder = self.path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return CheckResult(ok=False, status=Status.PERMANENT, message=exc.strerror or "")
        if not os.access(folder, os.W_OK):
            return CheckResult(
                ok=False, status=Status.PERMANENT, message=f"{folder} is not writable"
            )
        return CheckResult(ok=True, status=Status.OK, message=f"writing to {self.path}")


@hookimpl
def register_adapters(register: RegisterAdapter) -> None:
    """Register the built-in ``file`` destination."""
    register("file", FileAdapter)
