"""The review queue in the store's SQLite file, on its own connection.

Every operation is one ``BEGIN IMMEDIATE`` transaction on one worker thread: SQLite's write
lock serialises claims across processes, so a task never goes to two reviewers at once.
Timestamps are integer microseconds since the epoch, on the (shared) host clock.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TypeVar

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

T = TypeVar("T")

_CLAIM_FREE = """SELECT request_id, claim_id, priority, overlap, reviews_done, payload
    FROM review_tasks t
    WHERE state = 0 AND lease_until < ? AND NOT EXISTS (
        SELECT 1 FROM review_claims c WHERE c.request_id = t.request_id AND c.reviewer = ?
            AND c.outcome IN ('submitted', 'skipped'))
    ORDER BY priority DESC, created_at, request_id LIMIT 1"""
_EXPIRE = """UPDATE review_claims SET outcome = 'expired', ended_at = lease_until
    WHERE claim_id = ? AND outcome IS NULL RETURNING reviewer"""
_TOKEN_CLAIM = f"""SELECT {_rows.CLAIM_COLUMNS}, t.state, t.overlap, t.reviews_done, t.n_steps
    FROM review_tasks t LEFT JOIN review_claims c
        ON c.request_id = t.request_id AND c.token_hash = ?
    WHERE t.request_id = ?"""
_AUDIT = "INSERT INTO review_audit (at, request_id, reviewer, event, detail) VALUES (?,?,?,?,?)"
_END_CLAIM = "UPDATE review_claims SET outcome = ?, ended_at = ? WHERE claim_id = ?"
# Reviewed tasks whose intervention is still PENDING: the store's finish did not happen.
_UNAPPLIED = """SELECT t.request_id FROM review_tasks t
    JOIN interventions i ON i.request_id = t.request_id
    WHERE t.state = 1 AND i.status = 5 ORDER BY t.done_at LIMIT ?"""
_FREE_TASK = "UPDATE review_tasks SET claim_id = NULL, lease_until = 0 WHERE request_id = ?"


def _now() -> int:
    return time.time_ns() // 1000


def _midnight() -> int:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return int(today.timestamp() * 1_000_000)


class SqliteReviewQueue(ReviewQueue):
    """The review queue in one SQLite file (see the module docstring)."""

    def __init__(self, path: str, *, busy_timeout_s: float = 30.0) -> None:
        self.path = path
        self._busy_timeout_s = busy_timeout_s
        self._pool: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None

    async def open(self) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="splice-review-sqlite")
        self._conn = await self._call(self._connect)

    async def close(self) -> None:
        if self._pool is None:
            return
        if self._conn is not None:
            await self._call(self._conn.close)
        self._pool.shutdown()
        self._pool, self._conn = None, None

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self._busy_timeout_s, isolation_level=None,
                               check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute(f"PRAGMA busy_timeout={int(self._busy_timeout_s * 1000)}")
        return conn

    async def _call(self, fn: Callable[[], T]) -> T:
        if self._pool is None:
            raise RuntimeError("the review queue is not open")
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn)

    async def _tx(self, fn: Callable[[sqlite3.Connection, int], T | StaleLeaseError]) -> T:
        """Run ``fn(conn, now)`` in one write transaction; an exception it returns is raised
        after the commit (the audit of a refused call is kept)."""
        def run() -> T | StaleLeaseError:
            conn = self._conn
            assert conn is not None
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(conn, _now())
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result

        result = await self._call(run)
        if isinstance(result, Exception):
            raise result
        return result

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def run() -> T:
            assert self._conn is not None
            return fn(self._conn)

        return await self._call(run)

    # -- queue -----------------------------------------------------------------------------

    async def enqueue(
        self, request_id: str, content: TaskContent, *, priority: int = 0, overlap: int = 1,
    ) -> bool:
        payload = _rows.content_json(content)

        def run(conn: sqlite3.Connection, now: int) -> bool:
            cur = conn.execute(
                """INSERT INTO review_tasks (request_id, priority, overlap, n_steps, payload,
                    created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING""",
                (request_id, priority, overlap, len(content.steps), payload, now))
            if cur.rowcount:
                conn.execute(_AUDIT, (now, request_id, "", "queued",
                                      f"priority {priority}, overlap {overlap}"))
            return cur.rowcount == 1

        return await self._tx(run)

    async def claim(self, reviewer: str, lease_s: float) -> Claim | None:
        token = new_token()

        def run(conn: sqlite3.Connection, now: int) -> Claim | None:
            row = conn.execute(_CLAIM_FREE, (now, reviewer)).fetchone()
            if row is None:
                return None
            request_id = row["request_id"]
            if row["claim_id"] is not None:
                gone = conn.execute(_EXPIRE, (row["claim_id"],)).fetchone()
                if gone is not None:
                    conn.execute(_AUDIT, (now, request_id, gone[0], "expired", ""))
            until = now + round(lease_s * 1_000_000)
            claim_id = conn.execute(
                """INSERT INTO review_claims (request_id, reviewer, token_hash, claimed_at,
                    lease_until) VALUES (?, ?, ?, ?, ?)""",
                (request_id, reviewer, hash_token(token), now, until)).lastrowid
            conn.execute("UPDATE review_tasks SET claim_id = ?, lease_until = ? "
                         "WHERE request_id = ?", (claim_id, until, request_id))
            conn.execute(_AUDIT, (now, request_id, reviewer, "claimed", ""))
            return Claim(request_id=request_id, lease_token=token,
                         lease_until=_rows.micros_to_datetime(until), priority=row["priority"],
                         overlap=row["overlap"], reviews_done=row["reviews_done"],
                         content=_rows.content_from_json(row["payload"]))

        return await self._tx(run)

    @staticmethod
    def _live(conn: sqlite3.Connection, request_id: str, token: str, now: int,
              ) -> sqlite3.Row | StaleLeaseError:
        """The claim that ``token`` names if it is live, else the error to raise."""
        row = conn.execute(_TOKEN_CLAIM, (hash_token(token), request_id)).fetchone()
        if row is None:
            raise UnknownTaskError(f"no review task {request_id!r}")
        live: sqlite3.Row = row
        if (row["claim_id"] is None or row["outcome"] is not None
                or row["current"] != row["claim_id"] or row["lease_until"] < now):
            return StaleLeaseError(request_id, row["reviewer"])
        return live

    async def heartbeat(self, request_id: str, lease_token: str, lease_s: float) -> datetime:
        def run(conn: sqlite3.Connection, now: int) -> datetime | StaleLeaseError:
            claim = self._live(conn, request_id, lease_token, now)
            if isinstance(claim, StaleLeaseError):
                return claim
            until = now + round(lease_s * 1_000_000)
            conn.execute("UPDATE review_claims SET lease_until = ? WHERE claim_id = ?",
                         (until, claim["claim_id"]))
            conn.execute("UPDATE review_tasks SET lease_until = ? WHERE request_id = ?",
                         (until, request_id))
            return _rows.micros_to_datetime(until)

        return await self._tx(run)

    async def submit(self, request_id: str, lease_token: str, review: Review) -> SubmitOutcome:
        def run(conn: sqlite3.Connection, now: int) -> SubmitOutcome | StaleLeaseError:
            claim = self._live(conn, request_id, lease_token, now)
            if isinstance(claim, StaleLeaseError):
                conn.execute(_AUDIT, (now, request_id, claim.reviewer, "stale_submit_refused", ""))
                return claim
            check_review(review, claim["n_steps"])
            reviewer = claim["reviewer"]
            conn.execute(
                f"""INSERT INTO review_submissions (request_id, claim_id,
                    {_rows.SUBMISSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (request_id, claim["claim_id"], reviewer, int(review.status),
                 review.first_error_step, int(review.category),
                 _rows.replacements_json(review.replacements), review.explanation, now))
            conn.execute(_END_CLAIM, ("submitted", now, claim["claim_id"]))
            done = claim["reviews_done"] + 1 >= claim["overlap"]
            conn.execute(
                """UPDATE review_tasks SET reviews_done = reviews_done + 1, claim_id = NULL,
                    lease_until = 0, state = ?, done_at = ? WHERE request_id = ?""",
                (1 if done else 0, now if done else None, request_id))
            conn.execute(_AUDIT, (now, request_id, reviewer, "submitted",
                                  _rows.review_detail(review)))
            task = self._done_task(conn, request_id) if done else None
            if task is not None:
                conn.execute("UPDATE review_tasks SET agreement = ? WHERE request_id = ?",
                             (majority(task.reviews)[1], request_id))
            return SubmitOutcome(done, claim["reviews_done"] + 1, claim["overlap"], task)

        return await self._tx(run)

    async def _give_back(self, request_id: str, token: str, outcome: str, detail: str) -> None:
        def run(conn: sqlite3.Connection, now: int) -> StaleLeaseError | None:
            claim = self._live(conn, request_id, token, now)
            if isinstance(claim, StaleLeaseError):
                return claim
            conn.execute(_END_CLAIM, (outcome, now, claim["claim_id"]))
            conn.execute(_FREE_TASK, (request_id,))
            conn.execute(_AUDIT, (now, request_id, claim["reviewer"], outcome, detail))
            return None

        await self._tx(run)

    async def skip(self, request_id: str, lease_token: str, reason: str = "") -> None:
        await self._give_back(request_id, lease_token, "skipped", reason[:1000])

    async def release(self, request_id: str, lease_token: str) -> None:
        await self._give_back(request_id, lease_token, "released", "")

    async def unapplied(self, limit: int = 10_000) -> list[str]:
        rows = await self._read(lambda conn: conn.execute(_UNAPPLIED, (limit,)).fetchall())
        return [row[0] for row in rows]

    async def done_task(self, request_id: str) -> DoneTask | None:
        return await self._read(lambda conn: self._done_task(conn, request_id))

    @staticmethod
    def _done_task(conn: sqlite3.Connection, request_id: str) -> DoneTask | None:
        t = conn.execute(
            """SELECT payload, created_at, done_at FROM review_tasks
                WHERE request_id = ? AND state > 0""", (request_id,)).fetchone()
        if t is None:
            return None
        rows = conn.execute(
            f"""SELECT {_rows.SUBMISSION_COLUMNS} FROM review_submissions
                WHERE request_id = ? ORDER BY submitted_at""", (request_id,)).fetchall()
        return DoneTask(
            request_id=request_id, reviews=tuple(map(_rows.review_from_row, rows)),
            categorize=_rows.content_from_json(t["payload"]).categorize,
            created_at=_rows.micros_to_datetime(t["created_at"]),
            done_at=_rows.micros_to_datetime(t["done_at"]))

    # -- reads ---------------------------------------------------------------------------

    async def stats(self, reviewer: str | None = None) -> QueueStats:
        def run(conn: sqlite3.Connection) -> QueueStats:
            now, midnight = _now(), _midnight()
            row = conn.execute(
                """SELECT COALESCE(SUM(state = 0 AND lease_until < ?), 0),
                    COALESCE(SUM(state = 0 AND lease_until >= ?), 0),
                    COALESCE(SUM(state > 0 AND done_at >= ?), 0), COALESCE(SUM(state > 0), 0)
                    FROM review_tasks""", (now, now, midnight)).fetchone()
            mine = 0 if reviewer is None else conn.execute(
                """SELECT COUNT(*) FROM review_submissions
                    WHERE reviewer = ? AND submitted_at >= ?""",
                (reviewer, midnight)).fetchone()[0]
            return QueueStats(row[0], row[1], row[2], row[3], mine)

        return await self._read(run)

    async def oldest_open_age_s(self) -> float:
        oldest = await self._read(lambda conn: conn.execute(
            "SELECT MIN(created_at) FROM review_tasks WHERE state = 0").fetchone()[0])
        return 0.0 if oldest is None else max(0.0, (_now() - oldest) / 1e6)

    async def history(self, reviewer: str, limit: int = 20) -> list[tuple[str, Review]]:
        rows = await self._read(lambda conn: conn.execute(
            f"""SELECT request_id, {_rows.SUBMISSION_COLUMNS} FROM review_submissions
                WHERE reviewer = ? ORDER BY submitted_at DESC LIMIT ?""",
            (reviewer, limit)).fetchall())
        return [(row["request_id"], _rows.review_from_row(row)) for row in rows]

    async def audit(self, request_id: str | None = None, limit: int = 200) -> list[AuditEvent]:
        where, args = ("WHERE request_id = ?", (request_id, limit)) if request_id else (
            "", (limit,))
        rows = await self._read(lambda conn: conn.execute(
            f"""SELECT at, request_id, reviewer, event, detail FROM review_audit {where}
                ORDER BY id DESC LIMIT ?""", args).fetchall())
        return [_rows.audit_from_row(row) for row in rows]

    # -- tokens ----------------------------------------------------------------------------

    async def add_token(self, token_hash: str, name: str, role: str) -> None:
        await self._tx(lambda conn, now: conn.execute(
            "INSERT INTO auth_tokens (token_hash, name, role, created_at) VALUES (?, ?, ?, ?)",
            (token_hash, name, role, now)).rowcount)

    async def find_token(self, token_hash: str) -> TokenRow | None:
        row = await self._read(lambda conn: conn.execute(
            """SELECT name, role, created_at, revoked_at FROM auth_tokens
                WHERE token_hash = ? AND revoked_at IS NULL""", (token_hash,)).fetchone())
        return None if row is None else _rows.token_from_row(row)

    async def revoke_tokens(self, name: str) -> int:
        revoked: int = await self._tx(lambda conn, now: conn.execute(
            "UPDATE auth_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
            (now, name)).rowcount)
        return revoked

    async def list_tokens(self) -> list[TokenRow]:
        rows = await self._read(lambda conn: conn.execute(
            "SELECT name, role, created_at, revoked_at FROM auth_tokens ORDER BY created_at"
        ).fetchall())
        return [_rows.token_from_row(row) for row in rows]

