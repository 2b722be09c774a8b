"""Store throughput: accept+finish pairs per second, 100 coroutines, 20 KB rollouts.

    python bench/store_throughput.py sqlite:///tmp/bench.db [--pairs 5000] [--concurrency 100]
    python bench/store_throughput.py "postgresql://postgres@127.0.0.1/test?schema=bench"
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import time
import uuid
from datetime import UTC, datetime

from splice.sdk.types import OracleInfo, Replacement, Segmenter, Status, Step, Usage
from splice.server.oracles.base import OracleResult
from splice.server.store import RequestRecord, open_store

ORACLE = OracleInfo(name="fake", backend="fake", version="1", config_hash="c")
RESULT = OracleResult(
    status=Status.FOUND_ERROR, first_error_step=3,
    replacements=(Replacement(location=3, content="So 2 + 2 = 4."),),
    explanation="2 + 2 is 4.", usage=Usage(input_tokens=5000, output_tokens=200),
    raw="x" * 500,
)


def record(request_id: str, text_bytes: int) -> RequestRecord:
    body = (request_id + " ") * (text_bytes // (len(request_id) + 1) // 20 + 1)
    steps, offset = [], 0
    for i in range(1, 21):
        steps.append(Step(i, body, offset, offset + len(body)))
        offset += len(body)
    return RequestRecord(
        request_id=request_id, client_id="bench", problem="What is 2 + 2?",
        reference_solution="4", reference_answer="4", problem_id="p", steps=tuple(steps),
        segmenter=Segmenter("blank_line", "1"), oracle=ORACLE, categorize=False, options={},
        content_hash=hashlib.sha256(request_id.encode()).hexdigest(),
        created_at=datetime.now(UTC),
    )


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("url")
    p.add_argument("--pairs", type=int, default=5000)
    p.add_argument("--concurrency", type=int, default=100)
    p.add_argument("--text-bytes", type=int, default=20_000)
    args = p.parse_args()
    store = open_store(args.url)
    await store.open()
    run = uuid.uuid4().hex[:8]
    records = [record(f"{run}-{i}", args.text_bytes) for i in range(args.pairs)]
    queue = iter(records)

    async def worker() -> None:
        for rec in queue:
            await store.accept(rec)
            await store.finish(rec.request_id, RESULT)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    elapsed = time.perf_counter() - started
    await store.close()
    print(f"{args.url.split(':')[0]:<10} pairs={args.pairs} concurrency={args.concurrency} "
          f"text={args.text_bytes}B  {args.pairs / elapsed:,.0f} accept+finish pairs/s "
          f"({elapsed:.2f} s)")


if __name__ == "__main__":
    asyncio.run(main())
