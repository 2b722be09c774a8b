"""The server is killed mid-review: after a restart, finished reviews are all there, and
the tasks that were claimed return to the queue once their leases expire."""

from __future__ import annotations

import time
from pathlib import Path

import grpc
from splice.sdk import Client, Status
from splice.server.testing import start_server_process
from splice.v1 import review_pb2 as pb

from tests.server.review.helpers import HUMAN, code_of, request, stub, submit

LEASE_S = 5.0


def claim(reviews: object, reviewer: str) -> pb.ReviewTask:
    """The next task for ``reviewer`` (empty when none)."""
    task: pb.ReviewTask = reviews.ClaimTask(  # type: ignore[attr-defined]
        pb.ClaimTaskRequest(reviewer=reviewer), timeout=10).task
    return task


def test_kill_server_mid_review(shared_store_url: str, tmp_path: Path) -> None:
    settings = {**HUMAN, "store_url": shared_store_url, "review_lease_s": LEASE_S}
    first = start_server_process(settings, tmp_path / "a")
    try:
        with Client(first.address) as client, grpc.insecure_channel(first.address) as ch:
            client.intervene_many([request(f"r{i}") for i in range(6)])
            reviews = stub(ch)
            reviewed = [claim(reviews, "alice") for _ in range(2)]
            for task in reviewed:
                submit(reviews, task)
            held = [claim(reviews, "alice"), claim(reviews, "alice")]
            claimed_at = time.monotonic()
    finally:
        first.kill()  # SIGKILL, two tasks claimed, two reviewed
    second = start_server_process(settings, tmp_path / "b")
    try:
        with Client(second.address) as client, grpc.insecure_channel(second.address) as ch:
            log = list(client.watch(0, follow=False))
            assert sorted(i.request_id for i in log) == sorted(t.request_id for t in reviewed)
            assert all(i.status is Status.FOUND_ERROR for i in log)
            reviews = stub(ch)
            rest = {f"r{i}" for i in range(6)} - {t.request_id for t in reviewed + held}
            free = [claim(reviews, "bob"), claim(reviews, "bob")]
            if time.monotonic() - claimed_at < LEASE_S - 0.5:  # alice's leases still run
                assert {t.request_id for t in free} == rest
                assert not claim(reviews, "bob").request_id
            else:  # a very slow restart: some of alice's leases ran out already
                free = [t for t in free if t.request_id in rest]
                assert free, "the restarted server offered nothing"
            for task in free:
                assert submit(reviews, task).done
            time.sleep(max(0.0, claimed_at + LEASE_S + 0.2 - time.monotonic()))
            back = [t for t in (claim(reviews, "bob") for _ in range(4)) if t.request_id]
            assert {t.request_id for t in back} == {f"r{i}" for i in range(6)} - {
                t.request_id for t in reviewed + free}
            stale = grpc.StatusCode.FAILED_PRECONDITION
            assert all(code_of(lambda t=t: submit(reviews, t)) is stale for t in held)
            for task in back:
                assert submit(reviews, task).done
            log = list(client.watch(0, follow=False))
            assert sorted(i.request_id for i in log) == [f"r{i}" for i in range(6)]
            assert [i.sequence for i in log] == list(range(1, 7))
    finally:
        second.terminate()
