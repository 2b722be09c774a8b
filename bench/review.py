"""Human review queue throughput: claims + submits per second, 8 concurrent reviewers.

A real server (human oracle) on SQLite and on PostgreSQL gets ``--tasks`` interventions;
``--reviewers`` processes then claim and submit over gRPC until the queue is empty (no think
time: this measures the service, not people). Prints a table; ``--json`` adds a JSON line.

    python bench/review.py [--tasks 2000] [--reviewers 8] [--pg postgresql://postgres@127.0.0.1/test]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import grpc
from splice.sdk import AsyncClient, InterventionRequest
from splice.server.testing import start_server_process
from splice.v1 import intervention_pb2 as ipb
from splice.v1 import review_pb2 as pb
from splice.v1 import review_pb2_grpc as pb_grpc

ROLLOUT = "\n\n".join(f"Step {i}: $x_{i} = {i}$." for i in range(1, 9))


def reviewer(address: str, name: str, start: Any, out: Any) -> None:
    """Claim and submit until the queue is empty; report (claim_ms, submit_ms) lists."""
    claims: list[float] = []
    submits: list[float] = []
    with grpc.insecure_channel(address) as channel:
        stub = pb_grpc.ReviewServiceStub(channel)
        stub.GetQueueStats(pb.GetQueueStatsRequest(), timeout=30)  # connected before the start
        start.wait()
        while True:
            t0 = time.perf_counter()
            task = stub.ClaimTask(pb.ClaimTaskRequest(reviewer=name), timeout=30).task
            t1 = time.perf_counter()
            if not task.request_id:
                break
            stub.SubmitReview(pb.SubmitReviewRequest(
                request_id=task.request_id, lease_token=task.lease_token,
                status=ipb.INTERVENTION_STATUS_FOUND_ERROR, first_error_step=2,
                replacements=[ipb.Replacement(location=2, content="x = 2")]), timeout=30)
            claims.append((t1 - t0) * 1000)
            submits.append((time.perf_counter() - t1) * 1000)
    out.put((claims, submits))


async def enqueue(address: str, tasks: int) -> None:
    async with AsyncClient(address, client_id="bench") as client:
        await client.intervene_many(
            [InterventionRequest(request_id=f"b{i}", problem="p", reference_solution="r",
                                 rollout=ROLLOUT, oracle="human") for i in range(tasks)],
            concurrency=128)


def run(store_url: str, workdir: Path, tasks: int, reviewers: int) -> dict[str, float]:
    """One backend: enqueue, then time the reviewers draining the queue."""
    server = start_server_process(
        {"store_url": store_url, "oracles": {"human": {"backend": "human"}},
         "default_oracle": "human", "review_web": False, "log_level": "WARNING"}, workdir)
    try:
        asyncio.run(enqueue(server.address, tasks))
        ctx = mp.get_context("spawn")
        start, out = ctx.Event(), ctx.Queue()
        procs = [ctx.Process(target=reviewer, args=(server.address, f"r{i}", start, out))
                 for i in range(reviewers)]
        for p in procs:
            p.start()
        time.sleep(2.0)  # let every reviewer import and connect
        began = time.perf_counter()
        start.set()
        results = [out.get(timeout=600) for _ in procs]
        seconds = time.perf_counter() - began
        for p in procs:
            p.join()
    finally:
        server.terminate()
    claims = [x for c, _ in results for x in c]
    submits = [x for _, s in results for x in s]
    assert len(claims) == tasks, f"{len(claims)} reviews of {tasks} tasks"
    cut = max(1, len(claims) // 100)
    return {"reviews_per_s": tasks / seconds, "rpcs_per_s": 2 * tasks / seconds,
            "claim_p50_ms": statistics.median(claims),
            "claim_p99_ms": sorted(claims)[-cut], "submit_p50_ms": statistics.median(submits),
            "submit_p99_ms": sorted(submits)[-cut], "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--reviewers", type=int, default=8)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test",
                        help="PostgreSQL DSN ('' to skip); a fresh schema is used and dropped")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results: dict[str, Any] = {"tasks": args.tasks, "reviewers": args.reviewers,
                               "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="splice-bench-review-") as tmp:
        print(f"SQLite: {args.tasks} tasks, {args.reviewers} reviewers ...", file=sys.stderr)
        results["sqlite"] = run(f"sqlite:///{tmp}/bench.db", Path(tmp) / "sqlite",
                                args.tasks, args.reviewers)
        if args.pg:
            schema = f"bench_review_{uuid.uuid4().hex[:8]}"
            print(f"PostgreSQL (schema {schema}) ...", file=sys.stderr)
            try:
                results["postgres"] = run(f"{args.pg}?schema={schema}", Path(tmp) / "pg",
                                          args.tasks, args.reviewers)
            finally:
                asyncio.run(_drop(args.pg, schema))
    print(f"{'store':<10} {'reviews/s':>10} {'RPCs/s':>8} {'claim p50':>10} {'p99':>7} "
          f"{'submit p50':>11} {'p99':>7}   (ms; one review = a claim + a submit)")
    for store in ("sqlite", "postgres"):
        r = results.get(store)
        if r:
            print(f"{store:<10} {r['reviews_per_s']:>10.0f} {r['rpcs_per_s']:>8.0f} "
                  f"{r['claim_p50_ms']:>10.1f} {r['claim_p99_ms']:>7.1f} "
                  f"{r['submit_p50_ms']:>11.1f} {r['submit_p99_ms']:>7.1f}")
    if args.json:
        print(json.dumps(results))


async def _drop(dsn: str, schema: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


if __name__ == "__main__":
    main()
