"""Prometheus metrics behind a small facade: the servicer, engine, store and oracles record
through :func:`current`, never through ``prometheus_client``; until :func:`enable` every call
is a no-op.

With ``splice serve --workers N`` the supervisor sets ``PROMETHEUS_MULTIPROC_DIR`` for its
children (prometheus_client's multiprocess mode) and serves one ``/metrics`` for all of them;
a single process serves its own.
"""

from __future__ import annotations

import os
from typing import Any

CIRCUIT_VALUES = {"closed": 0.0, "half_open": 1.0, "open": 2.0}
"""``splice_circuit_state``: 0 closed, 1 half-open, 2 open."""
REQUEST_BUCKETS = (.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300)
STORE_BUCKETS = (.0002, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5)


class NoMetrics:
    """Records nothing (metrics disabled, or not set up in this process)."""

    enabled = False

    def request(self, method: str, code: str, oracle: str, seconds: float) -> None:
        """One finished gRPC call."""

    def store(self, op: str, seconds: float) -> None:
        """One store operation."""

    def oracle_usage(self, backend: str, client: str, input_tokens: int, output_tokens: int,
                     usd: float) -> None:
        """Tokens and cost of one provider attempt."""

    def retry(self, backend: str) -> None:
        """A provider call was retried."""

    def circuit(self, backend: str, state: str) -> None:
        """The circuit breaker of ``backend`` is in ``state`` (closed/half_open/open)."""

    def review_queue(self, depth: int, oldest_age_s: float) -> None:
        """Review tasks waiting, and the age of the oldest."""


class PrometheusMetrics(NoMetrics):
    """The series of deploy/README.md ("Metrics the dashboard expects")."""

    enabled = True

    def __init__(self) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        self._requests = Counter("splice_requests_total", "gRPC calls by method, status "
                                 "code name and oracle.", ["method", "code", "oracle"])
        self._latency = Histogram("splice_request_latency_seconds", "gRPC call latency.",
                                  ["method"], buckets=REQUEST_BUCKETS)
        self._tokens = Counter("splice_oracle_tokens_total", "Oracle provider tokens.",
                               ["backend", "client", "direction"])
        self._cost = Counter("splice_oracle_cost_usd_total", "Oracle provider cost in USD.",
                             ["backend", "client"])
        self._retries = Counter("splice_oracle_retries_total", "Retried provider calls.",
                                ["backend"])
        self._circuit = Gauge("splice_circuit_state", "Circuit breaker: 0 closed, "
                              "1 half-open, 2 open.", ["backend"], multiprocess_mode="max")
        self._depth = Gauge("splice_review_queue_depth", "Review tasks waiting for a "
                            "reviewer.", multiprocess_mode="max")
        self._age = Gauge("splice_review_queue_oldest_age_seconds", "Age of the oldest "
                          "waiting review task.", multiprocess_mode="max")
        self._store = Histogram("splice_store_latency_seconds", "Store operation latency.",
                                ["op"], buckets=STORE_BUCKETS)
        self._children: dict[tuple[str, ...], tuple[Any, Any]] = {}
        self._store_children: dict[str, Any] = {}

    def request(self, method: str, code: str, oracle: str, seconds: float) -> None:
        key = (method, code, oracle)
        pair = self._children.get(key)
        if pair is None:  # labels() takes a lock and builds a tuple: cache the children
            pair = self._children[key] = (self._requests.labels(method, code, oracle),
                                          self._latency.labels(method))
        pair[0].inc()
        pair[1].observe(seconds)

    def store(self, op: str, seconds: float) -> None:
        child = self._store_children.get(op)
        if child is None:
            child = self._store_children[op] = self._store.labels(op)
        child.observe(seconds)

    def oracle_usage(self, backend: str, client: str, input_tokens: int, output_tokens: int,
                     usd: float) -> None:
        if input_tokens:
            self._tokens.labels(backend, client, "input").inc(input_tokens)
        if output_tokens:
            self._tokens.labels(backend, client, "output").inc(output_tokens)
        if usd:
            self._cost.labels(backend, client).inc(usd)

    def retry(self, backend: str) -> None:
        self._retries.labels(backend).inc()

    def circuit(self, backend: str, state: str) -> None:
        self._circuit.labels(backend).set(CIRCUIT_VALUES.get(state, 0.0))

    def review_queue(self, depth: int, oldest_age_s: float) -> None:
        self._depth.set(depth)
        self._age.set(oldest_age_s)


_NONE = NoMetrics()
_current: NoMetrics = _NONE
_enabled: PrometheusMetrics | None = None


def current() -> NoMetrics:
    """The metrics of this process (a no-op until :func:`enable`)."""
    return _current


def enable() -> PrometheusMetrics:
    """Create the series (once per process) and make them :func:`current`."""
    global _current, _enabled
    if _enabled is None:
        _enabled = PrometheusMetrics()
    _current = _enabled
    return _enabled


def disable() -> None:
    """Stop recording (the series stay registered; used when a server stops)."""
    global _current
    _current = _NONE


def multiprocess_dir() -> str | None:
    """prometheus_client's multiprocess directory, when a supervisor set one."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class MetricsEndpoint:
    """``/metrics`` over HTTP on its own port (a thread of prometheus_client)."""

    def __init__(self, host: str, port: int, *, multiprocess_path: str | None = None) -> None:
        from prometheus_client import REGISTRY, CollectorRegistry, start_http_server

        registry = REGISTRY
        if multiprocess_path is not None:  # the supervisor: the sum over its workers
            from prometheus_client.multiprocess import MultiProcessCollector

            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=multiprocess_path)  # type: ignore[no-untyped-call]
        self._server, self._thread = start_http_server(port, addr=host, registry=registry)
        self.port: int = self._server.server_address[1]

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5.0)

