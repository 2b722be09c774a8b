"""Outcome reward: last boxed answer vs reference, hard time limit, TRL signature."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from splice.trainer.rewards import MathReward, RewardWorker, last_boxed, math_reward

from tests.trainer.helpers import slow_check


@pytest.fixture(scope="module")
def worker() -> Iterator[RewardWorker]:
    with RewardWorker(timeout_s=1.0) as w:
        yield w


def test_last_boxed_and_math_reward() -> None:
    assert last_boxed("a \\boxed{1} b \\boxed{\\frac{1}{2}} c") == "\\frac{1}{2}"
    assert last_boxed("no box") is None and last_boxed("\\boxed{unclosed") is None
    assert math_reward("So $\\boxed{0.5}$.", "\\frac{1}{2}") == 1.0
    assert math_reward("So $\\boxed{156}$.", "$156$") == 1.0
    assert math_reward("So $\\boxed{157}$.", "156") == 0.0
    assert math_reward("The answer is 156.", "156") == 0.0  # only the boxed answer counts


def test_worker_hard_timeout_then_recovers(worker: RewardWorker) -> None:
    assert worker.score(["$\\boxed{323}$"], ["323"]) == [1.0]  # warm
    pathological = "\\boxed{" + "9^{" * 40 + "9" + "}" * 40 + "!}"
    t0 = time.monotonic()
    rewards = worker.score([pathological, "\\boxed{12}", "nothing"], ["5", "12", "12"])
    assert rewards == [0.0, 1.0, 0.0]
    assert time.monotonic() - t0 < 20


def test_a_check_past_the_limit_is_killed_and_scores_zero() -> None:
    with RewardWorker(timeout_s=0.5, check=slow_check) as w:
        t0 = time.monotonic()
        rewards = w.score(["\\boxed{SLOW}", "\\boxed{12}"], ["1", "12"])
        assert rewards == [0.0, 1.0]  # the check after the killed one runs in a new worker
        assert w.timeouts == 1
        assert time.monotonic() - t0 < 60  # a restart included


def test_trl_signature(worker: RewardWorker) -> None:
    reward = MathReward(worker=worker)
    assert reward.__name__ == "math_reward"
    out = reward(prompts=["p", "p"], completions=["\\boxed{7}", [{"role": "assistant",
                                                                    "content": "\\boxed{8}"}]],
                 reference_answer=["7", "7"])
    assert out == [1.0, 0.0]
