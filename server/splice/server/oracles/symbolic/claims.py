"""Claim checking: each relation pair is a claim, an assignment, a constraint or undecidable.

A *claim* has numeric sides once earlier derived values are substituted; it is TRUE, FALSE
or UNKNOWN (plausible rounding, percent or unit ambiguity). A constraint (free unknowns) is
never false; ``p = 0.29`` assigns ``p`` for later steps.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sympy
from splice.server.oracles.symbolic.expr import SideInfo, Undecidable, call_name, evaluate_side
from splice.server.oracles.symbolic.latex import Token, sentence_spans
from splice.server.oracles.symbolic.relations import Relation
from splice.server.oracles.symbolic.wording import stated_relations

EXACT_RTOL = sympy.Rational(1, 10**12)
APPROX_RTOL = sympy.Rational(5, 100)
INEXACT_VAR_RTOL = sympy.Rational(1, 100)
_ASSUME_RE = re.compile(
    r"\b(assume|assuming|suppose|supposing|guess|presume|hypothes\w*|let(?: u|')s say)\b",
    re.IGNORECASE,
)
# the value an assumption gives: "assume there are 16 ways", "suppose $x = 12$"
_ASSUMED_NUMBER_RE = re.compile(
    r"(?:\b(?:is|are|be|equals?|was|were)\s+|=\s*)\$?(\d+(?:\.\d+)?)(?![\w.])"
)
_ROUNDED_RE = re.compile(
    r"\b(round\w*|approximate\w*|approx|about|roughly|nearly|around|almost|estimat\w*)\b",
    re.IGNORECASE,
)
_FORGET_RE = re.compile(
    r"\b(let(?!')|denote|call|define|suppose|assume|consider|case|represent|set)\b", re.IGNORECASE
)


class Truth(enum.Enum):
    """Outcome of checking one claim."""

    TRUE = "true"
    FALSE = "false"
    UNKNOWN = "unknown"


@dataclass(slots=True)
class Checked:
    """One checked pair ``left op right`` of a relation in step ``step`` (1-based)."""

    step: int
    kind: str  # "claim", "assign", "constraint", "unknown"
    truth: Truth
    op: str
    relation: Relation
    left: tuple[Token, ...]
    right: tuple[Token, ...]
    left_key: str = ""
    right_key: str = ""
    correct: sympy.Expr | None = None
    """For a FALSE claim: the value the wrong side should have had."""
    wrong_right: bool = True
    """Which side is wrong: the right one unless only the left one is a bare number."""
    var: str = ""
    value: sympy.Expr | None = None
    """For an assignment: the variable and the value given to it."""
    asserted: bool = True
    constraint_src: str = ""
    """For a false assignment: the constraint it contradicts."""
    holds: str = ""
    """For a false inequality: the relation that holds instead (``<``, ``=`` or ``>``)."""


def _num(value: sympy.Expr) -> sympy.Expr:
    if isinstance(value, sympy.Rational):
        return value
    return sympy.N(value, 40)


def _real(value: sympy.Expr) -> bool:
    im = sympy.im(_num(value))
    return bool(abs(im) < sympy.Rational(1, 10**30))


def compare(
    a: sympy.Expr, b: sympy.Expr, op: str, ia: SideInfo, ib: SideInfo, *, inexact: bool = False
) -> Truth:
    """Truth of ``a op b`` for numbers, allowing the rounding that the sides show."""
    if op == "equiv" or not (_real(a) and _real(b)):
        return Truth.UNKNOWN
    av, bv = sympy.re(_num(a)), sympy.re(_num(b))
    diff = av - bv
    scale = max(abs(av), abs(bv), sympy.Integer(1))
    eps = EXACT_RTOL * scale if not (isinstance(a, sympy.Rational)
                                      and isinstance(b, sympy.Rational)) else sympy.Integer(0)
    allow = eps
    for info, other in ((ia, bv), (ib, av)):
        if info.literal:
            if info.decimals > 0 or info.decimals < 0:
                allow = max(allow, sympy.Rational(10) ** (-info.decimals))
            elif op in ("=", "approx", "!=") and not (
                isinstance(other, sympy.Rational) and other.q == 1
            ):  # "100 / 3 = 33" may be rounded; "\sqrt{10} > 4" is not
                allow = max(allow, sympy.Integer(1))
    if op == "approx":
        allow = max(allow, APPROX_RTOL * scale)
    if inexact:
        allow = max(allow, INEXACT_VAR_RTOL * scale)
    if op in ("=", "approx"):
        if abs(diff) <= eps:
            return Truth.TRUE
        return Truth.UNKNOWN if abs(diff) <= allow else Truth.FALSE
    if op == "!=":
        return Truth.FALSE if abs(diff) <= eps and allow == eps else Truth.TRUE
    holds: dict[str, Callable[[sympy.Expr], bool]] = {
        "<": lambda d: bool(d < 0), "<=": lambda d: bool(d <= 0),
        ">": lambda d: bool(d > 0), ">=": lambda d: bool(d >= 0),
    }
    if op not in holds:
        return Truth.UNKNOWN
    if holds[op](diff):
        return Truth.TRUE
    return Truth.FALSE if abs(diff) > allow else Truth.UNKNOWN


_UNIT_FACTORS = frozenset(
    [10**k for k in range(1, 10)] + [12, 24, 60, 7, 52, 365, 366, 3600, 1440, 86400, 16, 36]
)


def _unit_ratio(a: sympy.Expr, b: sympy.Expr) -> bool:
    """Whether ``a / b`` is a common unit factor (hours/minutes, dollars/cents, ...)."""
    if a == 0 or b == 0:
        return False
    ratio = abs(a / b)
    ratio = ratio if ratio >= 1 else 1 / ratio
    return isinstance(ratio, sympy.Integer) and int(ratio) in _UNIT_FACTORS


def _rounded(text: str, rel: Relation) -> bool:
    """Whether the sentence of ``rel`` says its values are rounded or approximate."""
    start = rel.sides[0][0].start if rel.sides[0] else rel.segment.start
    return any(s <= start < e and _ROUNDED_RE.search(text, s, e) for s, e in sentence_spans(text))


def _is_var(side: Sequence[Token]) -> str:
    """The variable (``x``, ``S_14``) or function value (``f(5)``) that a side names."""
    if len(side) == 1 and side[0].kind == "ID":
        return side[0].value
    call, size = call_name(side, 0)
    return call if size == len(side) else ""


def _solved_vars(relations: Sequence[Relation]) -> set[str]:
    """Variables a step solves for: alone (or as ``b^2``) on one side of a relation."""
    out: set[str] = set()
    for rel in relations:
        for side in rel.sides:
            if side and side[0].kind == "ID" and (
                len(side) == 1 or (len(side) == 3 and side[1].value == "^"
                                   and side[2].kind == "NUM")
            ):
                out.add(side[0].value)
    return out


class StepChecker:
    """Walks the steps in order, keeping the values the rollout derived.

    A value is substituted only within ``window`` steps of where it was derived and never into
    a step that solves for the same variable again: letters get reused for new unknowns.
    """

    def __init__(self, window: int = 3) -> None:
        self.window = window
        self.known: dict[str, tuple[sympy.Expr, int]] = {}
        self.env: dict[str, sympy.Expr] = {}
        self.inexact: set[str] = set()
        self.constraints: list[tuple[int, str, sympy.Expr, str]] = []
        """(step, variable, constraint as ``lhs - rhs``, source text) with one unknown."""
        self.assumed: set[str] = set()
        """Numbers the rollout assumed rather than derived ("assume there are 16 ways")."""

    def _eval(self, side: Sequence[Token], percent_div: bool) -> tuple[sympy.Expr, SideInfo]:
        return evaluate_side(side, self.env, percent_div=percent_div)

    def check_step(self, index: int, text: str) -> list[Checked]:
        """Check every pair in step ``index`` and update the known values."""
        relations = stated_relations(text)
        mentioned = {tok.value for rel in relations for side in rel.sides for tok in side
                     if tok.kind == "ID"}
        if _FORGET_RE.search(text):
            for var in mentioned:
                self.known.pop(var, None)
        solved = _solved_vars(relations)
        self.env = {var: value for var, (value, step) in self.known.items()
                    if index - step <= self.window and var not in solved}
        for start, end in sentence_spans(text):
            if _ASSUME_RE.search(text, start, end):
                self.assumed.update(_ASSUMED_NUMBER_RE.findall(text, start, end))
        out: list[Checked] = []
        assigned: dict[str, set[sympy.Expr]] = {}
        for rel in relations:
            for k, op in enumerate(rel.ops):
                left, right = rel.sides[k], rel.sides[k + 1]
                item = Checked(step=index, kind="unknown", truth=Truth.UNKNOWN, op=op,
                               relation=rel, left=left, right=right, asserted=rel.asserted)
                out.append(item)
                if (k == 0 and not rel.clean_left) or (
                    k == len(rel.ops) - 1 and not rel.clean_right
                ):
                    continue
                try:
                    self._check_pair(item, text, rel, k, assigned)
                except Exception:  # an unforeseen notation must not cost the whole rollout
                    item.kind, item.truth, item.correct = "unknown", Truth.UNKNOWN, None
                if item.truth is Truth.FALSE and self._uses_assumption(item):
                    item.truth, item.correct = Truth.UNKNOWN, None
        for var, values in assigned.items():
            if len(values) > 1:
                self.known.pop(var, None)
            else:
                self.known[var] = (next(iter(values)), index)
        return out

    def _check_pair(
        self, item: Checked, text: str, rel: Relation, k: int, assigned: dict[str, set[sympy.Expr]]
    ) -> None:
        left, right, op = item.left, item.right, item.op
        var = _is_var(left) or _is_var(right)
        results: list[Truth] = []
        for percent_div in (True, False):
            try:
                a, ia = self._eval(left, percent_div)
                b, ib = self._eval(right, percent_div)
            except Undecidable:
                return
            item.left_key, item.right_key = ia.key, ib.key
            scale = sympy.Rational(rel.scale.numerator, rel.scale.denominator)
            if scale != 1 and k == len(rel.ops) - 1:
                b, ib.literal = b * scale, False
            if ia.degree != ib.degree:
                return
            if var and op == "=":
                if _is_var(left) and _is_var(right):
                    return
                value = b if _is_var(left) else a
                if value.free_symbols or (ib.unknowns if _is_var(left) else ia.unknowns):
                    item.kind = "constraint"
                    return
                self._assign(item, var, value, left if _is_var(left) else right, rel, k, text,
                             assigned)
                return
            if ia.unknowns or ib.unknowns or a.free_symbols or b.free_symbols:
                item.kind = "constraint"
                if not (ia.variables or ib.variables):
                    self._note_constraint(item, a - b, text)
                return
            if op != "=" and op != "approx" and (ia.variables or ib.variables):
                item.kind = "constraint"  # "x > 0" with a known x is a condition, not a claim
                return
            item.kind = "claim"
            # a decimal inside a computation ("12 + 16.4") may be rounded
            inexact = bool((ia.variables | ib.variables) & self.inexact) or (
                any(t.kind == "NUM" and "." in t.value for t in (*left, *right))
                and not (ia.literal and ib.literal)
            )
            if op == "=" and _rounded(text, rel):
                op = "approx"
            truth = compare(a, b, op, ia, ib, inexact=inexact)
            if ia.literal and ib.literal and truth is Truth.FALSE and _unit_ratio(a, b):
                truth = Truth.UNKNOWN  # "0.29 = 29", "1.5 = 90": likely a unit conversion
            results.append(truth)
            if truth is Truth.FALSE and percent_div:
                item.wrong_right = not (ia.literal and not ib.literal)
                item.correct = b if not item.wrong_right else a / scale
                if op in ("<", "<=", ">", ">="):
                    diff = _num(a - b)
                    item.holds = "<" if diff < 0 else ">" if diff > 0 else "="
            if not (ia.percent or ib.percent):
                break
        if Truth.TRUE in results:
            item.truth = Truth.TRUE
        elif results and all(t is Truth.FALSE for t in results):
            item.truth = Truth.FALSE
        item.correct = item.correct if item.truth is Truth.FALSE else None

    def _uses_assumption(self, item: Checked) -> bool:
        """A false claim built on an assumed number may be a failed check of the assumption,
        and the error may be the assumption itself: the first error is not localised."""
        return any(tok.kind == "NUM" and tok.value in self.assumed
                   for tok in (*item.left, *item.right))

    def _note_constraint(self, item: Checked, expr: sympy.Expr, text: str) -> None:
        free = expr.free_symbols
        if len(free) != 1 or item.op != "=" or not item.relation.asserted:
            return
        (sym,) = free
        src = _span_text(text, item.left, item.right)
        self.constraints.append((item.step, str(sym), expr, src))

    def _assign(
        self, item: Checked, var: str, value: sympy.Expr, var_side: Sequence[Token],
        rel: Relation, k: int, text: str, assigned: dict[str, set[sympy.Expr]],
    ) -> None:
        item.kind = "assign"
        item.var, item.value = var, value
        item.wrong_right = var_side is item.left
        if rel.hypothetical or rel.disjunction or rel.listed:
            return
        # p = 0.29 after "2p = 0.58": does the value satisfy the constraint just stated?
        for step, cvar, expr, src in reversed(self.constraints):
            if cvar != var or step < item.step - 1:
                continue
            self._check_against(item, expr, value, src)
            break
        # the last value of a chain is what the student believes ("p = 0.58/2 = 0.19")
        last = rel.sides[-1]
        if len(rel.sides) > 2 and last is not var_side:
            try:
                final, _ = evaluate_side(last, self.env)
            except Undecidable:
                final = value
            value = value if final.free_symbols else final
        assigned.setdefault(var, set()).add(value)
        self.inexact.discard(var)
        if len(last) == 1 and last[0].kind == "NUM" and "." in last[0].value:
            self.inexact.add(var)
        if rel.ops[k] == "approx":
            self.inexact.add(var)

    def _check_against(self, item: Checked, expr: sympy.Expr, value: sympy.Expr, src: str) -> None:
        sym = next(iter(expr.free_symbols))
        try:
            poly = sympy.Poly(expr, sym)
        except (sympy.PolynomialError, sympy.GeneratorsNeeded):
            return
        if poly.degree() != 1:
            return
        solution = sympy.solve(expr, sym)
        if len(solution) != 1 or solution[0].free_symbols:
            return
        side = item.right if item.wrong_right else item.left
        info = SideInfo()
        try:
            _, info = evaluate_side(side, self.env)
        except Undecidable:
            return
        truth = compare(value, solution[0], "=", info, SideInfo())
        if truth is Truth.FALSE:
            item.truth = Truth.FALSE
            item.correct = solution[0]
            item.constraint_src = src
        elif truth is Truth.TRUE:
            item.truth = Truth.TRUE


def _span_text(text: str, left: Sequence[Token], right: Sequence[Token]) -> str:
    toks = [*left, *right]
    if not toks:
        return ""
    return text[min(t.start for t in toks) : max(t.end for t in toks)]


def check_steps(steps: Sequence[str]) -> list[list[Checked]]:
    """Checked pairs of every step, in order."""
    checker = StepChecker()
    return [checker.check_step(i, text) for i, text in enumerate(steps, start=1)]
