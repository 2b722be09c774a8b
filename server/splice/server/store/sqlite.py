"""SQLite store: one file in WAL mode; the embedded default.

Writes go through one writer process per store (``sqlite_writer`` and
``sqlite_writer_process``: group commit, durable on return).
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
    check_final,
)
from splice.server.store.sqlite_writer import SqliteWriter
from splice.server.store.sqlite_writer_process import RESTART_FRAMES, connect

log = logging.getLogger("splice.store")
T = TypeVar("T")

class SqliteStore(Store):
    """The durable store in one SQLite file (see the module docstring)."""

    def __init__(
        self, path: str | os.PathLike[str], *, readers: int = 3, busy_timeout_s: float = 30.0,
        poll_interval_s: float = 0.05, max_batch: int = 1024,
        wal_restart_frames: int = RESTART_FRAMES,
    ) -> None:
        if wal_restart_frames < 1:
            raise ValueError(f"wal_restart_frames must be at least 1, not {wal_restart_frames}")
        self.path = os.fspath(path)
        self._wal_restart_frames = wal_restart_frames
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
        self._writer = SqliteWriter(self.path, self._busy_timeout_s, sql.WRITER_STATEMENTS,
                                    self._follower.advance, self._max_batch,
                                    self._wal_restart_frames)
        await self._writer.start()

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
        return connect(self.path, self._busy_timeout_s)

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
        status = Status.PENDING if record.initial_status_pending else Status.RUNNING
        answer = await self._write(
            "accept", request_values(record), _head(record), _created(record), use_cache,
            int(status), owner, lease_s, None)
        accepted = _accepted(record, answer, status, None)
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
        finished = (int(result.status), result_values(result), result.raw)
        answer = await self._write(
            "accept", request_values(record), _head(record), _created(record), use_cache,
            int(Status.RUNNING), None, 0.0, finished)
        return _accepted(record, answer, result.status, result)

    async def finish(self, request_id: str, result: OracleResult) -> Intervention:
        check_finishable(result)
        record = self._records.pop(request_id)
        answer = await self._write(
            "finish", request_id, int(result.status), result.status.finished,
            result_values(result), result.raw, record is not None)
        if answer[0] == "done":
            assert record is not None
            return finished_intervention(record, result, answer[1], as_datetime(answer[2]))
        return intervention_from_row(answer[1])

    async def renew_leases(self, owner: str, request_ids: Sequence[str], lease_s: float) -> int:
        if not request_ids:
            return 0
        renewed: int = await self._write("renew", owner, json.dumps(list(request_ids)), lease_s)
        return renewed

    async def claim_expired(
        self, owner: str, lease_s: float, limit: int = 1000,
    ) -> list[RequestRecord]:
        rows = await self._write("claim", owner, lease_s, limit)
        claimed = [record_from_row(row) for row in rows]
        for record in claimed:
            self._records.put(record)
        return claimed

    async def _write(self, name: str, *args: Any) -> Any:
        if self._closed or self._writer is None:
            raise StoreError("the store is not open")
        return await self._writer.write(name, *args)

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


def _head(record: RequestRecord) -> tuple[Any, ...]:
    """The identifying columns of ``record``'s interventions row."""
    o = record.oracle
    return (record.request_id, record.client_id, record.content_hash, o.name, o.backend,
            o.version, o.config_hash)


def _created(record: RequestRecord) -> int:
    assert record.created_at is not None
    return to_micros(record.created_at)


def _accepted(record: RequestRecord, answer: tuple[Any, ...], status: Status,
              result: OracleResult | None) -> Accepted:
    """The writer process's answer to ``accept`` as an :class:`Accepted`."""
    kind = answer[0]
    if kind == "new":
        if result is None:
            return Accepted(AcceptOutcome.NEW, open_intervention(record, status))
        return Accepted(AcceptOutcome.NEW, finished_intervention(
            record, result, answer[1], as_datetime(answer[2])))
    if kind == "cached":
        return Accepted(AcceptOutcome.CACHED, finished_intervention(
            record, cached_result(answer[3]), answer[1], as_datetime(answer[2]), cached=True))
    check_duplicate(record, answer[1], answer[2])
    return Accepted(AcceptOutcome.DUPLICATE, intervention_from_row(answer[3]))
