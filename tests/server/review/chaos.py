"""Chaos harness of the concurrency tests: reviewer processes killed and paused at random.

A server (human oracle, short leases) gets ``tasks`` interventions; ``workers`` reviewer
processes claim and submit them while the harness SIGKILLs some (and starts replacements)
and SIGSTOPs others past their lease before SIGCONT. The report holds what the tests check.
"""

from __future__ import annotations

import asyncio
import collections
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from splice.sdk import AsyncClient, InterventionRequest, Status
from splice.server.testing import ServerProcess, start_server_process

from tests.server.review.reviewer_worker import verdict_step

ROLLOUT = "\n\n".join(f"Step {i}: $x_{i} = {i}$." for i in range(1, 7))


@dataclass
class ChaosReport:
    """What happened: the log, the store's review tables and the workers' notes."""

    log: list[Any]
    submissions: dict[str, int]
    claims: list[tuple[str, Any, Any, str | None]]
    audit: dict[str, int]
    notes: collections.Counter[str] = field(default_factory=collections.Counter)
    late_accepted: list[str] = field(default_factory=list)
    kills: int = 0
    pauses: int = 0
    seconds: float = 0.0


def _requests(n: int, overlap: int) -> list[InterventionRequest]:
    return [InterventionRequest(
        request_id=f"task-{i:05d}", problem=f"Compute $x_{i % 7}$.", reference_solution="ok",
        rollout=ROLLOUT, oracle="human", options={"overlap": str(overlap)} if overlap > 1 else {})
        for i in range(n)]


async def _enqueue(address: str, n: int, overlap: int) -> None:
    async with AsyncClient(address, client_id="trainer") as client:
        results = await client.intervene_many(_requests(n, overlap), concurrency=64)
    assert all(r.status is Status.PENDING for r in results)  # type: ignore[union-attr]


async def _read_log(address: str) -> list[Any]:
    async with AsyncClient(address) as client:
        return [item async for item in client.watch(0, follow=False)]


async def _done_total(address: str) -> int:
    import grpc
    from splice.v1 import review_pb2 as pb
    from splice.v1 import review_pb2_grpc as pb_grpc

    async with grpc.aio.insecure_channel(address) as channel:
        stats = await pb_grpc.ReviewServiceStub(channel).GetQueueStats(pb.GetQueueStatsRequest())
        return int(stats.done_total)


def _query(store_url: str, sql: str) -> list[tuple[Any, ...]]:
    if store_url.startswith("sqlite:///"):
        import sqlite3

        with sqlite3.connect(store_url.removeprefix("sqlite:///")) as conn:
            return [tuple(r) for r in conn.execute(sql).fetchall()]
    import asyncpg

    dsn, _, schema = store_url.partition("?schema=")

    async def run() -> list[tuple[Any, ...]]:
        conn = await asyncpg.connect(dsn, server_settings={"search_path": schema})
        try:
            return [tuple(r) for r in await conn.fetch(sql)]
        finally:
            await conn.close()

    return asyncio.run(run())


def run_chaos(store_url: str, workdir: Path, *, tasks: int, workers: int, overlap: int = 1,
              lease_s: float = 1.0, kills: int = 10, pauses: int = 10,
              timeout_s: float = 150.0, seed: int = 7) -> ChaosReport:
    """Run the scenario (see the module docstring) and collect the report."""
    rng = random.Random(seed)
    server: ServerProcess = start_server_process(
        {"store_url": store_url, "oracles": {"human": {"backend": "human"}},
         "default_oracle": "human", "review_lease_s": lease_s, "review_web": False,
         "log_level": "WARNING"}, workdir / "server")
    log_path, stop = workdir / "reviews.log", workdir / "stop"
    procs: dict[int, subprocess.Popen[bytes]] = {}
    generation = collections.Counter[int]()

    def spawn(slot: int) -> None:
        generation[slot] += 1
        procs[slot] = subprocess.Popen(
            [sys.executable, "-m", "tests.server.review.reviewer_worker", "--address",
             server.address, "--name", f"w{slot}.{generation[slot]}", "--log", str(log_path),
             "--stop", str(stop)], stderr=subprocess.DEVNULL)

    report_kills = report_pauses = 0
    started = time.monotonic()
    try:
        asyncio.run(_enqueue(server.address, tasks, overlap))
        for slot in range(workers):
            spawn(slot)
        paused: dict[int, float] = {}
        deadline = started + timeout_s
        # Chaos once the reviewers are at work (not while they start up).
        while (done := asyncio.run(_done_total(server.address))) < tasks:
            assert time.monotonic() < deadline, "reviews did not finish in time"
            if done < tasks // 10:
                time.sleep(0.05)
                continue
            now = time.monotonic()
            for slot, until in list(paused.items()):
                if now >= until:
                    procs[slot].send_signal(signal.SIGCONT)
                    del paused[slot]
            # Up to three events per round: all of them land early, even on a fast run.
            for slot in rng.sample(range(workers), 3):
                if slot not in paused and report_kills < kills and rng.random() < 0.5:
                    procs[slot].kill()
                    procs[slot].wait()
                    spawn(slot)
                    report_kills += 1
                elif slot not in paused and report_pauses < pauses:
                    procs[slot].send_signal(signal.SIGSTOP)
                    paused[slot] = now + lease_s * rng.uniform(1.3, 2.0)
                    report_pauses += 1
            time.sleep(0.1)
        seconds = time.monotonic() - started
        stop.touch()
        for slot in paused:
            procs[slot].send_signal(signal.SIGCONT)
        for proc in procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        log = asyncio.run(_read_log(server.address))
    finally:
        stop.touch()
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.kill()
        server.terminate()
    notes = collections.Counter[str]()
    late: list[str] = []
    for line in log_path.read_text().splitlines():
        kind, rid, *rest = line.split()
        notes[kind if kind != "stale" else f"stale_late{rest[0]}"] += 1
        if kind == "LATE_ACCEPTED":
            late.append(rid)
    return ChaosReport(
        log=log,
        submissions=dict(_query(store_url, "SELECT request_id, COUNT(*) FROM review_submissions "
                                           "GROUP BY request_id")),  # type: ignore[arg-type]
        claims=_query(store_url, "SELECT request_id, claimed_at, ended_at, outcome "
                                 "FROM review_claims ORDER BY request_id, claimed_at, claim_id"),
        audit=dict(_query(store_url, "SELECT event, COUNT(*) FROM review_audit "
                                     "GROUP BY event")),  # type: ignore[arg-type]
        notes=notes, late_accepted=late, kills=report_kills, pauses=report_pauses,
        seconds=seconds)


def check_report(report: ChaosReport, tasks: int, overlap: int) -> None:
    """Every task finished once, with ``overlap`` reviews; no overlapping claims; stale
    submits refused."""
    ids = [item.request_id for item in report.log]
    assert len(ids) == len(set(ids)) == tasks, (
        f"each task in the log exactly once: {len(ids)} items, {len(set(ids))} tasks")
    for item in report.log:
        assert item.status is Status.FOUND_ERROR
        assert item.first_error_step == verdict_step(item.request_id, len(item.steps))
    assert set(report.submissions.values()) == {overlap}
    assert len(report.submissions) == tasks
    held: dict[str, Any] = {}
    for request_id, claimed_at, ended_at, outcome in report.claims:
        assert outcome is not None, f"claim on {request_id} still open at the end"
        previous_end = held.get(request_id)
        assert previous_end is None or claimed_at >= previous_end, (
            f"{request_id} claimed while held")
        held[request_id] = ended_at
    assert report.late_accepted == [], "a submit sent after its lease ended was accepted"
    # A worker killed right after its submit was taken never noted it: hence <=.
    assert report.notes["ok"] <= tasks * overlap
    assert report.notes["stale_late0"] + report.notes["stale_late1"] <= report.audit.get(
        "stale_submit_refused", 0)
    assert report.audit["submitted"] == tasks * overlap
    assert report.audit["queued"] == tasks
