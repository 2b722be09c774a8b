"""Seeded problem generator with a controllable length and step-type mix (the difficulty knobs).

Each operation is drawn by its step type first (from ``WorldConfig.mix``), then an operand is
found that realizes that type on the current quantity (a carry or none, × 7–9, a two-digit
multiplier, an exact division) within ``max_value``. Length and mix are independent, so hard
problems can be made exactly as long as the training problems.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field

from splice.trainer.worlds.arith.spec import (
    Op,
    OpKind,
    ProblemSpec,
    StepType,
    step_type,
)
from splice.trainer.worlds.arith.text import GROUPED_START, ITEMS, NAMES, OPS, QUESTION, START

TRAIN_MIX: Mapping[StepType, float] = {
    StepType.ADD: 0.24, StepType.SUB: 0.24, StepType.MUL_SMALL: 0.22, StepType.DIV: 0.2,
    StepType.ADD_CARRY: 0.03, StepType.SUB_BORROW: 0.03, StepType.MUL_TABLE: 0.02,
    StepType.MUL_MULTI: 0.02,
}
"""Easy step types dominate; the hard ones are rare (under-represented, not absent)."""

HARD_MIX: Mapping[StepType, float] = {
    StepType.ADD: 0.06, StepType.SUB: 0.06, StepType.MUL_SMALL: 0.06, StepType.DIV: 0.12,
    StepType.ADD_CARRY: 0.18, StepType.SUB_BORROW: 0.18, StepType.MUL_TABLE: 0.2,
    StepType.MUL_MULTI: 0.14,
}
"""Mostly the under-represented step types."""


@dataclass(frozen=True)
class WorldConfig:
    """Difficulty knobs: length (number of operations), step-type mix and number sizes."""

    n_ops: tuple[int, int] = (3, 5)
    mix: Mapping[StepType, float] = field(default_factory=lambda: dict(TRAIN_MIX))
    start: tuple[int, int] = (12, 99)
    operand: tuple[int, int] = (11, 99)
    max_value: int = 999
    min_hard_steps: int = 0
    max_hard_steps: int | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.n_ops[0] <= self.n_ops[1]:
            raise ValueError("n_ops must be a range (lo, hi) with 1 <= lo <= hi")
        if not self.mix or min(self.mix.values()) < 0 or sum(self.mix.values()) <= 0:
            raise ValueError("mix needs non-negative weights with a positive sum")
        if self.min_hard_steps > self.n_ops[0]:
            raise ValueError("min_hard_steps exceeds the shortest problem")


TRAIN = WorldConfig()
"""The policy's training distribution: 3–5 operations, values ≤ 999, few hard steps."""
HARD = WorldConfig(mix=dict(HARD_MIX), min_hard_steps=2)
"""Same lengths as TRAIN, at least two hard steps: hard from execution, not from length."""

_TRIES = 40
_ENUMERATE = 2000  # operand ranges up to this size are searched exhaustively


def _operand(kind: StepType, value: int, rng: random.Random, config: WorldConfig) -> int | None:
    """An operand that makes ``value op operand`` a step of type ``kind``, or ``None``."""
    lo, hi = config.operand
    if kind in (StepType.SUB, StepType.SUB_BORROW):
        hi = min(hi, value - 1)
    candidates: list[int]
    if kind is StepType.MUL_SMALL:
        candidates = list(range(2, 7))
    elif kind is StepType.MUL_TABLE:
        candidates = [7, 8, 9]
    elif kind is StepType.DIV:
        candidates = [d for d in range(2, 10) if value % d == 0 and value // d >= 2]
    elif kind is StepType.MUL_MULTI:
        candidates = [k for k in range(max(lo, 11), hi + 1) if k % 10]
    else:
        candidates = []
    if kind.kind is OpKind.MUL:
        candidates = [k for k in candidates if value * k <= config.max_value]
    if candidates:
        return rng.choice(candidates)
    if kind.kind not in (OpKind.ADD, OpKind.SUB) or lo > hi:
        return None
    if kind.kind is OpKind.ADD:
        hi = min(hi, config.max_value - value)
    pool = range(lo, hi + 1) if hi - lo <= _ENUMERATE else [
        rng.randint(lo, hi) for _ in range(_TRIES)]
    fits = [k for k in pool if step_type(kind.kind, value, k) is kind]
    return rng.choice(fits) if fits else None


_INVERSE = {OpKind.ADD: OpKind.SUB, OpKind.SUB: OpKind.ADD, OpKind.MUL: OpKind.DIV,
            OpKind.DIV: OpKind.MUL}


def _undoes(previous: Op, kind: OpKind, k: int) -> bool:
    """Whether ``kind k`` undoes ``previous`` (a pointless pair that also makes a skipped
    operation look like a harmless reordering)."""
    return previous.operand == k and _INVERSE[previous.kind] is kind


def _draw(rng: random.Random, config: WorldConfig, n: int) -> tuple[int, list[Op]] | None:
    types, weights = zip(*config.mix.items(), strict=True)
    start = rng.randint(*config.start)
    value, ops = start, list[Op]()
    for _ in range(n):
        failed: set[StepType] = set()
        for _ in range(_TRIES):
            kind = rng.choices(types, weights)[0]
            if kind in failed:
                continue
            k = _operand(kind, value, rng, config)
            if k is not None and not (ops and _undoes(ops[-1], kind.kind, k)):
                break
            failed.add(kind)
            if len(failed) == len(types):
                return None
        else:
            return None
        variants = len(GROUPED_START) if not ops and kind.kind is OpKind.MUL else len(
            OPS[kind.kind])
        ops.append(Op(kind.kind, k, rng.randrange(variants)))
        value = kind.kind.apply(value, k)
    return start, ops


def generate(seed: int | random.Random, config: WorldConfig = TRAIN) -> ProblemSpec:
    """One problem of ``config``, deterministic in ``seed``."""
    rng = seed if isinstance(seed, random.Random) else random.Random(seed)
    for _ in range(1000):
        drawn = _draw(rng, config, rng.randint(*config.n_ops))
        if drawn is None:
            continue
        start, ops = drawn
        spec = ProblemSpec(start, tuple(ops), rng.choice(NAMES), rng.choice(ITEMS),
                           rng.randrange(len(START)), rng.randrange(len(QUESTION)))
        hard = sum(t.hard for t in spec.step_types())
        if hard >= config.min_hard_steps and (
                config.max_hard_steps is None or hard <= config.max_hard_steps):
            return spec
    raise RuntimeError(f"cannot generate a problem for {config}; loosen its knobs")


def generate_many(count: int, seed: int = 0, config: WorldConfig = TRAIN) -> list[ProblemSpec]:
    """``count`` problems from one seeded stream (distinct problems are likely, not forced)."""
    rng = random.Random(seed)
    return [generate(rng, config) for _ in range(count)]
