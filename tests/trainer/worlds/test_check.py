"""The world-aware checker: agreement with every reference, and its reading of steps."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from splice.trainer.worlds.arith import (
    HARD,
    TRAIN,
    Claim,
    Finding,
    Op,
    OpKind,
    ProblemSpec,
    check,
    generate_many,
    normalize_answer,
    policy_solution,
    read_step,
    split_steps,
    unseen_solution,
)

# 37 × 4 = 148, + 58 = 206, − 23 = 183, × 7 = 1281, ÷ 3 = 427
SPEC = ProblemSpec(37, (Op(OpKind.MUL, 4), Op(OpKind.ADD, 58), Op(OpKind.SUB, 23),
                        Op(OpKind.MUL, 7), Op(OpKind.DIV, 3)))
GOOD = ["37 \\times 4 = 148", "148 + 58 = 206", "206 - 23 = 183", "183 \\times 7 = 1281",
        "1281 \\div 3 = 427", "\\boxed{427}"]


@pytest.mark.parametrize("config", [TRAIN, HARD], ids=["train", "hard"])
def test_checker_agrees_with_every_generated_reference(config: object) -> None:
    specs = generate_many(2500, 7, config)  # type: ignore[arg-type]
    for i, spec in enumerate(specs):
        for text in (policy_solution(spec), unseen_solution(spec, seed=i)):
            verdict = check(spec, split_steps(text))
            assert verdict.status == "NO_ERROR", (spec, text, verdict)


@given(st.integers(0, 2**32 - 1), st.integers(0, 100))
def test_unseen_style_is_unseen_but_correct(seed: int, style_seed: int) -> None:
    spec = generate_many(1, seed, HARD)[0]
    text = unseen_solution(spec, style_seed)
    assert check(spec, split_steps(text)).status == "NO_ERROR"
    assert "\\times" not in text and len(split_steps(text)) < len(spec.ops) + 1


def test_read_step_finds_claims_and_answers_in_order() -> None:
    assert read_step("Wait, 37 \\times 4 = 148. So $\\boxed{148}$") == [
        Claim(37, OpKind.MUL, 4, 148), "148"]
    assert read_step("$1{,}281 / 3 = 427$ and 5 x 6 = 30") == [
        Claim(1281, OpKind.DIV, 3, 427), Claim(5, OpKind.MUL, 6, 30)]
    assert read_step("Each box has 4 points; there are 37 boxes.") == []
    assert read_step("12 - 20 = -8") == [Claim(12, OpKind.SUB, 20, -8)]


@pytest.mark.parametrize("step", [
    "148 + 58 - 23 = 183",      # a chain: not one operation
    "x = 148 + 58 = 206",
    "148 + 58 is 206",          # arithmetic without '='
    "183 \\times 7 = 1281.5",
])
def test_unreadable_steps_make_the_checker_abstain(step: str) -> None:
    assert read_step(step) is None
    assert check(SPEC, [GOOD[0], step, *GOOD[2:]]).status == "ABSTAINED"


def test_errors_after_the_first_critical_one_do_not_matter() -> None:
    verdict = check(SPEC, [GOOD[0], "148 + 58 = 196", "196 - 23 = 173 + 1", "\\boxed{174}"])
    assert (verdict.status, verdict.step, verdict.finding) == (
        "FOUND_ERROR", 2, Finding.WRONG_RESULT)
    assert verdict.replacement == "148 + 58 = 206"


@pytest.mark.parametrize(("steps", "step", "finding", "replacement"), [
    (["37 \\times 4 = 148", "148 + 85 = 233"], 2, Finding.WRONG_OPERAND, "148 + 58 = 206"),
    (["37 \\times 4 = 148", "148 - 23 = 125", "125 \\times 7 = 875"], 2,
     Finding.SKIPPED_STEP, "148 + 58 = 206"),
    (["37 + 58 = 95", "95 \\times 4 = 380"], 1, Finding.WRONG_ORDER, "37 \\times 4 = 148"),
    ([*GOOD[:4], "\\boxed{1281}"], 5, Finding.EARLY_ANSWER, "1281 \\div 3 = 427"),
    ([*GOOD[:5], "\\boxed{472}"], 6, Finding.WRONG_ANSWER, "\\boxed{427}"),
    ([*GOOD[:5], "427 + 1 = 428", "\\boxed{428}"], 6, Finding.EXTRA_STEP, "\\boxed{427}"),
    (["37 \\times 4 = 148", "148 \\times 58 = 8584"], 2, Finding.WRONG_OPERATION,
     "148 + 58 = 206"),
    # several operations in one step: the replacement redoes the whole step
    (["37 \\times 4 = 148 and 148 + 58 = 206 and 206 - 32 = 174"], 1, Finding.WRONG_OPERAND,
     "37 \\times 4 = 148\n\n148 + 58 = 206\n\n206 - 23 = 183"),
])
def test_each_finding_at_its_step(steps: list[str], step: int, finding: Finding,
                                  replacement: str) -> None:
    verdict = check(SPEC, steps)
    assert (verdict.status, verdict.step, verdict.finding) == ("FOUND_ERROR", step, finding)
    assert verdict.replacement == replacement
    assert finding.category == ("HIGH_LEVEL" if finding is Finding.WRONG_ORDER else "EXECUTION")


@pytest.mark.parametrize("steps", [
    GOOD,
    # a slip corrected by the next step, or later in the same step
    [GOOD[0], "148 + 58 = 196", "Wait, 148 + 58 = 206.", *GOOD[2:]],
    [GOOD[0], "148 + 58 = 196. No: 148 + 58 = 206.", *GOOD[2:]],
    # restating an earlier step, operands of + and × swapped, commuting operations reordered
    [*GOOD[:2], "So 37 \\times 4 = 148 and 148 + 58 = 206.", *GOOD[2:]],
    ["4 \\times 37 = 148", "58 + 148 = 206", *GOOD[2:]],
    [GOOD[0], "148 - 23 = 125", "125 + 58 = 183", *GOOD[3:]],
    # prose steps without arithmetic
    ["Let me compute step by step.", *GOOD[:5], "The answer is $\\boxed{427}$ points."],
])
def test_no_claim_on_correct_solutions(steps: list[str]) -> None:
    assert check(SPEC, steps).status == "NO_ERROR"


def test_incomplete_rollouts_are_abstained_not_blamed() -> None:
    assert check(SPEC, GOOD[:3]).status == "ABSTAINED"
    assert check(SPEC, GOOD[:5]).status == "ABSTAINED"
    assert check(SPEC, ["I am not sure."]).status == "ABSTAINED"


def test_normalize_answer() -> None:
    assert normalize_answer("$\\boxed{2{,}301}$") == "2301"
    assert normalize_answer(" 427 ") == "427"
