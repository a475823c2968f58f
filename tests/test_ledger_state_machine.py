"""A hypothesis state machine over the ledger: adds, imports, consent events, erasures and
concurrent writers, checking after every step that the audit chain verifies and the ledger holds
what a simple model says, that erased words are not in the database files, and at the end that
export then import into an empty ledger gives the same records."""

from __future__ import annotations

import datetime as dt
import itertools
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from coprolib.ledger import LedgerError, generate_key, open_ledger
from coprolib.ledger.codec import ERASED
from coprolib.records import Consent, Contributor, Story
from coprolib.records.bundle import Bundle as RecordBundle
from coprolib.records.enums import Purpose
from coprolib.testing.ledger_fixtures import drop_target, make_target
from tests.ledger_data import T0, consent, contributor, story, withdrawal

WORDS = st.lists(
    st.sampled_from(["bus", "nurse", "door", "letter", "kettle", "rota", "ward"]),
    min_size=1,
    max_size=6,
).map(" ".join)


class LedgerMachine(RuleBasedStateMachine):
    """The ledger against a model of what it should hold."""

    dialect = "sqlite"
    people = Bundle("people")
    consents = Bundle("consents")

    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="ledger-sm-"))
        self.counter = itertools.count(1)
        self.model: dict[tuple[type[Any], str], Any] = {}
        self.erased_words: list[str] = []
        self.key = generate_key()
        self.target = None
        self.url = f"sqlite:///{self.tmp / 'ledger.db'}"
        self.schema: str | None = None

    @initialize(encrypted=st.booleans())
    def open(self, encrypted: bool) -> None:
        if self.dialect == "postgres":
            self.target = make_target("postgres", self.tmp)
            self.url, self.schema = self.target.url, self.target.schema
        self.key = self.key if encrypted else ""
        self.ledger = self._open("machine")

    def _open(self, actor: str) -> Any:
        return open_ledger(self.url, actor=actor, key=self.key, schema=self.schema)

    def _person(self) -> Contributor:
        pid = self._new_id("p")
        return contributor(pid, known_identifiers=(f"Quillfeather[{pid}]", f"[{pid}] Larkspur Row"))

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self.counter)}"

    def _words(self, words: str) -> str:
        return f"Wren{next(self.counter)}Q said {words}."

    @rule(target=people)
    def add_contributor(self) -> str:
        rec = self._person()
        self.ledger.add(rec)
        self.model[(Contributor, rec.id)] = rec
        return rec.id

    @rule(
        pid=people,
        words=WORDS,
        themes=st.lists(st.sampled_from(["trust", "housing"]), max_size=2, unique=True),
    )
    def add_story(self, pid: str, words: str, themes: list[str]) -> None:
        sid = self._new_id("s")
        rec = story(sid, (pid,), tuple(themes), text=self._words(words))
        self.ledger.add(rec)
        self.model[(Story, sid)] = rec

    @rule(
        target=consents,
        pid=people,
        purposes=st.sets(st.sampled_from(list(Purpose)), min_size=1, max_size=3),
    )
    def add_consent(self, pid: str, purposes: set[Purpose]) -> str:
        cid = self._new_id("c")
        rec = consent(cid, pid, (), *sorted(purposes))
        self.ledger.add(rec)
        self.model[(Consent, cid)] = rec
        return cid

    @rule(cid=consents, days=st.integers(min_value=0, max_value=30))
    def withdraw(self, cid: str, days: int) -> None:
        current: Consent = self.model[(Consent, cid)]
        at = max(current.events[-1].at, T0) + dt.timedelta(days=days)
        new = self.ledger.append_consent_event(cid, withdrawal(at))
        assert new == current.with_event(withdrawal(at))
        self.model[(Consent, cid)] = new

    @rule(pid=people)
    def duplicate_is_refused_and_changes_nothing(self, pid: str) -> None:
        entries = sum(1 for _ in self.ledger.audit_entries())
        with pytest.raises(LedgerError, match="already used"):
            self.ledger.add([self._person(), contributor(pid)])
        assert sum(1 for _ in self.ledger.audit_entries()) == entries

    @rule(n=st.integers(min_value=1, max_value=3), words=WORDS)
    def import_bundle(self, n: int, words: str) -> None:
        people = [self._person() for _ in range(n)]
        stories = [story(self._new_id("s"), (p.id,), text=self._words(words)) for p in people]
        counts = self.ledger.import_bundle(
            RecordBundle(contributors=tuple(people), stories=tuple(stories))
        )
        assert counts["contributors"] == n and counts["stories"] == n
        for r in [*people, *stories]:
            self.model[(type(r), r.id)] = r

    @rule(n=st.integers(min_value=1, max_value=4))
    def concurrent_writers(self, n: int) -> None:
        batches = [[self._person() for _ in range(n)] for _ in range(3)]
        errors: list[BaseException] = []

        def write(i: int, batch: list[Contributor]) -> None:
            try:
                with self._open(f"writer-{i}") as other:
                    for rec in batch:
                        other.add(rec)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(i, b)) for i, b in enumerate(batches)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not errors, errors
        for rec in itertools.chain.from_iterable(batches):
            self.model[(Contributor, rec.id)] = rec

    @precondition(lambda self: any(k[0] is Contributor for k in self.model))
    @rule(pick=st.integers(min_value=0))
    def erase(self, pick: int) -> None:
        ids = sorted(k[1] for k in self.model if k[0] is Contributor)
        pid = ids[pick % len(ids)]
        person = self.model[(Contributor, pid)]
        self.erased_words += list(person.known_identifiers)
        if person.contact.email:
            self.erased_words.append(person.contact.email)
        self.ledger.erase_contributor(pid)
        self.model[(Contributor, pid)] = Contributor(
            id=pid, wants_feedback=False, feedback_channel="none"
        )  # type: ignore[arg-type]
        for key, rec in list(self.model.items()):
            if key[0] is Story and pid in rec.contributor_ids:
                if rec.text != ERASED:
                    self.erased_words.append(rec.text.split(" ")[0])
                self.model[key] = attrs.evolve(rec, text=ERASED, title=None, quotes=())
        if self.dialect == "sqlite":
            data = b"".join(p.read_bytes() for p in self.tmp.glob("ledger.db*"))
            for word in self.erased_words:
                assert word.encode() not in data, word

    @invariant()
    def audit_verifies(self) -> None:
        if hasattr(self, "ledger"):
            result = self.ledger.verify_audit()
            assert result.ok, result.reason

    @invariant()
    def ledger_matches_model(self) -> None:
        if not hasattr(self, "ledger"):
            return
        for cls in (Contributor, Story, Consent):
            want = {k[1]: v for k, v in self.model.items() if k[0] is cls}
            got = {r.id: r for r in self.ledger.list(cls)}
            assert got == want

    @invariant()
    def theme_purpose_index_matches_the_consents(self) -> None:
        if not hasattr(self, "ledger"):
            return
        today = dt.date.today()
        stories = [v for k, v in self.model.items() if k[0] is Story]
        consents = [v for k, v in self.model.items() if k[0] is Consent]
        for theme in ("trust", "housing"):
            for purpose in (Purpose.TRAINING, Purpose.RESEARCH):
                want = sorted(
                    s.id
                    for s in stories
                    if theme in s.themes
                    and any(
                        (c.story_ids == () and c.contributor_id in s.contributor_ids)
                        or s.id in c.story_ids
                        for c in consents
                        if (state := c.state_at(c.events[-1].at)).terms is not None
                        and purpose in state.terms.purposes
                        and (state.terms.expires is None or state.terms.expires >= today)
                    )
                )
                assert self.ledger.story_ids_for(theme, purpose) == want

    def teardown(self) -> None:
        try:
            if hasattr(self, "ledger"):
                records = list(self.ledger.export_records())
                fresh = open_ledger(f"sqlite:///{self.tmp / 'copy.db'}", key="")
                with fresh:
                    fresh.import_records(iter(records))
                    assert list(fresh.export_records()) == records
                    assert fresh.verify_audit().ok
                self.ledger.close()
        finally:
            if self.target is not None:
                drop_target(self.target)
            shutil.rmtree(self.tmp, ignore_errors=True)


LedgerMachine.TestCase.settings = settings(
    max_examples=12,
    stateful_step_count=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestLedgerMachineSQLite = LedgerMachine.TestCase


class PostgresLedgerMachine(LedgerMachine):
    """The same machine on PostgreSQL."""

    dialect = "postgres"


PostgresLedgerMachine.TestCase.settings = settings(
    max_examples=6,
    stateful_step_count=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestLedgerMachinePostgres = pytest.mark.postgres(PostgresLedgerMachine.TestCase)
