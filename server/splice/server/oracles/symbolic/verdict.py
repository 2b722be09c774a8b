"""From checked claims to a verdict: the first uncorrected false claim, its replacement step,
or the final ``\\boxed{}`` answer against the reference (math-verify)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import sympy
from splice.server.oracles.symbolic.claims import Checked, Truth, check_steps
from splice.server.oracles.symbolic.latex import Token

_CORRECTION_RE = re.compile(
    r"\b(wait|actually|oops|mistake|correction|recalculat\w*|redo|should be|instead|"
    r"incorrect|wrong|error|recheck|re-check|double-check|let me check|that's not right)\b",
    re.IGNORECASE,
)
_NUMBER_RE = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
MV_TIMEOUT_S = 1


@dataclass(frozen=True, slots=True)
class Analysis:
    """What the checker concluded about one rollout (plain data: crosses process pipes)."""

    status: str  # "FOUND_ERROR", "NO_ERROR", "ABSTAINED"
    step: int = 0
    replacement: str = ""
    explanation: str = ""


def format_value(value: sympy.Expr, wrong: Sequence[Token], latex: bool) -> str:
    """``value`` written the way the student wrote the wrong number."""
    percent = any(t.kind == "PCT" for t in wrong)
    if percent:
        value = value * 100
    decimals = 0
    for tok in wrong:
        if tok.kind == "NUM" and "." in tok.value:
            decimals = max(decimals, len(tok.value.split(".")[1]))
    text: str
    if isinstance(value, sympy.Rational):
        q = int(value.q)
        while q % 2 == 0:
            q //= 2
        while q % 5 == 0:
            q //= 5
        if value.q == 1:
            text = str(value.p)
        elif q == 1 and len(str(value.q)) <= 10 and (decimals or not latex):
            text = _decimal(value, 12)
        elif decimals:
            text = _decimal(value, max(decimals, 2))
        else:
            text = f"\\frac{{{value.p}}}{{{value.q}}}" if latex else f"{value.p}/{value.q}"
    elif decimals:
        text = _decimal(value, max(decimals, 2))
    else:
        text = sympy.latex(value) if latex else str(value)
    if percent:
        text += "\\%" if latex else "%"
    return text


def _decimal(value: sympy.Expr, places: int) -> str:
    out = f"{sympy.N(value, places + 20):.{places}f}"
    if "." in out:
        out = out.rstrip("0").rstrip(".")
    return out


def _replacement(item: Checked, content: str) -> tuple[str, str]:
    """(replacement step, explanation) for a false claim or assignment."""
    assert item.correct is not None
    seg = item.relation.segment
    wrong = item.right if item.wrong_right else item.left
    text = format_value(item.correct, wrong, seg.latex)
    rest = "" if item.wrong_right else content[wrong[-1].end : item.right[-1].end]
    body = content[: wrong[0].start] + text + rest + seg.closer
    if item.holds:  # "$7 < 3$" becomes "$7 > 3$"
        gap = content[item.left[-1].end : item.right[0].start]
        body = (content[: item.left[-1].end] + _flip(gap, item.holds)
                + content[item.right[0].start : item.right[-1].end] + seg.closer)
    if not body.rstrip().endswith((".", "!", ":")):
        body = body.rstrip() + "."
    lo, hi = item.left[0].start, item.right[-1].end
    claim_src = content[lo:hi].replace("$", "")
    computation = item.left if item.wrong_right else item.right
    comp_src = content[computation[0].start : computation[-1].end].replace("$", "")
    scale = item.relation.scale
    if scale != 1:
        comp_src = f"{scale if not item.wrong_right else 1 / scale} \\times {comp_src}"
    if item.holds:
        sides = [content[side[0].start : side[-1].end].replace("$", "")
                 for side in (item.left, item.right)]
        return body, f"step {item.step} claims {claim_src}, but {sides[0]} {item.holds} " \
                     f"{sides[1]}"
    if item.kind == "assign":
        explanation = (f"step {item.step} states {item.constraint_src} and then {claim_src}, "
                       f"but {item.constraint_src} gives {item.var} = {text}")
    else:
        explanation = f"step {item.step} claims {claim_src}, but {comp_src} = {text}"
    return body, explanation


_INEQUALITY_WORDS_RE = re.compile(
    r"(?:greater|larger|bigger|more|less|smaller)\s+than(?:\s+or\s+equal\s+to)?|"
    r"at\s+least|at\s+most", re.IGNORECASE,
)
_INEQUALITY_SYMBOL_RE = re.compile(r"\\(?:leqslant|geqslant|leq?|geq?|lt|gt)\b|<=|>=|[<>≤≥]")
_SPELLED = {"<": ("less than", "<"), ">": ("greater than", ">"), "=": ("equal to", "=")}


def _flip(gap: str, holds: str) -> str:
    """The text between the sides of a false inequality, stating ``holds`` instead."""
    words, symbol = _SPELLED[holds]
    flipped, n = _INEQUALITY_WORDS_RE.subn(words, gap, count=1)
    return flipped if n else _INEQUALITY_SYMBOL_RE.sub(symbol, gap, count=1)


def _corrected(item: Checked, later: Sequence[Checked], later_texts: Sequence[str]) -> bool:
    """Whether something after ``item`` restates its computation correctly."""
    assert item.correct is not None
    key = item.left_key if item.wrong_right else item.right_key
    for other in later:
        if other.truth is Truth.TRUE and other.kind == "claim" and key in (
            other.left_key, other.right_key,
        ):
            return True
        if other.kind == "assign" and item.kind == "assign" and other.var == item.var \
                and other.truth is Truth.TRUE:
            return True
    if not isinstance(item.correct, sympy.Rational):
        return False
    for text in later_texts:
        if not _CORRECTION_RE.search(text):
            continue
        for m in _NUMBER_RE.finditer(text):
            try:
                value = sympy.Rational(m.group(0).replace(",", ""))
            except (TypeError, ValueError):
                continue
            if abs(value - item.correct) < sympy.Rational(1, 10**6) or (
                abs(value * 100 - item.correct * 100) < 1 and "." in m.group(0)
            ):
                return True
    return False


def first_false_claim(steps: Sequence[str]) -> tuple[Checked, str] | None:
    """The first asserted false claim that no later step corrects, with its step text."""
    checked = check_steps(steps)
    flat = [item for items in checked for item in items]
    for pos, item in enumerate(flat):
        if item.truth is not Truth.FALSE or not item.asserted or item.correct is None:
            continue
        later_texts = list(steps[item.step :])
        wrong = item.right if item.wrong_right else item.left
        tail = steps[item.step - 1][wrong[-1].end :]
        if not _corrected(item, flat[pos + 1 :], [tail, *later_texts]):
            return item, steps[item.step - 1]
    return None


def last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` (or ``\\fbox{...}``) in ``text``."""
    start = max(text.rfind("\\boxed{"), text.rfind("\\fbox{"))
    if start < 0:
        return None
    i = text.index("{", start)
    depth = 0
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1 : j]
    return None


def answers_match(reference_solution: str, reference_answer: str, rollout: str) -> bool | None:
    """Whether the rollout's final boxed answer equals the reference; None if it has none."""
    import math_verify  # heavy; imported by the worker at start

    predicted = last_boxed(rollout)
    if predicted is None:
        return None
    ref = reference_answer.strip() or last_boxed(reference_solution)
    if ref:
        gold = math_verify.parse(f"${ref}$", parsing_timeout=MV_TIMEOUT_S)
    else:
        tail = reference_solution.strip().split("\n\n")[-1]
        gold = math_verify.parse(tail, parsing_timeout=MV_TIMEOUT_S)
    target = math_verify.parse(f"$\\boxed{{{predicted}}}$", parsing_timeout=MV_TIMEOUT_S)
    if not gold or not target:
        return False
    return bool(math_verify.verify(gold, target, timeout_seconds=MV_TIMEOUT_S))


def analyse(
    reference_solution: str, reference_answer: str, steps: Sequence[str]
) -> Analysis:
    """Verdict on one rollout given as step contents (numbered from 1)."""
    found = first_false_claim(steps)
    if found is not None:
        item, content = found
        replacement, explanation = _replacement(item, content)
        return Analysis("FOUND_ERROR", item.step, replacement, explanation)
    match = answers_match(reference_solution, reference_answer, "\n\n".join(steps))
    if match:
        return Analysis("NO_ERROR", explanation="no false claim; final answer matches reference")
    why = "no boxed final answer" if match is None else "final answer differs from reference"
    return Analysis("ABSTAINED", explanation=f"no false claim found; {why}")


def warmup() -> None:
    """Exercise the checker once so that a worker's first real task is fast."""
    analyse("", "2", ["$1 + 1 = 2$ and $\\frac{1}{2} \\approx 0.5$", "So $\\boxed{2}$."])
