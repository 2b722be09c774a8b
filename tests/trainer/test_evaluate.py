"""pass@k estimator, bootstrap intervals, before/after diff."""

from __future__ import annotations

import itertools
from math import comb
from pathlib import Path

import pytest
from splice.trainer.evaluate import compare, load_eval, pass_at_k, save_eval, summarize


@pytest.mark.parametrize(("n", "c"), [(1, 0), (1, 1), (5, 0), (5, 2), (8, 7), (8, 8), (32, 1)])
def test_pass_at_k_is_the_unbiased_estimator(n: int, c: int) -> None:
    for k in range(1, n + 1):
        expected = 1 - comb(n - c, k) / comb(n, k)
        assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)
    if n <= 5:  # brute force: the fraction of k-subsets holding a correct sample
        samples = [1] * c + [0] * (n - c)
        for k in range(1, n + 1):
            subsets = list(itertools.combinations(samples, k))
            assert pass_at_k(n, c, k) == pytest.approx(sum(map(any, subsets)) / len(subsets))
    with pytest.raises(ValueError):
        pass_at_k(n, n + 1, 1)


def test_summary_ci_and_diff(tmp_path: Path) -> None:
    before = summarize(4, {"a": 0, "b": 0, "c": 2, "d": 4}, bootstrap=200)
    assert before.solved_at_least_once == 2
    assert before.pass_at[1] == pytest.approx((0 + 0 + 0.5 + 1) / 4)
    assert before.pass_at[4] == pytest.approx(0.5)
    for k, (lo, hi) in before.ci.items():
        assert lo <= before.pass_at[k] <= hi
    assert [before.pass_at[k] for k in range(1, 5)] == sorted(before.pass_at.values())
    after = summarize(4, {"a": 1, "b": 0, "c": 0, "d": 4}, bootstrap=200)
    diff = compare(before, after, bootstrap=200)
    assert diff["newly_solved"] == ["a"] and diff["lost"] == ["c"]
    assert diff["delta_pass_at"][1]["delta"] == pytest.approx((0.25 - 0.5) / 4)
    save_eval(after, tmp_path)
    again = load_eval(tmp_path)
    assert again.correct == after.correct and again.pass_at == after.pass_at
