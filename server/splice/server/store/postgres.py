"""PostgreSQL store (asyncpg): the same contract as SQLite, for replicas behind a balancer.

Writes go through one writer task per process (``postgres_writer``: group commit, log
sequences in commit order across replicas); reads use a small pool.
"""

from __future__ import annotations

import logging
import re
import zlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import TypeVar

import asyncpg
from splice.sdk.types import Intervention, Status
from splice.server.oracles.base import OracleResult
from splice.server.store import postgres_sql as sql
from splice.server.store._codec import (
    as_utc,
    cached_result,
    finished_intervention,
    intervention_from_row,
    open_intervention,
    record_from_row,
    request_values,
    result_values,
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
from splice.server.store.postgres_batch import (
    CONNECTION_ERRORS,
    AcceptFinishedItem,
    AcceptItem,
    BatchItem,
    Counter,
    FinishItem,
)
from splice.server.store.postgres_session import session_settings
from splice.server.store.postgres_writer import PostgresWriter

log = logging.getLogger("splice.store")
T = TypeVar("T")

_SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


class PostgresStore(Store):
    """The durable store in PostgreSQL (see the module docstring)."""

    def __init__(
        self, dsn: str, *, schema: str | None = None, readers: int = 4,
        poll_interval_s: float = 0.05, max_batch: int = 1024, max_attempts: int = 5,
    ) -> None:
        if schema is not None and not _SCHEMA_NAME.fullmatch(schema):
            raise ValueError(f"bad schema name {schema!r}: letters, digits and _ only")
        self.dsn, self.schema = dsn, schema
        self._settings = session_settings(schema)
        self._readers, self._max_batch, self._max_attempts = readers, max_batch, max_attempts
        self._follower = LogFollower(self.last_sequence, poll_interval_s)
        self._records = RecordCache()
        self._pool: asyncpg.Pool | None = None
        self._writer: PostgresWriter | None = None
        self._closing = False

    # -- lifecycle -----------------------------------------------------------------------

    async def open(self) -> None:
        conn: asyncpg.Connection | None = None
        try:
            conn = await self._connect()
            head = await self._migrate(conn)
            self._pool = await asyncpg.create_pool(
                self.dsn, min_size=1, max_size=self._readers, server_settings=self._settings)
        except BaseException as exc:
            if conn is not None:
                conn.terminate()
            if isinstance(exc, (asyncpg.PostgresError, *CONNECTION_ERRORS)):
                raise StoreError(f"cannot open postgres store: {exc}") from exc
            raise
        self._follower.advance(head)
        self._writer = PostgresWriter(
            self._connect, conn, self._follower.advance, max_batch=self._max_batch,
            max_attempts=self._max_attempts)

    async def close(self) -> None:
        if self._closing or self._writer is None:
            return
        self._closing = True
        await self._writer.close()
        await self._follower.aclose()
        if self._pool is not None:
            await self._pool.close()

    async def _connect(self) -> asyncpg.Connection:
        return await asyncpg.connect(self.dsn, server_settings=self._settings)

    async def _migrate(self, conn: asyncpg.Connection) -> int:
        # One advisory lock per schema: replicas starting together migrate one at a time.
        key = zlib.crc32(f"splice-migrate:{self.schema or 'public'}".encode())
        async with conn.transaction():
            await conn.execute(sql.MIGRATION_LOCK, key)
            if self.schema is not None:
                await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            await conn.execute(sql.CREATE_MIGRATIONS)
            version = await conn.fetchval(sql.SCHEMA_VERSION)
            if version > len(sql.MIGRATIONS):
                raise StoreError(f"schema version {version} is newer than this server's "
                                 f"{len(sql.MIGRATIONS)}")
            for number in range(version + 1, len(sql.MIGRATIONS) + 1):
                for statement in sql.MIGRATIONS[number - 1]:
                    await conn.execute(statement)
                await conn.execute(sql.RECORD_MIGRATION, number)
                log.info("postgres store: applied migration %d", number)
        head: int = await conn.fetchval(sql.LAST_SEQUENCE)
        return head

    # -- writes ----------------------------------------------------------------------------

    async def accept(
        self, record: RequestRecord, *, use_cache: bool = True, owner: str | None = None,
        lease_s: float = 0.0,
    ) -> Accepted:
        record = replace(record, created_at=as_utc(record.created_at))
        status = Status.PENDING if record.initial_status_pending else Status.RUNNING
        args = (*request_values(record), *_head(record), int(status), record.created_at,
                use_cache, owner, None if owner is None else lease_s)

        async def run(conn: asyncpg.Connection, ctr: Counter | None) -> Accepted:
            if await conn.execute(sql.ACCEPT_NEW, *args) == "INSERT 0 1":
                return Accepted(AcceptOutcome.NEW, open_intervention(record, status))
            return await self._not_new(conn, ctr, record)

        accepted: Accepted = await self._write(
            run, needs_sequence=use_cache, item=AcceptItem(args, record))
        if accepted.outcome is AcceptOutcome.NEW:
            self._records.put(record)
        return accepted

    async def accept_finished(
        self, record: RequestRecord, result: OracleResult, *, use_cache: bool = True,
        owner: str | None = None, lease_s: float = 0.0,
    ) -> Accepted:
        """One write: the row goes in finished (no RUNNING row updated after, no dead row)."""
        check_final(result)
        record = replace(record, created_at=as_utc(record.created_at))
        args = (*request_values(record), *_head(record), int(result.status), record.created_at,
                use_cache)
        fields = result_values(result)

        async def run(conn: asyncpg.Connection, ctr: Counter | None) -> Accepted:
            assert ctr is not None
            finished_at = utc_now()
            if await conn.fetchval(sql.ACCEPT_FINISHED_NEW, *args, ctr.value + 1, *fields,
                                   finished_at, result.raw):
                ctr.value += 1
                return Accepted(AcceptOutcome.NEW, finished_intervention(
                    record, result, ctr.value, finished_at))
            return await self._not_new(conn, ctr, record)

        accepted: Accepted = await self._write(
            run, needs_sequence=True, item=AcceptFinishedItem(args, fields, record, result))
        return accepted

    async def _not_new(
        self, conn: asyncpg.Connection, ctr: Counter | None, record: RequestRecord,
    ) -> Accepted:
        """An accept that inserted nothing: a duplicate request_id, or a cache hit."""
        found = await conn.fetchrow(sql.EXISTING, record.request_id)
        if found is not None:
            check_duplicate(record, found["content_hash"], found["oracle_name"])
            stored = await self._get_on(conn, record.request_id)
            assert stored is not None
            return Accepted(AcceptOutcome.DUPLICATE, stored)
        o = record.oracle
        hit = await conn.fetchrow(sql.CACHE_HIT, record.content_hash, o.name, o.config_hash)
        if hit is None or ctr is None:
            raise StoreError(f"accept of {record.request_id!r} inserted nothing")
        result = cached_result(hit)
        ctr.value += 1
        now = utc_now()
        await conn.execute(sql.INSERT_REQUEST, *request_values(record))
        await conn.execute(
            sql.INSERT_CACHED, record.request_id, *_head(record), int(result.status),
            record.created_at, ctr.value, result.first_error_step, int(result.category),
            hit["replacements"], hit["explanation"], hit["request_id"], now)
        return Accepted(AcceptOutcome.CACHED,
                        finished_intervention(record, result, ctr.value, now, cached=True))

    async def finish(self, request_id: str, result: OracleResult) -> Intervention:
        check_finishable(result)
        record = self._records.pop(request_id)
        final = result.status.finished
        fields = result_values(result)

        async def run(conn: asyncpg.Connection, ctr: Counter | None) -> Intervention:
            sequence = None if ctr is None else ctr.value + 1
            finished_at = utc_now() if final else None
            updated = await conn.fetchval(
                sql.FINISH, request_id, int(result.status), sequence, *fields, finished_at,
                final, result.raw)
            if updated:
                if ctr is not None:
                    ctr.value += 1
                if record is not None:
                    return finished_intervention(record, result, sequence or 0, finished_at)
            found = await self._get_on(conn, request_id)
            if found is None:
                raise UnknownRequestError(request_id)
            return found

        done: Intervention = await self._write(
            run, needs_sequence=final, item=FinishItem(request_id, result, fields, record))
        return done

    async def renew_leases(self, owner: str, request_ids: Sequence[str], lease_s: float) -> int:
        if not request_ids:
            return 0
        ids = list(request_ids)

        async def run(conn: asyncpg.Connection, _: Counter | None) -> int:
            status: str = await conn.execute(sql.RENEW, owner, ids, lease_s)
            return int(status.rsplit(" ", 1)[1])  # "UPDATE n"

        return await self._write(run, needs_sequence=False)

    async def claim_expired(
        self, owner: str, lease_s: float, limit: int = 1000,
    ) -> list[RequestRecord]:
        async def run(conn: asyncpg.Connection, _: Counter | None) -> list[RequestRecord]:
            return [record_from_row(row)
                    for row in await conn.fetch(sql.CLAIM, owner, lease_s, limit)]

        claimed = await self._write(run, needs_sequence=False)
        for record in claimed:
            self._records.put(record)
        return claimed

    async def _write(
        self, run: Callable[[asyncpg.Connection, Counter | None], Awaitable[T]], *,
        needs_sequence: bool, item: BatchItem | None = None,
    ) -> T:
        if self._closing or self._writer is None:
            raise StoreError("the store is not open")
        return await self._writer.write(run, needs_sequence=needs_sequence, item=item)

    # -- reads -----------------------------------------------------------------------------

    @staticmethod
    async def _get_on(conn: asyncpg.Connection, request_id: str) -> Intervention | None:
        row = await conn.fetchrow(sql.GET, request_id)
        return None if row is None else intervention_from_row(row)

    async def _read(self, fn: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        if self._pool is None or self._closing:
            raise StoreError("the store is not open")
        try:
            async with self._pool.acquire() as conn:
                return await fn(conn)
        except (asyncpg.PostgresError, *CONNECTION_ERRORS) as exc:
            raise StoreError(f"postgres read failed: {exc}") from exc

    async def get(self, request_id: str) -> Intervention | None:
        return await self._read(lambda conn: self._get_on(conn, request_id))

    async def read_log(
        self, after: int, limit: int = 500, client_id: str | None = None
    ) -> list[Intervention]:
        query, args = (sql.READ_LOG, (after, limit)) if client_id is None else (
            sql.READ_LOG_CLIENT, (client_id, after, limit))
        rows = await self._read(lambda conn: conn.fetch(query, *args))
        return [intervention_from_row(row) for row in rows]

    async def last_sequence(self) -> int:
        head: int = await self._read(lambda conn: conn.fetchval(sql.LAST_SEQUENCE))
        return head

    async def unfinished(self, limit: int = 10_000) -> list[RequestRecord]:
        rows = await self._read(lambda conn: conn.fetch(sql.UNFINISHED, limit))
        return [record_from_row(row) for row in rows]

    async def lease(self, request_id: str) -> Lease | None:
        row = await self._read(lambda conn: conn.fetchrow(sql.LEASE, request_id))
        return None if row is None else Lease(row["owner"], as_utc(row["lease_until"]))

    async def wait_for_log(self, after: int, timeout: float) -> None:
        await self._follower.wait(after, timeout)

    async def raw_output(self, request_id: str) -> str | None:
        raw: str | None = await self._read(lambda conn: conn.fetchval(sql.RAW_OUTPUT, request_id))
        return raw


def _head(record: RequestRecord) -> tuple[str, ...]:
    """The columns of ``record``'s interventions row after its request_id, up to status."""
    o = record.oracle
    return (record.client_id, record.content_hash, o.name, o.backend, o.version, o.config_hash)
