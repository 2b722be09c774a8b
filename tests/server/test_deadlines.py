"""Oracle time limits: the Deadlines slots (real event loop) and the limit through the server."""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from pathlib import Path

import pytest
from splice.sdk import Client, FailureReason, Status
from splice.server.deadlines import Deadlines
from splice.server.testing import start_server_process

from tests.conftest import PROBLEM, REFERENCE, ROLLOUT


async def test_a_call_over_its_limit_times_out_never_early() -> None:
    deadlines = Deadlines(resolution_s=0.05)
    started = asyncio.get_running_loop().time()
    with pytest.raises(TimeoutError), deadlines.limit(0.2):
        await asyncio.sleep(5)
    elapsed = asyncio.get_running_loop().time() - started
    assert 0.2 <= elapsed < 2.0
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0  # our cancel was undone
    await asyncio.sleep(0)  # and nothing is left pending for the next await


async def test_a_call_in_time_is_untouched_and_its_slot_cannot_hit_it_later() -> None:
    deadlines = Deadlines(resolution_s=0.05)
    with deadlines.limit(0.1) as limit:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.3)  # the slot's timer fires after the call left it
    assert not limit.expired


async def test_an_infinite_limit_never_fires() -> None:
    deadlines = Deadlines(resolution_s=0.05)
    with deadlines.limit(math.inf) as limit:
        await asyncio.sleep(0.1)
    assert not limit.expired and not deadlines._slots


async def test_many_calls_share_slots_and_all_time_out() -> None:
    deadlines = Deadlines(resolution_s=0.05)

    async def call(i: int) -> str:
        try:
            with deadlines.limit(0.1 + (i % 7) * 0.01):
                await asyncio.sleep(5)
        except TimeoutError:
            return "timeout"
        return "answered"

    results = await asyncio.gather(*(call(i) for i in range(1000)))
    assert results == ["timeout"] * 1000
    assert len(deadlines._slots) == 0  # every slot fired and was dropped


async def test_a_callers_cancel_stays_a_cancel() -> None:
    deadlines = Deadlines(resolution_s=0.05)

    async def call() -> None:
        with deadlines.limit(10):
            await asyncio.sleep(5)

    task = asyncio.create_task(call())
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_callers_cancel_in_the_same_moment_as_the_limit_wins() -> None:
    deadlines = Deadlines(resolution_s=0.05)
    entered = asyncio.Event()

    async def call() -> None:
        with deadlines.limit(0.05) as limit:
            entered.set()
            await asyncio.sleep(5)
        raise AssertionError(f"unreachable (expired={limit.expired})")

    task = asyncio.create_task(call())
    await entered.wait()
    while not deadlines._slots or all(not s for s in deadlines._slots.values()):
        await asyncio.sleep(0)
    for slot in list(deadlines._slots):
        deadlines._expire(slot)  # the limit fires...
    task.cancel()  # ...and the caller cancels before the task runs again
    with pytest.raises(asyncio.CancelledError):
        await task


def test_the_server_fails_an_oracle_call_over_its_limit(tmp_path: Path) -> None:
    oracles = {"stuck": {"backend": "fake", "timeout_s": 0.3, "options": {"delay_s": 30}}}
    server = start_server_process({"oracles": oracles, "default_oracle": "stuck"}, tmp_path)
    try:
        with Client(server.address) as client:
            started = time.monotonic()
            result = client.intervene(problem=PROBLEM, reference_solution=REFERENCE,
                                      rollout=ROLLOUT, request_id=uuid.uuid4().hex, timeout=20)
            elapsed = time.monotonic() - started
            assert result.status is Status.FAILED
            assert result.failure is not None
            assert result.failure.reason is FailureReason.TIMEOUT and result.failure.retryable
            assert "did not answer in 0.3 s" in result.failure.message
            assert 0.3 <= elapsed < 10
            assert client.get(result.request_id) == result
            log = list(client.watch(0, follow=False))
            assert [i.request_id for i in log] == [result.request_id]
    finally:
        assert server.terminate() == 0, server.log()[-3000:]
