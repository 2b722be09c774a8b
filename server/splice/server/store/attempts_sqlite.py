"""Attempt rows in the SQLite store's file, over a connection of their own (one thread).

Each insert is its own transaction (WAL, ``synchronous=FULL``): durable on return. Writers
of the store and of this ledger take turns through SQLite's lock (``busy_timeout``).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, TypeVar

from splice.server.oracles.llm.ledger import Attempt, Spend, UsageRow
from splice.server.store._codec import as_datetime, to_micros
from splice.server.store.attempts import ATTEMPT_COLUMNS, SCHEMA_VERSION, AttemptRows, filters
from splice.server.store.base import StoreError

T = TypeVar("T")

_INSERT = f"""INSERT INTO oracle_attempts ({ATTEMPT_COLUMNS})
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""
_FOR_REQUEST = f"SELECT {ATTEMPT_COLUMNS} FROM oracle_attempts WHERE request_id = ? ORDER BY id"
_SUMS = """COALESCE(SUM(outcome <> 'unavailable'), 0), COALESCE(SUM(input_tokens), 0),
    COALESCE(SUM(output_tokens), 0), COALESCE(SUM(cost_usd), 0.0)"""
_SPENT_CLIENT = f"SELECT {_SUMS} FROM oracle_attempts WHERE client_id = ? AND started_at >= ?"
_SPENT_ALL = f"SELECT {_SUMS} FROM oracle_attempts WHERE started_at >= ?"
_TOTALS = "SELECT client_id, oracle, {sums} FROM oracle_attempts WHERE started_at >= ?{where} \
GROUP BY client_id, oracle ORDER BY client_id, oracle"


def attempt_from_row(row: Any) -> Attempt:
    """A stored row (columns in ``ATTEMPT_COLUMNS`` order) as an :class:`Attempt`."""
    values = list(row)
    values[7] = as_datetime(values[7])
    return Attempt(*values)


class SqliteAttemptRows(AttemptRows):
    """``oracle_attempts`` in the SQLite file at ``path``."""

    def __init__(self, path: str, *, busy_timeout_s: float = 30.0) -> None:
        self.path = path
        self._busy_timeout_s = busy_timeout_s
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="splice-attempts")
        self._conn: sqlite3.Connection | None = None

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def call() -> T:
            if self._conn is None:
                raise StoreError(f"attempt ledger of {self.path} is not open")
            return fn(self._conn)

        return await asyncio.get_running_loop().run_in_executor(self._thread, call)

    async def open(self) -> None:
        def connect() -> None:
            conn = sqlite3.connect(self.path, timeout=self._busy_timeout_s,
                                   isolation_level=None)
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
                conn.execute(f"PRAGMA busy_timeout={int(self._busy_timeout_s * 1000)}")
                version = conn.execute(
                    "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0]
            except sqlite3.Error as exc:
                conn.close()
                raise StoreError(f"cannot open the attempt ledger in {self.path}: {exc}; "
                                 "open the store first (it applies the migrations)") from exc
            if version < SCHEMA_VERSION:
                conn.close()
                raise StoreError(f"{self.path} has schema version {version}; the attempt "
                                 f"ledger needs {SCHEMA_VERSION}: open the store first")
            self._conn = conn

        await asyncio.get_running_loop().run_in_executor(self._thread, connect)

    async def close(self) -> None:
        def disconnect() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        await asyncio.get_running_loop().run_in_executor(self._thread, disconnect)
        self._thread.shutdown(wait=False)

    async def insert(self, attempt: Attempt) -> None:
        a = attempt
        values = (a.request_id, a.client_id, a.oracle, a.model, a.purpose, a.sample, a.attempt,
                  to_micros(a.started_at), a.latency_ms, a.outcome, a.http_status,
                  a.input_tokens, a.output_tokens, a.cost_usd, a.error, a.prompt_version,
                  a.retry_after_s)
        try:
            await self._run(lambda conn: conn.execute(_INSERT, values))
        except sqlite3.Error as exc:
            raise StoreError(f"cannot record an attempt: {exc}") from exc

    async def for_request(self, request_id: str) -> list[Attempt]:
        rows = await self._run(
            lambda conn: conn.execute(_FOR_REQUEST, (request_id,)).fetchall())
        return [attempt_from_row(r) for r in rows]

    async def spent(self, client_id: str | None, since: datetime) -> Spend:
        micros = to_micros(since)
        if client_id is None:
            row = await self._run(lambda conn: conn.execute(_SPENT_ALL, (micros,)).fetchone())
        else:
            row = await self._run(
                lambda conn: conn.execute(_SPENT_CLIENT, (client_id, micros)).fetchone())
        return Spend(int(row[0]), int(row[1]), int(row[2]), float(row[3]))

    async def totals(self, client_id: str | None, oracle: str | None,
                     since: datetime) -> list[UsageRow]:
        where, values = filters(client_id, oracle, "?")
        query = _TOTALS.format(sums=_SUMS, where=where)
        params = (to_micros(since), *values)
        rows = await self._run(lambda conn: conn.execute(query, params).fetchall())
        return [UsageRow(r[0], r[1], Spend(int(r[2]), int(r[3]), int(r[4]), float(r[5])))
                for r in rows]
