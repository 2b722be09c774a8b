"""OpenTelemetry spans: request → oracle call and store write, only when tracing is on."""

from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk import trace as sdk_trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from splice.sdk import AsyncClient, InterventionRequest
from splice.server import tracing
from splice.server.app import start_server
from splice.server.config import Settings, TracingSettings

from tests.conftest import FAKE_ORACLES, PROBLEM, REFERENCE, ROLLOUT

EXPORTER = InMemorySpanExporter()
_provider = sdk_trace.TracerProvider()
_provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
trace.set_tracer_provider(_provider)


def settings(tmp_path: Path, enabled: bool) -> Settings:
    return Settings(host="127.0.0.1", port=0, metrics_port=None, review_web=False,
                    store_url=f"sqlite:///{tmp_path / 'trace.db'}", oracles=FAKE_ORACLES,
                    default_oracle="noop", tracing=TracingSettings(enabled=enabled))


@pytest.mark.parametrize("oracle", ["noop", "fake"])  # inline (free) and detached oracle work
async def test_request_span_parents_the_oracle_and_store_spans(
        tmp_path: Path, oracle: str) -> None:
    EXPORTER.clear()
    running = await start_server(settings(tmp_path, enabled=True))
    try:
        async with AsyncClient(f"127.0.0.1:{running.port}") as client:
            await client.intervene(InterventionRequest(
                problem=PROBLEM, reference_solution=REFERENCE, rollout=ROLLOUT, oracle=oracle))
    finally:
        await running.stop(1.0)
    spans = {s.name: s for s in EXPORTER.get_finished_spans()}
    assert {tracing.REQUEST_SPAN, tracing.ORACLE_SPAN, tracing.STORE_WRITE_SPAN} <= set(spans)
    request = spans[tracing.REQUEST_SPAN]
    assert request.parent is None
    for child in (tracing.ORACLE_SPAN, tracing.STORE_WRITE_SPAN):
        parent = spans[child].parent
        assert parent is not None and parent.span_id == request.context.span_id
        assert spans[child].context.trace_id == request.context.trace_id


async def test_no_spans_when_tracing_is_off(tmp_path: Path) -> None:
    EXPORTER.clear()
    assert tracing.setup(TracingSettings()) is None
    running = await start_server(settings(tmp_path, enabled=False))
    try:
        assert running.engine.tracer is None
        async with AsyncClient(f"127.0.0.1:{running.port}") as client:
            await client.intervene(InterventionRequest(
                problem=PROBLEM, reference_solution=REFERENCE, rollout=ROLLOUT))
    finally:
        await running.stop(1.0)
    assert EXPORTER.get_finished_spans() == ()
