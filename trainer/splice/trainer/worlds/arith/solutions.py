"""Reference solutions in two styles: the policy's own, and a correct but unseen one.

Policy style (what the tiny policy is trained on): one operation per step, steps separated by
a blank line, ``37 \\times 4 = 148``, then ``\\boxed{N}``. Unseen style (an oracle's
off-policy trace, for the distillation baseline): prose, several operations per step,
operands of commutative operations swapped, commuting neighbours reordered, other symbols.
"""

from __future__ import annotations

import random

from splice.trainer.worlds.arith.spec import Claim, OpKind, ProblemSpec

SYMBOLS = {OpKind.ADD: "+", OpKind.SUB: "-", OpKind.MUL: "\\times", OpKind.DIV: "\\div"}
STEP_SEPARATOR = "\n\n"


def claim_line(claim: Claim) -> str:
    """One step of the policy's style: ``37 \\times 4 = 148``."""
    return f"{claim.left} {SYMBOLS[claim.kind]} {claim.right} = {claim.result}"


def boxed(answer: int | str) -> str:
    """The final step of the policy's style."""
    return f"\\boxed{{{answer}}}"


def policy_steps(claims: list[Claim], answer: int | str) -> list[str]:
    """Steps (without separators) of a solution that writes ``claims`` and boxes ``answer``."""
    return [*(claim_line(c) for c in claims), boxed(answer)]


def policy_solution(spec: ProblemSpec) -> str:
    """The canonical reference solution in the policy's style."""
    return STEP_SEPARATOR.join(policy_steps(spec.claims(), spec.answer))


_UNSEEN_SYMBOLS = {OpKind.ADD: "+", OpKind.SUB: "-", OpKind.MUL: "\\cdot", OpKind.DIV: "/"}
_VERBS = {OpKind.ADD: "adding {k} gives", OpKind.SUB: "taking away {k} leaves",
          OpKind.MUL: "scaling by {k} gives", OpKind.DIV: "one of {k} equal parts is"}


def _commute(claims: list[Claim], rng: random.Random) -> list[Claim]:
    """Reorder neighbouring additions/subtractions (never making a quantity non-positive)."""
    out = list(claims)
    i = 0
    while i + 1 < len(out):
        a, b = out[i], out[i + 1]
        additive = {a.kind, b.kind} <= {OpKind.ADD, OpKind.SUB}
        if additive and rng.random() < 0.5:
            mid = b.kind.apply(a.left, b.right)
            if mid > 0:
                out[i] = Claim(a.left, b.kind, b.right, mid)
                out[i + 1] = Claim(mid, a.kind, a.right, b.result)
                i += 2
                continue
        i += 1
    return out


def _equation(claim: Claim, rng: random.Random) -> str:
    left, right = claim.left, claim.right
    if claim.kind.commutative and rng.random() < 0.6:
        left, right = right, left
    return f"${left} {_UNSEEN_SYMBOLS[claim.kind]} {right} = {claim.result}$"


def unseen_solution(spec: ProblemSpec, seed: int = 0) -> str:
    """A correct reference in a style the policy never saw (deterministic in ``seed``)."""
    rng = random.Random(seed)
    claims = _commute(spec.claims(), rng)
    paragraphs: list[str] = []
    i = 0
    while i < len(claims):
        size = rng.choice((2, 3))
        chunk = claims[i:i + size]
        parts = []
        for j, claim in enumerate(chunk):
            verb = _VERBS[claim.kind].format(k=claim.right)
            if i + j == 0:
                parts.append(f"{spec.name} begins with {spec.start} {spec.item}; {verb} "
                             f"{_equation(claim, rng)}")
            else:
                parts.append(f"{verb} {_equation(claim, rng)}")
        text = ", and ".join(parts)
        paragraphs.append(f"Next, {text}." if i else f"{text[0].upper()}{text[1:]}.")
        i += size
    paragraphs.append(f"So {spec.name} ends with $\\boxed{{{spec.answer}}}$ {spec.item}.")
    return STEP_SEPARATOR.join(paragraphs)
