"""SDK error mapping and retries, against a real grpc.aio server that fails on purpose."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest
from splice.sdk import (
    AsyncClient,
    DeadlineExceededError,
    InvalidArgumentError,
    ResourceExhaustedError,
    RetryPolicy,
    UnavailableError,
)
from splice.sdk.types import Status
from splice.v1 import intervention_pb2 as pb


class Flaky:
    """Fails the first ``failures`` calls with ``code``, then answers."""

    def __init__(self, code: grpc.StatusCode, failures: int) -> None:
        self.code, self.failures, self.calls = code, failures, 0

    async def intervene(self, request: pb.InterveneRequest,
                        context: grpc.aio.ServicerContext) -> pb.InterveneResponse:
        self.calls += 1
        if self.calls <= self.failures:
            await context.abort(self.code, f"failure {self.calls}")
        return pb.InterveneResponse(intervention=pb.Intervention(
            request_id=request.request_id, status=pb.INTERVENTION_STATUS_NO_ERROR, sequence=1))


async def _serve(flaky: Flaky) -> tuple[grpc.aio.Server, str]:
    server = grpc.aio.server()
    handler = grpc.method_handlers_generic_handler("splice.v1.InterventionService", {
        "Intervene": grpc.unary_unary_rpc_method_handler(
            flaky.intervene, request_deserializer=pb.InterveneRequest.FromString,
            response_serializer=pb.InterveneResponse.SerializeToString)})
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, f"127.0.0.1:{port}"


@pytest.fixture
async def flaky_server(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Flaky, str]]:
    code, failures = request.param
    flaky = Flaky(code, failures)
    server, address = await _serve(flaky)
    yield flaky, address
    await server.stop(None)


FAST = RetryPolicy(max_attempts=4, initial_backoff_s=0.01, max_backoff_s=0.05)


@pytest.mark.parametrize("flaky_server", [(grpc.StatusCode.UNAVAILABLE, 2)], indirect=True)
async def test_unavailable_is_retried_until_success(flaky_server: tuple[Flaky, str]) -> None:
    flaky, address = flaky_server
    async with AsyncClient(address, retry=FAST) as client:
        result = await client.intervene(problem="p", reference_solution="r", rollout="x")
    assert result.status is Status.NO_ERROR and flaky.calls == 3


@pytest.mark.parametrize("flaky_server", [(grpc.StatusCode.UNAVAILABLE, 10)], indirect=True)
async def test_retries_stop_at_max_attempts(flaky_server: tuple[Flaky, str]) -> None:
    flaky, address = flaky_server
    async with AsyncClient(address, retry=FAST) as client:
        with pytest.raises(UnavailableError, match="failure 4"):
            await client.intervene(problem="p", reference_solution="r", rollout="x")
    assert flaky.calls == 4


@pytest.mark.parametrize("flaky_server", [(grpc.StatusCode.INVALID_ARGUMENT, 10),
                                          (grpc.StatusCode.RESOURCE_EXHAUSTED, 10)],
                         indirect=True)
async def test_non_retryable_codes_fail_at_once(flaky_server: tuple[Flaky, str]) -> None:
    flaky, address = flaky_server
    async with AsyncClient(address, retry=FAST) as client:
        with pytest.raises((InvalidArgumentError, ResourceExhaustedError), match="failure 1"):
            await client.intervene(problem="p", reference_solution="r", rollout="x")
    assert flaky.calls == 1


async def test_nothing_listening_is_unavailable() -> None:
    server = grpc.aio.server()
    port = server.add_insecure_port("127.0.0.1:0")  # bound, then released: nobody listens
    await server.stop(None)
    async with AsyncClient(f"127.0.0.1:{port}", retry=FAST, timeout=1) as client:
        with pytest.raises((UnavailableError, DeadlineExceededError)):
            await asyncio.wait_for(
                client.intervene(problem="p", reference_solution="r", rollout="x"), 30)
