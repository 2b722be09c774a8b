"""Thin gRPC servicer: protobuf bytes ⇄ engine calls, errors → status codes.

Requests are deserialized here, not by grpcio, so that a message that fails to parse (say,
invalid UTF-8 in a string field) is INVALID_ARGUMENT naming the field rather than INTERNAL.
Interventions are answered as bytes serialized here too (``responses``: steps encoded in C).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import grpc
from splice.sdk.convert import oracle_description_to_pb, provenance_from_pb
from splice.sdk.types import SegmentationMode
from splice.server import metrics
from splice.server.engine import InterventionEngine
from splice.server.errors import InvalidArgumentError, abort, status_of
from splice.server.requests import InterveneInput
from splice.server.responses import response_bytes
from splice.server.tracing import NO_SPAN, REQUEST_SPAN
from splice.server.wire import parse_or_invalid
from splice.v1 import intervention_pb2 as pb

log = logging.getLogger("splice.servicer")

SERVICE_NAME = "splice.v1.InterventionService"
STREAM_IN_FLIGHT = 1024
"""Most unanswered requests one InterveneStream may hold; reading pauses beyond it."""

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

WORKER_HEADER = "splice-worker"
"""Trailing metadata of Intervene naming the worker that served it (``--workers`` > 1)."""



def input_from_pb(req: pb.InterveneRequest) -> InterveneInput:
    """Protobuf request → engine input (validation happens in the engine)."""
    try:
        mode = SegmentationMode(req.segmentation)
    except ValueError as exc:
        raise InvalidArgumentError("segmentation", f"unknown mode {req.segmentation}") from exc
    return InterveneInput(
        request_id=req.request_id, client_id=req.client_id, problem=req.problem.text,
        reference_solution=req.problem.reference_solution,
        reference_answer=req.problem.reference_answer, problem_id=req.problem.problem_id,
        rollout_text=req.rollout.text, rollout_steps=tuple(req.rollout.steps),
        oracle=req.oracle, segmentation=mode, categorize=req.categorize,
        options=dict(req.options),
        provenance=(provenance_from_pb(req.rollout.provenance)
                    if req.rollout.HasField("provenance") else None),
    )


class InterventionServicer:
    """Implements splice.v1.InterventionService over an :class:`InterventionEngine`."""

    def __init__(self, engine: InterventionEngine, tracer: Tracer | None = None) -> None:
        self.engine = engine
        self.tracer = tracer
        self.metrics = metrics.current()
        settings = engine.settings
        self._oracles = frozenset(settings.oracles)
        self._default_oracle = settings.default_oracle
        self._worker: tuple[tuple[str, str], ...] | None = None
        if settings.worker_index is not None and settings.workers > 1:
            self._worker = ((WORKER_HEADER, str(settings.worker_index)),)

    def _oracle_label(self, name: str) -> str:
        name = name or self._default_oracle
        return name if name in self._oracles else "unknown"  # bounded label values

    async def Intervene(self, data: bytes, context: grpc.aio.ServicerContext) -> bytes:
        started = time.perf_counter()
        oracle = ""
        span = NO_SPAN if self.tracer is None else self.tracer.start_as_current_span(
            REQUEST_SPAN, attributes={"rpc.method": "Intervene"})
        with span:
            try:
                req = parse_or_invalid(pb.InterveneRequest, data)
                oracle = req.oracle
                result = await self.engine.intervene(input_from_pb(req))
            except Exception as exc:
                self.metrics.request("Intervene", status_of(exc)[0].name,
                                     self._oracle_label(oracle), time.perf_counter() - started)
                await abort(context, exc, log)
                raise
        if self._worker is not None:
            context.set_trailing_metadata(self._worker)
        self.metrics.request("Intervene", "OK", self._oracle_label(oracle),
                             time.perf_counter() - started)
        return response_bytes(pb.InterveneResponse, result)

    async def InterveneStream(
        self, requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[bytes]:
        out: asyncio.Queue[bytes | None] = asyncio.Queue()
        slots = asyncio.Semaphore(STREAM_IN_FLIGHT)
        pending: set[asyncio.Task[None]] = set()

        async def answer(data: bytes) -> None:
            request_id = oracle = ""
            started = time.perf_counter()
            try:
                req = parse_or_invalid(pb.InterveneStreamRequest, data).request
                request_id, oracle = req.request_id, req.oracle
                span = NO_SPAN if self.tracer is None else self.tracer.start_as_current_span(
                    REQUEST_SPAN, attributes={"rpc.method": "InterveneStream"})
                with span:
                    result = await self.engine.intervene(input_from_pb(req))
                out.put_nowait(response_bytes(pb.InterveneStreamResponse, result,
                                              request_id=request_id))
                self.metrics.request("InterveneStream", "OK", self._oracle_label(oracle),
                                     time.perf_counter() - started)
            except Exception as exc:
                code, message = status_of(exc)
                self.metrics.request("InterveneStream", code.name, self._oracle_label(oracle),
                                     time.perf_counter() - started)
                if code is grpc.StatusCode.INTERNAL:
                    log.error("internal error on stream item", exc_info=exc)
                out.put_nowait(pb.InterveneStreamResponse(
                    request_id=request_id, error_code=code.value[0],
                    error_message=message).SerializeToString())
            finally:
                slots.release()

        async def read_all() -> None:
            try:
                async for data in requests:
                    await slots.acquire()
                    task = asyncio.create_task(answer(data))
                    pending.add(task)
                    task.add_done_callback(pending.discard)
                while pending:
                    await asyncio.wait(list(pending))
            finally:
                out.put_nowait(None)

        reader = asyncio.create_task(read_all())
        try:
            while (item := await out.get()) is not None:
                yield item
            await reader
        finally:
            reader.cancel()

    async def GetIntervention(self, data: bytes, context: grpc.aio.ServicerContext) -> bytes:
        started = time.perf_counter()
        try:
            req = parse_or_invalid(pb.GetInterventionRequest, data)
            if not req.request_id:
                raise InvalidArgumentError("request_id", "is required")
            found = await self.engine.get(req.request_id)
        except Exception as exc:
            self.metrics.request("GetIntervention", status_of(exc)[0].name, "",
                                 time.perf_counter() - started)
            await abort(context, exc, log)
            raise
        self.metrics.request("GetIntervention", "OK", "", time.perf_counter() - started)
        return response_bytes(pb.GetInterventionResponse, found)

    async def WatchInterventions(
        self, data: bytes, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[bytes]:
        try:
            req = parse_or_invalid(pb.WatchInterventionsRequest, data)
        except Exception as exc:
            await abort(context, exc, log)
            raise
        async for item in self.engine.watch(
            req.after, client_id=req.client_id or None, follow=not req.no_follow
        ):
            yield response_bytes(pb.WatchInterventionsResponse, item)

    async def ListOracles(
        self, data: bytes, context: grpc.aio.ServicerContext
    ) -> pb.ListOraclesResponse:
        try:
            parse_or_invalid(pb.ListOraclesRequest, data)
        except Exception as exc:
            await abort(context, exc, log)
            raise
        return pb.ListOraclesResponse(
            oracles=[oracle_description_to_pb(d) for d in self.engine.list_oracles()])


def generic_handler(servicer: InterventionServicer) -> grpc.GenericRpcHandler:
    """Method handlers that take and give raw bytes (see the module docstring)."""
    handlers = {
        "Intervene": grpc.unary_unary_rpc_method_handler(servicer.Intervene),
        "InterveneStream": grpc.stream_stream_rpc_method_handler(servicer.InterveneStream),
        "GetIntervention": grpc.unary_unary_rpc_method_handler(servicer.GetIntervention),
        "WatchInterventions": grpc.unary_stream_rpc_method_handler(servicer.WatchInterventions),
        "ListOracles": grpc.unary_unary_rpc_method_handler(
            servicer.ListOracles, response_serializer=pb.ListOraclesResponse.SerializeToString),
    }
    return grpc.method_handlers_generic_handler(SERVICE_NAME, handlers)
