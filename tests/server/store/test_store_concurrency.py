"""Group commit under load: many concurrent writers, every write durable, the log gap-free."""

from __future__ import annotations

import asyncio

from splice.server.store import AcceptOutcome, Store, open_store

from .helpers import found_error, make_record


async def test_500_concurrent_accept_finish_pairs(store_url: str, store: Store) -> None:
    n = 500

    async def pair(i: int) -> int:
        accepted = await store.accept(make_record(f"r{i}", text=f"t{i}", step_chars=5000))
        assert accepted.outcome is AcceptOutcome.NEW
        return (await store.finish(f"r{i}", found_error())).sequence

    sequences = await asyncio.gather(*(pair(i) for i in range(n)))
    assert sorted(sequences) == list(range(1, n + 1))
    assert await store.last_sequence() == n
    await store.close()
    reopened = open_store(store_url)
    await reopened.open()
    try:
        log = await reopened.read_log(0, limit=n + 10)
        assert [r.sequence for r in log] == list(range(1, n + 1))
        by_id = {r.request_id: r.sequence for r in log}
        assert by_id == {f"r{i}": sequences[i] for i in range(n)}
        assert await reopened.unfinished() == []
    finally:
        await reopened.close()


async def test_concurrent_duplicates_and_cache_hits(store: Store) -> None:
    # The same request_id many times at once: exactly one NEW, the rest DUPLICATE.
    outcomes = await asyncio.gather(*(store.accept(make_record("same")) for _ in range(50)))
    assert sorted(o.outcome.value for o in outcomes).count("new") == 1
    assert {o.outcome for o in outcomes} == {AcceptOutcome.NEW, AcceptOutcome.DUPLICATE}
    done = await store.finish("same", found_error())
    # Many new request_ids for the same finished content at once: all CACHED, gap-free.
    hits = await asyncio.gather(*(store.accept(make_record(f"c{i}")) for i in range(50)))
    assert {h.outcome for h in hits} == {AcceptOutcome.CACHED}
    assert sorted(h.intervention.sequence for h in hits) == list(
        range(done.sequence + 1, done.sequence + 51))
    # Finishing concurrently many times: one sequence, the same row every time.
    await store.accept(make_record("twice", text="twice"))
    finished = await asyncio.gather(*(store.finish("twice", found_error()) for _ in range(20)))
    assert len({f.sequence for f in finished}) == 1 and all(f == finished[0] for f in finished)
    assert await store.last_sequence() == done.sequence + 51
