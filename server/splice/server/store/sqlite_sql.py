"""SQL of the SQLite store: forward-only migrations and the statements it runs.

Migration N is ``MIGRATIONS[N - 1]``, a tuple of statements applied in one transaction;
to change the schema, append a tuple (never edit one that has shipped).
Timestamps are integer microseconds since the epoch; JSON columns are TEXT; ``steps`` is
the step layout as JSON and ``rollout`` the steps' texts, concatenated.
"""

from __future__ import annotations

from splice.server.store._codec import (
    RECORD_COLUMNS,
    REQUEST_COLUMNS,
    RESULT_COLUMNS,
    ROW_COLUMNS,
)

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: requests (immutable, large), interventions (status, verdict, log), raw oracle output.
    (
        """CREATE TABLE requests (
            request_id TEXT PRIMARY KEY,
            problem_id TEXT NOT NULL,
            segmenter_name TEXT NOT NULL,
            segmenter_version TEXT NOT NULL,
            categorize INTEGER NOT NULL,
            options TEXT NOT NULL,
            labels TEXT NOT NULL,
            provenance TEXT,
            problem TEXT NOT NULL,
            reference_solution TEXT NOT NULL,
            reference_answer TEXT NOT NULL,
            steps TEXT NOT NULL,
            rollout TEXT NOT NULL
        )""",
        """CREATE TABLE interventions (
            request_id TEXT PRIMARY KEY REFERENCES requests (request_id),
            client_id TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            oracle_name TEXT NOT NULL,
            oracle_backend TEXT NOT NULL,
            oracle_version TEXT NOT NULL,
            oracle_config_hash TEXT NOT NULL,
            status INTEGER NOT NULL CHECK (status BETWEEN 1 AND 6),
            sequence INTEGER UNIQUE,
            first_error_step INTEGER NOT NULL DEFAULT 0 CHECK (first_error_step >= 0),
            category INTEGER NOT NULL DEFAULT 0,
            input_tokens INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0,
            cost_usd REAL NOT NULL DEFAULT 0,
            oracle_latency_ms REAL NOT NULL DEFAULT 0,
            failure_reason INTEGER,
            failure_message TEXT,
            failure_retryable INTEGER,
            cached INTEGER NOT NULL DEFAULT 0,
            cached_from TEXT,
            created_at INTEGER NOT NULL,
            finished_at INTEGER,
            replacements TEXT NOT NULL DEFAULT '[]',
            explanation TEXT NOT NULL DEFAULT ''
        )""",
        """CREATE INDEX interventions_cache
            ON interventions (content_hash, oracle_name, oracle_config_hash)
            WHERE status IN (2, 3, 4)""",
        """CREATE INDEX interventions_client_log ON interventions (client_id, sequence)
            WHERE sequence IS NOT NULL""",
        "CREATE INDEX interventions_running ON interventions (created_at) WHERE status = 1",
        """CREATE TABLE raw_outputs (
            request_id TEXT PRIMARY KEY REFERENCES requests (request_id),
            raw TEXT NOT NULL
        )""",
    ),
    # 2: ownership leases of RUNNING rows (rows from before are unowned and expired).
    (
        "ALTER TABLE interventions ADD COLUMN owner TEXT",
        "ALTER TABLE interventions ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0",
        "CREATE INDEX interventions_lease ON interventions (lease_until) WHERE status = 1",
    ),
    # 3: every LLM provider attempt and what it cost (``store/attempts_sqlite.py``).
    (
        """CREATE TABLE oracle_attempts (
            id INTEGER PRIMARY KEY,
            request_id TEXT NOT NULL,
            client_id TEXT NOT NULL,
            oracle TEXT NOT NULL,
            model TEXT NOT NULL,
            purpose TEXT NOT NULL,
            sample INTEGER NOT NULL,
            attempt INTEGER NOT NULL,
            started_at INTEGER NOT NULL,
            latency_ms REAL NOT NULL,
            outcome TEXT NOT NULL,
            http_status INTEGER NOT NULL DEFAULT 0,
            input_tokens INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0,
            cost_usd REAL NOT NULL DEFAULT 0,
            error TEXT NOT NULL DEFAULT '',
            prompt_version TEXT NOT NULL DEFAULT '',
            retry_after_s REAL
        )""",
        "CREATE INDEX oracle_attempts_request ON oracle_attempts (request_id, id)",
        "CREATE INDEX oracle_attempts_client ON oracle_attempts (client_id, started_at)",
        "CREATE INDEX oracle_attempts_oracle ON oracle_attempts (oracle, started_at)",
    ),
    # 4: the human review queue (``review/queue_sqlite.py``) and access tokens (``auth.py``).
    # Numbered 4 after oracle_attempts (3); both were written at the same time.
    (
        """CREATE TABLE review_tasks (
            request_id TEXT PRIMARY KEY,
            priority INTEGER NOT NULL DEFAULT 0,
            overlap INTEGER NOT NULL DEFAULT 1 CHECK (overlap >= 1),
            reviews_done INTEGER NOT NULL DEFAULT 0,
            state INTEGER NOT NULL DEFAULT 0,
            n_steps INTEGER NOT NULL,
            payload TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            done_at INTEGER,
            agreement REAL,
            claim_id INTEGER,
            lease_until INTEGER NOT NULL DEFAULT 0
        )""",
        """CREATE INDEX review_tasks_queue ON review_tasks (priority DESC, created_at)
            WHERE state = 0""",
        "CREATE INDEX review_tasks_done ON review_tasks (done_at) WHERE state > 0",
        """CREATE TABLE review_claims (
            claim_id INTEGER PRIMARY KEY,
            request_id TEXT NOT NULL REFERENCES review_tasks (request_id),
            reviewer TEXT NOT NULL,
            token_hash TEXT NOT NULL,
            claimed_at INTEGER NOT NULL,
            lease_until INTEGER NOT NULL,
            ended_at INTEGER,
            outcome TEXT
        )""",
        # At most one claim per task is open: a task is never held by two reviewers at once.
        """CREATE UNIQUE INDEX review_claims_open ON review_claims (request_id)
            WHERE outcome IS NULL""",
        "CREATE INDEX review_claims_task ON review_claims (request_id, reviewer)",
        """CREATE TABLE review_submissions (
            request_id TEXT NOT NULL REFERENCES review_tasks (request_id),
            reviewer TEXT NOT NULL,
            claim_id INTEGER NOT NULL,
            submitted_at INTEGER NOT NULL,
            status INTEGER NOT NULL,
            first_error_step INTEGER NOT NULL,
            category INTEGER NOT NULL,
            replacements TEXT NOT NULL,
            explanation TEXT NOT NULL,
            PRIMARY KEY (request_id, reviewer)
        )""",
        "CREATE INDEX review_submissions_reviewer ON review_submissions (reviewer, submitted_at)",
        """CREATE TABLE review_audit (
            id INTEGER PRIMARY KEY,
            at INTEGER NOT NULL,
            request_id TEXT NOT NULL,
            reviewer TEXT NOT NULL,
            event TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT ''
        )""",
        "CREATE INDEX review_audit_request ON review_audit (request_id, id)",
        """CREATE TABLE auth_tokens (
            token_hash TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('client', 'reviewer', 'admin')),
            created_at INTEGER NOT NULL,
            revoked_at INTEGER
        )""",
        "CREATE INDEX auth_tokens_name ON auth_tokens (name)",
    ),
)

CREATE_MIGRATIONS = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)"""
SCHEMA_VERSION = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"
RECORD_MIGRATION = "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)"

LAST_SEQUENCE = "SELECT COALESCE(MAX(sequence), 0) FROM interventions"
EXISTING = "SELECT content_hash, oracle_name FROM interventions WHERE request_id = ?"
CACHE_HIT = """SELECT request_id, status, first_error_step, category, replacements, explanation
    FROM interventions
    WHERE content_hash = ? AND oracle_name = ? AND oracle_config_hash = ?
        AND status IN (2, 3, 4)
    LIMIT 1"""
INSERT_REQUEST = f"""INSERT INTO requests ({REQUEST_COLUMNS})
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""
INSERT_INTERVENTION = """INSERT INTO interventions (request_id, client_id, content_hash,
    oracle_name, oracle_backend, oracle_version, oracle_config_hash, status, created_at,
    sequence, first_error_step, category, replacements, explanation, cached, cached_from,
    finished_at, owner, lease_until)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""
# A PENDING result only moves a RUNNING row; a final one finishes RUNNING and PENDING rows.
FINISH = f"""UPDATE interventions SET (status, sequence, {RESULT_COLUMNS}, finished_at)
    = (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    WHERE request_id = ? AND (status = 1 OR (status = 5 AND ?))"""
INSERT_RAW = """INSERT INTO raw_outputs (request_id, raw) VALUES (?, ?)
    ON CONFLICT (request_id) DO UPDATE SET raw = excluded.raw"""

INSERT_FINISHED = f"""INSERT INTO interventions (request_id, client_id, content_hash,
    oracle_name, oracle_backend, oracle_version, oracle_config_hash, status, created_at,
    sequence, {RESULT_COLUMNS}, finished_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""
"""A request accepted with its result (``accept_finished``): one row, already in the log."""
INSERT_REQUEST_IF_NEW = f"{INSERT_REQUEST} ON CONFLICT (request_id) DO NOTHING"
"""Inserts nothing (rowcount 0) where the request_id exists: then it is a duplicate."""


_FROM = "FROM interventions i JOIN requests r ON r.request_id = i.request_id"
GET = f"SELECT {ROW_COLUMNS} {_FROM} WHERE i.request_id = ?"
READ_LOG = f"""SELECT {ROW_COLUMNS} {_FROM}
    WHERE i.sequence > ? ORDER BY i.sequence LIMIT ?"""
READ_LOG_CLIENT = f"""SELECT {ROW_COLUMNS} {_FROM}
    WHERE i.client_id = ? AND i.sequence > ? ORDER BY i.sequence LIMIT ?"""
UNFINISHED = f"""SELECT {RECORD_COLUMNS} {_FROM}
    WHERE i.status = 1 ORDER BY i.created_at LIMIT ?"""
# The request_id lists of the lease statements are JSON arrays: one parameter, any length.
RENEW = """UPDATE interventions SET lease_until = ?
    WHERE owner = ? AND status = 1 AND request_id IN (SELECT value FROM json_each(?))"""
EXPIRED = f"""SELECT {RECORD_COLUMNS} {_FROM}
    WHERE i.request_id IN (SELECT request_id FROM interventions
        WHERE status = 1 AND lease_until < ? ORDER BY lease_until LIMIT ?)
    ORDER BY i.created_at"""
CLAIM = """UPDATE interventions SET owner = ?, lease_until = ?
    WHERE request_id IN (SELECT value FROM json_each(?))"""
LEASE = "SELECT owner, lease_until FROM interventions WHERE request_id = ?"
RAW_OUTPUT = """SELECT COALESCE(o.raw, c.raw) FROM interventions i
    LEFT JOIN raw_outputs o ON o.request_id = i.request_id
    LEFT JOIN raw_outputs c ON c.request_id = i.cached_from
    WHERE i.request_id = ?"""

WRITER_STATEMENTS = {
    name: globals()[name] for name in (
        "LAST_SEQUENCE", "EXISTING", "CACHE_HIT", "INSERT_REQUEST_IF_NEW", "INSERT_FINISHED",
        "INSERT_INTERVENTION", "FINISH", "INSERT_RAW", "GET", "RENEW", "EXPIRED", "CLAIM")
}
"""The statements of the writer process (``sqlite_writer_process``), sent to it at start."""
