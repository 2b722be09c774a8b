"""A programmatic reviewer process for the concurrency tests: claim, think, submit, repeat.

Appends one line per event to its log: ``ok RID``, ``stale RID LATE`` (a refused submit;
LATE is 1 when it was sent after the lease had ended) and ``LATE_ACCEPTED RID`` (a submit
sent after the lease ended that the server took: a bug). Stops when the stop file exists.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import time
from pathlib import Path

import grpc
from splice.v1 import intervention_pb2 as ipb
from splice.v1 import review_pb2 as pb
from splice.v1 import review_pb2_grpc as pb_grpc

MARGIN_S = 0.05
"""A submit sent this long after the lease's end must be refused (same host clock)."""


def verdict_step(request_id: str, n_steps: int) -> int:
    """The step every reviewer flags for ``request_id`` (so overlap reviews agree)."""
    return int(hashlib.sha1(request_id.encode()).hexdigest(), 16) % n_steps + 1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--stop", type=Path, required=True)
    parser.add_argument("--think-ms", type=float, default=30.0)
    args = parser.parse_args()
    out = os.open(args.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    rng = random.Random(f"{args.name}:{os.getpid()}")

    def note(line: str) -> None:
        os.write(out, (line + "\n").encode())

    with grpc.insecure_channel(args.address) as channel:
        stub = pb_grpc.ReviewServiceStub(channel)
        while not args.stop.exists():
            task = stub.ClaimTask(pb.ClaimTaskRequest(reviewer=args.name), timeout=30).task
            if not task.request_id:
                time.sleep(0.05)
                continue
            until = task.lease_until.ToNanoseconds() / 1e9
            time.sleep(rng.random() * args.think_ms / 1000)
            if rng.random() < 0.1:
                try:
                    beat = stub.Heartbeat(pb.HeartbeatRequest(
                        request_id=task.request_id, lease_token=task.lease_token), timeout=30)
                    until = beat.lease_until.ToNanoseconds() / 1e9
                except grpc.RpcError as exc:
                    if exc.code() is not grpc.StatusCode.FAILED_PRECONDITION:
                        raise
            step = verdict_step(task.request_id, len(task.steps))
            request = pb.SubmitReviewRequest(
                request_id=task.request_id, lease_token=task.lease_token,
                status=ipb.INTERVENTION_STATUS_FOUND_ERROR, first_error_step=step,
                category=ipb.ERROR_CATEGORY_EXECUTION,
                replacements=[ipb.Replacement(location=step, content=f"fix of {step}")])
            sent = time.time()
            try:
                stub.SubmitReview(request, timeout=30)
            except grpc.RpcError as exc:
                if exc.code() is not grpc.StatusCode.FAILED_PRECONDITION:
                    raise
                note(f"stale {task.request_id} {int(sent > until)}")
                continue
            note(f"LATE_ACCEPTED {task.request_id}" if sent > until + MARGIN_S
                 else f"ok {task.request_id}")


if __name__ == "__main__":
    main()
