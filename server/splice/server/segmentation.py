"""Deterministic, versioned rollout segmentation into steps that tile the text exactly.

Blank-line mode (the paper's "\\n\\n", §4.1) splits after every run of blank lines; keyword
mode also starts a step where the policy reflects ("Wait", "But", "Alternatively",
"maybe", ...). Each step keeps the separator that ends it, so concatenating the steps gives
back the rollout byte for byte and ``rollout[:steps[k-1].char_start]`` is an exact prefix.

Rules (version 2):

* A blank line is a line holding only spaces, tabs, ``\\r``, ``\\f`` or ``\\v`` (so ``\\r\\n\\r\\n``
  counts). A separator is the whole whitespace run (``str.isspace``) holding one or more blank
  lines; the next step starts at the first non-space character after it.
* Keyword mode also cuts right before a keyword that is a whole word and opens a line (after a
  newline and optional spaces or tabs) or a sentence (after one of ``.!?:;)]`` and at least
  one space or tab); the spaces before the keyword stay with the previous step.
* Whitespace before the first non-space character belongs to step 1, so no step is blank
  unless the whole text is (then there is one step). An empty text has no steps.

Version 1 made a leading blank run a step of its own, and its separators ended at the first
non-ASCII space.

This runs on every request. Where the server's C module is built (``native``), it segments
in both modes; the Python below defines what it must do.
Keywords are found with ``str.find`` (a ``memchr`` for one character) and steps are built
with C-level ``map`` calls; blank runs are found by one regular expression, whose
single-character prefix search measured faster than a ``find("\\n\\n")`` loop.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import accumulate, chain
from operator import add

from splice.sdk.types import SegmentationMode, Segmenter, Step
from splice.server.native import NATIVE, NativeModule

BLANK_LINE_VERSION = "2"
KEYWORD_VERSION = "2"
PRESEGMENTED_VERSION = "1"
PRESEGMENTED_SEPARATOR = "\n\n"

KEYWORDS: tuple[str, ...] = (
    "Wait", "But", "Alternatively", "However", "Hmm", "Actually", "Hold on",
    "Let me check", "Let me verify", "Let me double-check", "Maybe", "maybe", "wait",
)
"""Reflection words that open a new step in keyword mode (at a sentence or line start)."""

BLANK_LINE = Segmenter(name="blank_line", version=BLANK_LINE_VERSION)
KEYWORD = Segmenter(name="keyword", version=KEYWORD_VERSION)
PRESEGMENTED = Segmenter(name="presegmented", version=PRESEGMENTED_VERSION)

# The capture keeps the separators in re.split's output: [piece, sep, piece, sep, ..., piece].
_BLANK_RUN_RE = re.compile(r"(\n[ \t\r\f\v]*\n\s*)")
_SENTENCE_END = ".!?:;)]"
_INDENT = " \t"
_BEFORE_KEYWORD = " \t\n"
# A letter seen more often than this is common in the text at hand: search for the
# keywords themselves instead of checking every occurrence of their first letter.
_LETTER_HITS = 48


def _keyword_groups(keywords: Sequence[str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Keywords grouped by first character."""
    groups: dict[str, list[str]] = {}
    for keyword in keywords:
        groups.setdefault(keyword[0], []).append(keyword)
    return tuple((first, tuple(group)) for first, group in groups.items())


_KEYWORD_GROUPS = _keyword_groups(KEYWORDS)


def segmenter_for(mode: SegmentationMode) -> Segmenter:
    """Name and version of the segmenter for ``mode`` (UNSPECIFIED means blank-line)."""
    return KEYWORD if mode == SegmentationMode.KEYWORD else BLANK_LINE


def _blank_line_texts(text: str) -> list[str]:
    """Step texts of blank-line mode (``text`` is not empty)."""
    parts = _BLANK_RUN_RE.split(text)
    if len(parts) == 1:
        return parts
    # Piece + separator; a trailing separator leaves an empty last piece, which is dropped.
    texts = list(map(add, parts[0::2], parts[1::2]))
    if parts[-1]:
        texts.append(parts[-1])
    if len(texts) > 1 and texts[0].isspace():
        texts[0:2] = [texts[0] + texts[1]]
    return texts


def _candidates(text: str, first: str, group: tuple[str, ...]) -> list[int]:
    """Offsets from 1 on where a keyword of ``group`` occurs, maybe inside a word."""
    find = text.find
    found: list[int] = []
    pos = 1
    if first.isupper():
        # str.find of one character is a memchr, many times faster than finding a word, and
        # capitals are rare in prose; past _LETTER_HITS this text is not, so find the words.
        pos = find(first, 1)
        for _ in range(_LETTER_HITS):
            if pos == -1:
                return found
            if text.startswith(group, pos):
                found.append(pos)
            pos = find(first, pos + 1)
        if pos == -1:
            return found
    for keyword in group:
        at = find(keyword, pos)
        while at != -1:
            found.append(at)
            at = find(keyword, at + 1)
    return found


def _opens_step(text: str, pos: int, group: tuple[str, ...]) -> bool:
    """Whether a keyword of ``group`` at ``pos`` is a whole word opening a line or sentence."""
    if text[pos - 1] not in _BEFORE_KEYWORD:
        return False  # inside a word ("await"): the cheapest test first
    for keyword in group:
        end = pos + len(keyword)
        if text.startswith(keyword, pos) and (
            end == len(text) or not (text[end].isalnum() or text[end] == "_")
        ):
            break
    else:
        return False
    start = pos
    while start and text[start - 1] in _INDENT:
        start -= 1
    if not start:
        return False
    before = text[start - 1]
    return before == "\n" or (start != pos and before in _SENTENCE_END)


def _keyword_cuts(text: str) -> list[int]:
    """Offsets of keywords that open a line or a sentence (unsorted, maybe repeated)."""
    return [
        pos
        for first, group in _KEYWORD_GROUPS
        for pos in _candidates(text, first, group)
        if _opens_step(text, pos, group)
    ]


def _steps(texts: Sequence[str]) -> tuple[Step, ...]:
    """Steps for consecutive texts."""
    ends = list(accumulate(map(len, texts)))
    return tuple(map(Step, range(1, len(texts) + 1), texts, [0, *ends], ends))


def segment(text: str, mode: SegmentationMode = SegmentationMode.BLANK_LINE) -> tuple[Step, ...]:
    """Split ``text`` into steps that tile it exactly; an empty text has no steps."""
    return segment_with(text, mode, NATIVE)


def segment_with(
    text: str, mode: SegmentationMode, native: NativeModule | None
) -> tuple[Step, ...]:
    """:func:`segment` with the C module ``native``, or in Python alone when it is None."""
    if not text:
        return ()
    if native is not None:
        return native.segment_steps(
            text, KEYWORDS if mode == SegmentationMode.KEYWORD else (), Step)
    keyword_cuts = _keyword_cuts(text) if mode == SegmentationMode.KEYWORD else None
    if not keyword_cuts:
        return _steps(_blank_line_texts(text))
    n = len(text)
    first_content = n - len(text.lstrip())
    blank_cuts = [m.end() for m in _BLANK_RUN_RE.finditer(text)]
    cuts = sorted({c for c in chain(keyword_cuts, blank_cuts) if first_content < c < n})
    starts = [0, *cuts]
    cuts.append(n)
    texts = map(text.__getitem__, map(slice, starts, cuts))
    return tuple(map(Step, range(1, len(starts) + 1), texts, starts, cuts))


def join_presegmented(step_texts: Sequence[str]) -> tuple[str, tuple[Step, ...]]:
    """Rollout text and steps for caller-segmented steps, joined by a blank line.

    Step ``i`` holds its text followed by the separator (the last one holds no separator).
    """
    if not step_texts:
        return "", ()
    texts = [s + PRESEGMENTED_SEPARATOR for s in step_texts[:-1]]
    texts.append(step_texts[-1])
    return "".join(texts), _steps(texts)
