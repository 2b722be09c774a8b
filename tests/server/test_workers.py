"""``splice serve --workers 2`` on one store: one client's connections spread over both
workers, and WatchInterventions on either worker sees every result exactly once."""

from __future__ import annotations

import collections
import urllib.request
from pathlib import Path

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families
from splice.server.servicer import WORKER_HEADER
from splice.server.testing import start_server_process
from splice.v1 import intervention_pb2 as pb
from splice.v1 import intervention_pb2_grpc as pb_grpc

from tests.conftest import FAKE_ORACLES, PROBLEM, REFERENCE, ROLLOUT
from tests.processes import alive, children

pytestmark = pytest.mark.timeout(240)
CHANNELS = 16  # SO_REUSEPORT spreads connections; all on one worker: 2 in 2**16


def intervene(stub: pb_grpc.InterventionServiceStub, tag: str) -> tuple[str, str]:
    """(request_id, worker) of one Intervene."""
    reply, call = stub.Intervene.with_call(pb.InterveneRequest(
        request_id=f"req-{tag}", client_id="rl-job",
        problem=pb.Problem(text=PROBLEM, reference_solution=REFERENCE),
        rollout=pb.Rollout(text=f"{ROLLOUT} {tag}")), timeout=30)
    worker = dict(call.trailing_metadata())[WORKER_HEADER]
    return reply.intervention.request_id, worker


def test_two_workers_share_port_and_store(shared_store_url: str, tmp_path: Path) -> None:
    server = start_server_process({"oracles": FAKE_ORACLES, "default_oracle": "noop",
                                   "store_url": shared_store_url, "workers": 2}, tmp_path)
    # Own subchannel pool per channel: otherwise grpc shares one connection between them.
    channels = [grpc.insecure_channel(server.address,
                                      options=[("grpc.use_local_subchannel_pool", 1)])
                for _ in range(CHANNELS)]
    try:
        stubs = [pb_grpc.InterventionServiceStub(c) for c in channels]
        by_worker: dict[str, list[int]] = collections.defaultdict(list)
        ids: list[str] = []
        for round_ in range(5):
            for k, stub in enumerate(stubs):
                request_id, worker = intervene(stub, f"c{k}-r{round_}")
                ids.append(request_id)
                if k not in by_worker[worker]:
                    by_worker[worker].append(k)
        assert set(by_worker) == {"0", "1"}, f"one worker took every connection: {by_worker}"
        for worker, ks in by_worker.items():  # a watch on a connection held by this worker
            watched = [r.intervention for r in stubs[ks[0]].WatchInterventions(
                pb.WatchInterventionsRequest(after=0, no_follow=True), timeout=30)]
            assert sorted(i.request_id for i in watched) == sorted(ids), f"worker {worker}"
            sequences = [i.sequence for i in watched]
            assert sequences == list(range(1, len(ids) + 1)), f"worker {worker}"
        assert server.metrics_url is not None
        with urllib.request.urlopen(server.metrics_url, timeout=5) as reply:
            families = {f.name: f for f in text_string_to_metric_families(reply.read().decode())}
        total = sum(s.value for s in families["splice_requests"].samples
                    if s.name == "splice_requests_total" and s.labels["method"] == "Intervene")
        assert total == len(ids)  # the supervisor's /metrics sums both workers
    finally:
        for c in channels:
            c.close()
        assert server.terminate() == 0, server.log()[-3000:]
    log = server.log()
    assert log.count('"message": "listening on') == 2, log[-3000:]


def test_a_crashed_worker_is_restarted(tmp_path: Path) -> None:
    import json
    import os
    import signal
    import time

    server = start_server_process({"oracles": FAKE_ORACLES, "default_oracle": "noop",
                                   "workers": 2}, tmp_path)
    try:
        def workers() -> list[int]:
            return [json.loads(line)["pid"] for line in server.log().splitlines()
                    if '"worker started"' in line]

        first = workers()
        assert len(first) == 2
        os.kill(first[1], signal.SIGKILL)
        deadline = time.monotonic() + 60
        while len(workers()) < 3:
            assert time.monotonic() < deadline, server.log()[-3000:]
            time.sleep(0.2)
        with grpc.insecure_channel(server.address) as channel:
            intervene(pb_grpc.InterventionServiceStub(channel), "after-crash")
    finally:
        assert server.terminate() == 0, server.log()[-3000:]


def test_workers_exit_when_the_supervisor_is_killed(tmp_path: Path) -> None:
    import contextlib
    import json
    import os
    import signal
    import time

    server = start_server_process({"oracles": FAKE_ORACLES, "default_oracle": "noop",
                                   "workers": 2}, tmp_path)
    workers = [json.loads(line)["pid"] for line in server.log().splitlines()
               if '"worker started"' in line]
    assert len(workers) == 2
    writers = [children(pid) for pid in workers]
    assert all(writers), "each worker runs a SQLite writer process"
    descendants = workers + [child for group in writers for child in group]
    server.kill()  # SIGKILL: the supervisor cannot forward anything
    try:
        deadline = time.monotonic() + 30
        while running := [pid for pid in descendants if alive(pid)]:
            assert time.monotonic() < deadline, f"still running: {running}\n{server.log()[-3000:]}"
            time.sleep(0.1)
        assert server.log().count("the supervisor (pid") == 2, server.log()[-3000:]
    finally:
        for pid in descendants:  # on failure, leave nothing running
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
