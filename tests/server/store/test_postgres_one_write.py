"""PostgreSQL: a free oracle's request and result go in as one row, never updated."""

from __future__ import annotations

import asyncio

from splice.server.store.base import AcceptOutcome
from splice.server.store.postgres import PostgresStore

from tests.pg import PG_DSN, fresh_schema_url, table_stats
from tests.server.store.helpers import found_error, make_record


async def _row_changes(schema: str) -> tuple[int, ...]:
    """(inserts, updates, dead rows) of ``interventions`` so far."""
    return await table_stats(schema, "interventions", "n_tup_ins", "n_tup_upd", "n_dead_tup")


async def _write(schema: str, rows: int) -> tuple[int, int, int]:
    store = PostgresStore(PG_DSN, schema=schema)
    await store.open()
    try:
        for start in range(0, rows, 50):  # batches of 50: the whole-batch statement
            outcomes = await asyncio.gather(*(
                store.accept_finished(make_record(f"r-{n}", text=f"step {n}"), found_error(1))
                for n in range(start, start + 50)))
            assert all(a.outcome is AcceptOutcome.NEW for a in outcomes)
        alone = await store.accept_finished(make_record("alone", text="alone"), found_error())
        assert alone.outcome is AcceptOutcome.NEW  # a batch of one: the one-by-one statement
        assert len(await store.read_log(0, 1000)) == rows + 1
    finally:
        await store.close()  # its sessions end: their statistics are sent
    for _ in range(100):  # they arrive shortly after
        changes = await _row_changes(schema)
        if changes[0] == rows + 1:
            break
        await asyncio.sleep(0.1)
    return changes


def test_accept_finished_inserts_each_row_once_and_leaves_no_dead_rows() -> None:
    """Accept-then-finish updated each row after inserting it: two commits per request,
    and a dead row per request for vacuum to clean up."""
    with fresh_schema_url("onewrite") as url:
        inserted, updated, dead = asyncio.run(_write(url.rpartition("schema=")[2], 200))
    assert (inserted, updated, dead) == (201, 0, 0)
