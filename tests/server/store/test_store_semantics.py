"""The Store contract, on every backend: idempotency, cache, finish, log, waiting."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import pytest
from splice.sdk.types import FailureReason, OracleInfo, Status, Usage
from splice.server.oracles.base import OracleResult
from splice.server.store import (
    AcceptOutcome,
    RequestConflictError,
    Store,
    StoreError,
    UnknownRequestError,
    open_store,
)

from .helpers import ORACLE, found_error, make_record


async def test_accept_new_is_running_and_resumable(store: Store) -> None:
    record = make_record("r1")
    accepted = await store.accept(record)
    assert accepted.outcome is AcceptOutcome.NEW
    iv = accepted.intervention
    assert (iv.status, iv.sequence, iv.cached, iv.steps) == (Status.RUNNING, 0, False, record.steps)
    assert await store.get("r1") == iv
    assert await store.get("nope") is None
    assert await store.unfinished() == [record]
    assert await store.last_sequence() == 0
    assert await store.read_log(0) == []


async def test_duplicate_returns_stored_row_and_inserts_nothing(store: Store) -> None:
    record = make_record("r1")
    first = await store.accept(record)
    again = await store.accept(replace(record, client_id="someone-else"))
    assert again.outcome is AcceptOutcome.DUPLICATE
    assert again.intervention == first.intervention
    done = await store.finish("r1", found_error())
    after = await store.accept(record)
    assert after.outcome is AcceptOutcome.DUPLICATE
    assert after.intervention == done
    assert await store.last_sequence() == 1
    assert await store.unfinished() == []


async def test_conflicting_reuse_of_request_id(store: Store) -> None:
    record = make_record("r1")
    await store.accept(record)
    with pytest.raises(RequestConflictError, match="different content"):
        await store.accept(make_record("r1", text="other"))
    other_oracle = replace(ORACLE, name="llm:anthropic")
    with pytest.raises(RequestConflictError, match="oracle"):
        await store.accept(make_record("r1", oracle=other_oracle))
    iv = await store.get("r1")
    assert iv is not None and iv.oracle == ORACLE and iv.steps == record.steps


async def test_finish_assigns_sequence_and_is_idempotent(store: Store) -> None:
    await store.accept(make_record("r1"))
    await store.accept(make_record("r2", text="other"))
    result = found_error(raw='{"first_error_step": 2}')
    done = await store.finish("r1", result)
    assert (done.status, done.sequence, done.first_error_step) == (Status.FOUND_ERROR, 1, 2)
    assert done.replacements == result.replacements and done.usage == result.usage
    assert done.category == result.category and done.explanation == result.explanation
    assert done.finished_at is not None and done.created_at is not None
    assert await store.get("r1") == done
    assert await store.raw_output("r1") == '{"first_error_step": 2}'
    # Finishing again changes nothing, whatever the new result says.
    again = await store.finish("r1", OracleResult(status=Status.NO_ERROR))
    assert again == done
    failed = await store.finish("r2", OracleResult.failed(
        FailureReason.TIMEOUT, "no answer in 30 s", retryable=True))
    assert failed.sequence == 2 and failed.failure is not None
    assert (failed.failure.reason, failed.failure.retryable) == (FailureReason.TIMEOUT, True)
    assert await store.get("r2") == failed
    assert await store.raw_output("r2") is None
    assert await store.last_sequence() == 2


async def test_finish_errors(store: Store) -> None:
    with pytest.raises(UnknownRequestError):
        await store.finish("missing", found_error())
    with pytest.raises(KeyError):  # UnknownRequestError is a KeyError
        await store.finish("missing", found_error())
    await store.accept(make_record("r1"))
    with pytest.raises(ValueError, match="RUNNING"):
        await store.finish("r1", OracleResult(status=Status.RUNNING))
    assert await store.last_sequence() == 0


async def test_pending_then_final(store: Store) -> None:
    accepted = await store.accept(make_record("h1", pending=True))
    assert accepted.intervention.status is Status.PENDING
    await store.accept(make_record("r2", text="other"))
    pending = await store.finish("r2", OracleResult(status=Status.PENDING))
    assert (pending.status, pending.sequence) == (Status.PENDING, 0)
    assert [r.request_id for r in await store.unfinished()] == []
    assert await store.read_log(0) == []
    done = await store.finish("h1", found_error())
    assert (done.status, done.sequence) == (Status.FOUND_ERROR, 1)
    done2 = await store.finish("r2", OracleResult(status=Status.NO_ERROR))
    assert (done2.status, done2.sequence) == (Status.NO_ERROR, 2)


async def test_cache_copies_finished_verdicts(store: Store) -> None:
    await store.accept(make_record("src"))
    source = await store.finish("src", found_error(raw="raw answer"))
    hit = await store.accept(make_record("copy", client_id="client-b"))
    assert hit.outcome is AcceptOutcome.CACHED
    iv = hit.intervention
    assert iv.cached and iv.usage == Usage() and iv.sequence == source.sequence + 1
    assert (iv.status, iv.first_error_step, iv.replacements, iv.category, iv.explanation) == (
        source.status, source.first_error_step, source.replacements, source.category,
        source.explanation)
    assert iv.client_id == "client-b" and iv.finished_at is not None
    assert await store.get("copy") == iv
    assert [r.request_id for r in await store.read_log(0)] == ["src", "copy"]
    assert await store.raw_output("copy") == "raw answer"
    # No cache: without use_cache, under another oracle config, or for unfinished content.
    no_cache = await store.accept(make_record("nc"), use_cache=False)
    assert no_cache.outcome is AcceptOutcome.NEW
    other_cfg = replace(ORACLE, config_hash="cfg2")
    assert (await store.accept(make_record("cfg", oracle=other_cfg))).outcome is AcceptOutcome.NEW
    await store.accept(make_record("run1", text="pending"))
    assert (await store.accept(make_record("run2", text="pending"))).outcome is AcceptOutcome.NEW


async def test_failed_results_are_not_cached(store: Store) -> None:
    await store.accept(make_record("f1"))
    await store.finish("f1", OracleResult.failed(FailureReason.ORACLE_ERROR, "boom"))
    assert (await store.accept(make_record("f2"))).outcome is AcceptOutcome.NEW


async def test_failing_operation_leaves_nothing_and_spares_its_batch(store: Store) -> None:
    await store.accept(make_record("r1"))
    await store.accept(make_record("r2", text="other"))
    bad_accept = replace(make_record("bad"), content_hash=None)  # violates NOT NULL
    outcomes = await asyncio.gather(
        store.finish("r1", found_error(step=-1)),  # violates CHECK (first_error_step >= 0)
        store.accept(bad_accept),
        store.finish("r2", found_error()),
        store.accept(make_record("r3", text="third")),
        return_exceptions=True,
    )
    assert isinstance(outcomes[0], StoreError) and isinstance(outcomes[1], StoreError)
    assert not isinstance(outcomes[2], BaseException) and outcomes[2].sequence == 1
    assert not isinstance(outcomes[3], BaseException)
    iv = await store.get("r1")
    assert iv is not None and iv.status is Status.RUNNING and iv.sequence == 0
    assert await store.get("bad") is None
    # No half-written request row blocks a correct retry of the same request_id.
    assert (await store.accept(make_record("bad"))).outcome is AcceptOutcome.NEW
    assert (await store.finish("r1", found_error())).sequence == 2


async def test_read_log_cursor_limit_and_client(store: Store) -> None:
    for i in range(6):
        client = "client-a" if i % 2 == 0 else "client-b"
        await store.accept(make_record(f"r{i}", text=f"t{i}", client_id=client))
    for i in (3, 0, 5, 1, 4, 2):
        await store.finish(f"r{i}", found_error())
    log = await store.read_log(0)
    assert [r.request_id for r in log] == ["r3", "r0", "r5", "r1", "r4", "r2"]
    assert [r.sequence for r in log] == [1, 2, 3, 4, 5, 6]
    assert [r.sequence for r in await store.read_log(2, limit=3)] == [3, 4, 5]
    only_a = await store.read_log(0, client_id="client-a")
    assert [r.request_id for r in only_a] == ["r0", "r4", "r2"]
    assert [r.request_id for r in await store.read_log(2, client_id="client-b")] == ["r5", "r1"]
    assert await store.read_log(6) == []
    assert await store.last_sequence() == 6


async def test_wait_for_log_wakes_on_local_write(store: Store) -> None:
    await store.accept(make_record("r1"))
    started = time.monotonic()
    await store.wait_for_log(0, timeout=0.2)  # nothing to see: times out
    assert 0.15 <= time.monotonic() - started < 1.0

    async def finish_later() -> None:
        await asyncio.sleep(0.05)
        await store.finish("r1", found_error())

    writer = asyncio.create_task(finish_later())
    started = time.monotonic()
    await store.wait_for_log(0, timeout=10)
    assert time.monotonic() - started < 1.0
    await writer
    started = time.monotonic()
    await store.wait_for_log(0, timeout=10)  # already there: at once
    assert time.monotonic() - started < 0.1


async def test_wait_for_log_sees_another_store_instance(store_url: str, store: Store) -> None:
    other = open_store(store_url)
    await other.open()
    try:
        await other.accept(make_record("r1"))
        waiter = asyncio.create_task(store.wait_for_log(0, timeout=10))
        await asyncio.sleep(0.05)
        started = time.monotonic()
        await other.finish("r1", found_error())
        await waiter
        assert time.monotonic() - started < 1.0  # found by polling, not by the timeout
    finally:
        await other.close()


async def test_close_and_reopen_sees_everything(store_url: str) -> None:
    store = open_store(store_url)
    await store.open()
    await store.accept(make_record("r1"))
    done = await store.finish("r1", found_error(raw="raw"))
    running = (await store.accept(make_record("r2", text="other"))).intervention
    await store.close()
    reopened = open_store(store_url)
    await reopened.open()
    try:
        assert await reopened.get("r1") == done
        assert await reopened.get("r2") == running
        assert await reopened.raw_output("r1") == "raw"
        assert [r.request_id for r in await reopened.unfinished()] == ["r2"]
        assert (await reopened.finish("r2", found_error())).sequence == 2
    finally:
        await reopened.close()


async def test_oracle_info_and_provenance_round_trip(store: Store) -> None:
    oracle = OracleInfo(name="llm:gemini", backend="llm", version="2", config_hash="h")
    record = make_record("r1", oracle=oracle)
    await store.accept(record)
    [resumed] = await store.unfinished()
    assert resumed == record and resumed.provenance is not None
    assert resumed.provenance.sampling == {"temperature": "1.0"}
