"""The SQLite writer process: its death loses nothing acknowledged, and it comes back."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from splice.server.store.base import AcceptOutcome, StoreError
from splice.server.store.sqlite import SqliteStore

from tests.processes import alive
from tests.server.store.helpers import found_error, make_record


def _writer_pid(store: SqliteStore) -> int:
    process = store._writer._process if store._writer else None
    assert process is not None
    return process.pid


async def _wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_killed_writer_loses_nothing_acknowledged_and_restarts(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    await store.open()
    try:
        first = await store.accept_finished(make_record("r-first", text="first"), found_error())
        assert first.outcome is AcceptOutcome.NEW
        records = [make_record(f"r-{i}", text=f"t{i}", step_chars=4000) for i in range(300)]

        async def accept(i: int) -> object:
            await asyncio.sleep(i * 0.0005)
            return await store.accept_finished(records[i], found_error())

        tasks = [asyncio.create_task(accept(i)) for i in range(len(records))]
        await asyncio.sleep(0.03)
        os.kill(_writer_pid(store), signal.SIGKILL)
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        failed = [r for r, o in zip(records, outcomes, strict=True) if isinstance(o, BaseException)]
        assert all(isinstance(o, StoreError) for o in outcomes if isinstance(o, BaseException))
        assert failed, "the kill must land while writes are in flight"
        # Acknowledged writes are stored whole; a failed one is stored whole or not at all.
        for record, outcome in zip(records, outcomes, strict=True):
            stored = await store.get(record.request_id)
            if not isinstance(outcome, BaseException):
                assert stored == outcome.intervention
            else:
                assert stored is None or stored.status.finished
        # The next write starts a new writer; a retry is idempotent by request_id.
        for record in failed:
            again = await store.accept_finished(record, found_error())
            assert again.outcome in (AcceptOutcome.NEW, AcceptOutcome.DUPLICATE)
            assert again.intervention.steps == record.steps
        log = await store.read_log(0, 1000)
        assert [i.sequence for i in log] == list(range(1, len(records) + 2))
    finally:
        await store.close()


async def test_writer_ignores_sigint_and_exits_on_close(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    await store.open()
    pid = _writer_pid(store)
    await store.accept(make_record("r-0", text="zero"))  # the writer is up and running
    os.kill(pid, signal.SIGINT)  # a Ctrl-C meant for the server: the server decides
    await asyncio.sleep(0.2)
    accepted = await store.accept(make_record("r-1"))
    assert accepted.outcome is AcceptOutcome.NEW
    assert _writer_pid(store) == pid and alive(pid), "the writer died and was replaced"
    await store.close()
    await _wait_until(lambda: not alive(pid))
    with pytest.raises(StoreError, match="not open"):
        await store.accept(make_record("r-2"))


async def test_close_during_a_writer_restart_returns(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    await store.open()
    await store.accept(make_record("r-0"))
    os.kill(_writer_pid(store), signal.SIGKILL)
    await _wait_until(lambda: store._writer is not None and store._writer._transport is None)
    write = asyncio.create_task(store.accept(make_record("r-1", text="one")))
    await asyncio.sleep(0)  # the write is now starting a new writer process
    await asyncio.wait_for(store.close(), 20)
    outcome = (await asyncio.gather(write, return_exceptions=True))[0]
    assert not isinstance(outcome, BaseException) or isinstance(outcome, StoreError)
    process = store._writer._process if store._writer else None
    assert process is not None and process.poll() is not None, "a writer outlived close()"



@pytest.mark.parametrize("restart_frames", [256, 10**12])
async def test_the_wal_stays_bounded_under_steady_writes(
    tmp_path: Path, restart_frames: int,
) -> None:
    """Passive checkpoints alone fall behind a writer that never pauses and the WAL grows
    without end; the writer's RESTART between commits sends it back to its start
    (10**12 frames: the control run, RESTART never asked for, shows this load starves)."""
    store = SqliteStore(tmp_path / "s.db", wal_restart_frames=restart_frames)
    await store.open()
    wal = tmp_path / "s.db-wal"
    text = "The step holds a long computation. " * 150
    largest, accepted, n, written = 0, 0, 0, 0
    deadline = time.monotonic() + 4.0
    try:
        while time.monotonic() < deadline:
            batch = [make_record(f"r-{n + i}", text=f"{n + i} {text}") for i in range(64)]
            n += len(batch)
            written += sum(len(step.text) for record in batch for step in record.steps)
            outcomes = await asyncio.gather(*(
                store.accept_finished(record, found_error(1)) for record in batch))
            accepted += sum(a.outcome is AcceptOutcome.NEW for a in outcomes)
            largest = max(largest, wal.stat().st_size)
        assert accepted == n
        assert (await store.get(f"r-{n - 1}")) is not None
    finally:
        await store.close()
    written_mb, largest_mb = written / 1e6, largest / 1e6
    assert written_mb > 30, f"too little written to tell ({written_mb:.0f} MB)"
    if restart_frames > 10**9:
        assert largest_mb > written_mb / 2, f"passive checkpoints kept up ({largest_mb:.0f} MB)"
    else:  # a restart follows each passive checkpoint (every 0.1 s) that finds 1 MB or more
        assert largest_mb < written_mb / 6, \
            f"the WAL grew to {largest_mb:.0f} MB ({written_mb:.0f} MB written)"
