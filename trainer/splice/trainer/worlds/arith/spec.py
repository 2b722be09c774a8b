"""The arith world's model: a start quantity and a chain of operations on one named pile."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from typing import Any


class OpKind(enum.StrEnum):
    """One arithmetic operation on the running quantity."""

    ADD = "add"
    SUB = "sub"
    MUL = "mul"
    DIV = "div"

    @property
    def commutative(self) -> bool:
        """Whether the operands of a claim may be written in either order."""
        return self in (OpKind.ADD, OpKind.MUL)

    def apply(self, a: int, b: int) -> int:
        """``a op b``; division is floor division (the world only makes exact ones)."""
        if self is OpKind.ADD:
            return a + b
        if self is OpKind.SUB:
            return a - b
        if self is OpKind.MUL:
            return a * b
        return a // b


class StepType(enum.StrEnum):
    """What one step exercises; the generator's difficulty knobs are weights over these."""

    ADD = "add"                # no carry
    ADD_CARRY = "add_carry"
    SUB = "sub"                # no borrow
    SUB_BORROW = "sub_borrow"
    MUL_SMALL = "mul_small"    # × 2–6
    MUL_TABLE = "mul_table"    # × 7–9
    MUL_MULTI = "mul_multi"    # × a two-digit number
    DIV = "div"                # exact, ÷ 2–9

    @property
    def kind(self) -> OpKind:
        """The operation this step type performs."""
        return _KIND_OF[self]

    @property
    def hard(self) -> bool:
        """The under-represented step types on which a policy makes systematic errors."""
        return self in HARD_STEP_TYPES


_KIND_OF = {t: OpKind(t.value.split("_")[0]) for t in StepType}
HARD_STEP_TYPES = frozenset(
    {StepType.ADD_CARRY, StepType.SUB_BORROW, StepType.MUL_TABLE, StepType.MUL_MULTI}
)


def _digits(n: int) -> list[int]:
    """Decimal digits of ``n >= 0``, least significant first."""
    return [int(c) for c in reversed(str(n))]


def has_carry(a: int, b: int) -> bool:
    """Whether the column addition ``a + b`` carries in some column."""
    da, db = _digits(a), _digits(b)
    carry = 0
    for i in range(max(len(da), len(db))):
        carry = (da[i] if i < len(da) else 0) + (db[i] if i < len(db) else 0) + carry >= 10
        if carry:
            return True
    return False


def has_borrow(a: int, b: int) -> bool:
    """Whether the column subtraction ``a - b`` (``a >= b``) borrows in some column."""
    da, db = _digits(a), _digits(b)
    return any(d < (db[i] if i < len(db) else 0) for i, d in enumerate(da))


def step_type(kind: OpKind, a: int, b: int) -> StepType:
    """Classify the step ``a kind b``."""
    if kind is OpKind.ADD:
        return StepType.ADD_CARRY if has_carry(a, b) else StepType.ADD
    if kind is OpKind.SUB:
        return StepType.SUB_BORROW if has_borrow(a, b) else StepType.SUB
    if kind is OpKind.MUL:
        if b >= 10:
            return StepType.MUL_MULTI
        return StepType.MUL_TABLE if b >= 7 else StepType.MUL_SMALL
    return StepType.DIV


@dataclass(frozen=True, slots=True)
class Op:
    """One operation with its operand; ``variant`` picks the sentence template (text only)."""

    kind: OpKind
    operand: int
    variant: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Claim:
    """One written equation ``left op right = result`` (the unit the checker replays)."""

    left: int
    kind: OpKind
    right: int
    result: int

    @property
    def true(self) -> bool:
        """Whether the equation is arithmetically right (division must be exact)."""
        if self.kind is OpKind.DIV:
            return self.right != 0 and self.left == self.result * self.right
        return self.kind.apply(self.left, self.right) == self.result


@dataclass(frozen=True, slots=True)
class ProblemSpec:
    """A problem: ``name`` starts with ``start`` ``item`` and applies ``ops`` in order.

    Only ``start`` and ``ops`` (kind, operand) define the problem; ``name``, ``item`` and the
    template variants only change its wording.
    """

    start: int
    ops: tuple[Op, ...]
    name: str = "Ana"
    item: str = "points"
    start_variant: int = field(default=0, compare=False)
    question_variant: int = field(default=0, compare=False)

    def values(self) -> list[int]:
        """The running quantity: ``start`` and the value after each operation."""
        out = [self.start]
        for op in self.ops:
            out.append(op.kind.apply(out[-1], op.operand))
        return out

    @property
    def answer(self) -> int:
        """The final quantity."""
        return self.values()[-1]

    def claims(self) -> list[Claim]:
        """The correct claim of every operation, in order."""
        values = self.values()
        return [Claim(values[i], op.kind, op.operand, values[i + 1])
                for i, op in enumerate(self.ops)]

    def step_types(self) -> list[StepType]:
        """The step type of every operation."""
        return [step_type(c.kind, c.left, c.right) for c in self.claims()]

    def valid(self) -> bool:
        """Positive quantities throughout and exact divisions."""
        return all(v > 0 for v in self.values()) and all(c.true for c in self.claims())

    def to_json(self) -> str:
        """Compact JSON, the form carried in ``options["world_spec"]``."""
        return json.dumps({
            "world": "arith", "start": self.start, "name": self.name, "item": self.item,
            "ops": [[op.kind.value, op.operand, op.variant] for op in self.ops],
            "variants": [self.start_variant, self.question_variant],
        }, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> ProblemSpec:
        """Inverse of :meth:`to_json`; raises ``ValueError`` on anything malformed."""
        try:
            data: Any = json.loads(text)
            ops = tuple(Op(OpKind(o[0]), int(o[1]), int(o[2]) if len(o) > 2 else 0)
                        for o in data["ops"])
            variants = [int(v) for v in data.get("variants", [0, 0])]
            spec = cls(int(data["start"]), ops, str(data.get("name", "Ana")),
                       str(data.get("item", "points")), variants[0], variants[1])
        except (KeyError, TypeError, IndexError, json.JSONDecodeError) as exc:
            raise ValueError(f"not an arith world spec: {exc}") from exc
        if not ops or not spec.valid():
            raise ValueError("arith world spec has no operations or is not well formed")
        return spec
