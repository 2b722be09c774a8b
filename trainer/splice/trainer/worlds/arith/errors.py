"""Error models and planted errors: the mistakes a policy makes on this world, written in its style.

Wrong results follow realistic models (a dropped carry or borrow, a digit off by one, a
confused times-table fact); the other planted errors are arithmetically true but wrong for the
problem (an operand copied wrongly, a skipped operation, a wrong order). After a critical
error the planted solution carries on from the wrong quantity, as a policy does. A
self-corrected slip (a wrong line, then "Wait, <right line>.") is not a critical error.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass

from splice.trainer.worlds.arith.check import Finding, same_claim
from splice.trainer.worlds.arith.solutions import STEP_SEPARATOR, boxed, claim_line
from splice.trainer.worlds.arith.spec import Claim, OpKind, ProblemSpec


class ErrorModel(enum.StrEnum):
    """How a wrong result comes about."""

    DROPPED_CARRY = "dropped_carry"      # a carry (or borrow) not propagated
    OFF_BY_ONE_DIGIT = "off_by_one_digit"
    TABLE_CONFUSION = "table_confusion"  # e.g. 7 × 8 recalled as 7 × 7 or 6 × 8


PLANTABLE = (Finding.WRONG_RESULT, Finding.WRONG_OPERAND, Finding.SKIPPED_STEP,
             Finding.WRONG_ORDER)
CORRECTIONS = ("Wait, {line}.", "No, wait: {line}.", "Let me redo this: {line}.")


def _digits(n: int) -> list[int]:
    return [int(c) for c in reversed(str(n))]


def _carry_deltas(kind: OpKind, a: int, b: int) -> list[int]:
    """Changes to the result from dropping one carry (or borrow) of the column method."""
    if kind is OpKind.ADD:
        da, db, carry, out = _digits(a), _digits(b), 0, []
        for p in range(max(len(da), len(db))):
            carry = ((da[p] if p < len(da) else 0) + (db[p] if p < len(db) else 0) + carry) // 10
            if carry:
                out.append(-(10 ** (p + 1)))
        return out
    if kind is OpKind.SUB:
        da, db, borrow, out = _digits(a), _digits(b), 0, []
        for p in range(len(da)):
            borrow = int(da[p] - (db[p] if p < len(db) else 0) - borrow < 0)
            if borrow:
                out.append(10 ** (p + 1))
        return out
    if kind is OpKind.MUL:
        out = []
        for s, digit in enumerate(_digits(b)):
            carry = 0
            for p, d in enumerate(_digits(a)):
                carry = (d * digit + carry) // 10
                if carry:
                    out.append(-carry * 10 ** (p + 1 + s))
        return out
    return []


def _table_deltas(kind: OpKind, a: int, b: int) -> list[int]:
    """Changes from recalling one digit product ``x × y`` as ``x × (y ± 1)`` or ``(x ± 1) × y``."""
    if kind is not OpKind.MUL:
        return []
    pairs = [(x, y, 10 ** (p + s)) for p, x in enumerate(_digits(a))
             for s, y in enumerate(_digits(b)) if x >= 2 and y >= 2]
    hard = [pair for pair in pairs if max(pair[0], pair[1]) >= 7]
    return [sign * f * scale for x, y, scale in (hard or pairs) for f in (x, y) for sign in (1, -1)]


def _digit_deltas(result: int) -> list[int]:
    return [sign * 10 ** p for p in range(len(str(abs(result)))) for sign in (1, -1)]


def wrong_result(kind: OpKind, a: int, b: int, rng: random.Random,
                 model: ErrorModel | None = None) -> tuple[int, ErrorModel]:
    """A positive wrong result for ``a kind b`` under ``model`` (or a random applicable one)."""
    correct = kind.apply(a, b)
    by_model = {
        ErrorModel.DROPPED_CARRY: _carry_deltas(kind, a, b),
        ErrorModel.TABLE_CONFUSION: _table_deltas(kind, a, b),
        ErrorModel.OFF_BY_ONE_DIGIT: _digit_deltas(correct),
    }
    usable = {m: [d for d in ds if d and correct + d > 0] for m, ds in by_model.items()}
    usable = {m: ds for m, ds in usable.items() if ds}
    if model is not None and model not in usable:
        raise ValueError(f"{model.value} does not apply to {a} {kind.value} {b}")
    chosen = model or rng.choice(sorted(usable))
    return correct + rng.choice(usable[chosen]), chosen


def miscopy(n: int, rng: random.Random) -> int:
    """``n`` copied wrongly: two neighbouring digits swapped, or one digit off by one."""
    s = str(n)
    swaps = [s[:i] + s[i + 1] + s[i] + s[i + 2:] for i in range(len(s) - 1)
             if s[i] != s[i + 1] and not (i == 0 and s[1] == "0")]
    nudges = [s[:i] + str(int(c) + d) + s[i + 1:] for i, c in enumerate(s) for d in (1, -1)
              if 0 <= int(c) + d <= 9 and not (i == 0 and int(c) + d == 0)]
    return int(rng.choice(swaps or nudges) if swaps and rng.random() < 0.5 else
               rng.choice(nudges or swaps))


@dataclass(frozen=True)
class Planted:
    """A solution in the policy's style with (at most) one planted critical error."""

    steps: tuple[str, ...]
    finding: Finding | None
    first_error_step: int  # 1-based; 0 when the solution has no critical error
    op_index: int

    @property
    def text(self) -> str:
        """The solution text, steps separated by blank lines."""
        return STEP_SEPARATOR.join(self.steps)


def _run(value: int, ops: list[tuple[OpKind, int]]) -> list[Claim]:
    """Claims of applying ``ops`` from ``value`` with true arithmetic (floor division)."""
    out = []
    for kind, k in ops:
        result = kind.apply(value, k)
        out.append(Claim(value, kind, k, result))
        value = result
    return out


def _valid(claims: list[Claim]) -> bool:
    return all(c.true and c.result > 0 for c in claims)


def _student(spec: ProblemSpec, kind: Finding, j: int, rng: random.Random) -> list[Claim] | None:
    """The claims a student writes with error ``kind`` at operation ``j``, or ``None``."""
    want, ops = spec.claims(), [(op.kind, op.operand) for op in spec.ops]
    head, v = want[:j], want[j].left
    if kind is Finding.WRONG_RESULT:
        bad = Claim(v, want[j].kind, want[j].right,
                    wrong_result(want[j].kind, v, want[j].right, rng)[0])
        return [*head, bad, *_run(bad.result, ops[j + 1:])]
    if kind is Finding.WRONG_OPERAND:
        kind_j, k = ops[j]
        left, right = (miscopy(v, rng), k) if rng.random() < 0.5 else (v, miscopy(k, rng))
        bad = Claim(left, kind_j, right, kind_j.apply(left, right))
        ok = bad.true and bad.result > 0 and bad.result != want[j].result
        return [*head, bad, *_run(bad.result, ops[j + 1:])] if ok else None
    if kind is Finding.SKIPPED_STEP:
        if ops[j] in ops[j + 1:j + 3]:
            return None  # indistinguishable from no error, or from a harmless reordering
        rest = _run(v, ops[j + 1:])
        return [*head, *rest] if _valid(rest) else None
    if j + 1 >= len(ops):
        return None
    pair = _run(v, [ops[j + 1], ops[j]])
    if not _valid(pair) or pair[1].result == want[j + 1].result:
        return None
    rest = _run(pair[1].result, ops[j + 2:])
    return [*head, *pair, *rest] if _valid(rest) else None


def _slip(claim: Claim, rng: random.Random) -> Claim:
    """A wrong line in place of ``claim`` (a wrong result or a miscopied operand)."""
    if rng.random() < 0.5:
        right = miscopy(claim.right, rng)
        slip = Claim(claim.left, claim.kind, right, claim.kind.apply(claim.left, right))
        if slip.true and slip.result > 0:
            return slip
    return Claim(claim.left, claim.kind, claim.right,
                 wrong_result(claim.kind, claim.left, claim.right, rng)[0])


def _with_slip(claims: list[Claim], at: int, rng: random.Random) -> list[str]:
    """Policy-style steps of ``claims`` with a self-corrected slip before claim ``at``."""
    lines = [claim_line(c) for c in claims]
    fix = rng.choice(CORRECTIONS).format(line=lines[at])
    return [*lines[:at], claim_line(_slip(claims[at], rng)), fix, *lines[at + 1:]]


def _ambiguous(claims: list[Claim], want: list[Claim], j: int) -> bool:
    """Whether the wrong line at ``j`` repeats an earlier line (reads as a restatement) or
    the right line for ``j`` turns up later by coincidence (reads as a correction)."""
    return j < len(claims) and (claims[j] in claims[:j] or any(
        same_claim(c, want[j]) for c in claims[j + 1:]))


def plant_error(spec: ProblemSpec, kind: Finding, rng: random.Random, *,
                op_index: int | None = None, slip_before: bool = False) -> Planted | None:
    """A solution with one critical error ``kind`` at operation ``op_index`` (random if
    ``None``); with ``slip_before``, also a self-corrected slip earlier. ``None`` if this
    problem cannot carry that error there."""
    if kind not in PLANTABLE:
        raise ValueError(f"cannot plant {kind}")
    n = len(spec.ops)
    order = [op_index] if op_index is not None else rng.sample(range(n), n)
    for j in order:
        if slip_before and j == 0:
            continue
        claims = _student(spec, kind, j, rng)
        if claims is None or _ambiguous(claims, spec.claims(), j):
            continue
        answer = claims[-1].result if claims else spec.start
        if slip_before:
            at = rng.randrange(j)
            steps = [*_with_slip(claims, at, rng), boxed(answer)]
            return Planted(tuple(steps), kind, j + 2, j)
        steps = [*(claim_line(c) for c in claims), boxed(answer)]
        return Planted(tuple(steps), kind, j + 1, j)
    return None


def plant_self_corrected(spec: ProblemSpec, rng: random.Random,
                         op_index: int | None = None) -> Planted:
    """A correct solution with one slip that the next step corrects (no critical error)."""
    at = rng.randrange(len(spec.ops)) if op_index is None else op_index
    steps = [*_with_slip(spec.claims(), at, rng), boxed(spec.answer)]
    return Planted(tuple(steps), None, 0, at)
