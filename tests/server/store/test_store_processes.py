"""Several writer processes on one store, a reader following the log, and a SIGKILL."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from splice.sdk.types import Status
from splice.server.store import Store, open_store

REPO = Path(__file__).resolve().parents[3]


def _spawn(url: str, prefix: str, count: int, concurrency: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.server.store.worker", url, prefix, str(count),
         str(concurrency)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


async def test_writer_processes_and_a_following_reader(store_url: str, store: Store) -> None:
    count = 150
    workers = [_spawn(store_url, f"w{n}", count, 8) for n in range(2)]
    cursor, seen = 0, []
    deadline = time.monotonic() + 120
    while len(seen) < 2 * count and time.monotonic() < deadline:
        rows = await store.read_log(cursor, limit=37)  # small pages: many reads mid-stream
        for row in rows:
            assert row.sequence == cursor + 1, "the log skipped or repeated a sequence"
            cursor = row.sequence
            seen.append(row.request_id)
        if not rows:
            await store.wait_for_log(cursor, timeout=2.0)
    outputs = [await asyncio.to_thread(w.communicate, timeout=60) for w in workers]
    for w, (_, err) in zip(workers, outputs, strict=True):
        assert w.returncode == 0, err
    finished = {line.split()[1]: int(line.split()[2])
                for out, _ in outputs for line in out.splitlines() if line.startswith("F")}
    assert len(seen) == len(set(seen)) == 2 * count
    assert set(seen) == set(finished)
    assert [r.request_id for r in await store.read_log(0, limit=1000)] == seen
    assert {r.request_id: r.sequence for r in await store.read_log(0, limit=1000)} == finished


async def test_sigkilled_writer_loses_nothing_it_acknowledged(store_url: str, store: Store) -> None:
    worker = _spawn(store_url, "k", 100_000, 16)
    assert worker.stdout is not None
    acknowledged: list[str] = []
    while sum(line.startswith("F") for line in acknowledged) < 120:
        line = await asyncio.to_thread(worker.stdout.readline)
        assert line, worker.stderr.read() if worker.stderr else "worker died"
        acknowledged.append(line.rstrip("\n"))
    os.kill(worker.pid, signal.SIGKILL)
    # Through the same text stream as readline: communicate() would read the pipe itself and
    # miss what readline has already buffered.
    rest = await asyncio.to_thread(worker.stdout.read)
    acknowledged += rest.split("\n")[:-1]  # a line cut by the kill was not acknowledged
    assert await asyncio.to_thread(worker.wait, 30) == -signal.SIGKILL
    reopened = open_store(store_url)
    await reopened.open()
    try:
        for line in acknowledged:
            kind, request_id, *seq = line.split()
            found = await reopened.get(request_id)
            assert found is not None, f"acknowledged {kind} of {request_id} was lost"
            if kind == "F":
                assert found.status is Status.FOUND_ERROR and found.sequence == int(seq[0])
        head = await reopened.last_sequence()
        log = await reopened.read_log(0, limit=head + 1)
        assert [r.sequence for r in log] == list(range(1, head + 1))
        resumable = {r.request_id for r in await reopened.unfinished()}
        accepted = {line.split()[1] for line in acknowledged if line.startswith("A")}
        assert {r.request_id for r in log} | resumable >= accepted
    finally:
        await reopened.close()
