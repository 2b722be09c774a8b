"""Claim extraction and checking of the symbolic oracle, in-process (no worker pool)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from splice.server.oracles.symbolic.claims import Truth, check_steps
from splice.server.oracles.symbolic.verdict import analyse, first_false_claim


def truths(step: str) -> list[tuple[str, Truth]]:
    """(kind, truth) of every pair of one step."""
    return [(item.kind, item.truth) for item in check_steps([step])[0]]


def first_false_step(*steps: str) -> int:
    found = first_false_claim(list(steps))
    return found[0].step if found else 0


@pytest.mark.parametrize("step", [
    "We have $12 \\times 13 = 156$.",
    "So 12*720=8640 ways.",
    "That gives us 6!=720 possibilities.",
    "$\\frac{3}{4} + \\frac14 = 1$",
    "$\\sqrt{144} = 12$ and $2^{10} = 1024$.",
    "$\\dfrac{1}{3} \\cdot 3 = 1$",
    "$\\binom{5}{2} = 10$",
    "$1,000 + 24 = 1,024$",
    "$1{,}000 \\times 3 = 3{,}000$",
    "$20\\% \\times 50 = 10$",
    "$0.2 = 20\\%$",
    "$3 < 5$ and $7 \\geq 7$",
    "$5 \\neq 6$",
])
def test_true_claims(step: str) -> None:
    got = truths(step)
    assert got, "no claim extracted"
    assert all(t is Truth.TRUE for kind, t in got if kind == "claim")
    assert any(kind == "claim" for kind, _ in got)


@pytest.mark.parametrize(("step", "correct"), [
    ("We have $12 \\times 13 = 146$.", 156),
    ("So 12*720=8640+1 ways.", 8640),
    ("$\\frac{3}{4} + \\frac14 = 2$", 1),
    ("$2^{10} = 1000$", 1024),
    ("$5 - 1 = 3$", 4),
    ("Similarly the average is (5+7)/2=6.5.", 6),
])
def test_false_claims(step: str, correct: int) -> None:
    items = [i for i in check_steps([step])[0] if i.truth is Truth.FALSE]
    assert len(items) == 1
    assert items[0].correct == correct


def test_false_inequality() -> None:
    assert (("claim", Truth.FALSE)) in truths("$7 < 3$")


def test_chain_checks_each_adjacent_pair() -> None:
    got = truths("$2 + 3 = 5 = 6 - 1 = 7 \\cdot 3$")
    assert got == [("claim", Truth.TRUE), ("claim", Truth.TRUE), ("claim", Truth.FALSE)]


@pytest.mark.parametrize("step", [
    "We have $3p+e=1.24$ and $5p+e=1.82$.",
    "$f(x) = x^2 + 1$",
    "$x + 1 = x + 2$",  # unsatisfiable, but an equation with unknowns is never called false
    "$a = b = c$",
    "$x > 0$",
])
def test_constraints_and_definitions_are_never_false(step: str) -> None:
    assert all(t is not Truth.FALSE for _, t in truths(step))


@pytest.mark.parametrize("step", [
    "$\\frac{1}{3} \\approx 0.33$",
    "$\\pi \\approx 3.14$",
    "$\\sqrt{2} = 1.414$",  # rounded to the shown precision
    "$\\frac{2}{3} = 0.67$",
    "$100 / 3 = 33$",  # possibly rounded to an integer
    "$\\sqrt{2} \\approx 1.4$",
])
def test_rounding_and_approx_are_not_false(step: str) -> None:
    assert all(t is not Truth.FALSE for _, t in truths(step))


def test_approx_with_a_large_error_is_false() -> None:
    assert ("claim", Truth.FALSE) in truths("$\\frac{1}{3} \\approx 0.5$")


@pytest.mark.parametrize("step", [
    "$5 \\times 20 = 100\\%$",  # percent read as a whole number
    "$0.29 = 29$ cents",  # unit conversion
    "$1.5 = 90$ minutes",
    "In base 9, $58_9 + 1 = 60_9$.",
    "In base 9, we have $8 + 5 = 14$.",
    "$17 \\equiv 2 \\pmod 5$",
    "17 = 2 mod 5",
    "$17\\%5=2$",
    "Is $2 + 2 = 5$?",
    "Suppose $2 + 2 = 5$.",
    "It is not true that $2 + 2 = 5$.",
    "$x = 3$ or $x = 5$",
    "$5 \\text{ hours} = 300$",
    "the sum of 3 and 4 = 7",
    "half of 10 = 5",
    "5 apples - 3 = 2",
    "$2\\frac{1}{2} = 2.5$",  # a mixed number
    "$(1, 2) = (1, 2)$",
])
def test_ambiguous_notation_or_unasserted_is_not_reported(step: str) -> None:
    assert first_false_step(step) == 0


def test_variables_derived_earlier_are_substituted() -> None:
    assert first_false_step("So $p = 0.29$.", "Then $3p = 0.97$.") == 2
    assert first_false_step("So $p = 0.29$.", "Then $3p = 0.87$.") == 0


def test_values_are_forgotten_when_a_letter_is_reused() -> None:
    assert first_false_step("So $x = 3$.", "Let $x$ be the number of apples: $x + 5 = 12$.") == 0
    far = ["So $x = 3$.", "a", "b", "c", "d", "Then $x + 5 = 12$."]
    assert first_false_step(*far) == 0


def test_assignment_contradicting_the_constraint_just_stated() -> None:
    found = first_false_claim(["This simplifies to $2p=0.58$. So $p=0.58$."])
    assert found is not None
    assert found[0].correct is not None and float(found[0].correct) == pytest.approx(0.29)
    assert first_false_step("This simplifies to $2p=0.58$. So $p=0.29$.") == 0


def test_corrected_later_is_not_reported() -> None:
    assert first_false_step("$156 + 44 = 210$.", "Wait, $156 + 44 = 200$.") == 0
    assert first_false_step("$156 + 44 = 210$.", "Hmm, that's a mistake: it is 200.") == 0
    assert first_false_step("$156 + 44 = 210$.", "Then $210 + 1 = 211$.") == 1


def test_first_uncorrected_claim_wins() -> None:
    steps = ["$2 + 2 = 5$.", "Wait, $2 + 2 = 4$.", "$3 \\times 3 = 10$.", "$4 + 4 = 9$."]
    assert first_false_step(*steps) == 3


def test_verdict_found_error_with_replacement_in_the_students_voice() -> None:
    result = analyse("", "", ["We have $12 \\times 13 = 146$.", "So $\\boxed{146}$."])
    assert (result.status, result.step) == ("FOUND_ERROR", 1)
    assert result.replacement == "We have $12 \\times 13 = 156$."
    assert "156" in result.explanation


def test_replacement_for_a_wrong_assignment() -> None:
    result = analyse("", "", ["This simplifies to $2p=0.58$. So $p=0.58$.", "So 58 cents."])
    assert result.step == 1
    assert result.replacement == "This simplifies to $2p=0.58$. So $p=0.29$."


def test_no_error_when_boxed_answer_matches_reference() -> None:
    steps = ["$2 + 2 = 4$.", "So the answer is $\\boxed{4}$."]
    assert analyse("", "4", steps).status == "NO_ERROR"
    assert analyse("We get \\boxed{4}.", "", steps).status == "NO_ERROR"
    assert analyse("2 + 2 = 4.\n\nThe answer is $4$.", "", steps).status == "NO_ERROR"


def test_abstained_when_answer_differs_or_is_missing() -> None:
    assert analyse("", "5", ["So the answer is $\\boxed{4}$."]).status == "ABSTAINED"
    assert analyse("", "4", ["So the answer is 4."]).status == "ABSTAINED"


@pytest.mark.parametrize("step", [
    "$9^{9^{9^{9}}} = 5$",
    "$100000! = 3$",
    "$(2^{100000})^{100000} = 1$",
    "$" + "(" * 500 + "1" + ")" * 500 + " = 2$",
    "$" + "9" * 5000 + " = 1$",
    "$\\binom{10^{9}}{5} = 1$",
])
def test_pathological_expressions_are_undecided_quickly(step: str) -> None:
    assert all(t is Truth.UNKNOWN for _, t in truths(step))


small = st.integers(min_value=-999, max_value=999)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(a=small, b=small, c=st.integers(min_value=1, max_value=99),
       op=st.sampled_from(["+", "-", "\\times", "\\cdot", "*"]))
def test_generated_true_claims_are_never_false(a: int, b: int, c: int, op: str) -> None:
    value = {"+": a + b, "-": a - b}.get(op, a * b)
    step = f"We compute ${a} {op} ({b}) = {value}$ and $\\frac{{{value}}}{{{c}}} = " \
           f"\\frac{{{value * 7}}}{{{c * 7}}}$."
    got = truths(step)
    assert [t for _, t in got] == [Truth.TRUE, Truth.TRUE]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(a=small, b=small, delta=st.integers(min_value=1, max_value=50),
       op=st.sampled_from(["+", "-", "\\times"]))
def test_perturbed_results_are_always_caught(a: int, b: int, delta: int, op: str) -> None:
    value = {"+": a + b, "-": a - b}.get(op, a * b)
    steps = [f"We compute ${a} {op} ({b}) = {value + delta}$.", "So we are done."]
    found = first_false_claim(steps)
    assert found is not None and found[0].step == 1
    assert found[0].correct == value


@pytest.mark.parametrize("step", [
    "$\\cos 60^\\circ = \\frac{1}{2}$ and $\\sin 90^{\\circ} = 1$.",
    "$\\cos(3\\pi) = -1$",
    "$\\sin^2 30^\\circ + \\cos^2 30^\\circ = 1$",
    "$2\\sin 30^\\circ \\cos 30^\\circ = \\sin 60^\\circ$",
    "There are \\binom{5}{3}=10 ways.",  # LaTeX without delimiters
    "The average is \\frac{2+-6}{2}=-2.",
    "So $\\frac{14}{2}$ is 7, and $(14-1)*7$ is 91.",
    "So $6$ is twice $3$ and $2$ is half of $4$.",
    "Thus $\\sqrt{10}$, which is greater than 3.",
    "So the square root of 49 is 7.",
    "Hence the cube root of 27 is $3$.",
])
def test_more_true_forms(step: str) -> None:
    got = truths(step)
    assert any(kind == "claim" for kind, _ in got)
    assert all(t is Truth.TRUE for kind, t in got if kind == "claim")


@pytest.mark.parametrize(("step", "replacement"), [
    ("So $\\frac{14}{2}$ is 8.", "So $\\frac{14}{2}$ is 7."),
    ("$\\tan 45^\\circ = 2$", "$\\tan 45^\\circ = 1$."),
    ("There are \\binom{5}{3}=12 ways.", "There are \\binom{5}{3}=10."),
    ("So the square root of 49 is 8.", "So the square root of 49 is 7."),
    ("It must be longer than $\\sqrt{10}$, which is greater than 4.",
     "It must be longer than $\\sqrt{10}$, which is less than 4."),
    ("We have $7 < 3$.", "We have $7 > 3$."),
    ("That gives me: 52x = 65(18 - x) 52x = 1170 - 65x 117x = 1170 x = 7",
     "That gives me: 52x = 65(18 - x) 52x = 1170 - 65x 117x = 1170 x = 10."),
])
def test_more_false_forms(step: str, replacement: str) -> None:
    result = analyse("", "", [step])
    assert (result.status, result.step, result.replacement) == ("FOUND_ERROR", 1, replacement)


def test_half_of_a_trigonometric_value() -> None:
    found = first_false_claim(["It is clear that $\\sin 200^\\circ$ is simply half of "
                               "$\\sin 400^\\circ$."])
    assert found is not None and found[0].relation.scale == 0.5


def test_function_values_derived_earlier_are_substituted() -> None:
    assert first_false_step("So $f(5) = 2 \\cdot 5 - 3 = 7$.", "Then $f(5) - 1 = 8$.") == 2
    assert first_false_step("So $f(-2) = 18$.", "Then $f(-2) + 2 = 20$.") == 0


@pytest.mark.parametrize("steps", [
    ["The average of \\(-5\\) and \\(3\\), which is \\(-1\\)."],  # the subject is the phrase
    ["So $12$ is 3 more than 9."],
    ["So $2^{10}$ is about 1000."],
    ["$\\sqrt{2} + 1 = 1.41 + 1$"],  # a rounded decimal inside a computation
    ["Rounding, $3\\sqrt{10} = 9.6$."],
    ["$\\sin 30 = 0.7$"],  # degrees or radians: not shown
    ["We get $2 + 2 = 5$ rather than 4."],
    ["Let us assume there are 16 ways.", "Check: $\\frac{16}{32} = \\frac{10 + 5 + 1}{2}$."],
])
def test_more_ambiguous_forms_are_not_reported(steps: list[str]) -> None:
    assert first_false_step(*steps) == 0


def test_a_false_check_without_an_assumption_is_reported() -> None:
    steps = ["There are 16 ways.", "Check: $\\frac{16}{32} = \\frac{10 + 5 + 1}{2}$."]
    assert first_false_step(*steps) == 2
