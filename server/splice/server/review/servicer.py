"""Thin gRPC servicer of splice.v1.ReviewService over a :class:`ReviewDesk`.

The reviewer is the authenticated principal; without access control, the request's
``reviewer`` field (default ``anonymous``). Requests are parsed here, as in the
InterventionService, so that bad bytes are INVALID_ARGUMENT naming the field.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from splice.sdk.types import ErrorCategory, Replacement, Status
from splice.server.auth import current_principal
from splice.server.errors import InvalidArgumentError, abort
from splice.server.review.desk import ReviewDesk
from splice.server.review.queue import Claim, Review
from splice.server.wire import parse_or_invalid
from splice.v1 import review_pb2 as pb

log = logging.getLogger("splice.review")

SERVICE_NAME = "splice.v1.ReviewService"
M = TypeVar("M", bound=Message)
R = TypeVar("R", bound=Message)



def _timestamp(value: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


def task_to_pb(claim: Claim) -> pb.ReviewTask:
    """A claim as the ReviewTask message."""
    c = claim.content
    return pb.ReviewTask(
        request_id=claim.request_id, lease_token=claim.lease_token,
        lease_until=_timestamp(claim.lease_until), problem=c.problem,
        reference_solution=c.reference_solution, reference_answer=c.reference_answer,
        problem_id=c.problem_id, steps=list(c.steps), categorize=c.categorize,
        priority=claim.priority, overlap=claim.overlap, reviews_done=claim.reviews_done)


def review_from_pb(req: pb.SubmitReviewRequest, reviewer: str) -> Review:
    """A SubmitReviewRequest as a Review (ranges are checked by the queue)."""
    try:
        status, category = Status(req.status), ErrorCategory(req.category)
    except ValueError as exc:
        raise InvalidArgumentError("status", str(exc)) from exc
    return Review(
        reviewer=reviewer, status=status, first_error_step=req.first_error_step,
        replacements=tuple(Replacement(location=r.location, content=r.content)
                           for r in req.replacements),
        category=category, explanation=req.explanation)


def reviewer_name(requested: str) -> str:
    """The authenticated principal's name, else the name the request gives."""
    principal = current_principal()
    if principal is not None:
        return principal.name
    return requested or "anonymous"


class ReviewServicer:
    """Implements splice.v1.ReviewService."""

    def __init__(self, desk: ReviewDesk) -> None:
        self.desk = desk

    async def _serve(self, context: grpc.aio.ServicerContext, fn: Callable[[], Awaitable[R]],
                     ) -> R:
        try:
            return await fn()
        except Exception as exc:
            await abort(context, exc, log)
            raise

    async def ClaimTask(self, data: bytes, context: grpc.aio.ServicerContext,
                        ) -> pb.ClaimTaskResponse:
        async def run() -> pb.ClaimTaskResponse:
            req = parse_or_invalid(pb.ClaimTaskRequest, data)
            claim = await self.desk.claim(reviewer_name(req.reviewer))
            if claim is None:
                return pb.ClaimTaskResponse()
            return pb.ClaimTaskResponse(task=task_to_pb(claim))

        return await self._serve(context, run)

    async def Heartbeat(self, data: bytes, context: grpc.aio.ServicerContext,
                        ) -> pb.HeartbeatResponse:
        async def run() -> pb.HeartbeatResponse:
            req = parse_or_invalid(pb.HeartbeatRequest, data)
            until = await self.desk.heartbeat(req.request_id, req.lease_token)
            return pb.HeartbeatResponse(lease_until=_timestamp(until))

        return await self._serve(context, run)

    async def SubmitReview(self, data: bytes, context: grpc.aio.ServicerContext,
                           ) -> pb.SubmitReviewResponse:
        async def run() -> pb.SubmitReviewResponse:
            req = parse_or_invalid(pb.SubmitReviewRequest, data)
            review = review_from_pb(req, reviewer_name(""))
            outcome = await self.desk.submit(req.request_id, req.lease_token, review)
            return pb.SubmitReviewResponse(done=outcome.done, reviews_done=outcome.reviews_done,
                                           overlap=outcome.overlap)

        return await self._serve(context, run)

    async def SkipTask(self, data: bytes, context: grpc.aio.ServicerContext,
                       ) -> pb.SkipTaskResponse:
        async def run() -> pb.SkipTaskResponse:
            req = parse_or_invalid(pb.SkipTaskRequest, data)
            await self.desk.skip(req.request_id, req.lease_token, req.reason)
            return pb.SkipTaskResponse()

        return await self._serve(context, run)

    async def ReleaseTask(self, data: bytes, context: grpc.aio.ServicerContext,
                          ) -> pb.ReleaseTaskResponse:
        async def run() -> pb.ReleaseTaskResponse:
            req = parse_or_invalid(pb.ReleaseTaskRequest, data)
            await self.desk.release(req.request_id, req.lease_token)
            return pb.ReleaseTaskResponse()

        return await self._serve(context, run)

    async def GetQueueStats(self, data: bytes, context: grpc.aio.ServicerContext,
                            ) -> pb.GetQueueStatsResponse:
        async def run() -> pb.GetQueueStatsResponse:
            req = parse_or_invalid(pb.GetQueueStatsRequest, data)
            s = await self.desk.stats(reviewer_name(req.reviewer))
            return pb.GetQueueStatsResponse(pending=s.pending, claimed=s.claimed,
                                            done_today=s.done_today, done_total=s.done_total,
                                            mine_today=s.mine_today)

        return await self._serve(context, run)


def _ser(cls: type[Message]) -> Callable[[Any], bytes]:
    return cls.SerializeToString


def generic_handler(servicer: ReviewServicer) -> grpc.GenericRpcHandler:
    """Method handlers that receive raw request bytes."""
    responses: dict[str, type[Message]] = {
        "ClaimTask": pb.ClaimTaskResponse, "Heartbeat": pb.HeartbeatResponse,
        "SubmitReview": pb.SubmitReviewResponse, "SkipTask": pb.SkipTaskResponse,
        "ReleaseTask": pb.ReleaseTaskResponse, "GetQueueStats": pb.GetQueueStatsResponse,
    }
    handlers = {name: grpc.unary_unary_rpc_method_handler(
        getattr(servicer, name), response_serializer=_ser(cls))
        for name, cls in responses.items()}
    return grpc.method_handlers_generic_handler(SERVICE_NAME, handlers)
