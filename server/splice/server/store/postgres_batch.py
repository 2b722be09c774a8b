"""Whole-batch statements of the PostgreSQL writer: one round trip for all accepts of a
batch, one for all accepts with their result (free oracles), two for all finishes (a round
trip costs more than the work of one operation).

They handle the common case only; whatever they leave (duplicates, cache hits, rows already
finished, unknown ids) the writer runs one operation at a time afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from splice.sdk.types import Intervention, Status
from splice.server.oracles.base import OracleResult
from splice.server.store._codec import (
    REQUEST_COLUMNS,
    RESULT_COLUMNS,
    finished_intervention,
    open_intervention,
    utc_now,
)
from splice.server.store.base import Accepted, AcceptOutcome, RequestRecord
from splice.server.store.postgres_sql import LEASE_UNTIL, RESULT_TYPES

_ACCEPT_COLUMNS = (
    REQUEST_COLUMNS + ", client_id, content_hash, oracle_name, oracle_backend, oracle_version, "
    "oracle_config_hash, status, created_at, use_cache, owner, lease_s"
)
_ACCEPT_TYPES = (
    "text", "text", "text", "text", "boolean", "json", "json", "json", "text", "text", "text",
    "json", "text", "text", "text", "text", "text", "text", "text", "smallint", "timestamptz",
    "boolean", "text", "float8",
)
_CACHED = """EXISTS (
            SELECT 1 FROM interventions c
            WHERE c.content_hash = f.content_hash AND c.oracle_name = f.oracle_name
                AND c.oracle_config_hash = f.oracle_config_hash AND c.status IN (2, 3, 4))"""
"""Whether the cache holds a verdict for input row ``f``."""


def _input(types: tuple[str, ...], columns: str) -> str:
    """CTEs ``input`` (the batch's arrays $1.. as rows, with ``ord``, their order) and
    ``firsts`` (the first row of each request_id)."""
    arrays = ", ".join(f"${n}::{t}[]" for n, t in enumerate(types, 1))
    return f"""WITH input AS (
        SELECT * FROM unnest({arrays}) WITH ORDINALITY AS t({columns}, ord)),
    firsts AS (SELECT DISTINCT ON (request_id) * FROM input ORDER BY request_id, ord)"""


ACCEPT_MANY = f"""{_input(_ACCEPT_TYPES, _ACCEPT_COLUMNS)},
    req AS (
        INSERT INTO requests ({REQUEST_COLUMNS}) SELECT {REQUEST_COLUMNS} FROM firsts f
        WHERE NOT (f.use_cache AND {_CACHED})
        ORDER BY f.ord
        ON CONFLICT (request_id) DO NOTHING
        RETURNING request_id)
    INSERT INTO interventions (request_id, client_id, content_hash, oracle_name,
        oracle_backend, oracle_version, oracle_config_hash, status, created_at, owner,
        lease_until)
    SELECT f.request_id, f.client_id, f.content_hash, f.oracle_name, f.oracle_backend,
        f.oracle_version, f.oracle_config_hash, f.status, f.created_at, f.owner,
        {LEASE_UNTIL.format("f.lease_s")}
    FROM firsts f JOIN req ON req.request_id = f.request_id
    RETURNING request_id"""

_FINISHED_COLUMNS = (
    f"{REQUEST_COLUMNS}, client_id, content_hash, oracle_name, oracle_backend, oracle_version, "
    f"oracle_config_hash, status, created_at, use_cache, {RESULT_COLUMNS}, raw"
)
_FINISHED_TYPES = (*_ACCEPT_TYPES[:22], *RESULT_TYPES, "text")
_N_FINISHED = len(_FINISHED_TYPES)
# accept_finished for a whole batch: rows that are new (and not cache hits) go in finished,
# numbered after the log head ${_N_FINISHED + 1} in batch order; returns their sequences.
# A row whose verdict an earlier row of the batch could serve from the cache is left to the
# one-by-one path, which serves it as CACHED (as one operation at a time would).
ACCEPT_FINISHED_MANY = f"""{_input(_FINISHED_TYPES, _FINISHED_COLUMNS)},
    req AS (
        INSERT INTO requests ({REQUEST_COLUMNS}) SELECT {REQUEST_COLUMNS} FROM firsts f
        WHERE NOT (f.use_cache AND ({_CACHED}
            OR EXISTS (
            SELECT 1 FROM firsts e
            WHERE e.ord < f.ord AND e.content_hash = f.content_hash
                AND e.oracle_name = f.oracle_name AND e.oracle_config_hash = f.oracle_config_hash
                AND e.status IN (2, 3, 4))))
        ORDER BY f.ord
        ON CONFLICT (request_id) DO NOTHING
        RETURNING request_id),
    numbered AS (
        SELECT f.*, ${_N_FINISHED + 1}::bigint + row_number() OVER (ORDER BY f.ord) AS seq
        FROM firsts f JOIN req ON req.request_id = f.request_id),
    ins AS (
        INSERT INTO interventions (request_id, client_id, content_hash, oracle_name,
            oracle_backend, oracle_version, oracle_config_hash, status, created_at, sequence,
            {RESULT_COLUMNS}, finished_at)
        SELECT request_id, client_id, content_hash, oracle_name, oracle_backend,
            oracle_version, oracle_config_hash, status, created_at, seq, {RESULT_COLUMNS},
            ${_N_FINISHED + 2}::timestamptz
        FROM numbered
        RETURNING request_id, sequence),
    raw AS (
        INSERT INTO raw_outputs (request_id, raw) SELECT request_id, raw FROM numbered
        WHERE raw <> '')
    SELECT request_id, sequence FROM ins"""

LOCK_ROWS = """SELECT request_id, status FROM interventions WHERE request_id = ANY($1::text[])
    ORDER BY request_id FOR UPDATE"""
_FINISH_TYPES = (
    "text", "smallint", "bigint", "integer", "smallint", "json", "text", "bigint", "bigint",
    "float8", "float8", "smallint", "text", "boolean", "timestamptz", "text",
)
_FINISH_COLUMNS = f"request_id, status, sequence, {RESULT_COLUMNS}, finished_at, raw"
FINISH_MANY = f"""WITH input AS (
        SELECT * FROM unnest({", ".join(f"${n}::{t}[]" for n, t in enumerate(_FINISH_TYPES, 1))})
            AS t({_FINISH_COLUMNS})),
    done AS (
        UPDATE interventions i SET (status, sequence, {RESULT_COLUMNS}, finished_at) = (
            x.status, x.sequence, {", ".join(f"x.{c.strip()}" for c in RESULT_COLUMNS.split(","))},
            x.finished_at)
        FROM input x WHERE i.request_id = x.request_id
        RETURNING i.request_id),
    raw AS (
        INSERT INTO raw_outputs (request_id, raw) SELECT request_id, raw FROM input
        WHERE raw <> ''
        ON CONFLICT (request_id) DO UPDATE SET raw = excluded.raw)
    SELECT count(*) FROM done"""


CONNECTION_ERRORS = (
    asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError, OSError, TimeoutError,
)
RETRYABLE = (asyncpg.exceptions.DeadlockDetectedError, asyncpg.exceptions.SerializationError)


class BatchFailed(Exception):
    """A whole-batch statement failed: run the batch again, one operation at a time."""


@dataclass(slots=True)
class Counter:
    """The log head inside the current write transaction (the counter row is locked)."""

    value: int


@dataclass(frozen=True, slots=True)
class AcceptItem:
    """An accept, as ``ACCEPT_MANY`` takes it (``args`` in ``_ACCEPT_COLUMNS`` order)."""

    args: tuple[Any, ...]
    record: RequestRecord


@dataclass(frozen=True, slots=True)
class AcceptFinishedItem:
    """An accept with its final result (``args``: ``_FINISHED_COLUMNS`` up to use_cache)."""

    args: tuple[Any, ...]
    fields: tuple[Any, ...]
    record: RequestRecord
    result: OracleResult


@dataclass(frozen=True, slots=True)
class FinishItem:
    """A finish, with the verdict columns already encoded."""

    request_id: str
    result: OracleResult
    fields: tuple[Any, ...]
    record: RequestRecord | None


async def accept_new(conn: asyncpg.Connection, items: list[AcceptItem]) -> list[bool]:
    """Insert every item that is new and not served from the cache; which ones were."""
    inserted = {row[0] for row in await conn.fetch(ACCEPT_MANY, *zip(*(i.args for i in items),
                                                                     strict=True))}
    outcome = []
    for item in items:
        rid = item.record.request_id
        outcome.append(rid in inserted)
        inserted.discard(rid)  # a later duplicate in the same batch is not NEW
    return outcome


async def accept_finished_new(
    conn: asyncpg.Connection, items: list[AcceptFinishedItem], head: int,
) -> tuple[list[Intervention | None], int]:
    """Insert finished every item that is new and not a cache hit, numbered after ``head``.

    Returns per item its finished intervention (None: left to the one-by-one path) and
    the new head.
    """
    finished_at = utc_now()
    columns = zip(*((*i.args, *i.fields, i.result.raw) for i in items), strict=True)
    sequences = dict(await conn.fetch(ACCEPT_FINISHED_MANY, *columns, head, finished_at))
    out: list[Intervention | None] = []
    for item in items:
        sequence = sequences.pop(item.record.request_id, None)  # a later duplicate: not NEW
        out.append(None if sequence is None else finished_intervention(
            item.record, item.result, sequence, finished_at))
    return out, head + len(out) - out.count(None)


async def finish_open(
    conn: asyncpg.Connection, items: list[FinishItem], head: int | None,
) -> tuple[list[Intervention | None], int | None]:
    """Finish every item whose row is open, assigning sequences after ``head``.

    Returns per item the finished intervention (None: left to the one-by-one path, or
    applied without a remembered record) and the new head.
    """
    rows = await conn.fetch(LOCK_ROWS, sorted({i.request_id for i in items}))
    status = {r["request_id"]: r["status"] for r in rows}
    applied: list[tuple[Any, ...]] = []
    out: list[Intervention | None] = []
    for item in items:
        final = item.result.status.finished
        current = status.get(item.request_id)
        if not (current == Status.RUNNING or (current == Status.PENDING and final)) or (
                final and head is None):
            out.append(None)
            continue
        status[item.request_id] = -1  # one update per row and statement
        sequence = None
        finished_at: datetime | None = None
        if final:
            assert head is not None
            head += 1
            sequence, finished_at = head, utc_now()
        applied.append((item.request_id, int(item.result.status), sequence, *item.fields,
                        finished_at, item.result.raw))
        out.append(None if item.record is None else finished_intervention(
            item.record, item.result, sequence or 0, finished_at))
    if applied:
        count = await conn.fetchval(FINISH_MANY, *zip(*applied, strict=True))
        if count != len(applied):
            raise RuntimeError(f"batched finish updated {count} of {len(applied)} rows")
    return out, head


BatchItem = AcceptItem | AcceptFinishedItem | FinishItem
"""An operation's whole-batch form."""


async def run_whole_batch(
    conn: asyncpg.Connection, items: list[BatchItem | None], ctr: Counter | None,
) -> dict[int, Any]:
    """The common case of every operation at once; returns outcomes by operation index.

    Raises :class:`BatchFailed` if the database rejects a statement (the caller then runs
    the operations one at a time to find the culprit).
    """
    done: dict[int, Any] = {}
    accepts = [(k, i) for k, i in enumerate(items) if isinstance(i, AcceptItem)]
    finishes = [(k, i) for k, i in enumerate(items) if isinstance(i, FinishItem)]
    finished = [(k, i) for k, i in enumerate(items) if isinstance(i, AcceptFinishedItem)]
    try:
        if accepts:
            flags = await accept_new(conn, [item for _, item in accepts])
            for (k, item), new in zip(accepts, flags, strict=True):
                if new:
                    status = (Status.PENDING if item.record.initial_status_pending
                              else Status.RUNNING)
                    done[k] = Accepted(AcceptOutcome.NEW, open_intervention(item.record, status))
        if finished and ctr is not None:
            news, ctr.value = await accept_finished_new(
                conn, [item for _, item in finished], ctr.value)
            for (k, _), iv in zip(finished, news, strict=True):
                if iv is not None:
                    done[k] = Accepted(AcceptOutcome.NEW, iv)
        if finishes:
            finished_ivs, head = await finish_open(
                conn, [item for _, item in finishes], None if ctr is None else ctr.value)
            if ctr is not None and head is not None:
                ctr.value = head
            for (k, _), iv in zip(finishes, finished_ivs, strict=True):
                if iv is not None:
                    done[k] = iv
    except (*CONNECTION_ERRORS, *RETRYABLE):
        raise
    except Exception as exc:
        raise BatchFailed(str(exc)) from exc
    return done
