"""A TRL reward function that also feeds a :class:`~splice.sdk.harvester.Harvester`.

TRL calls a reward function with the batch's prompts and completions (``num_generations``
completions per prompt) and the dataset's columns as keyword lists. The wrapper computes the
rewards with the given function, groups the completions by prompt, and offers each group to
the harvester, which sends the failed rollouts of all-zero groups to the oracle service.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from splice.sdk.harvester import Harvester

RewardFn = Callable[..., Sequence[float | None]]


def as_text(message: Any) -> str:
    """A completion or prompt as text: a string, or the last message of a conversation."""
    if isinstance(message, str):
        return message
    if isinstance(message, Sequence) and message and isinstance(message[-1], dict):
        return str(message[-1].get("content", ""))
    return str(message)


def _key(prompt: Any) -> str:
    return prompt if isinstance(prompt, str) else json.dumps(prompt, sort_keys=True, default=str)


class HarvestingReward:
    """``reward_fn``'s rewards, unchanged; every group of the batch goes to ``harvester``.

    Column names say where the problem, its reference solution and answer, and its id are in
    the dataset (``problem`` falls back to the prompt's last message). TRL's ``trainer_state``
    gives the policy step. Harvesting never raises into the training step.
    """

    def __init__(self, reward_fn: RewardFn, harvester: Harvester, *,
                 problem_column: str = "problem",
                 reference_column: str = "reference_solution",
                 answer_column: str = "reference_answer", id_column: str = "problem_id",
                 name: str | None = None) -> None:
        self.reward_fn, self.harvester = reward_fn, harvester
        self.problem_column, self.reference_column = problem_column, reference_column
        self.answer_column, self.id_column = answer_column, id_column
        self.__name__ = name or getattr(reward_fn, "__name__", type(reward_fn).__name__)

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any],
                 **columns: Any) -> list[float | None]:
        rewards = list(self.reward_fn(prompts=prompts, completions=completions, **columns))
        try:
            self._harvest(prompts, completions, rewards, columns)
        except Exception:  # a bad column must not take a training step down
            import logging

            logging.getLogger("splice.sdk.adapters").exception("harvesting failed")
        return rewards

    def _harvest(self, prompts: Sequence[Any], completions: Sequence[Any],
                 rewards: Sequence[float | None], columns: dict[str, Any]) -> None:
        groups: dict[str, list[int]] = {}
        for i, prompt in enumerate(prompts):
            groups.setdefault(_key(prompt), []).append(i)
        state = columns.get("trainer_state")
        step = int(getattr(state, "global_step", 0) or 0)

        def column(name: str, i: int) -> str:
            values = columns.get(name)
            return str(values[i]) if values is not None and values[i] is not None else ""

        for rows in groups.values():
            first = rows[0]
            self.harvester.submit(
                column(self.problem_column, first) or as_text(prompts[first]),
                column(self.reference_column, first),
                [as_text(completions[i]) for i in rows],
                [0.0 if rewards[i] is None else float(rewards[i] or 0.0) for i in rows],
                problem_id=column(self.id_column, first),
                reference_answer=column(self.answer_column, first), policy_step=step)
