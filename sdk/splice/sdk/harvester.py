"""Harvester: an RL loop hands it every group; the failed rollouts of all-zero groups are sent
to the oracle service in the background.

``submit`` never blocks and never raises: work goes into a bounded queue, and when the queue
is full the group is dropped and counted (a training step must not wait for an oracle). A
background thread with its own event loop sends the requests, at most ``concurrency`` in
flight, each tagged with the policy checkpoint and step. Request ids are content hashes, so
a rollout seen twice costs one oracle call.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from splice.sdk.aio import AsyncClient
from splice.sdk.requests import InterventionRequest
from splice.sdk.types import Intervention, Provenance

log = logging.getLogger("splice.sdk.harvester")
_STOP = object()


@dataclass
class HarvesterStats:
    """Counters since the harvester started (read them any time)."""

    groups_seen: int = 0
    groups_all_zero: int = 0
    enqueued: int = 0
    dropped: int = 0
    invalid: int = 0
    sent: int = 0
    finished: int = 0
    failed: int = 0
    cost_usd: float = 0.0
    by_status: dict[str, int] = field(default_factory=dict)


def harvest_request_id(oracle: str, problem_id: str, problem: str, reference: str,
                       rollout: str) -> str:
    """Deterministic idempotency key of one harvested rollout."""
    h = hashlib.sha256()
    for part in (oracle, problem_id, problem, reference, rollout):
        h.update(part.encode("utf-8", "surrogatepass") + b"\x1f")
    return "hv-" + h.hexdigest()[:32]


class Harvester:
    """Background submitter of zero-reward groups; use as a context manager or ``close()``.

    A group is "all zero" when every reward is ``<= zero_reward``; up to ``per_group`` of its
    distinct rollouts are sent. ``on_result`` (optional) is called from the background thread
    with each finished :class:`Intervention`; its exceptions are logged and swallowed.
    """

    def __init__(
        self, target: str, *, client_id: str = "harvester", oracle: str = "",
        policy_checkpoint: str = "", max_queue: int = 1024, concurrency: int = 16,
        per_group: int = 1, zero_reward: float = 0.0, timeout: float = 600.0,
        on_result: Callable[[Intervention], None] | None = None,
    ) -> None:
        self.target, self.client_id, self.oracle = target, client_id, oracle
        self.policy_checkpoint = policy_checkpoint
        self.concurrency, self.per_group = concurrency, per_group
        self.zero_reward, self.timeout, self.on_result = zero_reward, timeout, on_result
        self.stats = HarvesterStats()
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max_queue)
        self._lock = threading.Lock()
        self._outstanding = 0  # queued or in flight
        self._closed = False
        self._thread = threading.Thread(target=self._main, name="splice-harvester", daemon=True)
        self._thread.start()

    def __enter__(self) -> Harvester:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def submit(
        self, problem: str, reference_solution: str, rollouts: Sequence[str],
        rewards: Sequence[float], *, problem_id: str = "", reference_answer: str = "",
        policy_step: int = 0, policy_checkpoint: str | None = None,
        sampling: Mapping[str, str] | None = None,
    ) -> int:
        """Offer one group; returns how many rollouts were queued (0 when not all zero)."""
        try:
            return self._submit(problem, reference_solution, rollouts, rewards, problem_id,
                                reference_answer, policy_step, policy_checkpoint, sampling)
        except Exception:  # a bug here must never take a training step down
            log.exception("harvester: submit failed")
            with self._lock:
                self.stats.invalid += 1
            return 0

    def _submit(self, problem: str, reference: str, rollouts: Sequence[str],
                rewards: Sequence[float], problem_id: str, reference_answer: str,
                policy_step: int, checkpoint: str | None,
                sampling: Mapping[str, str] | None) -> int:
        with self._lock:
            self.stats.groups_seen += 1
            if self._closed or len(rollouts) != len(rewards) or not rollouts:
                self.stats.invalid += 1
                return 0
            if any(float(r) > self.zero_reward for r in rewards):
                return 0
            self.stats.groups_all_zero += 1
        provenance = Provenance(policy_checkpoint=checkpoint or self.policy_checkpoint,
                                sampling=dict(sampling or {}), policy_step=policy_step)
        picked: list[str] = []
        for text in rollouts:
            if text and text not in picked and len(picked) < self.per_group:
                picked.append(text)
        queued = 0
        for text in picked:
            request = InterventionRequest(
                problem=problem, reference_solution=reference, rollout=text,
                reference_answer=reference_answer, problem_id=problem_id, oracle=self.oracle,
                client_id=self.client_id, provenance=provenance,
                request_id=harvest_request_id(self.oracle, problem_id, problem, reference, text))
            with self._lock:
                self._outstanding += 1
            try:
                self._queue.put_nowait(request)
            except queue.Full:
                with self._lock:
                    self._outstanding -= 1
                    self.stats.dropped += len(picked) - queued
                return queued
            queued += 1
            with self._lock:
                self.stats.enqueued += 1
        return queued

    def pending(self) -> int:
        """Requests queued or in flight."""
        with self._lock:
            return self._outstanding

    def flush(self, timeout: float = 60.0) -> bool:
        """Wait until every queued request is answered; False if ``timeout`` passed first."""
        deadline = time.monotonic() + timeout
        while self.pending():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def close(self, timeout: float = 30.0) -> None:
        """Flush (up to ``timeout``), then stop the background thread; queued work left over
        is dropped and counted."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self.flush(timeout)
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not _STOP:
                with self._lock:
                    self.stats.dropped += 1
                    self._outstanding -= 1
        self._queue.put(_STOP)
        self._thread.join(timeout=5.0)

    def _main(self) -> None:
        try:
            asyncio.run(self._run())
        except Exception:
            log.exception("harvester: background loop stopped")

    async def _run(self) -> None:
        slots = asyncio.Semaphore(self.concurrency)
        tasks: set[asyncio.Task[None]] = set()
        async with AsyncClient(self.target, client_id=self.client_id,
                               timeout=self.timeout) as client:
            while True:
                item = await asyncio.to_thread(self._queue.get)
                if item is _STOP:
                    break
                assert isinstance(item, InterventionRequest)
                await slots.acquire()
                task = asyncio.create_task(self._send(client, item, slots))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            for task in list(tasks):
                task.cancel()

    async def _send(self, client: AsyncClient, request: InterventionRequest,
                    slots: asyncio.Semaphore) -> None:
        try:
            with self._lock:
                self.stats.sent += 1
            result = await client.intervene(request)
            with self._lock:
                self.stats.finished += 1
                self.stats.cost_usd += result.usage.cost_usd
                name = result.status.name
                self.stats.by_status[name] = self.stats.by_status.get(name, 0) + 1
            if self.on_result is not None:
                try:
                    self.on_result(result)
                except Exception:
                    log.exception("harvester: on_result callback failed")
        except Exception as exc:  # SpliceError, cancelled channel, anything: count and go on
            log.warning("harvester: %s failed: %s", request.request_id, exc)
            with self._lock:
                self.stats.failed += 1
        finally:
            with self._lock:
                self._outstanding -= 1
            slots.release()
