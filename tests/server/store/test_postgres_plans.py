"""PostgreSQL: the writer keeps using indexes as its tables grow from empty."""

from __future__ import annotations

import asyncio

from splice.server.store.base import AcceptOutcome
from splice.server.store.postgres import PostgresStore

from tests.pg import PG_DSN, fresh_schema_url, table_stats
from tests.server.store.helpers import found_error, make_record


async def _full_scans(schema: str) -> tuple[int, ...]:
    """(seq scans, rows they read) of ``interventions`` so far."""
    return await table_stats(schema, "interventions", "seq_scan", "seq_tup_read")


async def _one(store: PostgresStore, n: int) -> AcceptOutcome:
    """A free oracle's write (one in four: a paid oracle's accept, then finish)."""
    record = make_record(f"r-{n}", text=f"step {n}")
    if n % 4:
        return (await store.accept_finished(record, found_error(1))).outcome
    accepted = await store.accept(record)
    await store.finish(record.request_id, found_error(1))
    return accepted.outcome


async def _write(store: PostgresStore, first: int, rows: int) -> None:
    for start in range(first, first + rows, 40):
        outcomes = await asyncio.gather(*(_one(store, n) for n in range(start, start + 40)))
        assert all(outcome is AcceptOutcome.NEW for outcome in outcomes)


async def _scans_while_growing(schema: str, rows: int) -> tuple[int, int]:
    """Full scans of ``interventions`` by the writer while the table grows from ``rows``
    to twice that (in batches of 40, one session)."""
    store = PostgresStore(PG_DSN, schema=schema)
    await store.open()
    try:
        await _write(store, 0, rows)
        await asyncio.sleep(1.1)  # a session sends its statistics at most once a second:
        await _write(store, rows, 40)  # this commit sends them
        before = await _full_scans(schema)
        await _write(store, rows + 40, rows)
    finally:
        await store.close()  # its sessions end: their statistics are sent
    await asyncio.sleep(0.5)
    after = await _full_scans(schema)
    return after[0] - before[0], after[1] - before[1]


def test_writes_do_not_scan_the_growing_interventions_table() -> None:
    """A generic plan cached while the table was empty scanned it in full on every commit
    (~1,000 → 400 requests/s in 40 s of load, with autovacuum off as here)."""
    with fresh_schema_url("plans") as url:
        scans, scanned = asyncio.run(_scans_while_growing(url.rpartition("schema=")[2], 4000))
    assert scans <= 4, f"{scans} full scans of interventions read {scanned} rows"
