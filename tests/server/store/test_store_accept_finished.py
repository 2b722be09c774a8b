"""Store.accept_finished (free oracles): one write that behaves as accept then finish."""

from __future__ import annotations

import asyncio

import pytest
from splice.sdk.types import Status
from splice.server.oracles.base import OracleResult
from splice.server.store import AcceptOutcome, RequestConflictError, Store

from .helpers import found_error, make_record


async def test_new_is_finished_in_the_log_with_its_raw_output(store: Store) -> None:
    result = found_error(raw="raw answer")
    accepted = await store.accept_finished(make_record("r1"), result)
    assert accepted.outcome is AcceptOutcome.NEW
    done = accepted.intervention
    assert (done.status, done.sequence, done.first_error_step) == (Status.FOUND_ERROR, 1, 2)
    assert done.replacements == result.replacements and done.usage == result.usage
    assert done.finished_at is not None and not done.cached
    assert await store.get("r1") == done
    assert await store.read_log(0) == [done]
    assert await store.raw_output("r1") == "raw answer"
    assert await store.unfinished() == []


async def test_duplicate_returns_the_stored_row_and_logs_nothing(store: Store) -> None:
    first = (await store.accept_finished(make_record("r1"), found_error())).intervention
    again = await store.accept_finished(make_record("r1"), OracleResult(status=Status.NO_ERROR))
    assert again.outcome is AcceptOutcome.DUPLICATE and again.intervention == first
    with pytest.raises(RequestConflictError):
        await store.accept_finished(make_record("r1", text="other"), found_error())
    # Duplicates arriving at once: still one row and one log entry.
    results = await asyncio.gather(*(
        store.accept_finished(make_record("r2", text="same"), found_error())
        for _ in range(5)))
    assert sorted(r.outcome.value for r in results) == ["duplicate"] * 4 + ["new"]
    stored = await store.get("r2")
    # A duplicate may see the row unfinished where the backend writes in two steps.
    assert all(r.intervention == stored for r in results if r.intervention.status.finished)
    assert [r.request_id for r in await store.read_log(0)] == ["r1", "r2"]


async def test_cache_hits_are_served_as_before(store: Store) -> None:
    source = (await store.accept_finished(make_record("src"), found_error())).intervention
    hit = await store.accept_finished(make_record("copy"), OracleResult(status=Status.NO_ERROR))
    assert hit.outcome is AcceptOutcome.CACHED and hit.intervention.cached
    assert hit.intervention.status is source.status
    fresh = await store.accept_finished(
        make_record("nc"), OracleResult(status=Status.NO_ERROR), use_cache=False)
    assert fresh.outcome is AcceptOutcome.NEW and fresh.intervention.status is Status.NO_ERROR


async def test_only_final_results(store: Store) -> None:
    with pytest.raises(ValueError):
        await store.accept_finished(make_record("r1"), OracleResult(status=Status.PENDING))
    assert await store.get("r1") is None


async def test_one_group_commit_of_new_duplicate_and_cached_requests(store: Store) -> None:
    """Sent together, so that they share a commit (and on PostgreSQL one batch statement)."""
    await asyncio.gather(*(store.accept_finished(make_record(f"r{n}", text=f"t{n}"),
                                                 found_error()) for n in range(6)))
    outcomes = await asyncio.gather(
        store.accept_finished(make_record("copy", text="t5"), OracleResult(Status.NO_ERROR)),
        store.accept_finished(make_record("r3", text="t3"), found_error()),
        store.accept_finished(make_record("n1", text="new"), found_error(3)),
        store.accept_finished(make_record("n1", text="new"), found_error(3)),
        store.accept_finished(make_record("n2", text="new 2"), found_error(1)))
    kinds = [(a.outcome.value, a.intervention.request_id) for a in outcomes]
    assert kinds == [("cached", "copy"), ("duplicate", "r3"), ("new", "n1"),
                     ("duplicate", "n1"), ("new", "n2")]
    assert outcomes[0].intervention.status is Status.FOUND_ERROR  # r5's verdict, not ours
    assert outcomes[3].intervention == outcomes[2].intervention
    log = await store.read_log(0)
    assert [i.sequence for i in log] == list(range(1, 10))  # no gap, no repeat
    assert {i.request_id: i.sequence for i in log[6:]} == {
        a.intervention.request_id: a.intervention.sequence
        for a in (outcomes[0], outcomes[2], outcomes[4])}
    for a in outcomes:
        assert await store.get(a.intervention.request_id) == a.intervention


async def test_same_content_in_one_group_commit_is_served_from_the_first(store: Store) -> None:
    await store.accept_finished(make_record("warm"), found_error())  # the next ones batch up
    first, second, third = await asyncio.gather(
        store.accept_finished(make_record("a1", text="same"), found_error(3, raw="a1's")),
        store.accept_finished(make_record("a2", text="same"), OracleResult(Status.NO_ERROR)),
        store.accept_finished(make_record("a3", text="same"), OracleResult(Status.NO_ERROR),
                              use_cache=False))
    assert [first.outcome, second.outcome, third.outcome] == [
        AcceptOutcome.NEW, AcceptOutcome.CACHED, AcceptOutcome.NEW]
    assert second.intervention.first_error_step == 3 and second.intervention.cached
    assert await store.raw_output("a2") == "a1's"
    assert third.intervention.status is Status.NO_ERROR
