"""Ownership leases of RUNNING rows, on every backend: set, renewed, claimed exactly once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from splice.sdk.types import Status
from splice.server.store import AcceptOutcome, Lease, Store, open_store, postgres_sql, sqlite_sql
from splice.server.store.postgres import PostgresStore

from .helpers import found_error, make_record

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _about(until: datetime, seconds: float) -> bool:
    """``until`` is ``seconds`` from now, give or take what a slow test machine takes."""
    expected = datetime.now(UTC) + timedelta(seconds=seconds)
    return abs((until - expected).total_seconds()) < 5


async def test_accept_leases_new_rows_to_their_owner(store: Store) -> None:
    await store.accept(make_record("r1"), owner="a", lease_s=60)
    lease = await store.lease("r1")
    assert lease is not None and lease.owner == "a" and _about(lease.until, 60)
    again = await store.accept(make_record("r1"), owner="b", lease_s=600)
    assert again.outcome is AcceptOutcome.DUPLICATE and await store.lease("r1") == lease
    await store.accept(make_record("free", text="free"))  # no owner: unowned and expired
    assert await store.lease("free") == Lease(None, EPOCH)
    await store.finish("r1", found_error())
    hit = await store.accept(make_record("copy"), owner="a", lease_s=60)
    assert hit.outcome is AcceptOutcome.CACHED
    assert await store.lease("copy") == Lease(None, EPOCH)
    assert await store.lease("nope") is None


async def test_renew_extends_only_the_owners_running_rows(store: Store) -> None:
    for rid, owner in (("r1", "a"), ("r2", "b"), ("r3", "a")):
        await store.accept(make_record(rid, text=rid), owner=owner, lease_s=1)
    await store.finish("r3", found_error())
    before = {rid: await store.lease(rid) for rid in ("r2", "r3")}
    assert await store.renew_leases("a", ["r1", "r2", "r3", "nope"], 60) == 1
    r1 = await store.lease("r1")
    assert r1 is not None and r1.owner == "a" and _about(r1.until, 60)
    assert {rid: await store.lease(rid) for rid in ("r2", "r3")} == before
    assert await store.renew_leases("a", [], 60) == 0


async def test_claim_takes_only_expired_running_rows(store: Store) -> None:
    expired = [make_record("e1", text="e1"), make_record("e2", text="e2")]
    await store.accept(expired[0], owner="a", lease_s=0)
    await store.accept(expired[1])  # unowned
    await store.accept(make_record("live", text="live"), owner="a", lease_s=60)
    await store.accept(make_record("done", text="done"), owner="a", lease_s=0)
    await store.finish("done", found_error())
    await store.accept(make_record("human", text="human", pending=True), owner="a", lease_s=0)
    await asyncio.sleep(0.01)
    assert await store.claim_expired("b", 30) == expired
    lease = await store.lease("e1")
    assert lease is not None and lease.owner == "b" and _about(lease.until, 30)
    assert await store.claim_expired("c", 30) == []  # b's new leases have not expired
    assert (await store.finish("e1", found_error())).sequence == 2
    late = await store.finish("e1", found_error(step=3))  # the first finish wins
    assert late.first_error_step == 2 and late.sequence == 2
    assert {r.request_id for r in await store.unfinished()} == {"e2", "live"}


async def test_claim_respects_the_limit(store: Store) -> None:
    for i in range(5):
        await store.accept(make_record(f"r{i}", text=str(i)), owner="gone", lease_s=0)
    await asyncio.sleep(0.01)
    first = await store.claim_expired("b", 30, limit=2)
    rest = await store.claim_expired("c", 30, limit=10)
    assert len(first) == 2 and len(rest) == 3
    assert {r.request_id for r in first + rest} == {f"r{i}" for i in range(5)}


async def test_concurrent_claimers_get_each_row_exactly_once(store_url: str, store: Store) -> None:
    count = 200
    for start in range(0, count, 50):
        await asyncio.gather(*(store.accept(make_record(f"r{i}", text=str(i)), owner="dead",
                                            lease_s=0) for i in range(start, start + 50)))
    await asyncio.sleep(0.01)
    other = open_store(store_url)
    await other.open()
    got: dict[str, list[str]] = {"a": [], "b": []}

    async def claimer(s: Store, owner: str) -> None:
        while batch := await s.claim_expired(owner, 60, limit=3):
            got[owner] += [r.request_id for r in batch]
            await asyncio.sleep(0.002)  # let the other process's writer in (SQLite)

    try:
        await asyncio.gather(*(claimer(s, owner) for s, owner in ((store, "a"), (other, "b"))
                               for _ in range(4)))
    finally:
        await other.close()
    everything = got["a"] + got["b"]
    assert len(everything) == len(set(everything)) == count
    assert got["a"] and got["b"], "both claimers should have taken part"
    for owner, ids in got.items():
        for rid in ids[:20]:
            lease = await store.lease(rid)
            assert lease is not None and lease.owner == owner


async def test_rows_from_before_the_lease_migration_are_claimable(
        store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # A database of before the later migrations too: only migrations 1 and 2 applied.
    with monkeypatch.context() as patch:
        for module in (sqlite_sql, postgres_sql):
            patch.setattr(module, "MIGRATIONS", module.MIGRATIONS[:2])
        store = open_store(store_url)
        await store.open()
        await store.accept(make_record("old"), owner="a", lease_s=600)
        await store.close()
    await _undo_lease_migration(store)
    reopened = open_store(store_url)
    await reopened.open()
    try:
        assert await reopened.lease("old") == Lease(None, EPOCH)
        [claimed] = await reopened.claim_expired("b", 30)
        assert claimed.request_id == "old"
        assert (await reopened.finish("old", found_error())).status is Status.FOUND_ERROR
    finally:
        await reopened.close()


async def _undo_lease_migration(store: Store) -> None:
    """Put the database back at schema version 1 (as a server of before leases left it)."""
    statements = [
        "DROP INDEX interventions_lease",
        "ALTER TABLE interventions DROP COLUMN lease_until",
        "ALTER TABLE interventions DROP COLUMN owner",
        "DELETE FROM schema_migrations WHERE version = 2",
    ]
    if isinstance(store, PostgresStore):
        import asyncpg

        conn = await asyncpg.connect(store.dsn, server_settings={"search_path": store.schema or ""})
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()
        return
    import sqlite3

    conn3 = sqlite3.connect(store.path)  # type: ignore[attr-defined]
    with conn3:
        for statement in statements:
            conn3.execute(statement)
    conn3.close()
