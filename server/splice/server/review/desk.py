"""The reviewers' side of the human oracle, in plain Python: the gRPC ReviewService and the
web page both call a :class:`ReviewDesk`.

A submit is recorded in the queue first (one transaction); the task's last review then
writes its result to the store with ``Store.finish`` (idempotent; it assigns the log
sequence). A crash between the two leaves a reviewed task whose intervention is still
PENDING, which :meth:`ReviewDesk.reconcile` finishes at the next start.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime

from splice.sdk.types import ErrorCategory, Intervention, Replacement, Status, Usage
from splice.server.oracles.base import OracleResult
from splice.server.review.queue import (
    AuditEvent,
    Claim,
    DoneTask,
    QueueStats,
    Review,
    ReviewQueue,
    SubmitOutcome,
    majority,
)
from splice.server.store.base import Store

log = logging.getLogger("splice.review")


def aggregate(task: DoneTask) -> tuple[OracleResult, float]:
    """The task's result from its reviews (majority on the first error step), and agreement.

    Replacements and category come from the reviewers who chose the agreed step; with more
    than one review the explanation says who disagreed. ``raw`` keeps every review.
    """
    reviews = task.reviews
    step, agreement = majority(reviews)
    agreeing = [r for r in reviews if r.first_error_step == step]
    replacements: list[Replacement] = []
    for r in agreeing:
        replacements.extend(x for x in r.replacements if x not in replacements)
    category = ErrorCategory.UNSPECIFIED
    if task.categorize:
        picked = [r.category for r in agreeing if r.category is not ErrorCategory.UNSPECIFIED]
        if picked:
            category = max(set(picked), key=lambda c: (picked.count(c), -picked.index(c)))
    notes = [r.explanation.strip() for r in agreeing if r.explanation.strip()]
    if len(reviews) > 1:
        others = [f"{r.reviewer}: {_verdict(r.first_error_step)}"
                  for r in reviews if r.first_error_step != step]
        notes.insert(0, f"{len(agreeing)}/{len(reviews)} reviewers agree on {_verdict(step)}"
                     + (f"; disagreeing: {', '.join(others)}" if others else ""))
    latency_ms = (task.done_at - task.created_at).total_seconds() * 1000.0
    raw = json.dumps([{"reviewer": r.reviewer, "step": r.first_error_step,
                       "category": r.category.name, "explanation": r.explanation,
                       "replacements": [[x.location, x.content] for x in r.replacements]}
                      for r in reviews], ensure_ascii=False)
    result = OracleResult(
        status=Status.FOUND_ERROR if step else Status.NO_ERROR, first_error_step=step,
        replacements=tuple(replacements) if step else (), category=category,
        explanation="\n".join(notes), usage=Usage(oracle_latency_ms=latency_ms), raw=raw)
    return result, agreement


def _verdict(step: int) -> str:
    return f"step {step}" if step else "no error"


class ReviewDesk:
    """Claims, heartbeats, submits, skips and releases; finishes reviewed tasks in the store."""

    def __init__(self, queue: ReviewQueue, store: Store, lease_s: float) -> None:
        self.queue, self.store, self.lease_s = queue, store, lease_s

    async def claim(self, reviewer: str) -> Claim | None:
        """The next task for ``reviewer``, leased for ``lease_s`` seconds."""
        return await self.queue.claim(reviewer, self.lease_s)

    async def heartbeat(self, request_id: str, lease_token: str) -> datetime:
        """Renew a live lease; returns its new end."""
        return await self.queue.heartbeat(request_id, lease_token, self.lease_s)

    async def submit(self, request_id: str, lease_token: str, review: Review) -> SubmitOutcome:
        """Record ``review``; once the task has all its reviews, finish it in the store.

        Shielded: a reviewer that goes away mid-call (a closed page, a killed process) must
        not leave a recorded review unfinished in the store.
        """
        return await asyncio.shield(self._submit(request_id, lease_token, review))

    async def _submit(self, request_id: str, lease_token: str, review: Review) -> SubmitOutcome:
        outcome = await self.queue.submit(request_id, lease_token, review)
        if outcome.task is not None:
            await self._finish(outcome.task)
        return outcome

    async def skip(self, request_id: str, lease_token: str, reason: str = "") -> None:
        """Give the task back; it is not offered to this reviewer again."""
        await self.queue.skip(request_id, lease_token, reason)

    async def release(self, request_id: str, lease_token: str) -> None:
        """Give the task back to the queue."""
        await self.queue.release(request_id, lease_token)

    async def reconcile(self) -> int:
        """Finish every reviewed task whose result is not in the store yet (after a crash
        between a submit and its finish); returns how many."""
        applied = 0
        for request_id in await self.queue.unapplied():
            try:
                task = await self.queue.done_task(request_id)
                if task is not None:
                    await self._finish(task)
                    applied += 1
            except Exception:  # one bad task must not keep the others unfinished
                log.exception("cannot finish reviewed task %s", request_id)
        if applied:
            log.info("finished %d reviewed tasks left unfinished by a previous run", applied)
        return applied

    async def _finish(self, task: DoneTask) -> Intervention:
        result, _ = aggregate(task)
        return await self.store.finish(task.request_id, result)

    async def stats(self, reviewer: str | None = None) -> QueueStats:
        """Queue counters (and the reviewer's own count today)."""
        return await self.queue.stats(reviewer)

    async def history(self, reviewer: str, limit: int = 20) -> list[tuple[str, Review]]:
        """The reviewer's latest submissions."""
        return await self.queue.history(reviewer, limit)

    async def audit(self, request_id: str | None = None, limit: int = 200) -> list[AuditEvent]:
        """The audit trail, newest first."""
        return await self.queue.audit(request_id, limit)
