"""Detached work, deadlines, graceful shutdown, and a SIGKILL in the middle of traffic."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
import uuid
from pathlib import Path

import pytest
from splice.sdk import AsyncClient, Client, DeadlineExceededError, RetryPolicy, SpliceError, Status
from splice.sdk.types import Intervention
from splice.server.testing import ServerProcess, start_server_process

from tests.conftest import FAKE_ORACLES, PROBLEM, REFERENCE, ROLLOUT
from tests.processes import alive, children


def test_work_finishes_after_the_callers_deadline(server: ServerProcess) -> None:
    rid = uuid.uuid4().hex
    with Client(server.address, retry=RetryPolicy(max_attempts=1)) as client:
        with pytest.raises(DeadlineExceededError):
            client.intervene(problem=PROBLEM, reference_solution=REFERENCE, rollout=ROLLOUT,
                             oracle="slow", request_id=rid, timeout=0.3)
        running = client.get(rid)
        assert running.status is Status.RUNNING and running.sequence == 0
        time.sleep(1.2)
        done = client.get(rid)
    assert done.status is Status.FOUND_ERROR and done.first_error_step == 2
    assert done.sequence > 0


def test_sigterm_drains_in_flight_calls(fresh_server: ServerProcess) -> None:
    outcome: list[Intervention | BaseException] = []

    def call() -> None:
        try:
            with Client(fresh_server.address) as client:
                outcome.append(client.intervene(
                    problem=PROBLEM, reference_solution=REFERENCE, rollout=ROLLOUT,
                    oracle="slow"))
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    time.sleep(0.4)
    fresh_server.process.send_signal(signal.SIGTERM)
    thread.join(30)
    assert fresh_server.process.wait(30) == 0
    (result,) = outcome
    assert isinstance(result, Intervention) and result.status is Status.FOUND_ERROR
    assert "draining" in fresh_server.log()


def test_sigkill_loses_no_acknowledged_result(tmp_path: Path) -> None:
    oracles = {**FAKE_ORACLES, "quick": {"backend": "fake", "options": {"delay_s": 0.2}}}
    # A short lease: the restarted server takes the dead one's work over within about 1.5 s.
    settings = {"oracles": oracles, "default_oracle": "quick", "lease_s": 1}
    first = start_server_process(settings, tmp_path)
    acked: dict[str, Intervention] = {}
    sent = [uuid.uuid4().hex for _ in range(400)]

    async def traffic() -> None:
        async with AsyncClient(first.address, retry=RetryPolicy(max_attempts=1)) as client:
            slots = asyncio.Semaphore(40)

            async def one(rid: str) -> None:
                async with slots:
                    try:
                        result = await client.intervene(
                            problem=PROBLEM, reference_solution=REFERENCE,
                            rollout=f"{ROLLOUT} {rid}", request_id=rid, timeout=20)
                    except SpliceError:
                        return
                    acked[rid] = result

            tasks = [asyncio.create_task(one(rid)) for rid in sent]
            await asyncio.sleep(1.5)
            writers.extend(children(first.process.pid))
            first.kill()
            await asyncio.gather(*tasks)

    writers: list[int] = []
    asyncio.run(traffic())
    assert 0 < len(acked) < len(sent), "the kill must land while requests are in flight"
    # The store's writer process sees its server go and exits: no orphan holds the file.
    assert writers, "the server runs a SQLite writer process"
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in writers):
        assert time.monotonic() < deadline, "the writer process outlived its server"
        time.sleep(0.05)
    second = start_server_process(settings, tmp_path)
    try:
        with Client(second.address) as client:
            for rid, result in acked.items():
                assert client.get(rid) == result
            # Accepted but unfinished work resumes after the restart and joins the log.
            deadline = time.monotonic() + 60
            accepted = [rid for rid in sent if _status(client, rid) is not None]
            while any(_status(client, rid) is Status.RUNNING for rid in accepted):
                assert time.monotonic() < deadline, "unfinished work was not resumed"
                time.sleep(0.2)
            log = list(client.watch(0, follow=False))
        sequences = [i.sequence for i in log]
        assert sequences == list(range(1, len(log) + 1)), "log must be gap-free"
        assert len({i.request_id for i in log}) == len(log), "no duplicates"
        assert {i.request_id for i in log} == set(accepted)
        assert set(acked) <= set(accepted)
    finally:
        second.terminate()


def _status(client: Client, rid: str) -> Status | None:
    try:
        return client.get(rid).status
    except SpliceError:
        return None
