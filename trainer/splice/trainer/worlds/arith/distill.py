"""Arm (ii) of the comparison: SFT on full reference solutions written in an unseen style.

The paper's distillation baseline clones an oracle's whole solution, which is correct but
off-policy. Here each HARD train problem gets :func:`unseen_solution` (prose, several
operations per step, other symbols and order), ended with the policy's end-of-turn so the
model learns to stop; the loss covers the whole solution.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from splice.trainer.engine import prompt_ids
from splice.trainer.records import Problem
from splice.trainer.tiny import IM_END
from splice.trainer.worlds.arith.solutions import unseen_solution
from splice.trainer.worlds.arith.spec import ProblemSpec


def distill_examples(tokenizer: Any, problems: Sequence[Problem],
                     specs: dict[str, ProblemSpec], seed: int = 0) -> list[dict[str, Any]]:
    """One pre-tokenized SFT example per problem (same layout as the patch dataset's)."""
    end = tokenizer.convert_tokens_to_ids(IM_END)
    examples = []
    for i, problem in enumerate(problems):
        prompt = prompt_ids(tokenizer, problem.problem)
        text = unseen_solution(specs[problem.problem_id], seed=seed * 1_000_003 + i)
        completion = [*tokenizer.encode(text, add_special_tokens=False), end]
        examples.append({"problem_id": problem.problem_id, "input_ids": prompt + completion,
                         "completion_mask": [0] * len(prompt) + [1] * len(completion)})
    return examples
