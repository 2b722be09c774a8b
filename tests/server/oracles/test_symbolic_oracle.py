"""The symbolic oracle end to end: worker pool, verdicts, hard time limit, pathological inputs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from splice.sdk.types import ErrorCategory, Status
from splice.server.oracles.base import OracleTask
from splice.server.oracles.registry import build_oracle
from splice.server.oracles.symbolic import SymbolicOracle
from splice.server.oracles.symbolic.pool import WorkerPool, WorkerTimeout
from splice.server.segmentation import join_presegmented

PATHOLOGICAL: list[list[str]] = [
    ["$9^{9^{9^{9}}} = 5$"],
    ["$100000! = 3$"],
    ["$" + "(" * 2000 + "1" + ")" * 2000 + " = 2$"],
    ["$2^{2^{2^{2^{2^{2}}}}} + 1 = 3$"],
    ["$" + "9" * 50000 + " + 1 = 2$"],
    ["$(10^{1000})! = 1$"],
    ["$" + " = ".join(["2^{100000}"] * 300) + "$"],
    ["$\\sqrt{" * 500 + "2" + "}" * 500 + " = 1$"],
    ["$" + "{" * 3000 + "1" + "}" * 3000 + " = 1$"],
    ["$" + "1 + " * 20000 + "1 = 2$"],
    ["$\\frac{" * 400 + "1" + "}{2}" * 400 + " = 0$"],
    ["$\\binom{10^{12}}{10^{6}} = 4$"],
    ["x" * 200_000],
    ["$" + "\\left(" * 1000 + "3" + "\\right)" * 1000 + " = 3$"],
    ["$9^{9^{9}} \\times 0 = 0$"],
    ["$1.5^{10^{9}} = 2$"],
    [f"Step {k}: ${k}^{{{k}^{{{k}}}}} = {k}$" for k in range(50, 90)],
    ["$(-8)^{1/3} = -2$", "$0^{-1} = 1$", "$\\sqrt{-4} = 2$"],
    ["$" + "2^{" * 200 + "2" + "}" * 200 + " = 4$"],
    ["$(" + "x+" * 5000 + "1)^{1000} = 1$"],
]
NORMAL = (["We have $12 \\times 13 = 146$.", "So $\\boxed{146}$."], Status.FOUND_ERROR, 1)


def make_task(steps: list[str], reference_answer: str = "156", categorize: bool = False
              ) -> OracleTask:
    _, numbered = join_presegmented(steps)
    return OracleTask(request_id="r", client_id="c", problem="What is 12 times 13?",
                      reference_solution="$12 \\times 13 = 156$, so \\boxed{156}.",
                      reference_answer=reference_answer, steps=numbered, categorize=categorize)


@pytest.fixture
async def oracle() -> AsyncIterator[SymbolicOracle]:
    built = build_oracle("symbolic", "symbolic", {"workers": 1, "time_limit_s": 2})
    assert isinstance(built, SymbolicOracle)
    await built.start()
    yield built
    await built.aclose()


async def test_found_error_with_step_and_replacement(oracle: SymbolicOracle) -> None:
    result = await oracle.intervene(make_task(*NORMAL[:1], categorize=True))
    assert result.status is Status.FOUND_ERROR
    assert result.first_error_step == 1
    assert result.category is ErrorCategory.EXECUTION
    (replacement,) = result.replacements
    assert replacement.location == 1
    assert replacement.content == "We have $12 \\times 13 = 156$."
    assert "156" in result.explanation


async def test_no_error_and_abstained(oracle: SymbolicOracle) -> None:
    good = ["We have $12 \\times 13 = 156$.", "So the answer is $\\boxed{156}$."]
    assert (await oracle.intervene(make_task(good))).status is Status.NO_ERROR
    assert (await oracle.intervene(make_task(good, reference_answer=""))).status \
        is Status.NO_ERROR  # reference answer taken from the reference solution's \boxed{}
    wrong_answer = ["We have $12 \\times 13 = 156$.", "So the answer is $\\boxed{157}$."]
    result = await oracle.intervene(make_task(wrong_answer))
    assert result.status is Status.ABSTAINED and result.first_error_step == 0
    unboxed = ["We have $12 \\times 13 = 156$.", "So the answer is 156."]
    assert (await oracle.intervene(make_task(unboxed))).status is Status.ABSTAINED


async def test_pathological_rollouts_then_normal_ones(oracle: SymbolicOracle) -> None:
    assert oracle.pool is not None
    for steps in PATHOLOGICAL:
        t0 = time.monotonic()
        result = await oracle.intervene(make_task(steps))
        assert time.monotonic() - t0 < oracle.time_limit_s + 1.5, steps[0][:60]
        assert result.status in (Status.ABSTAINED, Status.FOUND_ERROR, Status.NO_ERROR)
    for _ in range(3):
        result = await oracle.intervene(make_task(NORMAL[0]))
        assert (result.status, result.first_error_step) == NORMAL[1:]


async def test_timeout_kills_and_replaces_the_worker() -> None:
    pool = WorkerPool(1, memory_limit=1 << 30)
    await pool.start()
    try:
        (before,) = pool.pids
        t0 = time.monotonic()
        with pytest.raises(WorkerTimeout):
            await pool.run(time.sleep, 30, time_limit_s=0.3)
        assert time.monotonic() - t0 < 2
        assert pool.replaced == 1
        assert await pool.run(sum, [1, 2, 3], time_limit_s=30) == 6  # waits for the new one
        assert pool.pids and pool.pids != [before]
    finally:
        await pool.aclose()


async def test_timeout_answers_abstained_and_the_next_task_is_served() -> None:
    slow = SymbolicOracle("symbolic", {"workers": 1, "time_limit_s": 0.05})
    await slow.start()
    long_rollout = [f"${k} \\times {k} = {k * k}$ and ${k} + {k} = {2 * k}$." for k in range(800)]
    try:
        result = await slow.intervene(make_task(long_rollout))
        assert result.status is Status.ABSTAINED
        assert "time limit" in result.explanation
        result = await slow.intervene(make_task(NORMAL[0]))
        assert (result.status, result.first_error_step) == NORMAL[1:]
    finally:
        await slow.aclose()


async def test_memory_cap_is_enforced() -> None:
    pool = WorkerPool(1, memory_limit=512 << 20)
    await pool.start()
    try:
        with pytest.raises(RuntimeError, match="MemoryError"):
            await pool.run(bytearray, 2 << 30, time_limit_s=10)
        assert await pool.run(sum, [1, 2], time_limit_s=10) == 3
    finally:
        await pool.aclose()


async def test_waiting_for_a_worker_does_not_block_the_loop(oracle: SymbolicOracle) -> None:
    assert oracle.pool is not None
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    tick_task = asyncio.create_task(ticker())
    await oracle.pool.run(time.sleep, 0.3, time_limit_s=5)
    tick_task.cancel()
    assert ticks >= 10
    results = await asyncio.gather(*(oracle.intervene(make_task(NORMAL[0])) for _ in range(8)))
    assert all(r.first_error_step == 1 for r in results)
