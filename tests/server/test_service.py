"""The real server over gRPC with the real client: results, idempotency, stream, log."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from splice.sdk import (
    AlreadyExistsError,
    AsyncClient,
    Client,
    InterventionRequest,
    NotFoundError,
    Status,
    patched_prefix,
)
from splice.sdk.types import FailureReason
from splice.server.testing import ServerProcess
from splice.v1 import intervention_pb2 as pb
from splice.v1 import intervention_pb2_grpc as pb_grpc

from tests.conftest import PROBLEM, REFERENCE, ROLLOUT


def _rid() -> str:
    return uuid.uuid4().hex


def test_intervene_returns_parsed_verdict_with_exact_offsets(server: ServerProcess) -> None:
    with Client(server.address, client_id="rl-job") as client:
        result = client.intervene(
            problem=PROBLEM, reference_solution=REFERENCE, rollout=ROLLOUT, oracle="fake",
            options={"step": "2", "replacement": "Then 4 + 3 = 7."}, request_id=_rid())
    assert result.status is Status.FOUND_ERROR
    assert result.first_error_step == 2
    assert result.client_id == "rl-job"
    assert [s.index for s in result.steps] == [1, 2, 3]
    assert "".join(s.text for s in result.steps) == ROLLOUT
    for step in result.steps:
        assert ROLLOUT[step.char_start:step.char_end] == step.text
    assert result.steps[1].content == "Then 5 + 3 = 8."
    assert result.segmenter.name == "blank_line"
    (replacement,) = result.replacements
    assert patched_prefix(result, replacement) == "First, 2 + 2 = 5.\n\nThen 4 + 3 = 7."
    assert result.sequence > 0 and result.oracle.name == "fake"
    assert result.usage.oracle_latency_ms >= 0


def test_presegmented_rollout_keeps_callers_steps(server: ServerProcess) -> None:
    steps = ["2 + 2 = 5.", "5 + 3 = 8.", "\\boxed{8}"]
    with Client(server.address) as client:
        result = client.intervene(problem=PROBLEM, reference_solution=REFERENCE,
                                  rollout_steps=steps, oracle="noop", request_id=_rid())
    assert result.status is Status.NO_ERROR and result.first_error_step == 0
    assert [s.content for s in result.steps] == steps
    assert result.segmenter.name == "presegmented"


def test_same_request_id_runs_the_oracle_once(server: ServerProcess) -> None:
    rid = _rid()
    req = InterventionRequest(problem=PROBLEM, reference_solution=REFERENCE, rollout=ROLLOUT,
                              oracle="slow", request_id=rid)

    async def twice() -> list[object]:
        async with AsyncClient(server.address) as client:
            return await asyncio.gather(client.intervene(req), client.intervene(req))

    started = time.monotonic()
    first, second = asyncio.run(twice())
    elapsed = time.monotonic() - started
    assert first == second
    assert elapsed < 1.9, "two calls with one request_id must share one 1 s oracle call"
    with Client(server.address) as client:
        again = client.intervene(req)
        assert again == first and not again.cached
        log = [i for i in client.watch(0, follow=False) if i.request_id == rid]
    assert len(log) == 1


def test_request_id_reused_for_other_content_is_refused(server: ServerProcess) -> None:
    rid = _rid()
    with Client(server.address) as client:
        client.intervene(problem=PROBLEM, reference_solution=REFERENCE, rollout=ROLLOUT,
                         oracle="noop", request_id=rid)
        with pytest.raises(AlreadyExistsError, match=rid):
            client.intervene(problem=PROBLEM, reference_solution=REFERENCE,
                             rollout=ROLLOUT + " changed", oracle="noop", request_id=rid)


def test_identical_content_is_served_from_the_store(server: ServerProcess) -> None:
    opts = {"step": "1", "replacement": "First, 2 + 2 = 4.", "cost_usd": "0.5",
            "nonce": _rid()}
    with Client(server.address) as client:
        first = client.intervene(problem=PROBLEM, reference_solution=REFERENCE,
                                 rollout=ROLLOUT, oracle="fake", options=opts)
        second = client.intervene(problem=PROBLEM, reference_solution=REFERENCE,
                                  rollout=ROLLOUT, oracle="fake", options=opts)
    assert not first.cached and second.cached
    assert second.request_id != first.request_id
    assert second.first_error_step == first.first_error_step == 1
    assert second.replacements == first.replacements
    assert first.usage.cost_usd == 0.5 and second.usage.cost_usd == 0.0
    assert second.sequence > first.sequence


def test_stream_answers_out_of_order_and_sdk_restores_order(server: ServerProcess) -> None:
    delays = ["0.8", "0", "0", "0"]
    reqs = [InterventionRequest(problem=PROBLEM, reference_solution=REFERENCE,
                                rollout=ROLLOUT, oracle="fake", request_id=_rid(),
                                options={"delay_s": d, "step": "1"}) for d in delays]
    with grpc.insecure_channel(server.address) as channel:
        stub = pb_grpc.InterventionServiceStub(channel)
        raw = list(stub.InterveneStream(
            iter([pb.InterveneStreamRequest(request=r.to_pb("c")) for r in reqs]), timeout=30))
    order = [item.request_id for item in raw]
    assert sorted(order) == sorted(r.request_id for r in reqs)
    assert order[-1] == reqs[0].request_id, "the slow first request must be answered last"
    fresh = [InterventionRequest(problem=PROBLEM, reference_solution=REFERENCE,
                                 rollout=ROLLOUT, oracle="fake", request_id=_rid(),
                                 options={"delay_s": d, "step": "1"}) for d in delays]
    with Client(server.address) as client:
        results = client.intervene_many(fresh, concurrency=4)
    assert [r.request_id for r in results] == [r.request_id for r in fresh]  # type: ignore[union-attr]


def test_stream_reports_bad_items_without_breaking(server: ServerProcess) -> None:
    good = InterventionRequest(problem=PROBLEM, reference_solution=REFERENCE, rollout=ROLLOUT,
                               oracle="noop")
    bad = InterventionRequest(problem=PROBLEM, reference_solution="", rollout=ROLLOUT,
                              oracle="noop")
    with Client(server.address) as client:
        results = client.intervene_many([good, bad], return_exceptions=True)
    assert results[0].status is Status.NO_ERROR  # type: ignore[union-attr]
    assert "problem.reference_solution" in str(results[1])


def test_get_and_not_found(server: ServerProcess) -> None:
    with Client(server.address) as client:
        done = client.intervene(problem=PROBLEM, reference_solution=REFERENCE,
                                rollout=ROLLOUT, oracle="noop")
        assert client.get(done.request_id) == done
        with pytest.raises(NotFoundError, match="no-such-id"):
            client.get("no-such-id")


def test_watch_replays_exactly_after_cursor_then_follows_live(server: ServerProcess) -> None:
    with Client(server.address, client_id=f"watcher-{_rid()}") as client:
        done = [client.intervene(problem=PROBLEM, reference_solution=REFERENCE,
                                 rollout=f"{ROLLOUT} #{i}", oracle="noop") for i in range(5)]
        cursor = done[1].sequence
        replay = [i for i in client.watch(cursor, follow=False)
                  if i.client_id == client.client_id]
        assert [i.request_id for i in replay] == [d.request_id for d in done[2:]]
        seen: list[str] = []
        live = client.watch(done[-1].sequence, client_id=client.client_id)

        def later() -> None:
            time.sleep(0.3)
            with Client(server.address, client_id=client.client_id) as other:
                other.intervene(problem=PROBLEM, reference_solution=REFERENCE,
                                rollout=ROLLOUT + " live", oracle="noop", request_id="live-"
                                + client.client_id)

        threading.Thread(target=later).start()
        for item in live:
            seen.append(item.request_id)
            break
    assert seen == ["live-" + client.client_id]


def test_list_oracles(server: ServerProcess) -> None:
    with Client(server.address) as client:
        oracles = {o.info.name: o for o in client.oracles()}
    assert set(oracles) == {"fake", "noop", "slow"}
    assert oracles["fake"].is_default and not oracles["noop"].is_default
    assert oracles["slow"].info.backend == "fake"
    assert oracles["slow"].info.config_hash != oracles["fake"].info.config_hash


def test_oracle_exception_becomes_failed_result(server: ServerProcess) -> None:
    with Client(server.address) as client:
        result = client.intervene(problem=PROBLEM, reference_solution=REFERENCE,
                                  rollout=ROLLOUT, oracle="fake", options={"raise": "boom"})
    assert result.status is Status.FAILED
    assert result.failure is not None
    assert result.failure.reason is FailureReason.ORACLE_ERROR and result.failure.retryable
    assert result.sequence > 0


def test_health_serving(server: ServerProcess) -> None:
    with grpc.insecure_channel(server.address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for service in ("", "splice.v1.InterventionService"):
            reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
