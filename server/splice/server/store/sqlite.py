"""SQLite store: one file in WAL mode; the embedded default.

Writes go through one writer thread that owns the write connection and commits whatever
has queued up in one transaction (group commit, ``synchronous=FULL``: durable on return),
with a SAVEPOINT per operation so that one failing operation leaves the others intact.
Reads run on a small thread pool, one connection per thread. Several processes may share
the file: ``BEGIN IMMEDIATE`` serialises their writers, and log sequence numbers are
assigned under that lock, hence in commit order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from splice.sdk.types import Intervention, Status
from splice.server.oracles.base import OracleResult
from splice.server.store import sqlite_sql as sql
from splice.server.store._codec import (
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
    RequestRecord,
    Store,
    StoreError,
    UnknownRequestError,
)

log = logging.getLogger("splice.store")
T = TypeVar("T")

CHECKPOINT_INTERVAL_S = 0.1
JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024


@dataclass(slots=True)
class _Counter:
    """The log head inside the current write transaction."""

    value: int


@dataclass(slots=True)
class _Op:
    run: Callable[[sqlite3.Connection, _Counter], Any]
    future: asyncio.Future[Any]


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
        self._queue: queue.SimpleQueue[_Op | None] = queue.SimpleQueue()
        self._follower = LogFollower(self.last_sequence, poll_interval_s)
        self._records = RecordCache()
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._writer: threading.Thread | None = None
        self._checkpointer: threading.Thread | None = None
        self._committed = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    # -- lifecycle -----------------------------------------------------------------------

    async def open(self) -> None:
        self._loop = asyncio.get_running_loop()
        head = await asyncio.to_thread(self._migrate)
        self._follower.advance(head)
        self._pool = ThreadPoolExecutor(self._readers, thread_name_prefix="splice-sqlite-read")
        self._writer = threading.Thread(
            target=self._write_loop, name="splice-sqlite-write", daemon=True)
        self._writer.start()
        self._checkpointer = threading.Thread(
            target=self._checkpoint_loop, name="splice-sqlite-checkpoint", daemon=True)
        self._checkpointer.start()

    async def close(self) -> None:
        if self._closed or self._writer is None:
            return
        self._closed = True
        self._queue.put(None)
        await asyncio.to_thread(self._writer.join)
        self._committed.set()  # the writer has stopped: let the checkpointer see it and exit
        if self._checkpointer is not None:
            await asyncio.to_thread(self._checkpointer.join)
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

    async def accept(self, record: RequestRecord, *, use_cache: bool = True) -> Accepted:
        record = replace(record, created_at=as_utc(record.created_at))
        req = request_values(record)
        accepted: Accepted = await self._write(
            lambda conn, ctr: self._accept_tx(conn, ctr, record, req, use_cache))
        if accepted.outcome is AcceptOutcome.NEW:
            self._records.put(record)
        return accepted

    def _accept_tx(
        self, conn: sqlite3.Connection, ctr: _Counter, record: RequestRecord,
        req: tuple[Any, ...], use_cache: bool,
    ) -> Accepted:
        found = conn.execute(sql.EXISTING, (record.request_id,)).fetchone()
        if found is not None:
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
        conn.execute(sql.INSERT_REQUEST, req)
        if hit is None:
            status = Status.PENDING if record.initial_status_pending else Status.RUNNING
            conn.execute(sql.INSERT_INTERVENTION, (
                *head, int(status), created, None, 0, 0, "[]", "", 0, None, None))
            return Accepted(AcceptOutcome.NEW, open_intervention(record, status))
        result = cached_result(hit)
        ctr.value += 1
        now = utc_now()
        conn.execute(sql.INSERT_INTERVENTION, (
            *head, int(result.status), created, ctr.value, result.first_error_step,
            int(result.category), hit["replacements"], hit["explanation"], 1,
            hit["request_id"], to_micros(now)))
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
        self, conn: sqlite3.Connection, ctr: _Counter, request_id: str, result: OracleResult,
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

    async def _write(self, run: Callable[[sqlite3.Connection, _Counter], T]) -> T:
        if self._closed or self._loop is None:
            raise StoreError("the store is not open")
        future: asyncio.Future[T] = self._loop.create_future()
        self._queue.put(_Op(run, future))
        return await future

    def _checkpoint_loop(self) -> None:
        """Copy the WAL back into the database off the writer's path (autocheckpoint is off)."""
        conn = self._connect()
        try:
            while True:
                self._committed.wait()
                self._committed.clear()
                if self._closed:
                    return
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error as exc:
                    log.warning("sqlite checkpoint failed: %s", exc)
                time.sleep(CHECKPOINT_INTERVAL_S)
        finally:
            conn.close()

    def _write_loop(self) -> None:
        conn = self._connect()
        conn.execute("PRAGMA wal_autocheckpoint=0")
        conn.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}")
        try:
            stop = False
            while not stop:
                ops: list[_Op] = []
                item = self._queue.get()
                while True:
                    if item is None:
                        stop = True
                    else:
                        ops.append(item)
                    if len(ops) >= self._max_batch:
                        break
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                if ops:
                    self._commit(conn, ops)
        finally:
            conn.close()

    def _commit(self, conn: sqlite3.Connection, ops: list[_Op]) -> None:
        """Run ``ops`` in one transaction, each under its own savepoint, and commit once."""
        outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []
        head = 0
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                ctr = _Counter(conn.execute(sql.LAST_SEQUENCE).fetchone()[0])
                for op in ops:
                    conn.execute("SAVEPOINT op")
                    mark = ctr.value
                    try:
                        outcomes.append((op.future, op.run(conn, ctr), None))
                    except Exception as exc:  # one op's failure must not abort the others
                        conn.execute("ROLLBACK TO op")
                        ctr.value = mark
                        outcomes.append((op.future, None, _op_error(exc)))
                    conn.execute("RELEASE op")
                conn.execute("COMMIT")
                head = ctr.value
                self._committed.set()
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except Exception as exc:
            log.error("sqlite group commit of %d operations failed: %s", len(ops), exc)
            error = StoreError(f"sqlite write failed: {exc}")
            outcomes = [(op.future, None, error) for op in ops]
        assert self._loop is not None
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
            self._loop.call_soon_threadsafe(self._deliver, outcomes, head)

    def _deliver(
        self, outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None]], head: int,
    ) -> None:
        self._follower.advance(head)
        for future, value, error in outcomes:
            if future.done():  # the caller was cancelled; the write stands
                continue
            if error is None:
                future.set_result(value)
            else:
                future.set_exception(error)

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

    async def wait_for_log(self, after: int, timeout: float) -> None:
        await self._follower.wait(after, timeout)

    async def raw_output(self, request_id: str) -> str | None:
        row = await self._read(
            lambda conn: conn.execute(sql.RAW_OUTPUT, (request_id,)).fetchone())
        return None if row is None else row[0]


def _op_error(exc: Exception) -> Exception:
    """What the caller of a failed operation sees: its own errors, or a StoreError."""
    if isinstance(exc, sqlite3.Error):
        wrapped = StoreError(f"sqlite write failed: {exc}")
        wrapped.__cause__ = exc
        return wrapped
    return exc
