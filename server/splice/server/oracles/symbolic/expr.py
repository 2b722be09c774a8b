"""Guarded evaluation of one side of a relation: tokens → exact sympy value.

Numbers stay exact (decimals become rationals). Every power, factorial and binomial is sized
before it is computed, so exponent towers or huge factorials raise :class:`TooComplex` instead
of running for minutes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import sympy
from splice.server.oracles.symbolic.latex import Token

MAX_BITS = 20_000
MAX_FACTORIAL = 1_000
MAX_DEPTH = 60


class Undecidable(Exception):
    """The side cannot be evaluated reliably (unsupported notation, ambiguity)."""


class TooComplex(Undecidable):
    """The side would be too expensive to evaluate."""


@dataclass(slots=True)
class SideInfo:
    """What the checker needs to know about a side besides its value."""

    literal: bool = False
    """The side is a bare number (optionally negative, a percentage or in scientific form)."""
    decimals: int = 0
    """Digits after the point of that bare number (its shown precision)."""
    percent: bool = False
    degree: bool = False
    variables: set[str] = field(default_factory=set)
    """Known variables substituted into the side."""
    unknowns: set[str] = field(default_factory=set)
    """Variables left unknown (even where a factor of zero made them vanish)."""
    key: str = ""
    """Canonical spelling of the side, to recognise the same computation later."""


def _bits(value: sympy.Expr) -> int:
    if isinstance(value, sympy.Rational):
        return max(int(value.p).bit_length(), int(value.q).bit_length())
    return 0


def _log2_abs(value: sympy.Expr) -> float:
    if isinstance(value, sympy.Rational):
        p, q = abs(int(value.p)), int(value.q)
        if p == 0:
            return -math.inf
        return (p.bit_length() - q.bit_length()) + 1.0
    try:
        return math.log2(abs(complex(sympy.N(value, 15)))) if value != 0 else -math.inf
    except (TypeError, ValueError, OverflowError) as exc:
        raise Undecidable(str(exc)) from exc


def _check(value: sympy.Expr) -> sympy.Expr:
    if _bits(value) > MAX_BITS:
        raise TooComplex("number too large")
    if value.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
        raise Undecidable("not a finite number")
    return value


def guarded_pow(base: sympy.Expr, exp: sympy.Expr) -> sympy.Expr:
    """``base ** exp`` unless the result would exceed ``MAX_BITS`` bits."""
    if base.free_symbols or exp.free_symbols:
        if exp.is_number and _bits(exp) > 64:
            raise TooComplex("exponent too large")
        return sympy.Pow(base, exp)
    if exp.is_number and not exp.is_real:
        raise Undecidable("complex exponent")
    if not isinstance(exp, sympy.Rational):
        exp_f = float(sympy.N(exp, 15))
    else:
        if _bits(exp) > 64:
            raise TooComplex("exponent too large")
        exp_f = float(exp)
    if base == 0 and exp_f <= 0:
        raise Undecidable("0 to a non-positive power")
    if base not in (0, 1, -1) and abs(exp_f) * abs(_log2_abs(base)) > MAX_BITS:
        raise TooComplex("power too large")
    if base.is_negative and not (isinstance(exp, sympy.Integer)):
        raise Undecidable("negative base, fractional exponent")
    return _check(sympy.Pow(base, exp))


class _Parser:
    def __init__(self, toks: Sequence[Token], env: Mapping[str, sympy.Expr], percent: bool):
        self.toks = toks
        self.pos = 0
        self.env = env
        self.percent_div = percent
        self.info = SideInfo()
        self.depth = 0

    def peek(self) -> Token | None:
        return self.toks[self.pos] if self.pos < len(self.toks) else None

    def take(self) -> Token:
        tok = self.peek()
        if tok is None:
            raise Undecidable("unexpected end")
        self.pos += 1
        return tok

    def expect(self, kind: str) -> Token:
        tok = self.take()
        if tok.kind != kind:
            raise Undecidable(f"expected {kind}")
        return tok

    def parse(self) -> sympy.Expr:
        if not self.toks:
            raise Undecidable("empty side")
        value = self.expr()
        if self.pos != len(self.toks):
            raise Undecidable("trailing tokens")
        return value

    def expr(self) -> sympy.Expr:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise TooComplex("nesting too deep")
        value = self.term()
        while (tok := self.peek()) is not None and tok.kind == "OP" and tok.value in "+-":
            self.pos += 1
            rhs = self.term()
            value = _check(value + rhs if tok.value == "+" else value - rhs)
        self.depth -= 1
        return value

    def _starts_atom(self, tok: Token | None) -> bool:
        return tok is not None and tok.kind in ("NUM", "ID", "CONST", "LP", "FRAC", "SQRT",
                                                "BINOM", "FUNC")

    def term(self) -> sympy.Expr:
        value = self.unary()
        while True:
            tok = self.peek()
            if tok is not None and tok.kind == "OP" and tok.value in "*/":
                self.pos += 1
                rhs = self.unary()
                if tok.value == "/":
                    if rhs == 0:
                        raise Undecidable("division by zero")
                    value = _check(value / rhs)
                else:
                    value = _check(value * rhs)
            elif self._starts_atom(tok):
                prev = self.toks[self.pos - 1]
                assert tok is not None
                if prev.kind == "NUM" and tok.kind in ("NUM", "FRAC"):
                    raise Undecidable("adjacent numbers (mixed number or a list?)")
                value = _check(value * self.unary())
            else:
                return value

    def unary(self) -> sympy.Expr:
        tok = self.peek()
        if tok is not None and tok.kind == "OP" and tok.value in "+-":
            self.pos += 1
            inner = self.unary()
            return -inner if tok.value == "-" else inner
        return self.power()

    def power(self) -> sympy.Expr:
        base = self.postfix()
        tok = self.peek()
        if tok is not None and tok.kind == "OP" and tok.value == "^":
            self.pos += 1
            if self._degree_sign():
                return base
            exp = self.unary()
            return guarded_pow(base, exp)
        return base

    def _degree_sign(self) -> bool:
        """Consume ``\\circ`` or ``{\\circ}`` after a ``^``."""
        kinds = [t.kind for t in self.toks[self.pos : self.pos + 3]]
        size = 1 if kinds[:1] == ["DEG"] else 3 if kinds == ["LP", "DEG", "RP"] else 0
        self.pos += size
        self.info.degree = self.info.degree or size > 0
        return size > 0

    def _function(self, name: str) -> sympy.Expr:
        """A trigonometric function of an angle in degrees or in multiples of pi.

        ``\\sin 30`` is undecidable: its unit is not shown.
        """
        power: sympy.Expr = sympy.Integer(1)
        tok = self.peek()
        if tok is not None and tok.kind == "OP" and tok.value == "^":  # \sin^2 x
            self.pos += 1
            power = self.group_arg()
        outer_degree, self.info.degree = self.info.degree, False
        tok = self.peek()
        if tok is not None and tok.kind == "LP":
            arg = self.postfix()
        else:  # \sin 2x, \cos 100^\circ: a product of atoms, up to the next operator
            arg = self.power()
            while (nxt := self.peek()) is not None and nxt.kind != "FUNC" \
                    and self._starts_atom(nxt):
                arg = _check(arg * self.power())
        degree, self.info.degree = self.info.degree, outer_degree
        if arg.free_symbols:
            return sympy.Function(name)(arg) ** power
        if degree:
            arg = arg * sympy.pi / 180
        elif arg != 0 and not arg.has(sympy.pi):
            raise Undecidable("angle without a unit")
        value = getattr(sympy, name)(arg)
        return guarded_pow(_check(value), power)

    def postfix(self) -> sympy.Expr:
        value = self.atom()
        while (tok := self.peek()) is not None:
            if tok.kind == "OP" and tok.value == "!":
                self.pos += 1
                value = self._factorial(value)
            elif tok.kind == "PCT":
                self.pos += 1
                self.info.percent = True
                if self.percent_div:
                    value = value / 100
            elif tok.kind == "DEG":
                self.pos += 1
                self.info.degree = True
            else:
                break
        return value

    def _factorial(self, value: sympy.Expr) -> sympy.Expr:
        if value.free_symbols:
            return sympy.factorial(value)
        if not isinstance(value, sympy.Integer) or value < 0:
            raise Undecidable("factorial of a non-natural number")
        if value > MAX_FACTORIAL:
            raise TooComplex("factorial too large")
        return sympy.factorial(value)

    def group_arg(self) -> sympy.Expr:
        """A LaTeX argument: a braced group or a single token (``\\frac12``)."""
        tok = self.peek()
        if tok is not None and tok.kind == "LP":
            return self.atom()
        if tok is not None and tok.kind == "NUM" and len(tok.value) > 1:
            raise Undecidable("unbraced multi-digit argument")
        return self.atom()

    def atom(self) -> sympy.Expr:
        tok = self.take()
        if tok.kind == "NUM":
            return _check(sympy.Rational(tok.value))
        if tok.kind == "CONST":
            return sympy.pi
        if tok.kind == "FUNC":
            return self._function(tok.value)
        if tok.kind == "ID":
            call, size = call_name(self.toks, self.pos - 1)
            if call in self.env:  # f(5), once the rollout has derived it
                self.pos += size - 1
                self.info.variables.add(call)
                return self.env[call]
            if tok.value in self.env:
                self.info.variables.add(tok.value)
                return self.env[tok.value]
            self.info.unknowns.add(tok.value)
            return sympy.Symbol(tok.value)
        if tok.kind == "LP":
            inner = self.expr()
            close = self.expect("RP")
            if {tok.value, close.value} not in ({"(", ")"}, {"[", "]"}, {"{", "}"}):
                raise Undecidable("mismatched brackets")
            return inner
        if tok.kind == "FRAC":
            num = self._frac_args()
            return num
        if tok.kind == "SQRT":
            index: sympy.Expr = sympy.Integer(2)
            nxt = self.peek()
            if nxt is not None and nxt.kind == "LP" and nxt.value == "[":
                index = self.atom()
            radicand = self.group_arg()
            if not isinstance(index, sympy.Integer) or not 2 <= index <= 64:
                raise Undecidable("unsupported root")
            if radicand.is_number and radicand.is_negative:
                raise Undecidable("root of a negative number")
            return guarded_pow(radicand, 1 / index)
        if tok.kind == "BINOM":
            n, k = self.group_arg(), self.group_arg()
            if not (isinstance(n, sympy.Integer) and isinstance(k, sympy.Integer)):
                raise Undecidable("symbolic binomial")
            if n > 100 * MAX_FACTORIAL or n < 0:
                raise TooComplex("binomial too large")
            return sympy.binomial(n, k)
        raise Undecidable(f"unsupported token {tok.value!r}")

    def _frac_args(self) -> sympy.Expr:
        tok = self.peek()
        if tok is not None and tok.kind == "NUM" and len(tok.value) == 2 and "." not in tok.value:
            self.pos += 1  # \frac12
            return sympy.Rational(int(tok.value[0]), int(tok.value[1])) if tok.value[1] != "0" \
                else _raise(Undecidable("division by zero"))
        num = self.group_arg()
        den = self.group_arg()
        if den == 0:
            raise Undecidable("division by zero")
        return _check(num / den)


def _raise(exc: Exception) -> sympy.Expr:
    raise exc


def call_name(toks: Sequence[Token], i: int) -> tuple[str, int]:
    """``("f(5)", 4)`` for the tokens ``f ( 5 )`` (or ``f(-2)``) at ``i``, else ``("", 0)``."""
    body = toks[i : i + 5]
    if len(body) < 4 or body[0].kind != "ID" or body[1].value != "(":
        return "", 0
    j = 3 if body[2].kind == "OP" and body[2].value == "-" else 2
    if len(body) <= j + 1 or body[j].kind != "NUM" or body[j + 1].value != ")":
        return "", 0
    return f"{body[0].value}({'-' if j == 3 else ''}{body[j].value})", j + 2


def canonical_key(toks: Sequence[Token]) -> str:
    """Spelling of a side that ignores whitespace and LaTeX/plain synonyms."""
    parts: list[str] = []
    for t in toks:
        if t.kind in ("LP", "RP"):
            parts.append("(" if t.kind == "LP" else ")")
        else:
            parts.append(t.value)
    return "".join(parts)


def _literal_info(toks: Sequence[Token], info: SideInfo) -> None:
    body = list(toks)
    if body and body[0].kind == "OP" and body[0].value in "+-":
        body = body[1:]
    if body and body[-1].kind == "PCT":
        body = body[:-1]
    if len(body) == 1 and body[0].kind == "NUM":
        info.literal = True
        value = body[0].value
        info.decimals = len(value.split(".")[1]) if "." in value else 0
        return
    # scientific notation: 1.2 \times 10^{5} is shown to a precision of 10^(5 - 1)
    spelled = canonical_key(body[1:])
    m = re.fullmatch(r"\*10\^\(?(-?\d+)\)?", spelled)
    if body and body[0].kind == "NUM" and m:
        mantissa = body[0].value
        digits = len(mantissa.split(".")[1]) if "." in mantissa else 0
        info.literal = True
        info.decimals = digits - int(m.group(1))


def evaluate_side(
    toks: Sequence[Token], env: Mapping[str, sympy.Expr], *, percent_div: bool = True
) -> tuple[sympy.Expr, SideInfo]:
    """Value and description of one side; raises :class:`Undecidable` or :class:`TooComplex`."""
    if any(t.kind == "BAD" for t in toks):
        raise Undecidable("unsupported notation")
    parser = _Parser(toks, env, percent_div)
    try:
        value = parser.parse()
    except (RecursionError, MemoryError, OverflowError) as exc:
        raise TooComplex(type(exc).__name__) from exc
    except (TypeError, ValueError, ZeroDivisionError, AttributeError) as exc:
        raise Undecidable(str(exc)) from exc
    info = parser.info
    info.key = canonical_key(toks)
    _literal_info(toks, info)
    return value, info
