"""Relations stated in words between a math segment and what follows it.

"$\\frac{14}{2}$ is 7", "$\\sqrt{10}$, which is greater than 4", "$a$ is half of $b$". Only
a whole math segment that starts a clause can be the subject, and a plain number must end
its clause ("$x$ is 5 cm" and "the square of $x$ is 9" are not relations).
"""

from __future__ import annotations

import re
from fractions import Fraction

from splice.server.oracles.symbolic.latex import (
    MODIFIER_WORDS,
    Segment,
    Token,
    find_segments,
    tokenize,
)
from splice.server.oracles.symbolic.relations import (
    LEAD_WORDS,
    Relation,
    extract_relations,
    sentence_context,
)

_ADVERBS = r"(?:(?:just|simply|exactly|clearly|indeed|also|still|then)\s+)?"
_GAP_RE = re.compile(
    r"(?P<which>\s*,\s*which)?\s+(?:(?P<equals>equals)|is\s+" + _ADVERBS
    + r"(?P<rel>equal\s+to|(?:greater|larger|bigger|more|less|smaller)\s+than(?:\s+or\s+equal"
    r"\s+to)?|at\s+least|at\s+most|about|approximately|roughly|around|nearly)?)\s*"
    r"(?P<factor>half\s+of|twice|double|triple|(?P<times>[1-9]\d?)\s+times)?\s*$",
    re.IGNORECASE,
)
_RELS = {
    "equal to": "=", "greater than": ">", "larger than": ">", "bigger than": ">",
    "more than": ">", "less than": "<", "smaller than": "<", "at least": ">=",
    "at most": "<=", "greater than or equal to": ">=", "less than or equal to": "<=",
}
_FACTORS = {"half of": Fraction(1, 2), "twice": Fraction(2), "double": Fraction(2),
            "triple": Fraction(3)}
_NUMBER_RE = re.compile(
    r"-?(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?%?"
    r"(?=\s*(?:[.,;!?)]|$|\s+(?:and|so|then|thus|hence|because|since)\b))"
)
_WORD_BEFORE_RE = re.compile(r"([A-Za-z']+)[^A-Za-z$\\]*$")
_USABLE = frozenset({"NUM", "ID", "CONST", "OP", "LP", "RP", "FRAC", "SQRT", "BINOM", "FUNC",
                     "PCT", "DEG"})
_GAP_CHARS = 80


def _operand(text: str, seg: Segment) -> tuple[Token, ...] | None:
    """Tokens of a math segment that is one expression (no relation, clause or word)."""
    toks = tokenize(text, seg.start, seg.end, latex=True)
    if not toks or any(t.kind not in _USABLE for t in toks) or (
        len(toks) == 1 and toks[0].kind == "ID"
    ):
        return None  # "$x$ is 5" names a value rather than checking one
    return tuple(toks)


def _op(match: re.Match[str]) -> str:
    rel = " ".join((match.group("rel") or "").lower().split())
    if rel in ("about", "approximately", "roughly", "around", "nearly"):
        return "approx"
    return _RELS.get(rel, "=")


def _scale(match: re.Match[str]) -> Fraction:
    factor = " ".join((match.group("factor") or "").lower().split())
    if match.group("times"):
        return Fraction(int(match.group("times")))
    return _FACTORS.get(factor, Fraction(1))


def _opener(text: str, seg: Segment) -> int:
    """Where the delimiter that opens a math segment starts."""
    if text[max(0, seg.start - 2) : seg.start] in ("$$", "\\[", "\\("):
        return seg.start - 2
    return seg.start - 1 if text[seg.start - 1 : seg.start] == "$" else seg.start


def _subject_ok(text: str, seg: Segment, which: bool) -> bool:
    """Whether the segment starts a clause (or is the antecedent of ", which is")."""
    opener = _opener(text, seg)
    before = text[max(0, opener - 40) : opener]
    m = _WORD_BEFORE_RE.search(before)
    if m is None or re.search(r"[.;:!?,]\s*$", before):
        return True
    word = m.group(1).lower()
    # "the average of $5$ and $7$, which is 6": the subject is the phrase, not "$7$"
    return word in LEAD_WORDS or (which and word == "than")


_Operand = tuple[tuple[Token, ...], Segment]


def _right_operand(
    text: str, gap: Segment, nxt: Segment | None
) -> tuple[re.Match[str], _Operand] | None:
    """What the words in ``gap`` relate the subject to: the next math segment or a number."""
    if nxt is not None and nxt.latex:
        match = _GAP_RE.fullmatch(text, gap.start, _opener(text, nxt))
        if match is not None:
            toks = _operand(text, nxt)
            ok = toks is not None and _word_after(text, nxt) not in MODIFIER_WORDS
            return (match, (toks, nxt)) if ok and toks is not None else None
    window = text[gap.start : min(gap.end, gap.start + _GAP_CHARS)]
    num = _NUMBER_RE.search(window)
    if num is None:
        return None
    match = _GAP_RE.fullmatch(text, gap.start, gap.start + num.start())
    plain = Segment(gap.start + num.start(), gap.start + num.end(), latex=False)
    number = tuple(tokenize(text, plain.start, plain.end, latex=False))
    if match is None or not all(t.kind in _USABLE for t in number):
        return None
    return match, (number, plain)


_ROOT_SUBJECT_RE = re.compile(
    r"(?:^|[.;:!?,]\s*|\b(?:so|thus|hence|therefore|and|then|that)\s+)the\s+"
    r"(?P<root>square|cube)\s+root\s+of\s+(?P<n>\d+(?:\.\d+)?)(?=\s)", re.IGNORECASE,
)


def _root_subject(text: str, gap: Segment) -> tuple[Token, ...] | None:
    """"the square root of 53" at the end of a plain region, before its verb."""
    found = list(_ROOT_SUBJECT_RE.finditer(text, gap.start, gap.end))
    if not found:
        return None
    m = found[-1]
    s, e = m.start("root"), m.start("n")
    index = [] if m.group("root").lower() == "square" else [
        Token("LP", "[", s, s), Token("NUM", "3", s, s), Token("RP", "]", s, s)]
    return (Token("SQRT", "sqrt", s, e), *index, Token("LP", "{", e, e),
            Token("NUM", m.group("n"), e, m.end("n")), Token("RP", "}", m.end("n"), m.end("n")))


def word_relations(text: str) -> list[Relation]:
    """Relations stated in words, each with the segment of its last side."""
    segments = find_segments(text)
    out: list[Relation] = []
    for k, seg in enumerate(segments):
        after = segments[k + 1] if k + 1 < len(segments) else None
        found: tuple[re.Match[str], _Operand] | None = None
        if seg.latex and after is not None and not after.latex:
            nxt = segments[k + 2] if k + 2 < len(segments) else None
            left = _operand(text, seg)
            found = _right_operand(text, after, nxt)
            if found is not None and not _subject_ok(text, seg, bool(found[0].group("which"))):
                found = None
        elif not seg.latex:  # "the square root of 53 is ..." inside plain text
            left = _root_subject(text, seg)
            if left is not None:
                found = _right_operand(text, Segment(left[-1].end, seg.end, False), after)
        if found is None or left is None:
            continue
        match, (right, right_seg) = found
        asserted, hypothetical = sentence_context(text, left[0].start)
        out.append(Relation(
            sides=(left, right), ops=(_op(match),), segment=right_seg, asserted=asserted,
            hypothetical=hypothetical, disjunction=False, listed=False, clean_left=True,
            clean_right=True, scale=_scale(match),
        ))
    return out


def _word_after(text: str, seg: Segment) -> str:
    m = re.match(r"\W*([A-Za-z]+)", text[seg.end + len(seg.closer) : seg.end + 40])
    return m.group(1).lower() if m else ""


def stated_relations(text: str) -> list[Relation]:
    """Every relation of a step: symbols first, then words, in order of appearance."""
    relations = [*extract_relations(text), *word_relations(text)]
    return sorted(relations, key=lambda r: next(
        (side[0].start for side in r.sides if side), r.segment.start))
