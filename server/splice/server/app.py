"""The server process: wires store, oracles, engine and gRPC; serves until a signal."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from splice.server import metrics, native, tracing
from splice.server.config import Settings
from splice.server.engine import InterventionEngine
from splice.server.native import NATIVE
from splice.server.oracles.llm.ledger import Ledger, MemoryLedger, set_shared_ledger
from splice.server.oracles.set import OracleSet
from splice.server.review.runtime import ReviewRuntime, open_review
from splice.server.servicer import SERVICE_NAME, InterventionServicer, generic_handler
from splice.server.store import open_store
from splice.server.store.attempts import open_ledger
from splice.server.supervisor import SUPERVISOR_PID_ENV
from splice.server.usage import UsageReport
from splice.server.usage_servicer import SERVICE_NAME as USAGE_SERVICE_NAME
from splice.server.usage_servicer import UsageServicer, usage_handler

log = logging.getLogger("splice.server")


@dataclass
class RunningServer:
    """A started server: its gRPC server, engine, health servicer, bound port and ledger."""

    server: grpc.aio.Server
    engine: InterventionEngine
    health: health.aio.HealthServicer | None
    port: int
    ledger: Ledger | None = None
    review: ReviewRuntime | None = None
    metrics_port: int | None = None
    _metrics: metrics.MetricsEndpoint | None = field(default=None, repr=False)
    _sampler: asyncio.Task[None] | None = field(default=None, repr=False)

    async def stop(self, grace: float) -> None:
        """Health → NOT_SERVING, stop taking calls, drain in-flight work, close."""
        if self.health is not None:
            await self.health.enter_graceful_shutdown()
        if self._sampler is not None:
            self._sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sampler
        if self.review is not None:
            await self.review.stop_web()
        await self.server.stop(grace)
        left = await self.engine.drain(grace)
        if left:
            log.warning("shutdown: %d oracle calls unfinished; they resume at next start", left)
        await self.engine.close()
        if self.ledger is not None:
            await self.ledger.aclose()
            set_shared_ledger(MemoryLedger())
        if self.review is not None:
            await self.review.close()
        await self.engine.store.close()
        if self._metrics is not None:
            self._metrics.close()
        metrics.disable()
        log.info("stopped")


def grpc_options(settings: Settings) -> list[tuple[str, int]]:
    """Channel options of the server (message size limits, reuseport)."""
    size = settings.limits.max_message_bytes
    return [
        ("grpc.max_receive_message_length", size),
        ("grpc.max_send_message_length", 2 * size),
        ("grpc.so_reuseport", 1),
    ]


async def start_server(settings: Settings) -> RunningServer:
    """Open the store, start the oracles and the engine, bind and start gRPC."""
    if settings.metrics_port is not None:
        metrics.enable()  # before anything is built: components take metrics.current()
    tracer = tracing.setup(settings.tracing)
    store = open_store(settings.store_url)
    await store.open()
    # Before the oracles are built: they record their attempts into the shared ledger.
    ledger = open_ledger(settings.store_url)
    await ledger.open()
    set_shared_ledger(ledger)
    oracles = OracleSet(settings.oracles, settings.default_oracle)
    engine = InterventionEngine(settings, store, oracles, tracer)
    review = await open_review(settings, store, oracles)  # human queue, auth: before resuming
    await engine.start()
    server = grpc.aio.server(options=grpc_options(settings),
                             interceptors=review.interceptors() if review else None)
    server.add_generic_rpc_handlers((generic_handler(InterventionServicer(engine, tracer)),
                                     usage_handler(UsageServicer(UsageReport(engine, ledger)))))
    if review is not None:
        server.add_generic_rpc_handlers(review.handlers())
    health_servicer: health.aio.HealthServicer | None = None
    if settings.health:
        health_servicer = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    if settings.reflection:
        names = [SERVICE_NAME, USAGE_SERVICE_NAME, reflection.SERVICE_NAME]
        names += review.service_names() if review else []
        if settings.health:
            names.append(health.SERVICE_NAME)
        reflection.enable_server_reflection(names, server)
    port = _bind(server, settings)
    await server.start()
    # With --workers only worker 0 serves the page (one port), and the supervisor /metrics.
    if review is not None and settings.review_web and not settings.worker_index:
        await review.start_web(settings.host, settings.review_port)
    endpoint = sampler = None
    if settings.metrics_port is not None:
        if metrics.multiprocess_dir() is None:
            endpoint = metrics.MetricsEndpoint(settings.host, settings.metrics_port)
            log.info("metrics listening", extra={"address": f"{settings.host}:{endpoint.port}"})
        if review is not None and not settings.worker_index:
            sampler = asyncio.create_task(_sample_review_queue(review), name="splice-metrics")
    # Start-up objects (modules, settings, oracles) never die: keep them out of every
    # collection, and collect young objects less often; each request allocates many.
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    if health_servicer is not None:
        serving = health_pb2.HealthCheckResponse.SERVING
        await health_servicer.set("", serving)
        await health_servicer.set(SERVICE_NAME, serving)
    if NATIVE is None:
        log.warning("the C hot path is not used (%s): segmentation and step encoding run in "
                    "Python, at more CPU per request", native.PROBLEM)
    log.info("listening on %s:%d", settings.host, port,
             extra={"address": f"{settings.host}:{port}",
                    "store": settings.store_url.split("://")[0],
                    "oracles": sorted(settings.oracles),
                    "tls": "mtls" if settings.tls.client_ca_file else
                    "tls" if settings.tls.enabled else "off",
                    "worker": settings.worker_index,
                    "native": NATIVE is not None})  # the C hot path, or Python
    return RunningServer(server=server, engine=engine, health=health_servicer, port=port,
                         ledger=ledger, review=review,
                         metrics_port=endpoint.port if endpoint else None,
                         _metrics=endpoint, _sampler=sampler)


def _bind(server: grpc.aio.Server, settings: Settings) -> int:
    """Bind the gRPC port: plaintext, TLS, or mutual TLS (client certificates required)."""
    address = f"{settings.host}:{settings.port}"
    tls = settings.tls
    if tls.cert_file is None or tls.key_file is None:
        port: int = server.add_insecure_port(address)
    else:
        ca = tls.client_ca_file.read_bytes() if tls.client_ca_file else None
        credentials = grpc.ssl_server_credentials(
            [(tls.key_file.read_bytes(), tls.cert_file.read_bytes())],
            root_certificates=ca, require_client_auth=ca is not None)
        port = server.add_secure_port(address, credentials)
    if port == 0:
        raise OSError(f"cannot bind {address}")
    return port


async def _sample_review_queue(review: ReviewRuntime, every_s: float = 2.0) -> None:
    """Keep the review-queue gauges current (one process per store does it)."""
    observe = metrics.current()
    while True:
        try:
            stats = await review.queue.stats()
            observe.review_queue(stats.pending + stats.claimed,
                                 await review.queue.oldest_open_age_s())
        except Exception:  # the store is briefly down: keep the last values
            log.warning("cannot read the review queue for metrics", exc_info=True)
        await asyncio.sleep(every_s)


async def serve(settings: Settings, on_started: Callable[[int], None] | None = None,
                on_review_started: Callable[[int], None] | None = None,
                on_metrics_started: Callable[[int], None] | None = None) -> None:
    """Run until SIGTERM or SIGINT, then shut down gracefully."""
    running = await start_server(settings)
    review_port = running.review.web_port if running.review else None
    if on_review_started is not None and review_port is not None:
        on_review_started(review_port)
    if on_metrics_started is not None and running.metrics_port is not None:
        on_metrics_started(running.metrics_port)
    if on_started is not None:
        on_started(running.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    orphan = None
    if settings.worker_index is not None:  # started by a supervisor (--workers)
        supervisor = int(os.environ.get(SUPERVISOR_PID_ENV) or os.getppid())
        orphan = asyncio.create_task(_stop_when_orphaned(supervisor, stop))
    await stop.wait()
    log.info("stopping: draining", extra={"grace_s": settings.grace_s})
    if orphan is not None:
        orphan.cancel()
    await running.stop(settings.grace_s)


async def _stop_when_orphaned(supervisor: int, stop: asyncio.Event, every_s: float = 0.5) -> None:
    """Set ``stop`` once the supervisor is gone (SIGKILL, OOM killer): a worker must not
    serve on, unsupervised, on a port that a restarted supervisor binds again."""
    while os.getppid() == supervisor:
        await asyncio.sleep(every_s)
    log.error("the supervisor (pid %d) is gone", supervisor)
    stop.set()
