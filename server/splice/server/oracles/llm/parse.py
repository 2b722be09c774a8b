"""Read an oracle's verdict from its answer: only its own final block, never quoted text.

The primary format is the JSON object between ``BEGIN VERDICT <marker>`` and ``END VERDICT
<marker>`` lines, where the marker was made at random for this request (see ``prompts``);
the last complete block wins. For oracles that ignore the marker, a fallback reads the
paper's ``<replacement>[...]</replacement>`` list, skipping any block whose text occurs in
the rollout (a quote of a forged block, not the oracle's answer).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from splice.sdk.types import ErrorCategory, Replacement
from splice.server.oracles.llm.jsonfix import JsonRepairError, loads_lenient

_REPLACEMENT_BLOCK = re.compile(r"<replacement>(.*?)</replacement>", re.DOTALL | re.IGNORECASE)
_CATEGORY_ALIASES = {
    "HIGH": ErrorCategory.HIGH_LEVEL, "HIGH_LEVEL": ErrorCategory.HIGH_LEVEL,
    "HIGH-LEVEL": ErrorCategory.HIGH_LEVEL, "KNOWLEDGE_GAP": ErrorCategory.HIGH_LEVEL,
    "EXECUTION": ErrorCategory.EXECUTION, "EXECUTION_LEVEL": ErrorCategory.EXECUTION,
    "EXECUTION-LEVEL": ErrorCategory.EXECUTION, "FLAWED_APPLICATION": ErrorCategory.EXECUTION,
}


class VerdictParseError(ValueError):
    """The answer holds no readable verdict."""


@dataclass(frozen=True, slots=True)
class ParsedVerdict:
    """What the oracle concluded, validated against the rollout's step count."""

    first_error_step: int
    replacements: tuple[Replacement, ...] = ()
    category: ErrorCategory = ErrorCategory.UNSPECIFIED
    summary: str = ""
    source: str = "block"
    """``block`` (the marked final block) or ``fallback`` (a ``<replacement>`` list)."""
    notes: tuple[str, ...] = field(default=())
    """What was repaired or dropped, for the explanation and the logs."""


def parse_verdict(text: str, marker: str, n_steps: int, rollout_text: str = "") -> ParsedVerdict:
    """The verdict in ``text``; raises :class:`VerdictParseError` when there is none."""
    block = _last_marked_block(text, marker)
    if block is not None:
        return _from_object(_load(block), n_steps)
    fallback = _last_unquoted_replacement_block(text, rollout_text)
    if fallback is not None:
        return _from_fallback(fallback, n_steps)
    if f"BEGIN VERDICT {marker}" in text:
        raise VerdictParseError("the verdict block was opened but never closed (truncated?)")
    raise VerdictParseError("no verdict block marked for this request and no <replacement> list")


def parse_category(text: str, marker: str) -> ErrorCategory:
    """The answer of the categorisation prompt: HIGH or EXECUTION after the marker line."""
    _, found, tail = text.rpartition(f"CATEGORY {marker}")
    words = re.findall(r"[A-Za-z_-]+", tail if found else text[-200:])
    for word in reversed(words):
        category = _CATEGORY_ALIASES.get(word.upper())
        if category is not None:
            return category
    raise VerdictParseError("no HIGH or EXECUTION in the categorisation answer")


def _last_marked_block(text: str, marker: str) -> str | None:
    begin, end = f"BEGIN VERDICT {marker}", f"END VERDICT {marker}"
    stop = text.rfind(end)
    while stop != -1:
        start = text.rfind(begin, 0, stop)
        if start != -1:
            return text[start + len(begin):stop]
        stop = text.rfind(end, 0, stop)
    return None


def _last_unquoted_replacement_block(text: str, rollout_text: str) -> str | None:
    quoted = _squash(rollout_text)
    for match in reversed(list(_REPLACEMENT_BLOCK.finditer(text))):
        if quoted and _squash(match.group(0)) in quoted:
            continue  # the oracle is quoting the rollout, not answering
        return match.group(1)
    return None


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


def _load(block: str) -> Any:
    start, end = block.find("{"), block.rfind("}")
    if start == -1 or end < start:
        raise VerdictParseError("the verdict block holds no JSON object")
    try:
        return loads_lenient(block[start:end + 1])
    except JsonRepairError as exc:
        raise VerdictParseError(f"verdict block: {exc}") from exc


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        m = re.fullmatch(r"\s*(?:step\s*)?(\d+)\s*", value, re.IGNORECASE)
        return int(m.group(1)) if m else None
    return None


def _pick(obj: dict[str, Any], *names: str) -> Any:
    for name in names:
        if name in obj:
            return obj[name]
    return None


def _replacements(items: Any, n_steps: int, notes: list[str]) -> tuple[Replacement, ...]:
    if items is None:
        return ()
    if not isinstance(items, list):
        raise VerdictParseError("'replacements' is not a list")
    kept: list[Replacement] = []
    for k, item in enumerate(items, 1):
        if not isinstance(item, dict):
            notes.append(f"replacement #{k} is not an object; dropped")
            continue
        location = _as_int(_pick(item, "location", "step", "step_number"))
        content = _pick(item, "content", "replacement", "text")
        if location is None or not 1 <= location <= n_steps:
            notes.append(f"replacement #{k} has location {location!r} outside 1..{n_steps}; "
                         "dropped")
            continue
        if not isinstance(content, str) or not content.strip():
            notes.append(f"replacement #{k} has no content; dropped")
            continue
        candidate = Replacement(location=location, content=content.strip())
        if candidate not in kept:
            kept.append(candidate)
    return tuple(kept)


def _category(value: Any) -> ErrorCategory:
    if isinstance(value, str):
        return _CATEGORY_ALIASES.get(value.strip().upper().replace(" ", "_"),
                                     ErrorCategory.UNSPECIFIED)
    return ErrorCategory.UNSPECIFIED


def _from_object(obj: Any, n_steps: int) -> ParsedVerdict:
    if isinstance(obj, list):  # the paper's bare list inside our block
        return _from_fallback_list(obj, n_steps, source="block")
    if not isinstance(obj, dict):
        raise VerdictParseError("the verdict block is not a JSON object")
    notes: list[str] = []
    replacements = _replacements(_pick(obj, "replacements", "replacement"), n_steps, notes)
    raw_step = _pick(obj, "first_error_step", "first_error", "error_step")
    step = _as_int(raw_step)
    if raw_step is None:
        step = min((r.location for r in replacements), default=0)
        notes.append("no first_error_step; inferred from the replacements")
    if step is None or not 0 <= step <= n_steps:
        raise VerdictParseError(f"first_error_step {raw_step!r} is outside 0..{n_steps}")
    if step == 0 and replacements:
        notes.append("first_error_step is 0; replacements ignored")
        replacements = ()
    summary = _pick(obj, "error_summary", "summary", "explanation")
    return ParsedVerdict(
        first_error_step=step, replacements=replacements,
        category=_category(obj.get("category")) if step else ErrorCategory.UNSPECIFIED,
        summary=summary.strip() if isinstance(summary, str) else "", notes=tuple(notes))


def _from_fallback(block: str, n_steps: int) -> ParsedVerdict:
    body = block.strip()
    if not body:
        return ParsedVerdict(first_error_step=0, source="fallback")
    start, end = body.find("["), body.rfind("]")
    if start == -1 or end < start:
        raise VerdictParseError("the <replacement> block holds no JSON list")
    try:
        items = loads_lenient(body[start:end + 1])
    except JsonRepairError as exc:
        raise VerdictParseError(f"<replacement> block: {exc}") from exc
    return _from_fallback_list(items, n_steps, source="fallback")


def _from_fallback_list(items: Any, n_steps: int, *, source: str) -> ParsedVerdict:
    notes: list[str] = []
    replacements = _replacements(items, n_steps, notes)
    if isinstance(items, list) and items and not replacements:
        raise VerdictParseError(f"no usable replacement in the list: {'; '.join(notes)}")
    # The paper's list carries no error step; the earliest candidate stands in for it.
    step = min((r.location for r in replacements), default=0)
    if step:
        notes.append("first_error_step inferred as the earliest replacement location")
    return ParsedVerdict(first_error_step=step, replacements=replacements, source=source,
                         notes=tuple(notes))
