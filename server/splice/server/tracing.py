"""OpenTelemetry spans around a request, its oracle call and its store write.

Off by default: :func:`setup` then returns None and the hot path makes no tracer call at all
(callers hold ``None`` and use :data:`NO_SPAN`). With ``tracing.endpoint`` the optional
``otel`` extra (opentelemetry-sdk + OTLP exporter) exports spans over OTLP/gRPC; with
``tracing.enabled`` and no endpoint, spans go to the globally configured tracer provider
(e.g. one set up by ``opentelemetry-instrument`` or by a test).
"""

from __future__ import annotations

import contextlib
import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer
    from splice.server.config import TracingSettings

NO_SPAN = contextlib.nullcontext()
"""The context manager used instead of a span when tracing is off (reusable)."""
REQUEST_SPAN = "splice.request"
ORACLE_SPAN = "splice.oracle"
STORE_WRITE_SPAN = "splice.store.write"


def setup(settings: TracingSettings) -> Tracer | None:
    """The server's tracer, or None when tracing is not configured."""
    if not (settings.enabled or settings.endpoint):
        return None
    from opentelemetry import trace

    if settings.endpoint:
        trace.set_tracer_provider(_otlp_provider(settings.endpoint, settings.service_name))
    return trace.get_tracer("splice.server")


def _otlp_provider(endpoint: str, service_name: str) -> Any:
    try:
        sdk = importlib.import_module("opentelemetry.sdk.trace")
        export = importlib.import_module("opentelemetry.sdk.trace.export")
        resources = importlib.import_module("opentelemetry.sdk.resources")
        otlp = importlib.import_module(
            "opentelemetry.exporter.otlp.proto.grpc.trace_exporter")
    except ImportError as exc:
        raise RuntimeError("tracing.endpoint needs the 'otel' extra: "
                           "pip install 'splice[otel]'") from exc
    provider = sdk.TracerProvider(
        resource=resources.Resource.create({"service.name": service_name}))
    provider.add_span_processor(export.BatchSpanProcessor(otlp.OTLPSpanExporter(
        endpoint=endpoint)))
    return provider
