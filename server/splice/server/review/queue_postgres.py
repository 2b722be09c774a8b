"""The review queue in the store's PostgreSQL database (and schema), on its own asyncpg pool.

Claims pick a task with ``FOR UPDATE SKIP LOCKED``, so concurrent reviewers (in any number
of server processes) never wait on each other nor get the same task. Every call that names a
lease first locks its task row; the lease is then checked against ``clock_timestamp()``, so a
submit and a take-over of the same task are ordered by that lock and agree on expiry. Leases
run on the database's clock.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

import asyncpg
from splice.server.review import _rows
from splice.server.review.queue import (
    AuditEvent,
    Claim,
    DoneTask,
    QueueStats,
    Review,
    ReviewQueue,
    StaleLeaseError,
    SubmitOutcome,
    TaskContent,
    TokenRow,
    UnknownTaskError,
    check_review,
    hash_token,
    majority,
    new_token,
)
from splice.server.store.postgres_session import session_settings

T = TypeVar("T")

_UNTIL = "clock_timestamp() + $1::float8 * interval '1 second'"
_CLAIM_FREE = """SELECT request_id, claim_id, priority, overlap, reviews_done, payload
    FROM review_tasks t
    WHERE state = 0 AND lease_until < clock_timestamp() AND NOT EXISTS (
        SELECT 1 FROM review_claims c WHERE c.request_id = t.request_id AND c.reviewer = $1
            AND c.outcome IN ('submitted', 'skipped'))
    ORDER BY priority DESC, created_at, request_id LIMIT 1
    FOR UPDATE SKIP LOCKED"""
_AUDIT = """INSERT INTO review_audit (at, request_id, reviewer, event, detail)
    VALUES (clock_timestamp(), $1, $2, $3, $4)"""
_LOCK_TASK = """SELECT overlap, reviews_done, n_steps FROM review_tasks
    WHERE request_id = $1 FOR UPDATE"""
# Ends (or renews) the claim that the token names, only if its lease is live; run after
# _LOCK_TASK, so clock_timestamp() is read once the task is ours.
_END_LIVE = """UPDATE review_claims SET outcome = $3, ended_at = clock_timestamp()
    WHERE request_id = $1 AND token_hash = $2 AND outcome IS NULL
        AND lease_until >= clock_timestamp()
    RETURNING claim_id, reviewer"""
_RENEW_LIVE = f"""UPDATE review_claims SET lease_until = {_UNTIL}
    WHERE request_id = $2 AND token_hash = $3 AND outcome IS NULL
        AND lease_until >= clock_timestamp()
    RETURNING lease_until"""
# Reviewed tasks whose intervention is still PENDING: the store's finish did not happen.
_UNAPPLIED = """SELECT t.request_id FROM review_tasks t
    JOIN interventions i ON i.request_id = t.request_id
    WHERE t.state = 1 AND i.status = 5 ORDER BY t.done_at LIMIT $1"""
_TOKEN_OWNER = "SELECT reviewer FROM review_claims WHERE request_id = $1 AND token_hash = $2"


def _midnight() -> datetime:
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


class PostgresReviewQueue(ReviewQueue):
    """The review queue in PostgreSQL (see the module docstring)."""

    def __init__(self, dsn: str, *, schema: str | None = None, pool_size: int = 8) -> None:
        self.dsn, self.schema, self._pool_size = dsn, schema, pool_size
        self._settings = session_settings(schema)
        self._pool: asyncpg.Pool | None = None

    async def open(self) -> None:
        self._pool = await asyncpg.create_pool(
            self.dsn, min_size=1, max_size=self._pool_size, server_settings=self._settings)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def _tx(self, fn: Callable[[asyncpg.Connection], Awaitable[T | StaleLeaseError]]) -> T:
        """Run ``fn`` in one transaction; an exception it returns is raised after the commit
        (the audit of a refused call is kept)."""
        if self._pool is None:
            raise RuntimeError("the review queue is not open")
        async with self._pool.acquire() as conn, conn.transaction():
            result = await fn(conn)
        if isinstance(result, Exception):
            raise result
        return result

    async def _read(self, fn: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        if self._pool is None:
            raise RuntimeError("the review queue is not open")
        async with self._pool.acquire() as conn:
            return await fn(conn)

    # -- queue -----------------------------------------------------------------------------

    async def enqueue(
        self, request_id: str, content: TaskContent, *, priority: int = 0, overlap: int = 1,
    ) -> bool:
        payload = _rows.content_json(content)

        async def run(conn: asyncpg.Connection) -> bool:
            added = await conn.fetchval(
                """INSERT INTO review_tasks (request_id, priority, overlap, n_steps, payload,
                    created_at) VALUES ($1, $2, $3, $4, $5::json, clock_timestamp())
                    ON CONFLICT DO NOTHING RETURNING true""",
                request_id, priority, overlap, len(content.steps), payload)
            if added:
                await conn.execute(_AUDIT, request_id, "", "queued",
                                   f"priority {priority}, overlap {overlap}")
            return bool(added)

        return await self._tx(run)

    async def claim(self, reviewer: str, lease_s: float) -> Claim | None:
        token = new_token()

        async def run(conn: asyncpg.Connection) -> Claim | None:
            row = await conn.fetchrow(_CLAIM_FREE, reviewer)
            if row is None:
                return None
            request_id = row["request_id"]
            if row["claim_id"] is not None:
                gone = await conn.fetchval(
                    """UPDATE review_claims SET outcome = 'expired', ended_at = lease_until
                        WHERE claim_id = $1 AND outcome IS NULL RETURNING reviewer""",
                    row["claim_id"])
                if gone is not None:
                    await conn.execute(_AUDIT, request_id, gone, "expired", "")
            claim = await conn.fetchrow(
                f"""INSERT INTO review_claims (request_id, reviewer, token_hash, claimed_at,
                    lease_until) VALUES ($2, $3, $4, clock_timestamp(), {_UNTIL})
                    RETURNING claim_id, lease_until""",
                lease_s, request_id, reviewer, hash_token(token))
            await conn.execute(
                "UPDATE review_tasks SET claim_id = $1, lease_until = $2 WHERE request_id = $3",
                claim["claim_id"], claim["lease_until"], request_id)
            await conn.execute(_AUDIT, request_id, reviewer, "claimed", "")
            return Claim(request_id=request_id, lease_token=token,
                         lease_until=claim["lease_until"], priority=row["priority"],
                         overlap=row["overlap"], reviews_done=row["reviews_done"],
                         content=_rows.content_from_json(row["payload"]))

        return await self._tx(run)

    @staticmethod
    async def _lock(conn: asyncpg.Connection, request_id: str) -> asyncpg.Record:
        task = await conn.fetchrow(_LOCK_TASK, request_id)
        if task is None:
            raise UnknownTaskError(f"no review task {request_id!r}")
        return task

    @staticmethod
    async def _stale(conn: asyncpg.Connection, request_id: str, token_hash: str,
                     ) -> StaleLeaseError:
        return StaleLeaseError(request_id, await conn.fetchval(
            _TOKEN_OWNER, request_id, token_hash))

    async def heartbeat(self, request_id: str, lease_token: str, lease_s: float) -> datetime:
        token_hash = hash_token(lease_token)

        async def run(conn: asyncpg.Connection) -> datetime | StaleLeaseError:
            await self._lock(conn, request_id)
            until = await conn.fetchval(_RENEW_LIVE, lease_s, request_id, token_hash)
            if until is None:
                return await self._stale(conn, request_id, token_hash)
            await conn.execute("UPDATE review_tasks SET lease_until = $1 WHERE request_id = $2",
                               until, request_id)
            renewed: datetime = until
            return renewed

        return await self._tx(run)

    async def submit(self, request_id: str, lease_token: str, review: Review) -> SubmitOutcome:
        token_hash = hash_token(lease_token)

        async def run(conn: asyncpg.Connection) -> SubmitOutcome | StaleLeaseError:
            task = await self._lock(conn, request_id)
            claim = await conn.fetchrow(_END_LIVE, request_id, token_hash, "submitted")
            if claim is None:
                stale = await self._stale(conn, request_id, token_hash)
                await conn.execute(_AUDIT, request_id, stale.reviewer,
                                   "stale_submit_refused", "")
                return stale
            check_review(review, task["n_steps"])
            reviewer = claim["reviewer"]
            await conn.execute(
                f"""INSERT INTO review_submissions (request_id, claim_id,
                    {_rows.SUBMISSION_COLUMNS})
                    VALUES ($1, $2, $3, $4, $5, $6, $7::json, $8, clock_timestamp())""",
                request_id, claim["claim_id"], reviewer, int(review.status),
                review.first_error_step, int(review.category),
                _rows.replacements_json(review.replacements), review.explanation)
            done = task["reviews_done"] + 1 >= task["overlap"]
            await conn.execute(
                """UPDATE review_tasks SET reviews_done = reviews_done + 1, claim_id = NULL,
                    lease_until = 'epoch', state = $2,
                    done_at = CASE WHEN $3 THEN clock_timestamp() END
                    WHERE request_id = $1""", request_id, 1 if done else 0, done)
            await conn.execute(_AUDIT, request_id, reviewer, "submitted",
                               _rows.review_detail(review))
            finished = await self._done_task(conn, request_id) if done else None
            if finished is not None:
                await conn.execute(
                    "UPDATE review_tasks SET agreement = $2 WHERE request_id = $1",
                    request_id, majority(finished.reviews)[1])
            return SubmitOutcome(done, task["reviews_done"] + 1, task["overlap"], finished)

        return await self._tx(run)

    async def _give_back(self, request_id: str, token: str, outcome: str, detail: str) -> None:
        token_hash = hash_token(token)

        async def run(conn: asyncpg.Connection) -> StaleLeaseError | None:
            await self._lock(conn, request_id)
            claim = await conn.fetchrow(_END_LIVE, request_id, token_hash, outcome)
            if claim is None:
                return await self._stale(conn, request_id, token_hash)
            await conn.execute("""UPDATE review_tasks SET claim_id = NULL, lease_until = 'epoch'
                WHERE request_id = $1""", request_id)
            await conn.execute(_AUDIT, request_id, claim["reviewer"], outcome, detail)
            return None

        await self._tx(run)

    async def skip(self, request_id: str, lease_token: str, reason: str = "") -> None:
        await self._give_back(request_id, lease_token, "skipped", reason[:1000])

    async def release(self, request_id: str, lease_token: str) -> None:
        await self._give_back(request_id, lease_token, "released", "")

    async def unapplied(self, limit: int = 10_000) -> list[str]:
        rows = await self._read(lambda conn: conn.fetch(_UNAPPLIED, limit))
        return [row[0] for row in rows]

    async def done_task(self, request_id: str) -> DoneTask | None:
        return await self._read(lambda conn: self._done_task(conn, request_id))

    @staticmethod
    async def _done_task(conn: asyncpg.Connection, request_id: str) -> DoneTask | None:
        t = await conn.fetchrow(
            """SELECT payload, created_at, done_at FROM review_tasks
                WHERE request_id = $1 AND state > 0""", request_id)
        if t is None:
            return None
        rows = await conn.fetch(
            f"""SELECT {_rows.SUBMISSION_COLUMNS} FROM review_submissions
                WHERE request_id = $1 ORDER BY submitted_at""", request_id)
        return DoneTask(
            request_id=request_id, reviews=tuple(map(_rows.review_from_row, rows)),
            categorize=_rows.content_from_json(t["payload"]).categorize,
            created_at=t["created_at"], done_at=t["done_at"])

    # -- reads ---------------------------------------------------------------------------

    async def stats(self, reviewer: str | None = None) -> QueueStats:
        async def run(conn: asyncpg.Connection) -> QueueStats:
            midnight = _midnight()
            row = await conn.fetchrow(
                """SELECT count(*) FILTER (WHERE state = 0 AND lease_until < clock_timestamp()),
                    count(*) FILTER (WHERE state = 0 AND lease_until >= clock_timestamp()),
                    count(*) FILTER (WHERE state > 0 AND done_at >= $1),
                    count(*) FILTER (WHERE state > 0) FROM review_tasks""", midnight)
            mine = 0 if reviewer is None else await conn.fetchval(
                """SELECT count(*) FROM review_submissions
                    WHERE reviewer = $1 AND submitted_at >= $2""", reviewer, midnight)
            return QueueStats(row[0], row[1], row[2], row[3], mine)

        return await self._read(run)

    async def oldest_open_age_s(self) -> float:
        age = await self._read(lambda conn: conn.fetchval(
            """SELECT EXTRACT(EPOCH FROM clock_timestamp() - MIN(created_at))
                FROM review_tasks WHERE state = 0"""))
        return 0.0 if age is None else max(0.0, float(age))

    async def history(self, reviewer: str, limit: int = 20) -> list[tuple[str, Review]]:
        rows = await self._read(lambda conn: conn.fetch(
            f"""SELECT request_id, {_rows.SUBMISSION_COLUMNS} FROM review_submissions
                WHERE reviewer = $1 ORDER BY submitted_at DESC LIMIT $2""", reviewer, limit))
        return [(row["request_id"], _rows.review_from_row(row)) for row in rows]

    async def audit(self, request_id: str | None = None, limit: int = 200) -> list[AuditEvent]:
        rows = await self._read(lambda conn: conn.fetch(
            """SELECT at, request_id, reviewer, event, detail FROM review_audit
                WHERE $1::text IS NULL OR request_id = $1 ORDER BY id DESC LIMIT $2""",
            request_id, limit))
        return [_rows.audit_from_row(row) for row in rows]

    # -- tokens ----------------------------------------------------------------------------

    async def add_token(self, token_hash: str, name: str, role: str) -> None:
        async def run(conn: asyncpg.Connection) -> None:
            await conn.execute("""INSERT INTO auth_tokens (token_hash, name, role, created_at)
                VALUES ($1, $2, $3, clock_timestamp())""", token_hash, name, role)

        await self._tx(run)

    async def find_token(self, token_hash: str) -> TokenRow | None:
        row = await self._read(lambda conn: conn.fetchrow(
            """SELECT name, role, created_at, revoked_at FROM auth_tokens
                WHERE token_hash = $1 AND revoked_at IS NULL""", token_hash))
        return None if row is None else _rows.token_from_row(row)

    async def revoke_tokens(self, name: str) -> int:
        async def run(conn: asyncpg.Connection) -> int:
            status = await conn.execute(
                """UPDATE auth_tokens SET revoked_at = clock_timestamp()
                    WHERE name = $1 AND revoked_at IS NULL""", name)
            return int(status.split()[-1])

        return await self._tx(run)

    async def list_tokens(self) -> list[TokenRow]:
        rows = await self._read(lambda conn: conn.fetch(
            "SELECT name, role, created_at, revoked_at FROM auth_tokens ORDER BY created_at"))
        return [_rows.token_from_row(row) for row in rows]
