"""SQL of the PostgreSQL store: forward-only migrations and the statements it runs.

Migration N is ``MIGRATIONS[N - 1]``, a tuple of statements applied in one transaction;
to change the schema, append a tuple (never edit one that has shipped). ``log_counter``
is the one-row counter whose row lock orders the log: see ``postgres.py``.
"""

from __future__ import annotations

from splice.server.store._codec import (
    RECORD_COLUMNS,
    REQUEST_COLUMNS,
    RESULT_COLUMNS,
    ROW_COLUMNS,
)

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: requests (immutable, large), interventions (status, verdict, log), raw oracle
    # output, and the log counter.
    (
        """CREATE TABLE requests (
            request_id text PRIMARY KEY,
            problem_id text NOT NULL,
            segmenter_name text NOT NULL,
            segmenter_version text NOT NULL,
            categorize boolean NOT NULL,
            options json NOT NULL,
            labels json NOT NULL,
            provenance json,
            problem text NOT NULL,
            reference_solution text NOT NULL,
            reference_answer text NOT NULL,
            steps json NOT NULL,
            rollout text NOT NULL
        )""",
        """CREATE TABLE interventions (
            request_id text PRIMARY KEY REFERENCES requests (request_id),
            client_id text NOT NULL,
            content_hash text NOT NULL,
            oracle_name text NOT NULL,
            oracle_backend text NOT NULL,
            oracle_version text NOT NULL,
            oracle_config_hash text NOT NULL,
            status smallint NOT NULL CHECK (status BETWEEN 1 AND 6),
            sequence bigint UNIQUE,
            first_error_step integer NOT NULL DEFAULT 0 CHECK (first_error_step >= 0),
            category smallint NOT NULL DEFAULT 0,
            input_tokens bigint NOT NULL DEFAULT 0,
            output_tokens bigint NOT NULL DEFAULT 0,
            cost_usd double precision NOT NULL DEFAULT 0,
            oracle_latency_ms double precision NOT NULL DEFAULT 0,
            failure_reason smallint,
            failure_message text,
            failure_retryable boolean,
            cached boolean NOT NULL DEFAULT false,
            cached_from text,
            created_at timestamptz NOT NULL,
            finished_at timestamptz,
            replacements json NOT NULL DEFAULT '[]',
            explanation text NOT NULL DEFAULT ''
        )""",
        # Rollouts are read whole and rarely compress well enough to pay for pglz.
        "ALTER TABLE requests ALTER COLUMN rollout SET STORAGE EXTERNAL",
        """CREATE INDEX interventions_cache
            ON interventions (content_hash, oracle_name, oracle_config_hash)
            WHERE status IN (2, 3, 4)""",
        """CREATE INDEX interventions_client_log ON interventions (client_id, sequence)
            WHERE sequence IS NOT NULL""",
        "CREATE INDEX interventions_running ON interventions (created_at) WHERE status = 1",
        """CREATE TABLE raw_outputs (
            request_id text PRIMARY KEY REFERENCES requests (request_id),
            raw text NOT NULL
        )""",
        """CREATE TABLE log_counter (
            id boolean PRIMARY KEY DEFAULT true CHECK (id),
            value bigint NOT NULL
        )""",
        "INSERT INTO log_counter (id, value) VALUES (true, 0)",
    ),
    # 2: ownership leases of RUNNING rows (rows from before are unowned and expired).
    (
        """ALTER TABLE interventions ADD COLUMN owner text,
            ADD COLUMN lease_until timestamptz NOT NULL DEFAULT 'epoch'""",
        "CREATE INDEX interventions_lease ON interventions (lease_until) WHERE status = 1",
    ),
    # 3: every LLM provider attempt and what it cost (``store/attempts_postgres.py``).
    (
        """CREATE TABLE oracle_attempts (
            id bigserial PRIMARY KEY,
            request_id text NOT NULL,
            client_id text NOT NULL,
            oracle text NOT NULL,
            model text NOT NULL,
            purpose text NOT NULL,
            sample integer NOT NULL,
            attempt integer NOT NULL,
            started_at timestamptz NOT NULL,
            latency_ms double precision NOT NULL,
            outcome text NOT NULL,
            http_status integer NOT NULL DEFAULT 0,
            input_tokens bigint NOT NULL DEFAULT 0,
            output_tokens bigint NOT NULL DEFAULT 0,
            cost_usd double precision NOT NULL DEFAULT 0,
            error text NOT NULL DEFAULT '',
            prompt_version text NOT NULL DEFAULT '',
            retry_after_s double precision
        )""",
        "CREATE INDEX oracle_attempts_request ON oracle_attempts (request_id, id)",
        "CREATE INDEX oracle_attempts_client ON oracle_attempts (client_id, started_at)",
        "CREATE INDEX oracle_attempts_oracle ON oracle_attempts (oracle, started_at)",
    ),
    # 4: the human review queue (``review/queue_postgres.py``) and access tokens (``auth.py``).
    # Numbered 4 after oracle_attempts (3); both were written at the same time.
    (
        """CREATE TABLE review_tasks (
            request_id text PRIMARY KEY,
            priority integer NOT NULL DEFAULT 0,
            overlap integer NOT NULL DEFAULT 1 CHECK (overlap >= 1),
            reviews_done integer NOT NULL DEFAULT 0,
            state integer NOT NULL DEFAULT 0,
            n_steps integer NOT NULL,
            payload json NOT NULL,
            created_at timestamptz NOT NULL,
            done_at timestamptz,
            agreement double precision,
            claim_id bigint,
            lease_until timestamptz NOT NULL DEFAULT 'epoch'
        )""",
        """CREATE INDEX review_tasks_queue ON review_tasks (priority DESC, created_at)
            WHERE state = 0""",
        "CREATE INDEX review_tasks_done ON review_tasks (done_at) WHERE state > 0",
        """CREATE TABLE review_claims (
            claim_id bigserial PRIMARY KEY,
            request_id text NOT NULL REFERENCES review_tasks (request_id),
            reviewer text NOT NULL,
            token_hash text NOT NULL,
            claimed_at timestamptz NOT NULL,
            lease_until timestamptz NOT NULL,
            ended_at timestamptz,
            outcome text
        )""",
        # At most one claim per task is open: a task is never held by two reviewers at once.
        """CREATE UNIQUE INDEX review_claims_open ON review_claims (request_id)
            WHERE outcome IS NULL""",
        "CREATE INDEX review_claims_task ON review_claims (request_id, reviewer)",
        """CREATE TABLE review_submissions (
            request_id text NOT NULL REFERENCES review_tasks (request_id),
            reviewer text NOT NULL,
            claim_id bigint NOT NULL,
            submitted_at timestamptz NOT NULL,
            status smallint NOT NULL,
            first_error_step integer NOT NULL,
            category smallint NOT NULL,
            replacements json NOT NULL,
            explanation text NOT NULL,
            PRIMARY KEY (request_id, reviewer)
        )""",
        "CREATE INDEX review_submissions_reviewer ON review_submissions (reviewer, submitted_at)",
        """CREATE TABLE review_audit (
            id bigserial PRIMARY KEY,
            at timestamptz NOT NULL,
            request_id text NOT NULL,
            reviewer text NOT NULL,
            event text NOT NULL,
            detail text NOT NULL DEFAULT ''
        )""",
        "CREATE INDEX review_audit_request ON review_audit (request_id, id)",
        """CREATE TABLE auth_tokens (
            token_hash text PRIMARY KEY,
            name text NOT NULL,
            role text NOT NULL CHECK (role IN ('client', 'reviewer', 'admin')),
            created_at timestamptz NOT NULL,
            revoked_at timestamptz
        )""",
        "CREATE INDEX auth_tokens_name ON auth_tokens (name)",
    ),
)

# Leases run on the database's clock, so replicas on different hosts agree on expiry.
# An owner-less lease (a NULL length) is already expired.
LEASE_UNTIL = "COALESCE(statement_timestamp() + {} * interval '1 second', 'epoch')"

MIGRATION_LOCK = "SELECT pg_advisory_xact_lock($1)"
CREATE_MIGRATIONS = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"""
SCHEMA_VERSION = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"
RECORD_MIGRATION = "INSERT INTO schema_migrations (version) VALUES ($1)"

LOCK_COUNTER = "SELECT value FROM log_counter FOR UPDATE"
SET_COUNTER = "UPDATE log_counter SET value = $1"
LAST_SEQUENCE = "SELECT COALESCE(MAX(sequence), 0) FROM interventions"
EXISTING = "SELECT content_hash, oracle_name FROM interventions WHERE request_id = $1"
CACHE_HIT = """SELECT request_id, status, first_error_step, category, replacements, explanation
    FROM interventions
    WHERE content_hash = $1 AND oracle_name = $2 AND oracle_config_hash = $3
        AND status IN (2, 3, 4)
    LIMIT 1"""
_REQUEST_PARAMS = (
    "$1, $2, $3, $4, $5::boolean, $6::json, $7::json, $8::json, $9, $10, $11, $12::json, $13"
)
# Inserts the request ($1-$13) unless its request_id exists or, with $22, the verdict of the
# same content ($15), oracle ($16) and oracle config ($19) is in the cache; ``req`` holds
# its request_id if it went in.
_NEW_REQUEST = f"""WITH req AS (
        INSERT INTO requests ({REQUEST_COLUMNS})
        SELECT {_REQUEST_PARAMS}
        WHERE NOT ($22::boolean AND EXISTS (
            SELECT 1 FROM interventions
            WHERE content_hash = $15 AND oracle_name = $16 AND oracle_config_hash = $19
                AND status IN (2, 3, 4)))
        ON CONFLICT (request_id) DO NOTHING
        RETURNING request_id)"""
# The common case in one round trip: insert request and RUNNING row unless the request_id
# exists (then nothing, without an error) or, with $22, a cached verdict exists; $23 and
# $24 are the owner and the lease length.
ACCEPT_NEW = f"""{_NEW_REQUEST}
    INSERT INTO interventions (request_id, client_id, content_hash, oracle_name,
        oracle_backend, oracle_version, oracle_config_hash, status, created_at, owner,
        lease_until)
    SELECT request_id, $14, $15, $16, $17, $18, $19, $20::smallint, $21::timestamptz,
        $23::text, {LEASE_UNTIL.format("$24::float8")}
    FROM req"""
# The verdict columns' types, in ``RESULT_COLUMNS`` order.
RESULT_TYPES = (
    "integer", "smallint", "json", "text", "bigint", "bigint", "float8", "float8", "smallint",
    "text", "boolean",
)
_RESULT_PARAMS = ", ".join(f"${n}::{t}" for n, t in enumerate(RESULT_TYPES, 24))
# accept_finished's common case in one round trip: as ACCEPT_NEW, but the row goes in
# finished (one insert, no update: no dead row left behind), with its log sequence $23,
# verdict $24-$34, finished_at $35 and raw output $36. Returns 1, or 0 if nothing was new.
ACCEPT_FINISHED_NEW = f"""{_NEW_REQUEST},
    ins AS (
        INSERT INTO interventions (request_id, client_id, content_hash, oracle_name,
            oracle_backend, oracle_version, oracle_config_hash, status, created_at, sequence,
            {RESULT_COLUMNS}, finished_at)
        SELECT request_id, $14, $15, $16, $17, $18, $19, $20::smallint, $21::timestamptz,
            $23::bigint, {_RESULT_PARAMS}, $35::timestamptz
        FROM req
        RETURNING request_id),
    raw AS (
        INSERT INTO raw_outputs (request_id, raw) SELECT request_id, $36::text FROM ins
        WHERE $36::text <> '')
    SELECT count(*) FROM ins"""
INSERT_REQUEST = f"""INSERT INTO requests ({REQUEST_COLUMNS}) VALUES ({_REQUEST_PARAMS})
    ON CONFLICT (request_id) DO NOTHING"""
INSERT_CACHED = """INSERT INTO interventions (request_id, client_id, content_hash, oracle_name,
    oracle_backend, oracle_version, oracle_config_hash, status, created_at, sequence,
    first_error_step, category, replacements, explanation, cached, cached_from, finished_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, true, $15, $16)"""
# A PENDING result only moves a RUNNING row; a final one finishes RUNNING and PENDING rows.
FINISH = f"""WITH done AS (
        UPDATE interventions SET (status, sequence, {RESULT_COLUMNS}, finished_at)
            = ($2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
        WHERE request_id = $1 AND (status = 1 OR (status = 5 AND $16::boolean))
        RETURNING request_id),
    raw AS (
        INSERT INTO raw_outputs (request_id, raw) SELECT request_id, $17::text FROM done
        WHERE $17::text <> ''
        ON CONFLICT (request_id) DO UPDATE SET raw = excluded.raw)
    SELECT count(*) FROM done"""

_FROM = "FROM interventions i JOIN requests r ON r.request_id = i.request_id"
GET = f"SELECT {ROW_COLUMNS} {_FROM} WHERE i.request_id = $1"
READ_LOG = f"""SELECT {ROW_COLUMNS} {_FROM}
    WHERE i.sequence > $1 ORDER BY i.sequence LIMIT $2"""
READ_LOG_CLIENT = f"""SELECT {ROW_COLUMNS} {_FROM}
    WHERE i.client_id = $1 AND i.sequence > $2 ORDER BY i.sequence LIMIT $3"""
UNFINISHED = f"""SELECT {RECORD_COLUMNS} {_FROM}
    WHERE i.status = 1 ORDER BY i.created_at LIMIT $1"""
RENEW = f"""UPDATE interventions SET lease_until = {LEASE_UNTIL.format("$3::float8")}
    WHERE request_id = ANY($2::text[]) AND owner = $1 AND status = 1"""
# SKIP LOCKED: a row that another claimer (or its owner's renewal) has locked is skipped,
# and a row locked then changed by a committed claim is re-checked, so each goes to one.
CLAIM = f"""WITH claimed AS (
        UPDATE interventions SET owner = $1, lease_until = {LEASE_UNTIL.format("$2::float8")}
        WHERE request_id IN (
            SELECT request_id FROM interventions
            WHERE status = 1 AND lease_until < statement_timestamp()
            ORDER BY lease_until LIMIT $3
            FOR UPDATE SKIP LOCKED)
        RETURNING request_id)
    SELECT {RECORD_COLUMNS} {_FROM} JOIN claimed c ON c.request_id = i.request_id
    ORDER BY i.created_at"""
LEASE = "SELECT owner, lease_until FROM interventions WHERE request_id = $1"
RAW_OUTPUT = """SELECT COALESCE(o.raw, c.raw) AS raw FROM interventions i
    LEFT JOIN raw_outputs o ON o.request_id = i.request_id
    LEFT JOIN raw_outputs c ON c.request_id = i.cached_from
    WHERE i.request_id = $1"""
