"""Small helpers of the review tests: a ReviewService stub and a request to review."""

from __future__ import annotations

from typing import Any

import grpc
from splice.sdk import InterventionRequest
from splice.v1 import intervention_pb2 as ipb
from splice.v1 import review_pb2 as pb
from splice.v1 import review_pb2_grpc as pb_grpc

ROLLOUT = "We need $2 + 2$.\n\n$2 + 2 = 5$.\n\nSo the answer is $5$."
HUMAN = {"oracles": {"human": {"backend": "human"}}, "default_oracle": "human"}


def request(request_id: str, **extra: Any) -> InterventionRequest:
    """A request for the human oracle: three steps, the error in step 2."""
    return InterventionRequest(
        request_id=request_id, problem="What is $2 + 2$?", reference_solution="$2 + 2 = 4$.",
        reference_answer="4", rollout=ROLLOUT, oracle="human", categorize=True, **extra)


def stub(channel: grpc.Channel) -> Any:
    """A blocking ReviewService stub."""
    return pb_grpc.ReviewServiceStub(channel)


def submit(reviews: Any, task: pb.ReviewTask, step: int = 2, text: str = "$2 + 2 = 4$.",
           **kwargs: Any) -> pb.SubmitReviewResponse:
    """Submit a FOUND_ERROR review of ``task`` at ``step`` with one replacement."""
    return reviews.SubmitReview(pb.SubmitReviewRequest(
        request_id=task.request_id, lease_token=task.lease_token,
        status=ipb.INTERVENTION_STATUS_FOUND_ERROR, first_error_step=step,
        category=ipb.ERROR_CATEGORY_EXECUTION,
        replacements=[ipb.Replacement(location=step, content=text)]), timeout=10, **kwargs)


def code_of(call: Any) -> grpc.StatusCode | None:
    """The status code a call raises (None if it succeeds)."""
    try:
        call()
    except grpc.RpcError as exc:
        return exc.code()  # type: ignore[no-any-return]
    return None
