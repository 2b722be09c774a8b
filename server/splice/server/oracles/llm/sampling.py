"""Agreement over several sampled verdicts on the first-error step (majority or unanimity)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from splice.sdk.types import ErrorCategory, Replacement
from splice.server.oracles.llm.parse import ParsedVerdict


@dataclass(frozen=True, slots=True)
class Agreement:
    """The combined verdict, or None when the samples disagree; ``note`` records the votes."""

    verdict: ParsedVerdict | None
    note: str


def combine(verdicts: list[ParsedVerdict], requested: int, rule: str) -> Agreement:
    """Combine the parsed verdicts of ``requested`` samples (failed ones are missing)."""
    steps = [v.first_error_step for v in verdicts]
    votes = Counter(steps)
    note = (f"{requested} samples, {len(verdicts)} parsed; first_error_step votes: "
            + ", ".join(str(s) for s in steps) + f"; rule: {rule}")
    if not verdicts:
        return Agreement(None, note)
    step, count = votes.most_common(1)[0]
    agreed = count == requested if rule == "unanimous" else count * 2 > len(verdicts)
    if not agreed:
        return Agreement(None, note + "; no agreement")
    winners = [v for v in verdicts if v.first_error_step == step]
    replacements: list[Replacement] = []
    for v in winners:
        replacements.extend(r for r in v.replacements if r not in replacements)
    categories = Counter(v.category for v in winners if v.category is not ErrorCategory.UNSPECIFIED)
    category = categories.most_common(1)[0][0] if categories else ErrorCategory.UNSPECIFIED
    summary = next((v.summary for v in winners if v.summary), "")
    notes = tuple(n for v in winners for n in v.notes)
    return Agreement(ParsedVerdict(
        first_error_step=step, replacements=tuple(replacements), category=category,
        summary=summary, source=winners[0].source, notes=notes), note + f"; agreed on {step}")
