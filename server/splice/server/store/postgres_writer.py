"""The PostgreSQL store's writer: one task, group commit, one bad operation fails alone.

Whatever has queued up runs in one transaction on the writer's own connection. A batch
that may append to the log first locks the one-row ``log_counter`` and assigns sequences
from it: the row lock serialises such transactions across all replicas until they commit,
so sequence numbers are in commit order (a SERIAL would not be). The common case of a whole
batch is one statement for all its accepts, one for all its accepts with a result, and two
for all its finishes (``postgres_batch``); if the database rejects one, the batch is rolled
back and re-run one operation at a time, and an operation that fails then is dropped and the
rest re-run.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg
from splice.server.store import postgres_sql as sql
from splice.server.store.base import RequestConflictError, StoreError, UnknownRequestError
from splice.server.store.postgres_batch import (
    CONNECTION_ERRORS,
    RETRYABLE,
    BatchFailed,
    BatchItem,
    Counter,
    run_whole_batch,
)

log = logging.getLogger("splice.store")
T = TypeVar("T")

_CALLER_ERRORS = (UnknownRequestError, RequestConflictError)  # raised before any write
_Run = Callable[[asyncpg.Connection, Counter | None], Awaitable[Any]]
_Outcomes = list[tuple[asyncio.Future[Any], Any, BaseException | None]]


@dataclass(slots=True)
class _Op:
    run: _Run
    needs_sequence: bool
    future: asyncio.Future[Any]
    item: BatchItem | None


class _OpFailed(Exception):
    def __init__(self, op: _Op, error: BaseException) -> None:
        super().__init__(str(error))
        self.op, self.error = op, error


class PostgresWriter:
    """Runs write operations in group commits; see the module docstring."""

    def __init__(
        self, connect: Callable[[], Awaitable[asyncpg.Connection]],
        conn: asyncpg.Connection, on_commit: Callable[[int], None], *, max_batch: int,
        max_attempts: int,
    ) -> None:
        self._connect, self._conn, self._on_commit = connect, conn, on_commit
        self._max_batch, self._max_attempts = max_batch, max_attempts
        self._pending: list[_Op] = []
        self._wakeup = asyncio.Event()
        self._closing = False
        self._task = asyncio.create_task(self._write_loop(), name="splice-postgres-write")

    async def close(self) -> None:
        """Commit what has queued up, stop, and close the connection."""
        if self._closing:
            return
        self._closing = True
        self._wakeup.set()
        await self._task
        if self._conn is not None:
            await self._conn.close()

    async def write(
        self, run: Callable[[asyncpg.Connection, Counter | None], Awaitable[T]], *,
        needs_sequence: bool, item: BatchItem | None = None,
    ) -> T:
        """Run ``run`` in the next group commit (``item``: its whole-batch form, if any)."""
        if self._closing:
            raise StoreError("the store is not open")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._pending.append(_Op(run, needs_sequence, future, item))
        self._wakeup.set()
        return await future

    async def _write_loop(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._pending:
                ops = self._pending[:self._max_batch]
                del self._pending[:self._max_batch]
                try:
                    await self._commit(ops)
                except BaseException as exc:  # cancelled: nobody may wait forever
                    _fail(ops, StoreError(f"postgres write aborted: {exc!r}"))
                    raise
            if self._closing:
                return

    async def _commit(self, ops: list[_Op]) -> None:
        """Run ``ops`` in one transaction; drop and fail any op that the database rejects."""
        attempts, batched = 0, len(ops) > 1
        while ops:
            try:
                if self._conn is None or self._conn.is_closed():
                    self._conn = await self._connect()
                outcomes, head = await _run_batch(self._conn, ops, batched)
            except BatchFailed:
                batched = False
                continue
            except _OpFailed as failed:
                _fail([failed.op], _store_error(failed.error))
                ops = [op for op in ops if op is not failed.op]
                continue
            except RETRYABLE as exc:
                attempts += 1
                if attempts < self._max_attempts:
                    continue
                _fail(ops, _store_error(exc))
                return
            except Exception as exc:  # the connection is gone: the outcome is unknown
                log.error("postgres group commit of %d operations failed: %s", len(ops), exc)
                _fail(ops, _store_error(exc))
                if self._conn is not None:
                    self._conn.terminate()
                    self._conn = None
                return
            self._on_commit(head)
            for future, value, error in outcomes:
                if future.done():
                    continue
                if error is None:
                    future.set_result(value)
                else:
                    future.set_exception(error)
            return


async def _run_batch(
    conn: asyncpg.Connection, ops: list[_Op], batched: bool,
) -> tuple[_Outcomes, int]:
    outcomes: _Outcomes = []
    async with conn.transaction():
        ctr = None
        if any(op.needs_sequence for op in ops):
            # Lock the counter before any row, so every replica locks in the same order.
            ctr = Counter(await conn.fetchval(sql.LOCK_COUNTER))
            start = ctr.value
        done = await run_whole_batch(conn, [op.item for op in ops], ctr) if batched else {}
        for k, op in enumerate(ops):
            if k in done:
                outcomes.append((op.future, done[k], None))
                continue
            try:
                value = await op.run(conn, ctr if op.needs_sequence else None)
            except _CALLER_ERRORS as exc:
                outcomes.append((op.future, None, exc))
                continue
            except (*CONNECTION_ERRORS, *RETRYABLE):
                raise
            except Exception as exc:
                raise _OpFailed(op, exc) from exc
            outcomes.append((op.future, value, None))
        if ctr is not None and ctr.value != start:
            await conn.execute(sql.SET_COUNTER, ctr.value)
    return outcomes, 0 if ctr is None else ctr.value


def _store_error(exc: BaseException) -> BaseException:
    if isinstance(exc, StoreError | ValueError):
        return exc
    error = StoreError(f"postgres write failed: {exc}")
    error.__cause__ = exc
    return error


def _fail(ops: list[_Op], error: BaseException) -> None:
    for op in ops:
        if not op.future.done():
            op.future.set_exception(error)
