"""Error models and planted errors: the world-aware checker finds each at its exact step."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st
from splice.trainer.worlds.arith import (
    HARD,
    PLANTABLE,
    TRAIN,
    ErrorModel,
    Finding,
    OpKind,
    check,
    generate_many,
    miscopy,
    plant_error,
    plant_self_corrected,
    wrong_result,
)

MIN_RATE = 0.99
PROBLEMS = [*generate_many(700, 11, TRAIN), *generate_many(700, 12, HARD)]


def test_error_models_are_realistic() -> None:
    rng = random.Random(0)
    # 58 + 67 = 125: the carry out of the units or of the tens is dropped
    assert wrong_result(OpKind.ADD, 58, 67, rng, ErrorModel.DROPPED_CARRY)[0] in (115, 25)
    # 206 - 27 = 179: a forgotten borrow
    assert wrong_result(OpKind.SUB, 206, 27, rng, ErrorModel.DROPPED_CARRY)[0] in (189, 279)
    # 37 × 8 = 296: 7 × 8 recalled as 7 × 7 / 7 × 9 / 6 × 8 / 8 × 8 (units), or 3 × 8 ± (tens)
    got = {wrong_result(OpKind.MUL, 37, 8, rng, ErrorModel.TABLE_CONFUSION)[0]
           for _ in range(200)}
    assert {288, 304, 289, 303} <= got
    with pytest.raises(ValueError):
        wrong_result(OpKind.ADD, 12, 13, rng, ErrorModel.DROPPED_CARRY)  # no carry to drop


@given(st.sampled_from(list(OpKind)), st.integers(2, 9999), st.integers(2, 99),
       st.integers(0, 1000))
def test_wrong_results_are_wrong_and_positive(kind: OpKind, a: int, b: int, seed: int) -> None:
    a = a * b if kind is OpKind.DIV else a + b if kind is OpKind.SUB else a
    value, model = wrong_result(kind, a, b, random.Random(seed))
    assert value != kind.apply(a, b) and value > 0 and isinstance(model, ErrorModel)


@given(st.integers(1, 10**6), st.integers(0, 1000))
def test_miscopy_changes_the_number_and_keeps_its_shape(n: int, seed: int) -> None:
    m = miscopy(n, random.Random(seed))
    assert m != n and m > 0 and len(str(m)) == len(str(n))


def _rates() -> tuple[dict[str, float], Counter[tuple[Finding, str]]]:
    hits: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    categories: Counter[tuple[Finding, str]] = Counter()
    for i, spec in enumerate(PROBLEMS):
        rng = random.Random(i)
        for kind in PLANTABLE:
            for slip_before in (False, True):
                planted = plant_error(spec, kind, rng, slip_before=slip_before)
                if planted is None:
                    continue
                verdict = check(spec, planted.steps)
                totals[kind.value] += 1
                hits[kind.value] += (verdict.status == "FOUND_ERROR"
                                     and verdict.step == planted.first_error_step)
                if verdict.finding is not None:
                    categories[kind, verdict.finding.category] += 1
        corrected = plant_self_corrected(spec, rng)
        totals["self_corrected"] += 1
        hits["self_corrected"] += check(spec, corrected.steps).status == "NO_ERROR"
    return {k: hits[k] / totals[k] for k in totals}, categories


def test_planted_errors_are_found_at_the_exact_step() -> None:
    rates, categories = _rates()
    print("exact-step detection:", {k: round(v, 4) for k, v in rates.items()})
    for kind in PLANTABLE:
        assert rates[kind.value] >= MIN_RATE, (kind, rates)
    assert rates["self_corrected"] == 1.0  # no claim on correct solutions
    order = categories[Finding.WRONG_ORDER, "HIGH_LEVEL"] / sum(
        categories[Finding.WRONG_ORDER, c] for c in ("HIGH_LEVEL", "EXECUTION"))
    execution = sum(categories[k, "EXECUTION"] for k in PLANTABLE if k is not Finding.WRONG_ORDER)
    assert order >= 0.95 and execution / sum(
        categories[k, c] for k in PLANTABLE if k is not Finding.WRONG_ORDER
        for c in ("HIGH_LEVEL", "EXECUTION")) >= 0.95


def test_every_kind_can_be_planted_at_a_chosen_step() -> None:
    spec = PROBLEMS[0]
    for j in range(len(spec.ops)):
        planted = plant_error(spec, Finding.WRONG_RESULT, random.Random(j), op_index=j)
        assert planted is not None and planted.first_error_step == j + 1
        assert check(spec, planted.steps).step == j + 1
    with pytest.raises(ValueError):
        plant_error(spec, Finding.EXTRA_STEP, random.Random(0))
