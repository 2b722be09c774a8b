"""The comparison's paired bootstrap over seeds, then problems."""

from __future__ import annotations

import random

from splice.trainer.evaluate import EvalResult, pass_at_k
from splice.trainer.worlds.arith.experiment_report import bootstrap_pass


def _runs(seeds: int, problems: int, top: int, seed: int) -> list[EvalResult]:
    rng = random.Random(seed)
    return [EvalResult(n=16, correct={f"p{i}": rng.randint(0, top) for i in range(problems)})
            for _ in range(seeds)]


def test_point_value_is_the_mean_over_seeds_and_problems() -> None:
    runs = _runs(3, 40, 4, 0)
    want = sum(pass_at_k(16, c, 8) for r in runs for c in r.correct.values()) / 120
    got = bootstrap_pass(runs, 8, bootstrap=500)
    assert abs(got["value"] - want) < 1e-12
    assert got["ci_low"] < got["value"] < got["ci_high"]


def test_paired_difference_of_an_arm_with_itself_is_exactly_zero() -> None:
    runs = _runs(3, 40, 4, 1)
    assert bootstrap_pass(runs, 8, minus=runs) == {"value": 0.0, "ci_low": 0.0, "ci_high": 0.0}


def test_a_clearly_better_arm_has_its_whole_ci_above_zero() -> None:
    better, worse = _runs(3, 40, 16, 2), _runs(3, 40, 1, 3)
    diff = bootstrap_pass(better, 8, minus=worse)
    assert diff["ci_low"] > 0
    assert bootstrap_pass(worse, 8, minus=better)["ci_high"] < 0


def test_more_problems_give_a_narrower_interval() -> None:
    small = bootstrap_pass(_runs(3, 20, 6, 4), 4, minus=_runs(3, 20, 6, 5))
    large = bootstrap_pass(_runs(3, 400, 6, 4), 4, minus=_runs(3, 400, 6, 5))
    assert large["ci_high"] - large["ci_low"] < small["ci_high"] - small["ci_low"]
