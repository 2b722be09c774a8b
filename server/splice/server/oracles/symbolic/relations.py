"""Relation extraction: the equalities and inequalities a step states, with their context.

A chain ``a = b = c`` is one relation with three sides. Each relation remembers whether the
sentence around it asserts it (not a question, a hypothesis or a negation) and whether its
outer sides may be cut short by surrounding words ("half of 10 = 5").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from splice.server.oracles.symbolic.latex import (
    LATEX_MODIFIER_WORDS,
    MODIFIER_WORDS,
    Segment,
    Token,
    find_segments,
    sentence_spans,
    tokenize,
)

MAX_STEP_CHARS = 20_000

_HYPOTHETICAL_RE = re.compile(
    r"\b(if|suppose|supposing|assume|assuming|whether|try|trying|guess|say|imagine|would|"
    r"could|might|let's see if|check if)\b", re.IGNORECASE,
)
_NEGATED_RE = re.compile(
    r"\b(not|no|never|wrong|incorrect|incorrectly|mistake|mistaken|mistakenly|instead|false|"
    r"error|erroneous|contradiction|cannot|isn't|aren't|doesn't|don't|can't|wasn't|won't|"
    r"shouldn't|wouldn't|neither|nor|rather\s+than)\b|n't\b|\?", re.IGNORECASE,
)
# "in base 9, 8 + 5 = 14" is right: digits in another base are not checked
_BASE_RE = re.compile(r"\bbase[\s$_{]*\d|\bbinary\b|\bhexadecimal\b|\boctal\b",
                      re.IGNORECASE)
LEAD_WORDS = frozenset({
    "is", "so", "thus", "then", "hence", "get", "gets", "gives", "give", "have", "has", "that",
    "equals", "compute", "calculate", "which", "because", "since", "as", "therefore", "now",
    "we", "yields", "obtain", "find", "means", "becomes", "simplifies", "check", "are", "be",
    "this", "it", "answer", "result", "sum", "product", "total", "verify", "us", "got",
    "makes", "make", "there", "also", "just", "simply", "first", "next", "finally", "here",
    "know", "see", "notice", "note", "giving", "equal", "namely", "i", "gave",
})
_CLEAN_SEPS = frozenset({".", "?", "!", ";", ":", "\n", ",", "", "so", "then", "thus", "hence",
                         "therefore"})
_WORD_BEFORE_RE = re.compile(r"([A-Za-z]+)\W*$")
_WORD_AFTER_RE = re.compile(r"^\W*([A-Za-z]+)")


@dataclass(frozen=True, slots=True)
class Relation:
    """``sides[0] ops[0] sides[1] ops[1] ...`` as stated in one step."""

    sides: tuple[tuple[Token, ...], ...]
    ops: tuple[str, ...]
    segment: Segment
    asserted: bool
    """False inside a question, a hypothesis or a negated sentence."""
    hypothetical: bool
    disjunction: bool
    """Part of "x = 3 or x = 5": its assignments are ambiguous."""
    listed: bool
    """Followed by bare values ("x = 1, 2, 3"): its assignments are ambiguous."""
    clean_left: bool
    clean_right: bool
    scale: Fraction = Fraction(1)
    """Factor on the last side: "$a$ is half of $b$" states ``a = b / 2``."""


def sentence_context(text: str, start: int) -> tuple[bool, bool]:
    """(asserted, hypothetical) for a relation starting at ``start``."""
    for s, e in sentence_spans(text):
        if s <= start < e:
            sentence = text[s:e]
            hypothetical = bool(_HYPOTHETICAL_RE.search(sentence))
            negated = bool(_NEGATED_RE.search(sentence) or _BASE_RE.search(sentence))
            return not (hypothetical or negated), hypothetical
    return True, False


def _split_clauses(toks: list[Token]) -> list[tuple[list[Token], Token | None, Token | None]]:
    """Top-level clauses with the separator token before and after each."""
    clauses: list[tuple[list[Token], Token | None, Token | None]] = []
    current: list[Token] = []
    before: Token | None = None
    depth = 0
    for tok in toks:
        if tok.kind == "LP":
            depth += 1
        elif tok.kind == "RP":
            depth -= 1
        if tok.kind in ("SEP", "OR", "WORD"):
            if depth > 0 and tok.kind == "SEP" and tok.value == ",":
                current.append(Token("BAD", ",", tok.start, tok.end))  # a tuple or arguments
                continue
            clauses.append((current, before, tok))
            current, before, depth = [], tok, 0
            continue
        current.append(tok)
    clauses.append((current, before, None))
    return [c for c in clauses if c[0]]


def _clean_before(
    sep: Token | None, prev_had_relation: bool, segment_word: str, prev: Token | None
) -> bool:
    if sep is None:
        return segment_word not in LATEX_MODIFIER_WORDS
    if sep.kind == "WORD":
        return sep.value in LEAD_WORDS
    if sep.kind == "OR":
        return True
    if sep.value in ("and", "with", "where"):
        # "3 and 4 = 7" may mean 3 + 4; "Yes, and 210 + 91 = 301" does not
        return prev_had_relation or prev is None or prev.kind in ("SEP", "WORD", "OR")
    return sep.value in _CLEAN_SEPS


def extract_relations(text: str) -> list[Relation]:
    """All relations stated in ``text`` (one step), in order of appearance."""
    if len(text) > MAX_STEP_CHARS:
        return []
    out: list[Relation] = []
    for seg in find_segments(text):
        toks = tokenize(text, seg.start, seg.end, latex=seg.latex)
        if not any(t.kind == "REL" for t in toks):
            continue
        open_at = seg.start - (0 if not seg.latex else 1)
        m_before = _WORD_BEFORE_RE.search(text[max(0, open_at - 40) : max(0, open_at)])
        word_before = m_before.group(1).lower() if m_before and seg.latex else ""
        m_after = _WORD_AFTER_RE.search(text[seg.end + len(seg.closer) : seg.end + 40])
        word_after = m_after.group(1).lower() if m_after and seg.latex else ""
        clauses = _split_clauses(toks)
        prev_had_relation = False
        for idx, (clause, before, after) in enumerate(clauses):
            has_rel = any(t.kind == "REL" for t in clause)
            if not has_rel:
                prev_had_relation = False
                continue
            sides: list[tuple[Token, ...]] = []
            ops: list[str] = []
            current: list[Token] = []
            for tok in clause:
                if tok.kind == "REL":
                    sides.append(tuple(current))
                    ops.append(tok.value)
                    current = []
                else:
                    current.append(tok)
            sides.append(tuple(current))
            nxt = clauses[idx + 1][0] if idx + 1 < len(clauses) else None
            listed = (nxt is not None and after is not None and after.value == ","
                      and not any(t.kind == "REL" for t in nxt))
            asserted, hypothetical = sentence_context(text, clause[0].start)
            clean_right = after is not None or word_after not in MODIFIER_WORDS
            out.append(Relation(
                sides=tuple(sides), ops=tuple(ops), segment=seg, asserted=asserted,
                hypothetical=hypothetical,
                disjunction=(before is not None and before.kind == "OR")
                or (after is not None and after.kind == "OR"),
                listed=listed,
                clean_left=_clean_before(before, prev_had_relation, word_before,
                                         _token_before(toks, before)),
                clean_right=clean_right,
            ))
            prev_had_relation = True
    return out


def _token_before(toks: list[Token], tok: Token | None) -> Token | None:
    if tok is None:
        return None
    for k, t in enumerate(toks):
        if t is tok:
            return toks[k - 1] if k > 0 else None
    return None
