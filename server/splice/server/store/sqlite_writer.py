"""The SQLite store's writer: one thread, group commit, failures undone per operation.

The writer thread owns the write connection and commits whatever has queued up in one
``BEGIN IMMEDIATE`` transaction (``synchronous=FULL``: durable on return); one failing
operation is undone alone and leaves the others intact (see :meth:`SqliteWriter._commit`).
A second thread checkpoints the WAL off the writer's path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from splice.server.store import sqlite_sql as sql
from splice.server.store.base import StoreError

log = logging.getLogger("splice.store")
T = TypeVar("T")

CHECKPOINT_INTERVAL_S = 0.1
JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024


@dataclass(slots=True)
class Counter:
    """The log head inside the current write transaction."""

    value: int


@dataclass(slots=True)
class _Op:
    run: Callable[[sqlite3.Connection, Counter], Any]
    future: asyncio.Future[Any]


_Outcomes = list[tuple[asyncio.Future[Any], Any, BaseException | None]]


class SqliteWriter:
    """Runs write operations on the writer thread; see the module docstring."""

    def __init__(
        self, connect: Callable[[], sqlite3.Connection], loop: asyncio.AbstractEventLoop,
        on_commit: Callable[[int], None], max_batch: int,
    ) -> None:
        self._connect, self._loop, self._on_commit = connect, loop, on_commit
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Op | None] = queue.SimpleQueue()
        self._committed = threading.Event()
        self._closed = False
        self._writer = threading.Thread(
            target=self._write_loop, name="splice-sqlite-write", daemon=True)
        self._checkpointer = threading.Thread(
            target=self._checkpoint_loop, name="splice-sqlite-checkpoint", daemon=True)

    def start(self) -> None:
        """Start the writer and checkpointer threads."""
        self._writer.start()
        self._checkpointer.start()

    async def close(self) -> None:
        """Commit what has queued up, then stop both threads."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        await asyncio.to_thread(self._writer.join)
        self._committed.set()  # the writer has stopped: let the checkpointer see it and exit
        await asyncio.to_thread(self._checkpointer.join)

    async def write(self, run: Callable[[sqlite3.Connection, Counter], T]) -> T:
        """Run ``run`` in the next group commit; return its value once durable."""
        if self._closed:
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
        """Run ``ops`` in one transaction and commit once.

        Optimistic: the operations run back to back. If one fails, the transaction is rolled
        back and the batch runs again with a savepoint per operation, so that the failing one
        leaves the others intact. Two statements less per operation in the usual case (and
        fewer GIL hand-offs with the event loop); operations must therefore be re-runnable:
        functions of the database, with no effect outside the transaction.
        """
        outcomes: _Outcomes | None = None
        head = 0
        try:
            for isolate in (False, True):
                conn.execute("BEGIN IMMEDIATE")
                try:
                    ctr = Counter(conn.execute(sql.LAST_SEQUENCE).fetchone()[0])
                    outcomes = _run_isolated(conn, ctr, ops) if isolate else _run(conn, ctr, ops)
                    if outcomes is None:
                        conn.execute("ROLLBACK")
                        continue
                    conn.execute("COMMIT")
                    head = ctr.value
                    self._committed.set()
                    break
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
        except Exception as exc:
            log.error("sqlite group commit of %d operations failed: %s", len(ops), exc)
            error = StoreError(f"sqlite write failed: {exc}")
            outcomes = [(op.future, None, error) for op in ops]
        assert outcomes is not None
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
            self._loop.call_soon_threadsafe(self._deliver, outcomes, head)

    def _deliver(self, outcomes: _Outcomes, head: int) -> None:
        self._on_commit(head)
        for future, value, error in outcomes:
            if future.done():  # the caller was cancelled; the write stands
                continue
            if error is None:
                future.set_result(value)
            else:
                future.set_exception(error)


def _run(conn: sqlite3.Connection, ctr: Counter, ops: list[_Op]) -> _Outcomes | None:
    """Run ``ops`` in the open transaction; None as soon as one fails."""
    try:
        return [(op.future, op.run(conn, ctr), None) for op in ops]
    except Exception:
        return None


def _run_isolated(conn: sqlite3.Connection, ctr: Counter, ops: list[_Op]) -> _Outcomes:
    """Run ``ops`` each under its own savepoint: a failing one is undone alone."""
    outcomes: _Outcomes = []
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
    return outcomes


def _op_error(exc: Exception) -> Exception:
    """What the caller of a failed operation sees: its own errors, or a StoreError."""
    if isinstance(exc, sqlite3.Error):
        wrapped = StoreError(f"sqlite write failed: {exc}")
        wrapped.__cause__ = exc
        return wrapped
    return exc
