"""Schema migrations on both backends: from an empty database, and from the committed
fixture of the first released schema (``fixtures/make_schema_v1.py``), data intact."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from splice.sdk.types import Status
from splice.server.store import (
    AcceptOutcome,
    Lease,
    Store,
    StoreError,
    open_store,
    postgres_sql,
    sqlite_sql,
)

from tests.pg import PG_DSN

from .fixtures.make_schema_v1 import FINISHED, POSTGRES_FIXTURE, ROWS, SQLITE_FIXTURE
from .helpers import ORACLE, found_error, make_record, make_steps

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = len(sqlite_sql.MIGRATIONS)
assert len(postgres_sql.MIGRATIONS) == LATEST, "both backends are at the same schema version"


async def _sql(url: str, statement: str) -> list[tuple[Any, ...]]:
    """Run ``statement`` on the database behind ``url``, outside the store."""
    if url.startswith("sqlite:"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        try:
            return [tuple(r) for r in conn.execute(statement).fetchall()]
        finally:
            conn.close()
    import asyncpg

    schema = dict(parse_qsl(urlsplit(url).query))["schema"]
    pg = await asyncpg.connect(PG_DSN, server_settings={"search_path": schema})
    try:
        return [tuple(r) for r in await pg.fetch(statement)]
    finally:
        await pg.close()


async def _versions(url: str) -> list[tuple[Any, ...]]:
    return await _sql(url, "SELECT version, applied_at FROM schema_migrations ORDER BY version")


async def _opened(url: str) -> Store:
    store = open_store(url)
    await store.open()
    return store


# -- from an empty database ----------------------------------------------------------------


async def test_an_empty_database_gets_every_migration_once(store_url: str) -> None:
    await (await _opened(store_url)).close()
    applied = await _versions(store_url)
    assert [v for v, _ in applied] == list(range(1, LATEST + 1))
    await (await _opened(store_url)).close()
    assert await _versions(store_url) == applied  # reopening applies nothing


async def test_a_database_newer_than_the_code_is_refused(store_url: str) -> None:
    await (await _opened(store_url)).close()
    newer = LATEST + 1
    at = 0 if store_url.startswith("sqlite:") else "now()"
    await _sql(store_url, f"INSERT INTO schema_migrations (version, applied_at) "
                          f"VALUES ({newer}, {at})")
    store = open_store(store_url)
    with pytest.raises(StoreError, match=f"version {newer}"):
        await store.open()
    await store.close()


# -- from the committed first schema -------------------------------------------------------


@pytest.fixture
async def v1_url(store_url: str) -> AsyncIterator[str]:
    """``store_url`` holding the committed schema-v1 fixture, not yet opened by the store."""
    if store_url.startswith("sqlite:"):
        shutil.copyfile(SQLITE_FIXTURE, store_url.removeprefix("sqlite:///"))
        yield store_url
        return
    import asyncpg

    schema = dict(parse_qsl(urlsplit(store_url).query))["schema"]
    conn = await asyncpg.connect(PG_DSN)
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
        await conn.execute(f'SET search_path TO "{schema}"')
        await conn.execute(POSTGRES_FIXTURE.read_text())
    finally:
        await conn.close()
    yield store_url


async def test_the_v1_fixture_is_at_version_1(v1_url: str) -> None:
    assert [v for v, _ in await _versions(v1_url)] == [1]


async def test_v1_rows_survive_the_migrations(v1_url: str) -> None:
    store = await _opened(v1_url)
    try:
        assert [v for v, _ in await _versions(v1_url)] == list(range(1, LATEST + 1))
        for sequence, row in enumerate(FINISHED, start=1):
            got, result = await store.get(row.request_id), row.result
            assert got is not None and result is not None
            assert (got.client_id, got.status, got.sequence) == (
                row.client_id, result.status, sequence)
            assert (got.first_error_step, got.replacements, got.category, got.explanation) == (
                result.first_error_step, result.replacements, result.category,
                result.explanation)
            assert (got.failure, got.usage) == (result.failure, result.usage)
            assert got.steps == make_steps(row.text) and got.oracle == ORACLE
            assert got.created_at == datetime(2025, 3, 1, 12, ROWS.index(row), tzinfo=UTC)
            assert got.finished_at is not None and not got.cached
            assert await store.raw_output(row.request_id) == result.raw
        log = await store.read_log(0)
        assert [(i.sequence, i.request_id) for i in log] == [
            (n, row.request_id) for n, row in enumerate(FINISHED, start=1)]
        assert [i.request_id for i in await store.read_log(0, client_id="client-b")] == [
            row.request_id for row in FINISHED if row.client_id == "client-b"]
        assert await store.last_sequence() == len(FINISHED)
    finally:
        await store.close()


async def test_a_v1_running_row_is_claimed_and_finished_after_the_log(v1_url: str) -> None:
    store = await _opened(v1_url)
    try:
        [running] = [row for row in ROWS if row.result is None]
        before = await store.get(running.request_id)
        assert before is not None and before.status is Status.RUNNING and before.sequence == 0
        assert await store.lease(running.request_id) == Lease(None, EPOCH)
        [claimed] = await store.claim_expired("server-2", 30)
        assert claimed.request_id == running.request_id
        assert claimed.steps == make_steps(running.text)
        done = await store.finish(running.request_id, found_error(3))
        assert (done.status, done.sequence) == (Status.FOUND_ERROR, len(FINISHED) + 1)
        assert await store.unfinished() == []
    finally:
        await store.close()


async def test_new_requests_work_on_a_migrated_v1_database(v1_url: str) -> None:
    store = await _opened(v1_url)
    try:
        head = len(FINISHED)
        fresh = await store.accept(make_record("new", text="5 + 5 = 11"), owner="s", lease_s=60)
        assert fresh.outcome is AcceptOutcome.NEW
        assert (await store.finish("new", found_error())).sequence == head + 1
        old = FINISHED[0]
        hit = await store.accept(make_record("again", text=old.text, client_id="client-c"))
        assert hit.outcome is AcceptOutcome.CACHED  # served from a v1 row
        assert hit.intervention.sequence == head + 2
        assert await store.raw_output("again") == await store.raw_output(old.request_id)
        assert [i.request_id for i in await store.read_log(head)] == ["new", "again"]
    finally:
        await store.close()
    reopened = await _opened(v1_url)  # and the migrated database opens again as it is
    try:
        assert await reopened.last_sequence() == head + 2
    finally:
        await reopened.close()
