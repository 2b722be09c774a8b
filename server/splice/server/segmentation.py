"""Deterministic, versioned rollout segmentation into steps that tile the text exactly.

Blank-line mode (the paper's "\\n\\n", §4.1) splits after every run of blank lines; keyword
mode also starts a step where the policy reflects ("Wait", "But", "Alternatively",
"maybe", ...). Each step keeps the separator that ends it, so concatenating the steps gives
back the rollout byte for byte and ``rollout[:steps[k-1].char_start]`` is an exact prefix.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from splice.sdk.types import SegmentationMode, Segmenter, Step

BLANK_LINE_VERSION = "1"
KEYWORD_VERSION = "1"
PRESEGMENTED_VERSION = "1"
PRESEGMENTED_SEPARATOR = "\n\n"

KEYWORDS: tuple[str, ...] = (
    "Wait", "But", "Alternatively", "However", "Hmm", "Actually", "Hold on",
    "Let me check", "Let me verify", "Let me double-check", "Maybe", "maybe", "wait",
)
"""Reflection words that open a new step in keyword mode (at a sentence or line start)."""

_WS = frozenset(" \t\r\n\f\v")
# A keyword counts when it opens a sentence or a line and is a whole word.
_KEYWORD_RE = re.compile(
    r"(?:(?<=[.!?:;)\]])[ \t]+|(?<=\n)[ \t]*)(?=(?:"
    + "|".join(re.escape(k) for k in sorted(KEYWORDS, key=len, reverse=True))
    + r")\b)"
)
# Fallback for texts with blank lines made of spaces, tabs or carriage returns.
_BLANK_RUN_RE = re.compile(r"\n[ \t\r\f\v]*\n[ \t\r\n\f\v]*")


def segmenter_for(mode: SegmentationMode) -> Segmenter:
    """Name and version of the segmenter for ``mode`` (UNSPECIFIED means blank-line)."""
    if mode is SegmentationMode.KEYWORD:
        return Segmenter(name="keyword", version=KEYWORD_VERSION)
    return Segmenter(name="blank_line", version=BLANK_LINE_VERSION)


PRESEGMENTED = Segmenter(name="presegmented", version=PRESEGMENTED_VERSION)


def _blank_line_cuts(text: str) -> list[int]:
    """Offsets where a new step starts (after each run of blank lines), excluding 0."""
    cuts: list[int] = []
    n = len(text)
    if "\r" in text or " \n" in text or "\t\n" in text or "\f" in text or "\v" in text:
        for m in _BLANK_RUN_RE.finditer(text):
            if m.end() < n:
                cuts.append(m.end())
        return cuts
    find = text.find
    pos = find("\n\n")
    while pos != -1:
        end = pos + 2
        while end < n and text[end] in _WS:
            end += 1
        if end >= n:
            break
        cuts.append(end)
        pos = find("\n\n", end)
    return cuts


def _steps_from_cuts(text: str, cuts: Sequence[int]) -> tuple[Step, ...]:
    bounds = [0, *cuts, len(text)]
    return tuple(
        Step(index=i + 1, text=text[bounds[i] : bounds[i + 1]],
             char_start=bounds[i], char_end=bounds[i + 1])
        for i in range(len(bounds) - 1)
    )


def segment(text: str, mode: SegmentationMode = SegmentationMode.BLANK_LINE) -> tuple[Step, ...]:
    """Split ``text`` into steps that tile it exactly; an empty text has no steps."""
    if not text:
        return ()
    cuts = _blank_line_cuts(text)
    if mode is SegmentationMode.KEYWORD:
        keyword_cuts = {m.end() for m in _KEYWORD_RE.finditer(text) if 0 < m.end() < len(text)}
        if keyword_cuts:
            cuts = sorted(keyword_cuts.union(cuts))
    return _steps_from_cuts(text, cuts)


def join_presegmented(step_texts: Sequence[str]) -> tuple[str, tuple[Step, ...]]:
    """Rollout text and steps for caller-segmented steps, joined by a blank line.

    Step ``i`` holds its text followed by the separator (the last one holds no separator).
    """
    last = len(step_texts) - 1
    texts = [s if i == last else s + PRESEGMENTED_SEPARATOR for i, s in enumerate(step_texts)]
    steps: list[Step] = []
    pos = 0
    for i, t in enumerate(texts):
        steps.append(Step(index=i + 1, text=t, char_start=pos, char_end=pos + len(t)))
        pos += len(t)
    return "".join(texts), tuple(steps)
