"""Attempt rows in the PostgreSQL store's database, over a small pool of their own."""

from __future__ import annotations

from datetime import datetime

import asyncpg
from splice.server.oracles.llm.ledger import Attempt, Spend, UsageRow
from splice.server.store._codec import as_utc
from splice.server.store.attempts import ATTEMPT_COLUMNS, SCHEMA_VERSION, AttemptRows, filters
from splice.server.store.base import StoreError
from splice.server.store.postgres_session import session_settings

_INSERT = f"""INSERT INTO oracle_attempts ({ATTEMPT_COLUMNS})
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"""
_FOR_REQUEST = f"SELECT {ATTEMPT_COLUMNS} FROM oracle_attempts WHERE request_id = $1 ORDER BY id"
_SUMS = """count(*) FILTER (WHERE outcome <> 'unavailable') AS calls,
    COALESCE(sum(input_tokens), 0)::bigint AS input_tokens,
    COALESCE(sum(output_tokens), 0)::bigint AS output_tokens,
    COALESCE(sum(cost_usd), 0)::float8 AS cost_usd"""
_SPENT_CLIENT = f"SELECT {_SUMS} FROM oracle_attempts WHERE client_id = $2 AND started_at >= $1"
_SPENT_ALL = f"SELECT {_SUMS} FROM oracle_attempts WHERE started_at >= $1"
_TOTALS = "SELECT client_id, oracle, {sums} FROM oracle_attempts WHERE started_at >= $1{where} \
GROUP BY client_id, oracle ORDER BY client_id, oracle"
_CONNECTION_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)


def _spend(row: asyncpg.Record) -> Spend:
    return Spend(int(row["calls"]), int(row["input_tokens"]), int(row["output_tokens"]),
                 float(row["cost_usd"]))


class PostgresAttemptRows(AttemptRows):
    """``oracle_attempts`` in the database at ``dsn`` (in ``schema``, as the store)."""

    def __init__(self, dsn: str, *, schema: str | None = None, size: int = 2) -> None:
        self.dsn, self.schema, self._size = dsn, schema, size
        self._settings = session_settings(schema)
        self._pool: asyncpg.Pool | None = None

    def _ready(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StoreError("the attempt ledger is not open")
        return self._pool

    async def open(self) -> None:
        try:
            pool = await asyncpg.create_pool(self.dsn, min_size=1, max_size=self._size,
                                             server_settings=self._settings)
        except _CONNECTION_ERRORS as exc:
            raise StoreError(f"cannot open the attempt ledger: {exc}") from exc
        try:
            version = await pool.fetchval(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
        except asyncpg.UndefinedTableError:
            version = 0
        if version < SCHEMA_VERSION:
            await pool.close()
            raise StoreError(f"schema version {version}; the attempt ledger needs "
                             f"{SCHEMA_VERSION}: open the store first")
        self._pool = pool

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def insert(self, attempt: Attempt) -> None:
        a = attempt
        try:
            await self._ready().execute(
                _INSERT, a.request_id, a.client_id, a.oracle, a.model, a.purpose, a.sample,
                a.attempt, as_utc(a.started_at), a.latency_ms, a.outcome, a.http_status,
                a.input_tokens, a.output_tokens, a.cost_usd, a.error, a.prompt_version,
                a.retry_after_s)
        except _CONNECTION_ERRORS as exc:
            raise StoreError(f"cannot record an attempt: {exc}") from exc

    async def for_request(self, request_id: str) -> list[Attempt]:
        rows = await self._ready().fetch(_FOR_REQUEST, request_id)
        return [Attempt(**{**dict(r), "started_at": as_utc(r["started_at"])}) for r in rows]

    async def spent(self, client_id: str | None, since: datetime) -> Spend:
        pool = self._ready()
        if client_id is None:
            row = await pool.fetchrow(_SPENT_ALL, as_utc(since))
        else:
            row = await pool.fetchrow(_SPENT_CLIENT, as_utc(since), client_id)
        assert row is not None
        return _spend(row)

    async def totals(self, client_id: str | None, oracle: str | None,
                     since: datetime) -> list[UsageRow]:
        where, values = filters(client_id, oracle, "$")
        rows = await self._ready().fetch(_TOTALS.format(sums=_SUMS, where=where),
                                         as_utc(since), *values)
        return [UsageRow(r["client_id"], r["oracle"], _spend(r)) for r in rows]
