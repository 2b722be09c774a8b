"""World-aware checker: replay the problem's state over a rollout and find its first critical step.

Every step is read as a sequence of events: equations ``a op b = c`` (claims) and
``\\boxed{...}`` answers. The replay walks them against the problem's operations in order, so
it catches claims that are arithmetically true but wrong for the problem (an operand copied
wrongly, a skipped operation, a wrong order) as well as false ones. A deviation is forgiven
when a later event is the correct next event (a self-corrected slip, "Wait, 37 × 4 = 148.");
otherwise its step is the first critical error. Reordering operations that commute (the
quantity after both is the same) is not an error.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass

from splice.trainer.worlds.arith.solutions import STEP_SEPARATOR, boxed, claim_line
from splice.trainer.worlds.arith.spec import Claim, OpKind, ProblemSpec

_OPS = r"\+|-|−|\\times|\\cdot|×|\*|(?<![A-Za-z\\])x(?![A-Za-z])|\\div|÷|/"
_KINDS = {"+": OpKind.ADD, "-": OpKind.SUB, "−": OpKind.SUB, "\\times": OpKind.MUL,
          "\\cdot": OpKind.MUL, "×": OpKind.MUL, "*": OpKind.MUL, "x": OpKind.MUL,
          "\\div": OpKind.DIV, "÷": OpKind.DIV, "/": OpKind.DIV}
_CLAIM = re.compile(
    rf"(?<![\d.,])(?P<a>\d+)\s*(?P<op>{_OPS})\s*(?P<b>\d+)\s*=\s*(?P<c>[-−]?\d+)(?!\d|\.\d)")
_THOUSANDS = re.compile(r"(?<=\d)(?:,|\{,\})(?=\d{3}(?!\d))")
_BOXED = re.compile(r"\\boxed\{(?P<v>[^{}]*)\}")
_CHAINED_BEFORE = re.compile(rf"(?:{_OPS}|\d|=)\s*$")
_CHAINED_AFTER = re.compile(rf"\s*(?:{_OPS}|=)\s*\d")
_LEFTOVER = re.compile(rf"=|\d\s*(?:{_OPS})\s*\d")


class Finding(enum.StrEnum):
    """What the first critical step did wrong."""

    WRONG_RESULT = "wrong_result"
    WRONG_OPERAND = "wrong_operand"
    SKIPPED_STEP = "skipped_step"
    WRONG_ORDER = "wrong_order"
    WRONG_OPERATION = "wrong_operation"
    EXTRA_STEP = "extra_step"
    EARLY_ANSWER = "early_answer"
    WRONG_ANSWER = "wrong_answer"

    @property
    def category(self) -> str:
        """``HIGH_LEVEL`` for a planning error (wrong order), ``EXECUTION`` otherwise."""
        return "HIGH_LEVEL" if self is Finding.WRONG_ORDER else "EXECUTION"


@dataclass(frozen=True, slots=True)
class Verdict:
    """The checker's answer; ``step`` is 1-based, ``replacement`` replaces that step."""

    status: str  # FOUND_ERROR | NO_ERROR | ABSTAINED
    step: int = 0
    finding: Finding | None = None
    replacement: str = ""
    explanation: str = ""


_UNREADABLE = "unreadable"
Event = Claim | str  # a claim, a boxed answer's content, or _UNREADABLE


def read_step(text: str) -> list[Event] | None:
    """The events of one step in text order; ``None`` if it has arithmetic we cannot read."""
    text = _THOUSANDS.sub("", text)
    found: list[tuple[int, Event]] = []
    rest = text
    for m in _CLAIM.finditer(text):
        if _CHAINED_BEFORE.search(text[:m.start()]) or _CHAINED_AFTER.match(text, m.end()):
            return None
        c = int(m["c"].replace("−", "-"))
        found.append((m.start(), Claim(int(m["a"]), _KINDS[m["op"]], int(m["b"]), c)))
        rest = rest[:m.start()] + " " * (m.end() - m.start()) + rest[m.end():]
    for m in _BOXED.finditer(rest):
        found.append((m.start(), m["v"]))
        rest = rest[:m.start()] + " " * (m.end() - m.start()) + rest[m.end():]
    if _LEFTOVER.search(rest):
        return None
    return [event for _, event in sorted(found, key=lambda pair: pair[0])]


def same_claim(claim: Claim, want: Claim) -> bool:
    """``claim`` is ``want``, up to the order of a commutative operation's operands."""
    if claim.kind is not want.kind or claim.result != want.result:
        return False
    operands = (claim.left, claim.right)
    return operands == (want.left, want.right) or (
        want.kind.commutative and operands == (want.right, want.left))


def _uses(claim: Claim, value: int, kind: OpKind, operand: int) -> bool:
    """``claim`` applies ``kind operand`` to ``value`` (whatever result it writes)."""
    return same_claim(Claim(claim.left, claim.kind, claim.right, 0), Claim(value, kind, operand, 0))


def normalize_answer(text: str) -> str:
    """An answer as a bare integer string: ``$\\boxed{2{,}301}$`` → ``2301``."""
    boxes = _BOXED.findall(_THOUSANDS.sub("", text))
    content = boxes[-1] if boxes else _THOUSANDS.sub("", text)
    return re.sub(r"[\s$,{}]|\\[,!;: ]", "", content).replace("−", "-")


class _Replay:
    """One replay of ``events`` against ``spec``."""

    def __init__(self, spec: ProblemSpec, steps: Sequence[str]) -> None:
        self.want = spec.claims()
        self.answer = str(spec.answer)
        self.events: list[tuple[int, Event]] = []
        for s, text in enumerate(steps):
            read = read_step(text)
            self.events.extend((s, e) for e in (read if read is not None else [_UNREADABLE]))

    def next_ok(self, event: Event, j: int) -> bool:
        """Whether ``event`` is the correct next event after ``j`` operations."""
        if j < len(self.want):
            return isinstance(event, Claim) and same_claim(event, self.want[j])
        return isinstance(event, str) and normalize_answer(event) == self.answer

    def swapped(self, i: int, j: int) -> bool:
        """Events ``i, i+1`` do operations ``j+1, j`` and reach the same quantity."""
        if j + 1 >= len(self.want) or i + 1 >= len(self.events):
            return False
        first, second = self.events[i][1], self.events[i + 1][1]
        a, b = self.want[j], self.want[j + 1]
        return (isinstance(first, Claim) and isinstance(second, Claim) and first.true
                and second.true and _uses(first, a.left, b.kind, b.right)
                and _uses(second, first.result, a.kind, a.right)
                and second.result == b.result)

    def run(self) -> Verdict:
        j, i, answered = 0, 0, False
        seen: set[Event] = set()
        start_of: dict[int, int] = {}
        while i < len(self.events):
            s, event = self.events[i]
            start_of.setdefault(s, j)
            if event == _UNREADABLE:
                return Verdict("ABSTAINED", explanation=f"step {s + 1}: cannot read its "
                               "arithmetic as operations of this world")
            if self.next_ok(event, j):
                answered = j == len(self.want)
                if isinstance(event, Claim):
                    seen.add(event)
                    j += 1
                i += 1
                continue
            if event in seen:  # a restated earlier step
                i += 1
                continue
            if self.swapped(i, j):
                j, i = j + 2, i + 2
                continue
            later = next((t for t in range(i + 1, len(self.events))
                          if self.next_ok(self.events[t][1], j)), None)
            if later is not None:  # corrected later: not critical
                i = later
                continue
            return self.found(s, i, j, start_of[s])
        if not any(isinstance(e, Claim) for _, e in self.events):
            return Verdict("ABSTAINED", explanation="no step reads as an operation")
        if not answered:
            return Verdict("ABSTAINED", explanation=f"no final answer after {j} of "
                           f"{len(self.want)} operations")
        return Verdict("NO_ERROR", explanation="every operation and the final answer check")

    def classify(self, i: int, j: int) -> Finding:
        event, n = self.events[i][1], len(self.want)
        if isinstance(event, str):
            return Finding.EARLY_ANSWER if j < n else Finding.WRONG_ANSWER
        if j == n:
            return Finding.EXTRA_STEP
        want = self.want[j]
        if _uses(event, want.left, want.kind, want.right):
            return Finding.WRONG_RESULT
        for m in range(j + 1, n):
            if _uses(event, want.left, self.want[m].kind, self.want[m].right):
                after = next((e for _, e in self.events[i + 1:] if isinstance(e, Claim)), None)
                if m == j + 1 and after is not None and _uses(
                        after, event.result, want.kind, want.right):
                    return Finding.WRONG_ORDER
                return Finding.SKIPPED_STEP
        return Finding.WRONG_OPERAND if event.kind is want.kind else Finding.WRONG_OPERATION

    def found(self, s: int, i: int, j: int, j0: int) -> Verdict:
        finding = self.classify(i, j)
        n = len(self.want)
        lines = [claim_line(c) for c in self.want[j0:j + 1]]
        if j == n:
            lines.append(boxed(self.answer))
        event = self.events[i][1]
        wrote = claim_line(event) if isinstance(event, Claim) else boxed(event)
        should = claim_line(self.want[j]) if j < n else boxed(self.answer)
        return Verdict("FOUND_ERROR", s + 1, finding, STEP_SEPARATOR.join(lines),
                       f"step {s + 1} ({finding.value}): wrote {wrote}, should be {should}")


def check(spec: ProblemSpec, steps: Sequence[str]) -> Verdict:
    """Replay ``spec`` over the rollout's ``steps`` (in order, 1-based in the verdict)."""
    return _Replay(spec, steps).run()


def split_steps(text: str) -> list[str]:
    """Blank-line segmentation, as the service's default segmenter (for local checks)."""
    return [part for part in re.split(r"\n\s*\n", text) if part.strip()]
