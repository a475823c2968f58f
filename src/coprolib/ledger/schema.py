"""The ledger schema as versioned, forward-only migrations, for SQLite and PostgreSQL.

Each migration is applied once, in order, inside one transaction, and recorded in
``coprolib_migrations``; ``coprolib_meta`` holds the schema version. A ledger whose version is
newer than :data:`SCHEMA_VERSION` is refused: that ledger was written by a newer coprolib.
"""

from __future__ import annotations

import attrs

#: The marker stored in ``coprolib_meta`` that says "this database is a coprolib ledger".
LEDGER_MARK = "coprolib-ledger"


@attrs.frozen(kw_only=True)
class Migration:
    """One forward step of the schema: statements for each backend."""

    version: int
    name: str
    sqlite: tuple[str, ...]
    postgres: tuple[str, ...]

    def statements(self, dialect: str) -> tuple[str, ...]:
        """The statements for ``dialect`` (``"sqlite"`` or ``"postgres"``)."""
        return self.sqlite if dialect == "sqlite" else self.postgres


def _common(serial: str, big: str) -> tuple[str, ...]:
    return (
        "CREATE TABLE coprolib_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "CREATE TABLE coprolib_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
        " applied_at TEXT NOT NULL)",
        f"CREATE TABLE records (seq {serial}, kind TEXT NOT NULL, id TEXT NOT NULL,"
        " data TEXT NOT NULL, status TEXT, domain TEXT, erased INTEGER NOT NULL DEFAULT 0,"
        " UNIQUE (kind, id))",
        "CREATE INDEX records_status ON records (kind, status)",
        "CREATE INDEX records_domain ON records (kind, domain)",
        "CREATE TABLE record_refs (kind TEXT NOT NULL, id TEXT NOT NULL,"
        " ref_kind TEXT NOT NULL, ref_id TEXT NOT NULL)",
        "CREATE INDEX record_refs_by_ref ON record_refs (ref_kind, ref_id, kind, id)",
        "CREATE INDEX record_refs_by_record ON record_refs (kind, id, ref_kind, ref_id)",
        "CREATE TABLE consent_events (consent_id TEXT NOT NULL, version INTEGER NOT NULL,"
        " at TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (consent_id, version))",
        "CREATE TABLE consent_state (consent_id TEXT PRIMARY KEY, contributor_id TEXT NOT NULL,"
        " all_stories INTEGER NOT NULL, status TEXT NOT NULL, version INTEGER NOT NULL,"
        " expires TEXT)",
        "CREATE INDEX consent_state_status ON consent_state (status)",
        "CREATE TABLE consent_purposes (consent_id TEXT NOT NULL, purpose TEXT NOT NULL,"
        " contributor_id TEXT NOT NULL, all_stories INTEGER NOT NULL, expires TEXT,"
        " PRIMARY KEY (consent_id, purpose))",
        "CREATE INDEX consent_purposes_by_contributor ON consent_purposes"
        " (contributor_id, purpose, all_stories)",
        f"CREATE TABLE shares (seq {serial}, id TEXT NOT NULL UNIQUE, data TEXT NOT NULL,"
        " destination TEXT NOT NULL, subject_id TEXT NOT NULL, status TEXT NOT NULL)",
        "CREATE INDEX shares_destination ON shares (destination, status)",
        "CREATE INDEX shares_subject ON shares (subject_id)",
        "CREATE TABLE share_stories (story_id TEXT NOT NULL, share_id TEXT NOT NULL,"
        " PRIMARY KEY (story_id, share_id))",
        "CREATE INDEX share_stories_by_share ON share_stories (share_id)",
        f"CREATE TABLE receipts (seq {serial}, share_id TEXT NOT NULL, data TEXT NOT NULL)",
        "CREATE INDEX receipts_share ON receipts (share_id)",
        f"CREATE TABLE jobs (id {serial}, kind TEXT NOT NULL, destination TEXT NOT NULL,"
        " share_id TEXT NOT NULL, idempotency_key TEXT NOT NULL, status TEXT NOT NULL,"
        " attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at TEXT NOT NULL,"
        " last_error TEXT, claimed_by TEXT, lease_until TEXT)",
        "CREATE UNIQUE INDEX jobs_open ON jobs (kind, destination, share_id)"
        " WHERE status IN ('pending', 'claimed')",
        "CREATE INDEX jobs_due ON jobs (status, next_attempt_at)",
        f"CREATE TABLE audit (seq {big} PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL,"
        " action TEXT NOT NULL, scope TEXT NOT NULL, ref TEXT NOT NULL, digest TEXT NOT NULL,"
        " prev_hash TEXT NOT NULL, hash TEXT NOT NULL)",
    )


#: Rows of ``story_access`` for the stories whose ids are listed (``{ids}``: placeholders) or,
#: with ``{ids}`` replaced by a subquery, for every story. One row per (theme, purpose, story)
#: that a covering consent allows now; ``expires`` is the latest expiry (NULL: none).
ACCESS_ROWS = """
SELECT theme, purpose, story_id,
       CASE WHEN count(*) > count(expires) THEN NULL ELSE max(expires) END
FROM (
  SELECT t.ref_id AS theme, cp.purpose AS purpose, t.id AS story_id, cp.expires AS expires
  FROM record_refs t
  JOIN record_refs sc ON sc.kind = 'story' AND sc.id = t.id AND sc.ref_kind = 'contributor'
  JOIN consent_purposes cp ON cp.contributor_id = sc.ref_id AND cp.all_stories = 1
  WHERE t.kind = 'story' AND t.ref_kind = 'theme' AND t.id IN ({ids})
  UNION ALL
  SELECT t.ref_id, cp.purpose, t.id, cp.expires
  FROM record_refs t
  JOIN record_refs cr ON cr.kind = 'consent' AND cr.ref_kind = 'story' AND cr.ref_id = t.id
  JOIN consent_purposes cp ON cp.consent_id = cr.id
  WHERE t.kind = 'story' AND t.ref_kind = 'theme' AND t.id IN ({ids})
) AS a
GROUP BY theme, purpose, story_id
"""

_ALL_STORIES = "SELECT id FROM records WHERE kind = 'story'"


def _access(without_rowid: str) -> tuple[str, ...]:
    return (
        "CREATE TABLE story_access (theme TEXT NOT NULL, purpose TEXT NOT NULL,"
        " story_id TEXT NOT NULL, expires TEXT, PRIMARY KEY (theme, purpose, story_id))"
        + without_rowid,
        "CREATE INDEX story_access_story ON story_access (story_id)",
        "INSERT INTO story_access (theme, purpose, story_id, expires)"
        + ACCESS_ROWS.format(ids=_ALL_STORIES),
    )


#: The list of row changes a ``"rows"`` audit entry covers (see :mod:`coprolib.ledger.audit`).
_AUDIT_ROWS = "CREATE TABLE audit_rows (seq INTEGER PRIMARY KEY, changes TEXT NOT NULL)"


def _lean_indexes(sqlite: bool) -> tuple[str, ...]:
    # Most rows have no status or domain: indexing only those that do leaves two index
    # inserts per row out of every bulk write, and ``status = ?`` still finds the index.
    partial = (
        "DROP INDEX records_status",
        "CREATE INDEX records_status ON records (kind, status) WHERE status IS NOT NULL",
        "DROP INDEX records_domain",
        "CREATE INDEX records_domain ON records (kind, domain) WHERE domain IS NOT NULL",
    )
    if not sqlite:
        return partial
    # In SQLite the (kind, id, ref_kind, ref_id) key becomes the table itself (WITHOUT ROWID),
    # one b-tree fewer per reference row than a rowid table plus a covering index.
    return (
        *partial,
        "CREATE TABLE record_refs_v5 (kind TEXT NOT NULL, id TEXT NOT NULL,"
        " ref_kind TEXT NOT NULL, ref_id TEXT NOT NULL,"
        " PRIMARY KEY (kind, id, ref_kind, ref_id)) WITHOUT ROWID",
        "INSERT OR IGNORE INTO record_refs_v5 (kind, id, ref_kind, ref_id)"
        " SELECT kind, id, ref_kind, ref_id FROM record_refs",
        "DROP TABLE record_refs",
        "ALTER TABLE record_refs_v5 RENAME TO record_refs",
        "CREATE INDEX record_refs_by_ref ON record_refs (ref_kind, ref_id, kind, id)",
    )


def _delivery_control(serial: str) -> tuple[str, ...]:
    # Fencing tokens, the "may have arrived" flag and the in-flight mark on jobs; each job's
    # history; destination-wide pauses every worker honours; an index for expired leases.
    return (
        "ALTER TABLE jobs ADD COLUMN claim_token INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE jobs ADD COLUMN in_doubt INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE jobs ADD COLUMN sending_at TEXT",
        "CREATE INDEX jobs_lease ON jobs (status, lease_until)",
        f"CREATE TABLE job_events (seq {serial}, job_id INTEGER NOT NULL, at TEXT NOT NULL,"
        " event TEXT NOT NULL, worker TEXT, detail TEXT)",
        "CREATE INDEX job_events_job ON job_events (job_id, seq)",
        # No error text here (it can echo a share): the job it happened to holds it, protected.
        "CREATE TABLE delivery_destinations (destination TEXT PRIMARY KEY, paused_until TEXT,"
        " pause_reason TEXT, failures INTEGER NOT NULL DEFAULT 0, last_error_job INTEGER,"
        " last_error_at TEXT)",
    )


def _api(big: str) -> tuple[str, ...]:
    # The HTTP API's own state. Neither table decides what may be shared: ``api_tokens`` says who
    # may call the API (each create/revoke is a note in the audit chain) and ``api_replays``
    # remembers answered Idempotency-Keys and webhook ids so a repeat writes nothing. IF NOT
    # EXISTS: re-running the migrations over a ledger put back to an older version keeps them.
    return (
        "CREATE TABLE IF NOT EXISTS api_tokens (name TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE,"
        " scopes TEXT NOT NULL, created_at TEXT NOT NULL, revoked_at TEXT)",
        f"CREATE TABLE IF NOT EXISTS api_replays (key TEXT PRIMARY KEY, request_digest TEXT NOT NULL,"
        f" status {big} NOT NULL, body TEXT NOT NULL, at TEXT NOT NULL)",
    )


#: Every migration, oldest first. Append new ones; never edit a released one.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        version=1,
        name="records, consent events, shares, receipts, outbox jobs and the audit chain",
        sqlite=_common("INTEGER PRIMARY KEY", "INTEGER"),
        postgres=_common("BIGSERIAL PRIMARY KEY", "BIGINT"),
    ),
    Migration(
        version=2,
        name="story_access: which themes each story's consents allow for which purposes",
        sqlite=_access(" WITHOUT ROWID"),
        postgres=_access(""),
    ),
    Migration(
        version=3,
        name="records_kind_seq: list a record type in insertion order without sorting it",
        sqlite=("CREATE INDEX records_kind_seq ON records (kind, seq)",),
        postgres=("CREATE INDEX records_kind_seq ON records (kind, seq)",),
    ),
    Migration(
        version=4,
        name="audit_rows: the list of row changes each batched audit entry covers",
        sqlite=(_AUDIT_ROWS,),
        postgres=(_AUDIT_ROWS.replace("seq INTEGER", "seq BIGINT"),),
    ),
    Migration(
        version=5,
        name="leaner write path: partial status/domain indexes; SQLite record_refs keyed",
        sqlite=_lean_indexes(sqlite=True),
        postgres=_lean_indexes(sqlite=False),
    ),
    Migration(
        version=6,
        name="per-story withdrawals become events on the consent they narrow (data, not tables:"
        " see coprolib.ledger.upgrades)",
        sqlite=(),
        postgres=(),
    ),
    Migration(
        version=7,
        name="delivery control: fencing tokens, job history, destination pauses",
        sqlite=_delivery_control("INTEGER PRIMARY KEY"),
        postgres=_delivery_control("BIGSERIAL PRIMARY KEY"),
    ),
    Migration(
        version=8,
        name="api_tokens and api_replays: who may call coprolib serve; answered requests",
        sqlite=_api("INTEGER"),
        postgres=_api("INTEGER"),
    ),
)

#: The schema version this code writes.
SCHEMA_VERSION = MIGRATIONS[-1].version
