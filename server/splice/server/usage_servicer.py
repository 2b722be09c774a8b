"""Thin gRPC servicer of ``splice.v1.UsageService``: protobuf bytes ⇄ :class:`UsageReport`.

Requests are parsed here from raw bytes (``wire.parse_request``), as in ``servicer``, so
bad input is INVALID_ARGUMENT; errors map to status codes through ``errors.status_of``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from splice.server.errors import abort
from splice.server.oracles.llm.ledger import Attempt
from splice.server.servicer import input_from_pb
from splice.server.usage import UsageReport, UsageTotal
from splice.server.wire import parse_or_invalid
from splice.v1 import usage_pb2 as pb

log = logging.getLogger("splice.servicer")

SERVICE_NAME = "splice.v1.UsageService"

M = TypeVar("M", bound=Message)



def _ser(cls: type[Message]) -> Callable[[Any], bytes]:
    return cls.SerializeToString


def _timestamp(value: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


def total_to_pb(t: UsageTotal) -> pb.UsageTotal:
    """A server total as protobuf."""
    msg = pb.UsageTotal(client_id=t.client_id, oracle=t.oracle, calls=t.spend.calls,
                        input_tokens=t.spend.input_tokens, output_tokens=t.spend.output_tokens,
                        cost_usd=t.spend.cost_usd)
    if t.budget is not None and t.budget.tokens_per_day is not None:
        msg.budget_tokens_per_day = t.budget.tokens_per_day
    if t.budget is not None and t.budget.usd_per_day is not None:
        msg.budget_usd_per_day = t.budget.usd_per_day
    return msg


def attempt_to_pb(a: Attempt) -> pb.OracleAttempt:
    """An attempt row as protobuf."""
    msg = pb.OracleAttempt(
        request_id=a.request_id, client_id=a.client_id, oracle=a.oracle, model=a.model,
        purpose=a.purpose, sample=a.sample, attempt=a.attempt,
        started_at=_timestamp(a.started_at), latency_ms=a.latency_ms, outcome=a.outcome,
        http_status=a.http_status, input_tokens=a.input_tokens, output_tokens=a.output_tokens,
        cost_usd=a.cost_usd, error=a.error, prompt_version=a.prompt_version)
    if a.retry_after_s is not None:
        msg.retry_after_s = a.retry_after_s
    return msg


class UsageServicer:
    """Implements splice.v1.UsageService over a :class:`UsageReport`."""

    def __init__(self, report: UsageReport) -> None:
        self.report = report

    async def GetUsage(self, data: bytes, context: grpc.aio.ServicerContext
                       ) -> pb.GetUsageResponse:
        try:
            req = parse_or_invalid(pb.GetUsageRequest, data)
            since = req.since.ToDatetime(tzinfo=UTC) if req.HasField("since") else None
            totals = await self.report.usage(req.client_id, req.oracle, since)
        except Exception as exc:
            await abort(context, exc, log)
            raise
        return pb.GetUsageResponse(totals=[total_to_pb(t) for t in totals])

    async def ListAttempts(self, data: bytes, context: grpc.aio.ServicerContext
                           ) -> pb.ListAttemptsResponse:
        try:
            req = parse_or_invalid(pb.ListAttemptsRequest, data)
            rows = await self.report.attempts(req.request_id)
        except Exception as exc:
            await abort(context, exc, log)
            raise
        return pb.ListAttemptsResponse(attempts=[attempt_to_pb(a) for a in rows])

    async def EstimateCost(self, data: bytes, context: grpc.aio.ServicerContext
                           ) -> pb.EstimateCostResponse:
        try:
            req = parse_or_invalid(pb.EstimateCostRequest, data)
            oracle, est = await self.report.estimate(
                [input_from_pb(r) for r in req.requests], req.oracle,
                req.typical_output_tokens)
        except Exception as exc:
            await abort(context, exc, log)
            raise
        return pb.EstimateCostResponse(
            oracle=oracle.name, model=oracle.settings.model, requests=est.requests,
            calls=est.calls, input_tokens=est.input_tokens,
            output_tokens_typical=est.output_tokens_typical,
            output_tokens_max=est.output_tokens_max, usd_typical=est.usd_typical,
            usd_max=est.usd_max, priced=est.priced)


def usage_handler(servicer: UsageServicer) -> grpc.GenericRpcHandler:
    """Method handlers that receive raw request bytes."""
    handlers = {
        "GetUsage": grpc.unary_unary_rpc_method_handler(
            servicer.GetUsage, response_serializer=_ser(pb.GetUsageResponse)),
        "ListAttempts": grpc.unary_unary_rpc_method_handler(
            servicer.ListAttempts, response_serializer=_ser(pb.ListAttemptsResponse)),
        "EstimateCost": grpc.unary_unary_rpc_method_handler(
            servicer.EstimateCost, response_serializer=_ser(pb.EstimateCostResponse)),
    }
    return grpc.method_handlers_generic_handler(SERVICE_NAME, handlers)
