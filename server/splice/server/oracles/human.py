"""The ``human`` oracle: queues the task for human reviewers and answers PENDING at once.

The verdict arrives later: a reviewer claims the task (web page or ReviewService), submits,
and the review desk finishes the request in the store, which appends it to the intervention
log (``GetIntervention`` / ``WatchInterventions``). Options (oracle config, overridden per
request by the request's options): ``priority`` (int, higher first, default 0) and
``overlap`` (reviews per task, 1..``max_overlap``, default 1; the majority step wins).
"""

from __future__ import annotations

from typing import Any, ClassVar

from splice.sdk.types import FailureReason, Status
from splice.server.oracles.base import Oracle, OracleResult, OracleTask
from splice.server.review.queue import ReviewQueue, TaskContent


class HumanOracle(Oracle):
    """Durable human review queue; see the module docstring."""

    backend: ClassVar[str] = "human"
    description: ClassVar[str] = ("Human reviewers: the task waits in a durable review queue "
                                  "(PENDING); the verdict arrives through the log.")
    capabilities: ClassVar[tuple[str, ...]] = ("categorize", "pending")
    cost_model: ClassVar[str] = "reviewer time"

    def __init__(self, name: str, options: Any = None) -> None:
        super().__init__(name, options)
        self.queue: ReviewQueue | None = None

    def attach(self, queue: ReviewQueue) -> None:
        """Use ``queue`` (the server opens it next to the store at start-up)."""
        self.queue = queue

    def _int_option(self, task: OracleTask, key: str, default: int) -> int:
        return int(task.options.get(key, self.options.get(key, default)))

    async def intervene(self, task: OracleTask) -> OracleResult:
        if self.queue is None:
            return OracleResult.failed(FailureReason.INTERNAL, "no review queue is attached")
        try:
            priority = self._int_option(task, "priority", 0)
            overlap = self._int_option(task, "overlap", 1)
        except ValueError:
            return OracleResult.failed(FailureReason.ORACLE_ERROR,
                                       "options priority and overlap must be integers")
        max_overlap = int(self.options.get("max_overlap", 5))
        if not 1 <= overlap <= max_overlap:
            return OracleResult.failed(FailureReason.ORACLE_ERROR,
                                       f"option overlap must be in 1..{max_overlap}")
        content = TaskContent(
            problem=task.problem, reference_solution=task.reference_solution,
            reference_answer=task.reference_answer, problem_id=task.problem_id,
            steps=tuple(step.content for step in task.steps), categorize=task.categorize)
        await self.queue.enqueue(task.request_id, content, priority=priority, overlap=overlap)
        return OracleResult(status=Status.PENDING)
