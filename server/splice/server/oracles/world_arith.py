"""The ``world:arith`` oracle: replays an arith-world problem's state over the rollout.

Besides false arithmetic it catches claims that are true but wrong for the problem (an
operand copied wrongly, a skipped operation, a wrong order), which a generic checker cannot.

The problem's spec comes from the request option ``world_spec`` (JSON, as
``splice.trainer.worlds.arith.requests`` sets it) or, without it, from parsing the problem
text, whose templates are the world's own. A text that is not an arith-world problem is
``ABSTAINED``; a ``world_spec`` that does not parse is ``FAILED`` (a caller bug, not doubt).
The replay is pure Python and takes microseconds, so it runs on the event loop.
"""

from __future__ import annotations

from typing import ClassVar

from splice.sdk.types import ErrorCategory, FailureReason, Replacement, Status
from splice.server.oracles.base import Oracle, OracleResult, OracleTask
from splice.trainer.worlds.arith import (
    WORLD_SPEC_OPTION,
    ProblemSpec,
    check,
    normalize_answer,
    parse_problem,
)


class WorldArithOracle(Oracle):
    """World-aware checker of the arith world; see the module docstring."""

    backend: ClassVar[str] = "world:arith"
    version: ClassVar[str] = "1"
    description: ClassVar[str] = (
        "Replays an arith-world problem step by step: the first wrong result, wrong operand, "
        "skipped or out-of-order operation not corrected later, with the correct line as "
        "replacement; NO_ERROR when every step and the answer check."
    )
    capabilities: ClassVar[tuple[str, ...]] = ("categorize", "replacements")
    cost_model: ClassVar[str] = "free (local CPU)"

    async def intervene(self, task: OracleTask) -> OracleResult:
        raw_spec = task.options.get(WORLD_SPEC_OPTION, "")
        if raw_spec:
            try:
                spec: ProblemSpec | None = ProblemSpec.from_json(raw_spec)
            except ValueError as exc:
                return OracleResult.failed(FailureReason.PARSE_ERROR,
                                           f"option {WORLD_SPEC_OPTION}: {exc}")
        else:
            spec = parse_problem(task.problem)
        if spec is None:
            return OracleResult(status=Status.ABSTAINED,
                                explanation="not an arith-world problem")
        reference = normalize_answer(task.reference_answer)
        if reference and reference != str(spec.answer):
            return OracleResult(
                status=Status.ABSTAINED,
                explanation=f"reference answer {reference} is not the world's {spec.answer}")
        verdict = check(spec, [step.text for step in task.steps])
        status = Status[verdict.status]
        if status is not Status.FOUND_ERROR or verdict.finding is None:
            return OracleResult(status=status, explanation=verdict.explanation)
        category = ErrorCategory[verdict.finding.category] if task.categorize else (
            ErrorCategory.UNSPECIFIED)
        return OracleResult(
            status=status, first_error_step=verdict.step,
            replacements=(Replacement(location=verdict.step, content=verdict.replacement),),
            category=category, explanation=verdict.explanation,
        )
