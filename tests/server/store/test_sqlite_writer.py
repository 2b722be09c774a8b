"""The SQLite writer process: its death loses nothing acknowledged, and it comes back."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import struct
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from splice.server.store import sqlite_writer_process as proc
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


def _wal_restarts_so_far(wal: Path) -> int:
    """The WAL header's checkpoint sequence number: it goes up by one at each restart."""
    with wal.open("rb") as f:
        header = f.read(16)
    return struct.unpack(">I", header[12:16])[0] if len(header) == 16 else 0


async def test_the_wal_is_restarted_under_steady_writes(tmp_path: Path) -> None:
    """Passive checkpoints alone fall behind a writer that never pauses, and the WAL grew
    without end (400 MB in 8 s of bench/service.py); the writer restarts it between commits
    once it holds ``wal_restart_frames`` frames (here 256: 1 MiB)."""
    store = SqliteStore(tmp_path / "s.db", wal_restart_frames=256)
    await store.open()
    wal = tmp_path / "s.db-wal"
    text = "The step holds a long computation. " * 150
    restarts: set[int] = set()
    written = n = 0
    try:
        while written < 120_000_000:  # characters of step text: ~120 MB
            batch = [make_record(f"r-{n + i}", text=f"{n + i} {text}") for i in range(64)]
            n += len(batch)
            written += sum(len(step.text) for record in batch for step in record.steps)
            outcomes = await asyncio.gather(*(
                store.accept_finished(record, found_error(1)) for record in batch))
            assert all(a.outcome is AcceptOutcome.NEW for a in outcomes)
            restarts.add(_wal_restarts_so_far(wal))
        assert (await store.get(f"r-{n - 1}")) is not None
        size = wal.stat().st_size  # (closing the last connection removes the file)
    finally:
        await store.close()
    # Without restarts the WAL would now hold all ~120 MB: one sequence number, one size.
    assert len(restarts) >= 3, f"the WAL was restarted {len(restarts) - 1} times"
    assert size <= proc.JOURNAL_SIZE_LIMIT + (8 << 20), f"the WAL holds {size >> 20} MiB"


def _wal_with_frames(path: Path) -> sqlite3.Connection:
    conn = proc.connect(str(path), 5.0)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("CREATE TABLE t (body TEXT NOT NULL)")
    conn.executemany("INSERT INTO t VALUES (?)", [("x" * 3000,)] * 200)
    return conn


def test_restart_wal_starts_the_wal_over(tmp_path: Path) -> None:
    conn = _wal_with_frames(tmp_path / "w.db")
    before = _wal_restarts_so_far(tmp_path / "w.db-wal")
    busy, frames, done = proc.restart_wal(conn, 5.0)
    assert (busy, frames) == (0, done) and frames > 100
    conn.execute("INSERT INTO t VALUES ('next')")  # the first commit after it starts over
    assert _wal_restarts_so_far(tmp_path / "w.db-wal") == before + 1
    assert conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1] < 10
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
    conn.close()


def test_restart_wal_gives_up_on_a_reader_quickly_and_leaves_the_connection_usable(
    tmp_path: Path,
) -> None:
    conn = _wal_with_frames(tmp_path / "w.db")
    reader = proc.connect(str(tmp_path / "w.db"), 5.0)
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM t").fetchone()[0] == 200  # holds a snapshot
    conn.execute("INSERT INTO t VALUES ('after the snapshot')")
    started = time.monotonic()
    busy, frames, _ = proc.restart_wal(conn, 5.0)
    waited = time.monotonic() - started
    assert busy == 1 and frames > 0
    assert waited < 2.0, f"waited {waited:.1f} s for the reader"
    assert not conn.in_transaction
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
    conn.execute("INSERT INTO t VALUES ('still writable')")
    reader.execute("COMMIT")
    reader.close()
    conn.close()


def test_wal_restarts_back_off_after_a_reader_and_retry_after_a_running_checkpoint() -> None:
    restarts = proc.WalRestarts(every=100)
    restarts.observe(99)
    assert not restarts.wanted.is_set()
    restarts.observe(100)
    assert restarts.wanted.is_set()
    restarts.wanted.clear()
    restarts.outcome(busy=1, frames=-1)  # another checkpoint ran: try after the next commit
    assert restarts.wanted.is_set()
    restarts.wanted.clear()
    restarts.outcome(busy=1, frames=150)  # a reader held on: not again before 250 frames
    restarts.observe(-1)  # a passive checkpoint that found another one running: no news
    restarts.observe(200)
    assert not restarts.wanted.is_set()
    restarts.observe(250)
    assert restarts.wanted.is_set()
    restarts.wanted.clear()
    restarts.outcome(busy=0, frames=250)
    restarts.observe(100)
    assert restarts.wanted.is_set()
    restarts.wanted.clear()
    restarts.due_at = 1000
    restarts.observe(5)  # restarted meanwhile (another process): the next one is due at 100
    assert restarts.due_at == 100


def test_wal_restart_frames_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="wal_restart_frames"):
        SqliteStore(tmp_path / "s.db", wal_restart_frames=0)
