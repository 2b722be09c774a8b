"""asyncio client of the Splice service."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import grpc
from splice.sdk.auth import token_interceptors
from splice.sdk.convert import intervention_from_pb, oracle_description_from_pb
from splice.sdk.errors import (
    SpliceError,
    UnavailableError,
    code_from_number,
    error_for,
    from_rpc_error,
)
from splice.sdk.requests import InterventionRequest
from splice.sdk.retry import RetryPolicy
from splice.sdk.tls import TlsConfig
from splice.sdk.types import Intervention, OracleDescription
from splice.sdk.usage import (
    CostEstimate,
    OracleAttempt,
    UsageTotal,
    attempt_from_pb,
    estimate_from_pb,
    since_to_pb,
    usage_total_from_pb,
)
from splice.v1 import intervention_pb2 as pb
from splice.v1 import intervention_pb2_grpc as pb_grpc
from splice.v1 import usage_pb2 as usage_pb
from splice.v1 import usage_pb2_grpc as usage_grpc

T = TypeVar("T")
DEFAULT_MAX_MESSAGE = 64 * 1024 * 1024


class AsyncClient:
    """Talks to a Splice server with asyncio; use as ``async with AsyncClient(addr) as c``.

    Every call has a deadline (``timeout`` seconds, per call or the client's default);
    calls that fail with a retryable code (UNAVAILABLE, DEADLINE_EXCEEDED) are retried.
    ``token``: bearer token for servers with access control (sent as ``authorization``
    metadata on every call of the channel the client creates; with auth on, the server sets
    each request's client_id to the token's name). ``tls``: a :class:`TlsConfig` for
    servers that serve TLS (with a client certificate for mutual TLS); default plaintext.
    """

    def __init__(
        self,
        target: str,
        *,
        client_id: str = "default",
        timeout: float = 120.0,
        retry: RetryPolicy | None = None,
        channel: grpc.aio.Channel | None = None,
        token: str | None = None,
        tls: TlsConfig | None = None,
    ) -> None:
        if channel is not None and (token or tls):
            raise ValueError("give token=/tls= or channel=, not both: configure your channel")
        self.client_id = client_id
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._channel = channel or _channel(target, token, tls)
        self._stub = pb_grpc.InterventionServiceStub(self._channel)  # type: ignore[no-untyped-call]
        self._usage = usage_grpc.UsageServiceStub(self._channel)  # type: ignore[no-untyped-call]

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the channel."""
        await self._channel.close()

    async def _call(self, fn: Callable[[], Awaitable[T]]) -> T:
        attempt = 1
        while True:
            try:
                return await fn()
            except grpc.RpcError as exc:
                error = from_rpc_error(exc)
            if not self.retry.should_retry(error, attempt):
                raise error
            await asyncio.sleep(self.retry.backoff(attempt))
            attempt += 1

    async def intervene(
        self, request: InterventionRequest | None = None, *, timeout: float | None = None,
        **fields: Any,
    ) -> Intervention:
        """Run one intervention; give an InterventionRequest or its fields as keywords."""
        req = request or InterventionRequest(**fields)
        msg = req.to_pb(self.client_id)
        deadline = timeout or self.timeout
        response: pb.InterveneResponse = await self._call(
            lambda: self._stub.Intervene(msg, timeout=deadline))
        return intervention_from_pb(response.intervention)

    async def intervene_many(
        self,
        requests: Iterable[InterventionRequest],
        *,
        concurrency: int = 64,
        timeout: float | None = None,
        return_exceptions: bool = False,
    ) -> list[Intervention | SpliceError]:
        """Run many interventions over one stream, at most ``concurrency`` in flight.

        Results come back in the order of ``requests``. Items that failed raise (or, with
        ``return_exceptions``, appear as SpliceError); items whose stream broke off are
        retried once by a unary call each, which is safe thanks to their request_ids.
        """
        reqs: Sequence[InterventionRequest] = list(requests)
        results: dict[str, Intervention | SpliceError] = {}
        slots = asyncio.Semaphore(concurrency)
        deadline = timeout or max(self.timeout, 1.0) * max(1, len(reqs) // concurrency + 1)

        async def produce() -> AsyncIterator[pb.InterveneStreamRequest]:
            for r in reqs:
                await slots.acquire()
                yield pb.InterveneStreamRequest(request=r.to_pb(self.client_id))

        call = self._stub.InterveneStream(produce(), timeout=deadline)
        try:
            async for item in call:
                slots.release()
                if item.error_code:
                    results[item.request_id] = error_for(
                        code_from_number(item.error_code), item.error_message)
                else:
                    results[item.request_id] = intervention_from_pb(item.intervention)
        except grpc.RpcError as exc:
            broken = from_rpc_error(exc)
            if not broken.retryable:
                raise broken from None
        for r in reqs:
            if r.request_id not in results:
                try:
                    results[r.request_id] = await self.intervene(r, timeout=timeout)
                except SpliceError as error:
                    results[r.request_id] = error
        ordered = [results[r.request_id] for r in reqs]
        if not return_exceptions:
            for item in ordered:
                if isinstance(item, SpliceError):
                    raise item
        return ordered

    async def get(self, request_id: str, *, timeout: float | None = None) -> Intervention:
        """The intervention of ``request_id`` (finished or still running)."""
        msg = pb.GetInterventionRequest(request_id=request_id)
        response: pb.GetInterventionResponse = await self._call(
            lambda: self._stub.GetIntervention(msg, timeout=timeout or self.timeout))
        return intervention_from_pb(response.intervention)

    async def watch(
        self, after: int = 0, *, client_id: str = "", follow: bool = True
    ) -> AsyncIterator[Intervention]:
        """Finished interventions after cursor ``after``, then live; reconnects on UNAVAILABLE.

        Each item's ``sequence`` is the cursor to resume from.
        """
        cursor = after
        attempt = 1
        while True:
            call = self._stub.WatchInterventions(pb.WatchInterventionsRequest(
                after=cursor, client_id=client_id, no_follow=not follow))
            try:
                async for item in call:
                    attempt = 1
                    result = intervention_from_pb(item.intervention)
                    cursor = result.sequence
                    yield result
                return
            except grpc.RpcError as exc:
                error = from_rpc_error(exc)
                if not isinstance(error, UnavailableError) or attempt >= self.retry.max_attempts:
                    raise error from None
            finally:
                call.cancel()
            await asyncio.sleep(self.retry.backoff(attempt))
            attempt += 1

    async def oracles(self, *, timeout: float | None = None) -> list[OracleDescription]:
        """The server's configured oracles."""
        response: pb.ListOraclesResponse = await self._call(
            lambda: self._stub.ListOracles(pb.ListOraclesRequest(),
                                           timeout=timeout or self.timeout))
        return [oracle_description_from_pb(o) for o in response.oracles]

    async def usage(
        self, *, client_id: str = "", oracle: str = "", since: datetime | None = None,
        timeout: float | None = None,
    ) -> list[UsageTotal]:
        """LLM usage per (client, oracle) since ``since`` (default: midnight UTC today)."""
        msg = usage_pb.GetUsageRequest(client_id=client_id, oracle=oracle)
        since_to_pb(since, msg)
        response: usage_pb.GetUsageResponse = await self._call(
            lambda: self._usage.GetUsage(msg, timeout=timeout or self.timeout))
        return [usage_total_from_pb(t) for t in response.totals]

    async def attempts(
        self, request_id: str, *, timeout: float | None = None
    ) -> list[OracleAttempt]:
        """Every provider attempt made for ``request_id``, in order."""
        msg = usage_pb.ListAttemptsRequest(request_id=request_id)
        response: usage_pb.ListAttemptsResponse = await self._call(
            lambda: self._usage.ListAttempts(msg, timeout=timeout or self.timeout))
        return [attempt_from_pb(a) for a in response.attempts]

    async def estimate(
        self, requests: Iterable[InterventionRequest], oracle: str = "", *,
        typical_output_tokens: int = 0, timeout: float | None = None,
    ) -> CostEstimate:
        """What ``requests`` would cost on LLM ``oracle`` (prompts counted; nothing sent)."""
        msg = usage_pb.EstimateCostRequest(
            requests=[r.to_pb(self.client_id) for r in requests], oracle=oracle,
            typical_output_tokens=typical_output_tokens)
        response: usage_pb.EstimateCostResponse = await self._call(
            lambda: self._usage.EstimateCost(msg, timeout=timeout or self.timeout))
        return estimate_from_pb(response)


def _channel(target: str, token: str | None, tls: TlsConfig | None) -> grpc.aio.Channel:
    options: list[tuple[str, Any]] = [
        ("grpc.max_receive_message_length", DEFAULT_MAX_MESSAGE),
        ("grpc.max_send_message_length", DEFAULT_MAX_MESSAGE),
    ]
    if tls is None:
        return grpc.aio.insecure_channel(target, options=options,
                                         interceptors=token_interceptors(token))
    return grpc.aio.secure_channel(target, tls.credentials(), options=options + tls.options(),
                                   interceptors=token_interceptors(token))
