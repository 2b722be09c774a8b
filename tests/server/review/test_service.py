"""The human oracle over gRPC: Intervene answers PENDING at once; a reviewer claims and
submits through ReviewService; the verdict arrives through GetIntervention and the log."""

from __future__ import annotations

import time
from pathlib import Path

import grpc
from splice.sdk import Client, ErrorCategory, Status
from splice.server.testing import start_server_process
from splice.v1 import intervention_pb2 as ipb
from splice.v1 import review_pb2 as pb

from tests.server.review.helpers import HUMAN, code_of, request, stub, submit


def test_pending_then_reviewed(shared_store_url: str, tmp_path: Path) -> None:
    server = start_server_process({**HUMAN, "store_url": shared_store_url}, tmp_path)
    try:
        with Client(server.address, client_id="trainer") as client, \
                grpc.insecure_channel(server.address) as channel:
            started = time.perf_counter()
            pending = client.intervene(request("r1"))
            assert time.perf_counter() - started < 5
            assert (pending.status, pending.request_id, pending.sequence) == (
                Status.PENDING, "r1", 0)
            assert client.intervene(request("r1")).status is Status.PENDING  # no waiting
            assert client.get("r1").status is Status.PENDING
            reviews = stub(channel)
            task = reviews.ClaimTask(pb.ClaimTaskRequest(reviewer="alice"), timeout=10).task
            assert task.request_id == "r1" and len(task.steps) == 3
            assert task.steps[1] == "$2 + 2 = 5$." and task.categorize
            assert not reviews.ClaimTask(pb.ClaimTaskRequest(reviewer="bob"),
                                         timeout=10).HasField("task")
            beat = reviews.Heartbeat(pb.HeartbeatRequest(
                request_id="r1", lease_token=task.lease_token), timeout=10)
            assert beat.lease_until.seconds >= task.lease_until.seconds
            assert submit(reviews, task).done
            items = list(client.watch(0, follow=False))
            assert [i.request_id for i in items] == ["r1"]
            done = client.get("r1")
            assert done == items[0]
            assert (done.status, done.first_error_step, done.category) == (
                Status.FOUND_ERROR, 2, ErrorCategory.EXECUTION)
            assert done.replacements[0].content == "$2 + 2 = 4$."
            stats = reviews.GetQueueStats(pb.GetQueueStatsRequest(reviewer="alice"), timeout=10)
            assert (stats.pending, stats.claimed, stats.done_total, stats.mine_today) == (
                0, 0, 1, 1)
    finally:
        server.terminate()


def test_review_errors_have_specific_codes(tmp_path: Path) -> None:
    server = start_server_process(HUMAN, tmp_path)
    try:
        with Client(server.address) as client, grpc.insecure_channel(server.address) as ch:
            client.intervene(request("r1", options={"priority": "3"}))
            client.intervene(request("r2"))
            reviews = stub(ch)
            task = reviews.ClaimTask(pb.ClaimTaskRequest(reviewer="alice"), timeout=10).task
            assert task.request_id == "r1" and task.priority == 3  # priority first
            bad_step = pb.SubmitReviewRequest(
                request_id="r1", lease_token=task.lease_token,
                status=ipb.INTERVENTION_STATUS_FOUND_ERROR, first_error_step=9)
            invalid = grpc.StatusCode.INVALID_ARGUMENT
            assert code_of(lambda: reviews.SubmitReview(bad_step, timeout=10)) is invalid
            assert code_of(lambda: reviews.SubmitReview(b"\xff", timeout=10)) is not None
            assert code_of(lambda: reviews.SkipTask(pb.SkipTaskRequest(
                request_id="nope", lease_token="x"), timeout=10)) is grpc.StatusCode.NOT_FOUND
            reviews.SkipTask(pb.SkipTaskRequest(request_id="r1", lease_token=task.lease_token,
                                                reason="unclear"), timeout=10)
            stale = grpc.StatusCode.FAILED_PRECONDITION
            assert code_of(lambda: submit(reviews, task)) is stale
            second = reviews.ClaimTask(pb.ClaimTaskRequest(reviewer="alice"), timeout=10).task
            assert second.request_id == "r2"  # r1 was skipped by alice
            reviews.ReleaseTask(pb.ReleaseTaskRequest(
                request_id="r2", lease_token=second.lease_token), timeout=10)
            assert code_of(lambda: submit(reviews, second)) is stale
            bob = reviews.ClaimTask(pb.ClaimTaskRequest(reviewer="bob"), timeout=10).task
            assert bob.request_id == "r1"
    finally:
        server.terminate()
