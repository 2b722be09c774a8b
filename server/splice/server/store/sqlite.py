"""SQLite store: one file in WAL mode; the embedded default.

Writes go through one writer thread (``sqlite_writer``: group commit, durable on return).
Reads run on a small thread pool, one connection per thread. Several processes may share
the file: ``BEGIN IMMEDIATE`` serialises their writers, and log sequence numbers are
assigned under that lock, hence in commit order.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC
from typing import Any, TypeVar

from splice.sdk.types import Intervention, Status
from splice.server.oracles.base import OracleResult
from splice.server.store import sqlite_sql as sql
from splice.server.store._codec import (
    RESULT_COLUMNS,
    as_datetime,
    as_utc,
    cached_result,
    finished_intervention,
    intervention_from_row,
    open_intervention,
    record_from_row,
    request_values,
    result_values,
    to_micros,
    utc_now,
)
from splice.server.store._follow import LogFollower
from splice.server.store._records import RecordCache, check_duplicate, check_finishable
from splice.server.store.base import (
    Accepted,
    AcceptOutcome,
    Lease,
    RequestRecord,
    Store,
    StoreError,
    UnknownRequestError,
    check_final,
)
from splice.server.store.sqlite_writer import Counter, SqliteWriter

log = logging.getLogger("splice.store")
T = TypeVar("T")

_INSERT_FINISHED = f"""INSERT INTO interventions (request_id, client_id, content_hash,
    oracle_name, oracle_backend, oracle_version, oracle_config_hash, status, created_at,
    sequence, {RESULT_COLUMNS}, finished_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""
"""A request accepted with its result (``accept_finished``): one row, already in the log."""
_INSERT_REQUEST_IF_NEW = f"{sql.INSERT_REQUEST} ON CONFLICT (request_id) DO NOTHING"
"""Inserts nothing (rowcount 0) where the request_id exists: then it is a duplicate."""


class SqliteStore(Store):
    """The durable store in one SQLite file (see the module docstring)."""

    def __init__(
        self, path: str | os.PathLike[str], *, readers: int = 3, busy_timeout_s: float = 30.0,
        poll_interval_s: float = 0.05, max_batch: int = 1024,
    ) -> None:
        self.path = os.fspath(path)
        self._readers = readers
        self._busy_timeout_s = busy_timeout_s
        self._max_batch = max_batch
        self._follower = LogFollower(self.last_sequence, poll_interval_s)
        self._records = RecordCache()
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._writer: SqliteWriter | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    # -- lifecycle -----------------------------------------------------------------------

    async def open(self) -> None:
        self._loop = asyncio.get_running_loop()
        head = await asyncio.to_thread(self._migrate)
        self._follower.advance(head)
        self._pool = ThreadPoolExecutor(self._readers, thread_name_prefix="splice-sqlite-read")
        self._writer = SqliteWriter(
            self._connect, self._loop, self._follower.advance, self._max_batch)
        self._writer.start()

    async def close(self) -> None:
        if self._closed or self._writer is None:
            return
        self._closed = True
        await self._writer.close()
        await self._follower.aclose()
        if self._pool is not None:
            await asyncio.to_thread(self._pool.shutdown)
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self._busy_timeout_s, isolation_level=None,
                               check_same_thread=False, cached_statements=64)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute(f"PRAGMA busy_timeout={int(self._busy_timeout_s * 1000)}")
        return conn

    def _migrate(self) -> int:
        conn = self._connect()
        try:
            for attempt in range(50):  # a concurrent first open may hold the lock briefly
                try:
                    conn.execute("PRAGMA journal_mode=WAL")
                    break
                except sqlite3.OperationalError:
                    if attempt == 49:
                        raise
                    time.sleep(0.1)
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(sql.CREATE_MIGRATIONS)
                version = conn.execute(sql.SCHEMA_VERSION).fetchone()[0]
                if version > len(sql.MIGRATIONS):
                    raise StoreError(f"{self.path} has schema version {version}, newer than "
                                     f"this server's {len(sql.MIGRATIONS)}")
                for number in range(version + 1, len(sql.MIGRATIONS) + 1):
                    for statement in sql.MIGRATIONS[number - 1]:
                        conn.execute(statement)
                    conn.execute(sql.RECORD_MIGRATION, (number, to_micros(utc_now())))
                    log.info("sqlite store %s: applied migration %d", self.path, number)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            head: int = conn.execute(sql.LAST_SEQUENCE).fetchone()[0]
            return head
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open sqlite store {self.path}: {exc}") from exc
        finally:
            conn.close()

    # -- writes ----------------------------------------------------------------------------

    async def accept(
        self, record: RequestRecord, *, use_cache: bool = True, owner: str | None = None,
        lease_s: float = 0.0,
    ) -> Accepted:
        record = _normalised(record)
        req = request_values(record)
        accepted: Accepted = await self._write(
            lambda conn, ctr: self._accept_tx(conn, ctr, record, req, use_cache, owner, lease_s))
        if accepted.outcome is AcceptOutcome.NEW:
            self._records.put(record)
        return accepted

    async def accept_finished(
        self, record: RequestRecord, result: OracleResult, *, use_cache: bool = True,
        owner: str | None = None, lease_s: float = 0.0,
    ) -> Accepted:
        """One write, so cancelling the caller cannot split it (see :class:`Store`)."""
        check_final(result)
        record = _normalised(record)
        req, fields = request_values(record), result_values(result)
        accepted: Accepted = await self._write(
            lambda conn, ctr: self._accept_tx(conn, ctr, record, req, use_cache, None, 0.0,
                                              (result, fields)))
        return accepted

    def _accept_tx(
        self, conn: sqlite3.Connection, ctr: Counter, record: RequestRecord,
        req: tuple[Any, ...], use_cache: bool, owner: str | None, lease_s: float,
        finished: tuple[OracleResult, tuple[Any, ...]] | None = None,
    ) -> Accepted:
        """Insert ``record`` RUNNING (or PENDING), or already ``finished`` with a result."""
        # Insert first: a new request (the usual case) then costs no lookup.
        if not conn.execute(_INSERT_REQUEST_IF_NEW, req).rowcount:
            found = conn.execute(sql.EXISTING, (record.request_id,)).fetchone()
            check_duplicate(record, found["content_hash"], found["oracle_name"])
            stored = self._get_tx(conn, record.request_id)
            assert stored is not None
            return Accepted(AcceptOutcome.DUPLICATE, stored)
        o = record.oracle
        head = (record.request_id, record.client_id, record.content_hash, o.name, o.backend,
                o.version, o.config_hash)
        assert record.created_at is not None
        created = to_micros(record.created_at)
        hit: sqlite3.Row | None = None
        if use_cache:
            hit = conn.execute(
                sql.CACHE_HIT, (record.content_hash, o.name, o.config_hash)).fetchone()
        if hit is None and finished is not None:
            result, fields = finished
            ctr.value += 1
            now = utc_now()
            conn.execute(_INSERT_FINISHED, (
                *head, int(result.status), created, ctr.value, *fields, to_micros(now)))
            if result.raw:
                conn.execute(sql.INSERT_RAW, (record.request_id, result.raw))
            return Accepted(AcceptOutcome.NEW,
                            finished_intervention(record, result, ctr.value, now))
        if hit is None:
            status = Status.PENDING if record.initial_status_pending else Status.RUNNING
            until = 0 if owner is None else _lease_until(lease_s)
            conn.execute(sql.INSERT_INTERVENTION, (
                *head, int(status), created, None, 0, 0, "[]", "", 0, None, None, owner, until))
            return Accepted(AcceptOutcome.NEW, open_intervention(record, status))
        result = cached_result(hit)
        ctr.value += 1
        now = utc_now()
        conn.execute(sql.INSERT_INTERVENTION, (
            *head, int(result.status), created, ctr.value, result.first_error_step,
            int(result.category), hit["replacements"], hit["explanation"], 1,
            hit["request_id"], to_micros(now), None, 0))
        return Accepted(AcceptOutcome.CACHED,
                        finished_intervention(record, result, ctr.value, now, cached=True))

    async def finish(self, request_id: str, result: OracleResult) -> Intervention:
        check_finishable(result)
        record = self._records.pop(request_id)
        fields = result_values(result)
        done: Intervention = await self._write(
            lambda conn, ctr: self._finish_tx(conn, ctr, request_id, result, fields, record))
        return done

    def _finish_tx(
        self, conn: sqlite3.Connection, ctr: Counter, request_id: str, result: OracleResult,
        fields: tuple[Any, ...], record: RequestRecord | None,
    ) -> Intervention:
        final = result.status.finished
        sequence = ctr.value + 1 if final else None
        finished_at = utc_now() if final else None
        cur = conn.execute(sql.FINISH, (
            int(result.status), sequence, *fields,
            None if finished_at is None else to_micros(finished_at), request_id, final))
        if cur.rowcount == 1:
            if sequence is not None:
                ctr.value = sequence
            if result.raw:
                conn.execute(sql.INSERT_RAW, (request_id, result.raw))
            if record is not None:
                return finished_intervention(record, result, sequence or 0, finished_at)
        found = self._get_tx(conn, request_id)
        if found is None:
            raise UnknownRequestError(request_id)
        return found

    async def renew_leases(self, owner: str, request_ids: Sequence[str], lease_s: float) -> int:
        if not request_ids:
            return 0
        ids = json.dumps(list(request_ids))
        renewed: int = await self._write(lambda conn, _: conn.execute(
            sql.RENEW, (_lease_until(lease_s), owner, ids)).rowcount)
        return renewed

    async def claim_expired(
        self, owner: str, lease_s: float, limit: int = 1000,
    ) -> list[RequestRecord]:
        def claim(conn: sqlite3.Connection, _: Counter) -> list[RequestRecord]:
            # Inside the writer's BEGIN IMMEDIATE: no other process can claim in between.
            rows = conn.execute(sql.EXPIRED, (to_micros(utc_now()), limit)).fetchall()
            ids = json.dumps([row["request_id"] for row in rows])
            conn.execute(sql.CLAIM, (owner, _lease_until(lease_s), ids))
            return [record_from_row(row) for row in rows]

        claimed: list[RequestRecord] = await self._write(claim)
        for record in claimed:
            self._records.put(record)
        return claimed

    async def _write(self, run: Callable[[sqlite3.Connection, Counter], T]) -> T:
        if self._closed or self._writer is None:
            raise StoreError("the store is not open")
        return await self._writer.write(run)

    # -- reads -----------------------------------------------------------------------------

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._pool is None or self._loop is None or self._closed:
            raise StoreError("the store is not open")
        try:
            return await self._loop.run_in_executor(self._pool, lambda: fn(self._reader()))
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite read failed: {exc}") from exc

    @staticmethod
    def _get_tx(conn: sqlite3.Connection, request_id: str) -> Intervention | None:
        row = conn.execute(sql.GET, (request_id,)).fetchone()
        return None if row is None else intervention_from_row(row)

    async def get(self, request_id: str) -> Intervention | None:
        return await self._read(lambda conn: self._get_tx(conn, request_id))

    async def read_log(
        self, after: int, limit: int = 500, client_id: str | None = None
    ) -> list[Intervention]:
        query, args = (sql.READ_LOG, (after, limit)) if client_id is None else (
            sql.READ_LOG_CLIENT, (client_id, after, limit))
        rows = await self._read(lambda conn: conn.execute(query, args).fetchall())
        return [intervention_from_row(row) for row in rows]

    async def last_sequence(self) -> int:
        head: int = await self._read(
            lambda conn: conn.execute(sql.LAST_SEQUENCE).fetchone()[0])
        return head

    async def unfinished(self, limit: int = 10_000) -> list[RequestRecord]:
        rows = await self._read(lambda conn: conn.execute(sql.UNFINISHED, (limit,)).fetchall())
        return [record_from_row(row) for row in rows]

    async def lease(self, request_id: str) -> Lease | None:
        row = await self._read(lambda conn: conn.execute(sql.LEASE, (request_id,)).fetchone())
        if row is None:
            return None
        until = as_datetime(row["lease_until"])
        assert until is not None
        return Lease(row["owner"], until)

    async def wait_for_log(self, after: int, timeout: float) -> None:
        await self._follower.wait(after, timeout)

    async def raw_output(self, request_id: str) -> str | None:
        row = await self._read(
            lambda conn: conn.execute(sql.RAW_OUTPUT, (request_id,)).fetchone())
        return None if row is None else row[0]


def _normalised(record: RequestRecord) -> RequestRecord:
    """``record`` with ``created_at`` aware UTC (the engine's already is: no copy then)."""
    created = record.created_at
    if created is not None and created.tzinfo is UTC:
        return record
    return replace(record, created_at=as_utc(created))


def _lease_until(lease_s: float) -> int:
    """The end of a lease of ``lease_s`` seconds from now, in microseconds."""
    return to_micros(utc_now()) + round(lease_s * 1_000_000)
