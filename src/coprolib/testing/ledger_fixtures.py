"""pytest fixtures that give a test a fresh ledger on SQLite and on PostgreSQL.

``ledger_target`` is parametrised over both backends. The PostgreSQL one uses the server named by
``COPROLIB_TEST_POSTGRES`` (default ``postgresql://postgres@127.0.0.1:5432/test``) with a schema
of its own per test, dropped afterwards. When the server cannot be reached the test is skipped
with the reason, unless ``COPROLIB_REQUIRE_POSTGRES=1``, when it fails instead.
Load with ``pytest_plugins = ("coprolib.testing.ledger_fixtures",)`` in a ``conftest.py``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

DEFAULT_TEST_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
_reachable: dict[str, str | None] = {}


def postgres_url() -> str:
    """The PostgreSQL server tests use."""
    return os.environ.get("COPROLIB_TEST_POSTGRES") or DEFAULT_TEST_POSTGRES


def postgres_required() -> bool:
    """Whether PostgreSQL tests must run (``COPROLIB_REQUIRE_POSTGRES=1``)."""
    return os.environ.get("COPROLIB_REQUIRE_POSTGRES", "") not in ("", "0", "false")


def postgres_problem(url: str) -> str | None:
    """Why the server at ``url`` cannot be used, or ``None`` when it can (cached)."""
    if url not in _reachable:
        try:
            import psycopg

            with psycopg.connect(url, connect_timeout=3) as conn:
                conn.execute("SELECT 1")
            _reachable[url] = None
        except ImportError:
            _reachable[url] = "psycopg is not installed (pip install 'coprolib[postgres]')"
        except Exception as exc:
            _reachable[url] = f"PostgreSQL at {url} is unreachable: {exc}".strip()
    return _reachable[url]


def require_postgres() -> str:
    """The test server's URL, or skip (fail under ``COPROLIB_REQUIRE_POSTGRES=1``)."""
    url = postgres_url()
    problem = postgres_problem(url)
    if problem is not None:
        if postgres_required():
            pytest.fail(f"COPROLIB_REQUIRE_POSTGRES=1 but {problem}")
        pytest.skip(problem)
    return url


@attrs.define
class LedgerTarget:
    """Where a test's ledger lives, with ways to open it and to reach behind it."""

    dialect: str
    url: str
    schema: str | None = None
    path: Path | None = None

    def open(self, **kwargs: Any) -> Any:
        """Open a new handle on this ledger (keyword arguments go to ``open_ledger``)."""
        from coprolib.ledger import open_ledger

        kwargs.setdefault("key", "")
        return open_ledger(self.url, schema=self.schema, **kwargs)

    def raw(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run SQL directly, bypassing the ledger (to tamper with it in tests); ``?`` marks."""
        if self.dialect == "sqlite":
            import sqlite3

            assert self.path is not None
            conn = sqlite3.connect(self.path, isolation_level=None)
            try:
                cur = conn.execute(sql, params)
                return list(cur.fetchall()) if cur.description else []
            finally:
                conn.close()
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as pg:
            pg.execute(f'SET search_path TO "{self.schema}"')
            pcur = pg.execute(sql.replace("?", "%s"), params)
            return list(pcur.fetchall()) if pcur.description else []


def make_target(dialect: str, tmp_path: Path) -> LedgerTarget:
    """A target for a fresh, empty ledger (PostgreSQL: skips or fails when unreachable)."""
    if dialect == "sqlite":
        path = tmp_path / "ledger.db"
        return LedgerTarget(dialect="sqlite", url=f"sqlite:///{path}", path=path)
    url = require_postgres()
    return LedgerTarget(dialect="postgres", url=url, schema=f"t_{uuid.uuid4().hex[:16]}")


def drop_target(target: LedgerTarget) -> None:
    """Remove a PostgreSQL test schema (SQLite files go with ``tmp_path``)."""
    if target.dialect == "postgres" and target.schema:
        import psycopg

        with psycopg.connect(target.url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{target.schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LedgerTarget]:
    """A fresh ledger location, once on SQLite and once on PostgreSQL."""
    target = make_target(request.param, tmp_path)
    try:
        yield target
    finally:
        drop_target(target)


@pytest.fixture
def ledger(ledger_target: LedgerTarget) -> Iterator[Any]:
    """An open, empty, unencrypted ledger on each backend."""
    handle = ledger_target.open(actor="test")
    try:
        yield handle
    finally:
        handle.close()
