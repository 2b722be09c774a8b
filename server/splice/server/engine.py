"""The intervention engine: validate, segment, store, run the oracle detached, finish.

Plain Python, no gRPC: the servicer translates protobuf to these calls and back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from splice.sdk.types import (
    FailureReason,
    Intervention,
    OracleDescription,
    Replacement,
    Status,
    Usage,
)
from splice.server import metrics
from splice.server.config import Settings
from splice.server.deadlines import Deadlines
from splice.server.errors import NotFoundError, ServiceError
from splice.server.leases import LeaseKeeper, new_owner_id
from splice.server.oracles.base import Oracle, OracleResult, OracleTask
from splice.server.oracles.set import OracleSet
from splice.server.requests import InterveneInput, content_hash, segment_rollout, validate
from splice.server.store.base import Accepted, AcceptOutcome, RequestRecord, Store
from splice.server.tracing import NO_SPAN, ORACLE_SPAN, STORE_WRITE_SPAN

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

log = logging.getLogger("splice.engine")

WATCH_PAGE = 500


class InterventionEngine:
    """Runs interventions; accepted work finishes even when its caller goes away."""

    def __init__(self, settings: Settings, store: Store, oracles: OracleSet,
                 tracer: Tracer | None = None) -> None:
        self.settings = settings
        self.store = store
        self.oracles = oracles
        self.tracer = tracer
        self.metrics = metrics.current()
        self._running: dict[str, asyncio.Task[Intervention]] = {}
        self._closing = False
        self._deadlines = Deadlines()
        self.owner = new_owner_id()
        self.leases = LeaseKeeper(
            store, self.owner, settings.lease_s, running=self._running.keys,
            resume=self._resume if settings.resume_unfinished else None)

    async def start(self) -> None:
        """Start oracles, take over work whose process died, and keep leases renewed."""
        await self.oracles.start()
        await self.leases.start()

    def _resume(self, record: RequestRecord) -> None:
        if record.request_id in self._running:  # ours already (a renewal came too late)
            return
        oracle = self.oracles.find(record.oracle.name)
        if oracle is None:  # unrenewed, the lease expires again for a process that has it
            log.warning("cannot resume %s: oracle %s is not configured here",
                        record.request_id, record.oracle.name)
            return
        log.info("resuming unfinished request %s", record.request_id)
        self._spawn(record, oracle)

    async def drain(self, timeout: float) -> int:
        """Wait up to ``timeout`` s for detached oracle work; returns how many were left."""
        self._closing = True
        await self.leases.stop_claiming()
        pending = [t for t in self._running.values() if not t.done()]
        if pending:
            _, left = await asyncio.wait(pending, timeout=timeout)
            return len(left)
        return 0

    async def close(self) -> None:
        """Stop renewing leases and stop oracles (after :meth:`drain`)."""
        await self.leases.close()
        for task in self._running.values():
            task.cancel()
        await self.oracles.aclose()

    @property
    def in_flight(self) -> int:
        """Oracle calls running now."""
        return len(self._running)

    async def intervene(self, inp: InterveneInput) -> Intervention:
        """Accept ``inp`` durably, run its oracle (once), and return the finished result."""
        validate(inp, self.settings.limits)
        oracle = self.oracles.get(inp.oracle)
        try:
            await oracle.admit(inp.client_id)  # e.g. a used-up budget: refused, nothing stored
        except ServiceError:
            # A retry of work already accepted costs nothing more: serve it, don't refuse it.
            known = await self.store.get(inp.request_id)
            if known is None:
                raise
            if known.status.finished or known.status is Status.PENDING:
                return known
            return await self._await_elsewhere(inp.request_id)
        rollout = segment_rollout(inp, self.settings.limits)
        record = RequestRecord(
            request_id=inp.request_id, client_id=inp.client_id, problem=inp.problem,
            reference_solution=inp.reference_solution, reference_answer=inp.reference_answer,
            problem_id=inp.problem_id, steps=rollout.steps, segmenter=rollout.segmenter,
            oracle=oracle.info, categorize=inp.categorize, options=dict(inp.options),
            content_hash=content_hash(inp, rollout), provenance=inp.provenance,
            created_at=datetime.now(UTC),
        )
        if oracle.free:
            return await self._intervene_free(record, oracle)
        # Shielded: a caller cancelled mid-accept must not leave an accepted row unstarted.
        accepted, task = await asyncio.shield(self._accept_and_start(record, oracle))
        # PENDING (human queue): answered now; the verdict arrives later through the log.
        if accepted.intervention.status.finished or accepted.intervention.status is Status.PENDING:
            return accepted.intervention
        if task is None:
            return await self._await_elsewhere(inp.request_id)
        return await asyncio.shield(task)

    async def _intervene_free(self, record: RequestRecord, oracle: Oracle) -> Intervention:
        """Run a free oracle inline, then store request and result in one write.

        No task and no durable accept first (see ``Oracle.free``): a caller that goes away
        during the oracle call leaves nothing behind, and the one write is atomic.
        """
        result = await self._call_oracle(record, oracle)
        started = time.perf_counter()
        with self._span(STORE_WRITE_SPAN):
            accepted = await self.store.accept_finished(
                record, result, use_cache=self.settings.use_cache, owner=self.owner,
                lease_s=self.settings.lease_s)
        self.metrics.store("accept_finished", time.perf_counter() - started)
        if accepted.intervention.status.finished:
            return accepted.intervention
        return await self._await_elsewhere(record.request_id)  # accepted by an older server

    async def _accept_and_start(
        self, record: RequestRecord, oracle: Oracle,
    ) -> tuple[Accepted, asyncio.Task[Intervention] | None]:
        """Accept ``record`` and, if it is new, start its oracle: one unit, never half done."""
        started = time.perf_counter()
        accepted = await self.store.accept(
            record, use_cache=self.settings.use_cache, owner=self.owner,
            lease_s=self.settings.lease_s)
        self.metrics.store("accept", time.perf_counter() - started)
        task = self._running.get(record.request_id)
        if task is None and accepted.outcome is AcceptOutcome.NEW:
            task = self._spawn(record, oracle)
        return accepted, task

    async def get(self, request_id: str) -> Intervention:
        """The stored intervention of ``request_id``."""
        started = time.perf_counter()
        found = await self.store.get(request_id)
        self.metrics.store("get", time.perf_counter() - started)
        if found is None:
            raise NotFoundError(f"no intervention with request_id {request_id!r}")
        return found

    async def watch(
        self, after: int, *, client_id: str | None = None, follow: bool = True
    ) -> AsyncIterator[Intervention]:
        """Finished interventions with sequence > ``after``, exactly once, then live."""
        cursor = after
        while True:
            horizon = await self.store.last_sequence()
            started = time.perf_counter()
            rows = await self.store.read_log(cursor, WATCH_PAGE, client_id)
            self.metrics.store("read_log", time.perf_counter() - started)
            for row in rows:
                yield row
                cursor = row.sequence
            if len(rows) == WATCH_PAGE:
                continue
            # Everything up to the horizon was committed before the read, so it was seen.
            scanned = max(cursor, horizon)
            if not follow:
                return
            await self.store.wait_for_log(scanned, timeout=1.0)

    def list_oracles(self) -> list[OracleDescription]:
        """Descriptions of the configured oracles."""
        return self.oracles.describe()

    def _spawn(self, record: RequestRecord, oracle: Oracle) -> asyncio.Task[Intervention]:
        task = asyncio.create_task(self._run(record, oracle), name=f"oracle:{record.request_id}")
        self._running[record.request_id] = task
        task.add_done_callback(lambda _: self._running.pop(record.request_id, None))
        return task

    def _span(self, name: str) -> AbstractContextManager[object]:
        """A child span of the current one, or nothing when tracing is off."""
        return NO_SPAN if self.tracer is None else self.tracer.start_as_current_span(name)

    async def _run(self, record: RequestRecord, oracle: Oracle) -> Intervention:
        result = await self._call_oracle(record, oracle)
        started = time.perf_counter()
        with self._span(STORE_WRITE_SPAN):
            done = await self.store.finish(record.request_id, result)
        self.metrics.store("finish", time.perf_counter() - started)
        return done

    async def _call_oracle(self, record: RequestRecord, oracle: Oracle) -> OracleResult:
        """The oracle's sanitized answer; a timeout or an exception becomes FAILED."""
        task = OracleTask(
            request_id=record.request_id, client_id=record.client_id, problem=record.problem,
            reference_solution=record.reference_solution,
            reference_answer=record.reference_answer, steps=record.steps,
            categorize=record.categorize, options=record.options, problem_id=record.problem_id,
        )
        timeout = self.oracles.timeout_of(oracle.name)
        started = time.perf_counter()
        try:
            # The limit runs the oracle in this task; wait_for would start another one.
            with self._span(ORACLE_SPAN), self._deadlines.limit(timeout):
                result = await oracle.intervene(task)
        except TimeoutError:
            result = OracleResult.failed(
                FailureReason.TIMEOUT, f"oracle {oracle.name} did not answer in {timeout:g} s",
                retryable=True)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # an oracle bug must not take the request down with it
            log.exception("oracle %s failed on %s", oracle.name, record.request_id)
            result = OracleResult.failed(
                FailureReason.ORACLE_ERROR, f"oracle {oracle.name} raised {type(exc).__name__}",
                retryable=True)
        latency_ms = (time.perf_counter() - started) * 1000.0
        return _sanitize(result, len(record.steps), latency_ms)

    async def _await_elsewhere(self, request_id: str) -> Intervention:
        """Wait for a request that another process (or a previous call) is running."""
        while True:
            found = await self.store.get(request_id)
            if found is not None and (found.status.finished or found.status is Status.PENDING):
                return found
            await self.store.wait_for_log(await self.store.last_sequence(), timeout=0.5)


def _sanitize(result: OracleResult, n_steps: int, latency_ms: float) -> OracleResult:
    """Enforce the contracts on an oracle's answer: steps in range, status consistent."""
    usage: Usage = replace(result.usage, oracle_latency_ms=latency_ms)
    replacements = tuple(
        r for r in result.replacements if 1 <= r.location <= n_steps and r.content.strip()
    )
    status, step = result.status, result.first_error_step
    if status is Status.FOUND_ERROR and not 1 <= step <= n_steps:
        return replace(OracleResult.failed(
            FailureReason.PARSE_ERROR,
            f"oracle named step {step}, outside 1..{n_steps}", raw=result.raw), usage=usage)
    if status is not Status.FOUND_ERROR:
        step, replacements = 0, ()
    if status in (Status.UNSPECIFIED, Status.RUNNING):  # PENDING is stored: a human's turn
        return replace(OracleResult.failed(
            FailureReason.INTERNAL, f"oracle returned status {status.name}", raw=result.raw),
            usage=usage)
    kept: tuple[Replacement, ...] = replacements
    return replace(result, first_error_step=step, replacements=kept, usage=usage)
