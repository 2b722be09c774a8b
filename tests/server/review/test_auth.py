"""Access control over gRPC: each role is refused what it may not do (UNAUTHENTICATED or
PERMISSION_DENIED) and nothing changes in the store; tokens come from ``splice tokens``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grpc
import pytest
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc
from splice.sdk import Client, PermissionDeniedError, Status
from splice.sdk.errors import NotFoundError, UnauthenticatedError
from splice.server.auth import client_id_suffix
from splice.server.testing import start_server_process
from splice.v1 import intervention_pb2 as ipb
from splice.v1 import review_pb2 as pb

from tests.server.review.helpers import HUMAN, code_of, request, stub, submit

DENIED, UNAUTH = grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED


def tokens_cli(config: Path, *args: str) -> str:
    """Run ``splice tokens --config CONFIG ARGS`` and return what it printed."""
    done = subprocess.run([sys.executable, "-m", "splice.server.cli", "tokens", "--config",
                           str(config), *args], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def with_token(token: str) -> tuple[tuple[str, str], ...]:
    """gRPC metadata carrying ``token``."""
    return (("authorization", f"Bearer {token}"),)


def test_client_id_suffix_overrides_the_field() -> None:
    data = ipb.InterveneRequest(request_id="r", client_id="mallory").SerializeToString()
    suffix = client_id_suffix("/splice.v1.InterventionService/Intervene", "alice")
    assert suffix is not None
    assert ipb.InterveneRequest.FromString(data + suffix).client_id == "alice"
    item = ipb.InterveneStreamRequest(request=ipb.InterveneRequest(
        request_id="r", client_id="mallory", problem=ipb.Problem(text="p")))
    suffix = client_id_suffix("/splice.v1.InterventionService/InterveneStream", "alice")
    assert suffix is not None
    parsed = ipb.InterveneStreamRequest.FromString(item.SerializeToString() + suffix)
    assert (parsed.request.client_id, parsed.request.problem.text) == ("alice", "p")


def test_a_client_reads_only_its_own_usage() -> None:
    from splice.v1 import usage_pb2

    for asked in ("", "mallory"):
        data = usage_pb2.GetUsageRequest(client_id=asked, oracle="o").SerializeToString()
        suffix = client_id_suffix("/splice.v1.UsageService/GetUsage", "alice")
        assert suffix is not None
        parsed = usage_pb2.GetUsageRequest.FromString(data + suffix)
        assert (parsed.client_id, parsed.oracle) == ("alice", "o")


def test_roles_over_grpc(tmp_path: Path) -> None:
    config = tmp_path / "tokens.yaml"
    config.write_text(yaml.safe_dump({"store_url": f"sqlite:///{tmp_path / 'splice.db'}"}))
    tokens = {role: tokens_cli(config, "create", "--role", role, "--name", name)
              for role, name in (("client", "trainer"), ("reviewer", "alice"),
                                 ("admin", "root"))}
    listing = tokens_cli(config, "list")
    assert all(token not in listing for token in tokens.values())
    server = start_server_process(
        {**HUMAN, "store_url": f"sqlite:///{tmp_path / 'splice.db'}",
         "auth": {"enabled": True, "cache_s": 0}}, tmp_path / "server")
    try:
        with grpc.insecure_channel(server.address) as ch:
            health = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest())
            assert health.status == health_pb2.HealthCheckResponse.SERVING  # open to all
            reviews = stub(ch)
            claim_req = pb.ClaimTaskRequest(reviewer="alice")
            assert code_of(lambda: reviews.ClaimTask(claim_req, timeout=10)) is UNAUTH
            assert code_of(lambda: reviews.ClaimTask(
                claim_req, metadata=with_token("splice_wrong"), timeout=10)) is UNAUTH
            with Client(server.address) as anonymous, pytest.raises(UnauthenticatedError):
                anonymous.intervene(request("r0"))
            with Client(server.address, token=tokens["reviewer"]) as reviewer:
                with pytest.raises(PermissionDeniedError):
                    reviewer.intervene(request("r0"))
                with pytest.raises(PermissionDeniedError):
                    list(reviewer.watch(0, follow=False))
            with Client(server.address, token=tokens["client"], client_id="mallory") as client:
                with pytest.raises(NotFoundError):
                    client.get("r0")  # the refused calls stored nothing
                pending = client.intervene(request("r1"))
                assert (pending.status, pending.client_id) == (Status.PENDING, "trainer")
                [streamed] = client.intervene_many([request("r2")])
                assert streamed.client_id == "trainer"  # type: ignore[union-attr]
                client_md = with_token(tokens["client"])
                assert code_of(lambda: reviews.ClaimTask(
                    claim_req, metadata=client_md, timeout=10)) is DENIED
                stats = reviews.GetQueueStats(pb.GetQueueStatsRequest(), metadata=client_md)
                assert (stats.pending, stats.claimed) == (2, 0)  # the refused claim took none
            reviewer_md = with_token(tokens["reviewer"])
            task = reviews.ClaimTask(claim_req, metadata=reviewer_md, timeout=10).task
            assert code_of(lambda: submit(reviews, task, metadata=with_token(
                tokens["client"]))) is DENIED
            assert submit(reviews, task, metadata=reviewer_md).done
            with Client(server.address, token=tokens["admin"], client_id="ops") as admin:
                assert admin.get(task.request_id).status is Status.FOUND_ERROR
                kept = admin.intervene(request("r3")).client_id
                assert kept == "ops"  # an admin's requests keep their client_id
            audit = [(e.reviewer, e.event) for e in _audit(tmp_path)]
            assert ("alice", "claimed") in audit and ("trainer", "claimed") not in audit
            tokens_cli(config, "revoke", "--name", "alice")
            assert code_of(lambda: reviews.ClaimTask(
                claim_req, metadata=reviewer_md, timeout=10)) is UNAUTH
    finally:
        server.terminate()
    log = server.log()
    assert all(token not in log for token in tokens.values())


def _audit(tmp_path: Path) -> list[object]:
    import asyncio

    from splice.server.review.queue import open_review_queue

    async def read() -> list[object]:
        async with open_review_queue(f"sqlite:///{tmp_path / 'splice.db'}") as queue:
            return list(await queue.audit())

    return asyncio.run(read())
