"""Helpers of the trainer tests (importable by spawned worker processes)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from splice.sdk.types import (
    ErrorCategory,
    Intervention,
    OracleInfo,
    Replacement,
    Segmenter,
    Status,
    Step,
    Usage,
)
from splice.trainer.engine import decode, tokenizer_hash
from splice.trainer.records import Problem, Rollout, RolloutProvenance
from splice.trainer.rewards import math_reward
from splice.trainer.tiny import ToyProblem


def slow_check(completion: str, reference: str) -> float:
    """math_reward, except that a completion containing SLOW never finishes in time."""
    if "SLOW" in completion:
        time.sleep(600)
    return math_reward(completion, reference)


def make_rollout(tokenizer: Any, problem_id: str, text: str, ids: Sequence[int] | None = None,
                 index: int = 0) -> Rollout:
    """A failed rollout as if the policy had sampled ``ids`` (default: the text's encoding)."""
    sampled = tuple(ids if ids is not None else tokenizer(text)["input_ids"])
    assert decode(tokenizer, sampled) == text
    provenance = RolloutProvenance(checkpoint="tiny", sampling={"n": "1"},
                                   tokenizer_hash=tokenizer_hash(tokenizer),
                                   chat_template_hash="t", seed=0)
    return Rollout(problem_id, index, (), sampled, text, "stop", provenance, reward=0.0)


def make_intervention(steps: Sequence[str], replacements: Sequence[Replacement],
                      request_id: str = "r1") -> Intervention:
    """A FOUND_ERROR intervention over caller-made ``steps``."""
    made, start = [], 0
    for k, text in enumerate(steps, 1):
        made.append(Step(k, text, start, start + len(text)))
        start += len(text)
    return Intervention(
        request_id=request_id, client_id="t", status=Status.FOUND_ERROR,
        first_error_step=replacements[0].location if replacements else 0, steps=tuple(made),
        replacements=tuple(replacements), category=ErrorCategory.EXECUTION, explanation="",
        oracle=OracleInfo("o", "symbolic"), usage=Usage(), failure=None,
        segmenter=Segmenter("blank_line", "1"), sequence=1, cached=False)


def toy_failures(problems: Sequence[ToyProblem], tokenizer: Any) -> tuple[list[Problem],
                                                                          list[Rollout]]:
    """Problems and one failed rollout each: a wrong product in step 2 ("12 \\times 13 = 146")."""
    hard = [Problem(p.problem_id, p.problem, p.solution(), p.answer) for p in problems]
    failed = [make_rollout(tokenizer, p.problem_id, p.solution(p.a * p.b - 10))
              for p in problems]
    return hard, failed
