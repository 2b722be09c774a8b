"""Interop: an independent gRPC implementation (grpclib) and server reflection."""

from __future__ import annotations

import asyncio
import uuid

import grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)
from grpclib.client import Channel, UnaryUnaryMethod
from splice.server.testing import ServerProcess
from splice.v1 import intervention_pb2 as pb

from tests.conftest import PROBLEM, REFERENCE, ROLLOUT


def test_grpclib_client_can_intervene(server: ServerProcess) -> None:
    host, port = server.address.rsplit(":", 1)

    async def call() -> tuple[pb.InterveneResponse, pb.ListOraclesResponse]:
        channel = Channel(host, int(port))
        try:
            intervene = UnaryUnaryMethod(
                channel, "/splice.v1.InterventionService/Intervene",
                pb.InterveneRequest, pb.InterveneResponse)
            oracles = UnaryUnaryMethod(
                channel, "/splice.v1.InterventionService/ListOracles",
                pb.ListOraclesRequest, pb.ListOraclesResponse)
            reply = await intervene(pb.InterveneRequest(
                request_id=uuid.uuid4().hex, client_id="grpclib", oracle="fake",
                options={"step": "3", "replacement": "So the answer is \\boxed{7}."},
                problem=pb.Problem(text=PROBLEM, reference_solution=REFERENCE),
                rollout=pb.Rollout(text=ROLLOUT)), timeout=30)
            listed = await oracles(pb.ListOraclesRequest(), timeout=30)
            return reply, listed
        finally:
            channel.close()

    reply, listed = asyncio.run(call())
    result = reply.intervention
    assert result.status == pb.INTERVENTION_STATUS_FOUND_ERROR
    assert result.first_error_step == 3 and len(result.steps) == 3
    assert result.replacements[0].content == "So the answer is \\boxed{7}."
    assert {o.info.name for o in listed.oracles} == {"fake", "noop", "slow"}


def test_reflection_lists_and_describes_the_service(server: ServerProcess) -> None:
    with grpc.insecure_channel(server.address) as channel:
        db = ProtoReflectionDescriptorDatabase(channel)
        services = set(db.get_services())
        assert {"splice.v1.InterventionService", "grpc.health.v1.Health"} <= services
        file = db.FindFileContainingSymbol("splice.v1.InterventionService")
        assert file.package == "splice.v1"
        methods = {m.name for m in file.service[0].method}
    assert {"Intervene", "InterveneStream", "GetIntervention", "WatchInterventions",
            "ListOracles"} <= methods
