"""Answer-leak guard: flags replacements that state the reference's final answer.

A replacement should guide the student, not hand over the answer (§4.1). A short answer
("7") is only a leak when stated as a result (boxed, "the answer is 7", "= 7" at the end of
a sentence): the number may well appear in an honest hint. A longer answer is a leak wherever
it appears. The policy (``drop``, ``flag``, ``keep``) is set per oracle and per request:
in some domains a correction of the last step cannot avoid the answer.
"""

from __future__ import annotations

import enum
import re
from dataclasses import replace

from splice.sdk.types import Replacement

_BOXED = re.compile(r"\\boxed\s*\{((?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*\})*)\}")
_SHORT = 4
"""Normalised answers shorter than this are leaks only when stated as a result."""


class LeakPolicy(enum.StrEnum):
    """What to do with a replacement that leaks the answer."""

    DROP = "drop"
    FLAG = "flag"
    KEEP = "keep"


def normalize(text: str) -> str:
    """Canonical form for comparison: no TeX wrappers, spaces, ``$`` or trailing dots."""
    text = _BOXED.sub(r"\1", text)
    text = re.sub(r"\\(?:text|mathrm|mathbf|displaystyle|left|right|,|;|!|quad)", "", text)
    text = re.sub(r"\\[dt]?frac\{([^{}]*)\}\{([^{}]*)\}", r"\1/\2", text)
    text = re.sub(r"\\[dt]?frac(\d)(\d)", r"\1/\2", text)
    text = re.sub(r"[\s$]|\\\(|\\\)|\\\[|\\\]", "", text)
    return text.replace("{", "").replace("}", "").rstrip(".").lower()


def _words(text: str) -> str:
    """Lower-case text with TeX delimiters gone and single spaces, for phrase matching."""
    text = _BOXED.sub(r"\1", text)
    text = re.sub(r"\\[dt]?frac\{([^{}]*)\}\{([^{}]*)\}", r"\1/\2", text)
    text = re.sub(r"\$|\\\(|\\\)|\\\[|\\\]", " ", text)
    return re.sub(r"\s+", " ", text).lower()


def leaks_answer(content: str, reference_answer: str) -> bool:
    """Whether ``content`` states ``reference_answer``."""
    answer = normalize(reference_answer)
    if not answer:
        return False
    if any(normalize(b) == answer for b in _BOXED.findall(content)):
        return True
    flat = normalize(content)
    if len(answer) >= _SHORT:
        return answer in flat
    ans = re.escape(answer)
    named = re.compile(r"answer\s*(?:is|:|=|would be|should be|must be)\s*" + ans
                       + r"(?![0-9a-z./^_])")
    final = re.compile(r"(?:=|equals|\bis)\s*" + ans + r"\s*(?:[.!](?!\d)|$)")
    words = _words(content)
    return bool(named.search(words) or final.search(words))


def apply_policy(replacements: tuple[Replacement, ...], reference_answer: str,
                 policy: LeakPolicy) -> tuple[tuple[Replacement, ...], int]:
    """Apply ``policy``; returns the kept replacements and how many leaked."""
    if policy is LeakPolicy.KEEP or not reference_answer.strip():
        return replacements, 0
    kept: list[Replacement] = []
    leaked = 0
    for r in replacements:
        if not leaks_answer(r.content, reference_answer):
            kept.append(r)
            continue
        leaked += 1
        if policy is LeakPolicy.FLAG:
            kept.append(replace(r, leaks_answer=True))
    return tuple(kept), leaked
