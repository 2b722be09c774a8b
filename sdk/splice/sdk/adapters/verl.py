"""A verl-style ``compute_score`` hook that also feeds a :class:`~splice.sdk.harvester.Harvester`.

verl scores one response at a time (``compute_score(data_source, solution_str, ground_truth,
extra_info)``); the ``rollout.n`` responses of a prompt share ``extra_info["index"]``. The hook
buffers responses by that key and offers a group to the harvester once ``group_size`` of them
are scored. Point verl at it with ``custom_reward_function.path`` / ``.name``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from splice.sdk.harvester import Harvester

ScoreFn = Callable[[str, str, str, Any], Any]


class HarvestingComputeScore:
    """``score_fn``'s score, unchanged; complete groups of ``group_size`` go to ``harvester``.

    ``extra_info`` keys: ``index`` (the group), ``problem``, ``reference_solution``,
    ``problem_id``, ``policy_step`` (all optional; the problem falls back to the ground truth
    key). A score may be a number or verl's dict with a ``score`` entry.
    """

    def __init__(self, score_fn: ScoreFn, harvester: Harvester, group_size: int) -> None:
        self.score_fn, self.harvester, self.group_size = score_fn, harvester, group_size
        self._groups: dict[str, list[tuple[str, float]]] = {}
        self._lock = threading.Lock()

    def __call__(self, data_source: str, solution_str: str, ground_truth: str,
                 extra_info: Mapping[str, Any] | None = None) -> Any:
        score = self.score_fn(data_source, solution_str, ground_truth, extra_info)
        try:
            self._add(data_source, solution_str, ground_truth, dict(extra_info or {}), score)
        except Exception:  # never take the reward step down
            import logging

            logging.getLogger("splice.sdk.adapters").exception("harvesting failed")
        return score

    def _add(self, data_source: str, solution: str, ground_truth: str, info: dict[str, Any],
             score: Any) -> None:
        value = float(score["score"] if isinstance(score, Mapping) else score)
        problem = str(info.get("problem", ""))
        key = f"{data_source}\x1f{info.get('index', problem or ground_truth)}"
        with self._lock:
            group = self._groups.setdefault(key, [])
            group.append((solution, value))
            if len(group) < self.group_size:
                return
            del self._groups[key]
        self.harvester.submit(
            problem, str(info.get("reference_solution", "")), [s for s, _ in group],
            [v for _, v in group], problem_id=str(info.get("problem_id", "")),
            reference_answer=str(ground_truth), policy_step=int(info.get("policy_step", 0)))

    def pending_groups(self) -> int:
        """Groups still waiting for responses."""
        with self._lock:
            return len(self._groups)
