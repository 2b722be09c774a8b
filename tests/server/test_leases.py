"""Leases of RUNNING work: a live server's work is never rerun, a dead one's is taken over."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from splice.sdk import Client, RetryPolicy, SpliceError, Status
from splice.server.config import OracleConfig, Settings
from splice.server.engine import InterventionEngine
from splice.server.oracles.set import OracleSet
from splice.server.requests import InterveneInput
from splice.server.store.sqlite import SqliteStore
from splice.server.testing import ServerProcess, start_server_process

from tests.conftest import PROBLEM, REFERENCE, ROLLOUT

SLOW: dict[str, Any] = {"backend": "fake", "options": {
    "delay_s": 3, "step": 2, "replacement": "So 2 + 2 = 4.",
    "calls_file": "calls.txt",  # relative: one file per server, in its workdir
}}


def _calls(server: ServerProcess) -> Counter[str]:
    """How many times each request_id reached this server's oracle."""
    path = server.config_path.parent / "calls.txt"
    return Counter(path.read_text().split()) if path.exists() else Counter()


def _submit(address: str, rids: list[str], delay_s: float) -> list[threading.Thread]:
    """Send each request from its own thread; the outcome does not matter here."""

    def call(rid: str) -> None:
        try:
            with Client(address, retry=RetryPolicy(max_attempts=1)) as client:
                client.intervene(problem=PROBLEM, reference_solution=REFERENCE,
                                 rollout=f"{ROLLOUT} {rid}", request_id=rid,
                                 options={"delay_s": str(delay_s)}, timeout=60)
        except SpliceError:
            pass  # the server was killed under it

    threads = [threading.Thread(target=call, args=(rid,), daemon=True) for rid in rids]
    for t in threads:
        t.start()
    return threads


def _wait(condition: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.1)


def _statuses(address: str, rids: list[str]) -> dict[str, Status | None]:
    out: dict[str, Status | None] = {}
    with Client(address) as client:
        for rid in rids:
            try:
                out[rid] = client.get(rid).status
            except SpliceError:
                out[rid] = None
    return out


def test_live_work_is_not_rerun_and_dead_work_is_taken_over_once(
    shared_store_url: str, tmp_path: Path,
) -> None:
    settings = {"oracles": {"slow": SLOW}, "default_oracle": "slow", "lease_s": 2,
                "store_url": shared_store_url}
    a = start_server_process(settings, tmp_path / "a")
    try:
        # A runs work for longer than a lease; B starts and keeps claiming meanwhile.
        live = [f"live-{i}" for i in range(4)]
        threads = _submit(a.address, live, delay_s=5)
        _wait(lambda: set(_calls(a)) == set(live), "A runs the first batch")
        b = start_server_process(settings, tmp_path / "b")
        try:
            for t in threads:
                t.join(60)
            assert set(_statuses(b.address, live).values()) == {Status.FOUND_ERROR}
            assert _calls(a) == Counter(live), "A ran each of its requests once"
            assert not set(_calls(b)) & set(live), "B reran work that a live A was doing"

            # A dies mid-work: B takes its rows over once their leases expire.
            dead = [f"dead-{i}" for i in range(4)]
            threads = _submit(a.address, dead, delay_s=3)
            _wait(lambda: set(dead) <= set(_calls(a)), "A runs the second batch")
            a.kill()
            for t in threads:
                t.join(60)
            _wait(lambda: set(_statuses(b.address, dead).values()) == {Status.FOUND_ERROR},
                  "B finishes A's orphaned requests")
            assert +(_calls(b) - Counter(live)) == Counter(dead), "B ran each orphan once"
            with Client(b.address) as client:
                log = list(client.watch(0, follow=False))
        finally:
            b.terminate()
    finally:
        if a.process.poll() is None:
            a.kill()
    finished = [i.request_id for i in log]
    assert sorted(finished) == sorted(live + dead), "every request finished exactly once"
    assert [i.sequence for i in log] == list(range(1, len(log) + 1))


class _SlowAcceptStore(SqliteStore):
    """Acknowledges an accept only a while after it committed."""

    async def accept(self, *args: Any, **kwargs: Any) -> Any:
        accepted = await super().accept(*args, **kwargs)
        await asyncio.sleep(0.5)
        return accepted


async def test_a_caller_cancelled_mid_accept_still_gets_its_work_started(
    tmp_path: Path,
) -> None:
    calls = tmp_path / "calls.txt"
    settings = Settings(oracles={"fake": OracleConfig(
        backend="fake", options={"calls_file": str(calls)})}, default_oracle="fake")
    store = _SlowAcceptStore(tmp_path / "store.db")
    await store.open()
    engine = InterventionEngine(settings, store, OracleSet(settings.oracles, "fake"))
    await engine.start()
    try:
        call = asyncio.create_task(engine.intervene(InterveneInput(
            request_id="r1", client_id="c", problem=PROBLEM, reference_solution=REFERENCE,
            rollout_text=ROLLOUT)))
        await asyncio.sleep(0.2)  # the row has committed; the accept has not returned
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        deadline = time.monotonic() + 10
        while (found := await store.get("r1")) is None or not found.status.finished:
            assert time.monotonic() < deadline, "the accepted request never ran"
            await asyncio.sleep(0.05)
        assert calls.read_text().split() == ["r1"]
    finally:
        await engine.drain(5)
        await engine.close()
        await store.close()
