"""``splice serve --workers N``: N server processes on one port (SO_REUSEPORT), one store.

The supervisor starts the workers with the same settings, forwards SIGTERM/SIGINT to them,
restarts a worker that dies (exponential backoff) and exits once all have exited after a
signal. Each worker serves gRPC, health and reflection on the shared port; only worker 0
serves the review page, and the supervisor alone serves ``/metrics``, summing the workers'
series (prometheus_client multiprocess mode, ``PROMETHEUS_MULTIPROC_DIR``).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import yaml
from splice.server.config import Settings

log = logging.getLogger("splice.supervisor")

POLL_S = 0.2
BACKOFF_MAX_S = 30.0
HEALTHY_AFTER_S = 30.0
"""A worker that ran this long before dying restarts at once (its backoff resets)."""


SUPERVISOR_PID_ENV = "SPLICE_SUPERVISOR_PID"
"""Tells a worker its supervisor's pid: it stops serving once that process is gone."""


def _is_setting(name: str) -> bool:
    """True for a variable that Settings reads: the workers get their settings from the
    supervisor's file, so a variable the command line overrode must not reach them."""
    if not name.startswith("SPLICE_"):
        return False
    field = name.removeprefix("SPLICE_").split("__")[0].lower()
    return field == "config" or field in Settings.model_fields


@dataclass
class _Worker:
    index: int
    config: Path
    port_file: Path
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    failures: int = 0
    restart_at: float = 0.0


class Supervisor:
    """Runs ``settings.workers`` workers until a signal; :meth:`run` returns the exit code."""

    def __init__(self, settings: Settings, *, port_file: Path | None = None,
                 review_port_file: Path | None = None,
                 metrics_port_file: Path | None = None) -> None:
        self.settings = settings
        self.port_file, self.review_port_file = port_file, review_port_file
        self.metrics_port_file = metrics_port_file
        self._stopping = False
        self._workers: list[_Worker] = []

    def run(self) -> int:
        """Start the workers, supervise them, and return once all exited after a signal."""
        from splice.server.cli.serve import write_port

        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        with tempfile.TemporaryDirectory(prefix="splice-workers-") as tmp:
            workdir = Path(tmp)  # private (0700): the worker configs hold the store URL
            reserved, port = self._reserve_port()
            prom_dir = workdir / "prometheus"
            prom_dir.mkdir()
            endpoint = None
            if self.settings.metrics_port is not None:
                from splice.server.metrics import MetricsEndpoint

                endpoint = MetricsEndpoint(self.settings.host, self.settings.metrics_port,
                                           multiprocess_path=str(prom_dir))
            env = {k: v for k, v in os.environ.items() if not _is_setting(k)}
            env["PROMETHEUS_MULTIPROC_DIR"] = str(prom_dir)
            env[SUPERVISOR_PID_ENV] = str(os.getpid())
            self._workers = [self._prepare(workdir, i, port) for i in range(self.settings.workers)]
            try:
                for worker in self._workers:
                    self._start(worker, env)
                if not self._wait_started():
                    return 1
                if self.review_port_file is not None and (workdir / "review_port").exists():
                    write_port(self.review_port_file, int((workdir / "review_port").read_text()))
                if self.metrics_port_file is not None and endpoint is not None:
                    write_port(self.metrics_port_file, endpoint.port)
                if self.port_file is not None:
                    write_port(self.port_file, port)
                log.info("workers serving", extra={
                    "address": f"{self.settings.host}:{port}", "workers": len(self._workers),
                    "metrics_port": endpoint.port if endpoint else None})
                self._supervise(env, prom_dir)
            finally:
                self._stop_all()
                if endpoint is not None:
                    endpoint.close()
                if reserved is not None:
                    reserved.close()
        return 0

    def _reserve_port(self) -> tuple[socket.socket | None, int]:
        """With port 0, pick the free port here, held (bound, not listening) until the end."""
        if self.settings.port:
            return None, self.settings.port
        family = socket.AF_INET6 if ":" in self.settings.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((self.settings.host, 0))
        return sock, int(sock.getsockname()[1])

    def _prepare(self, workdir: Path, index: int, port: int) -> _Worker:
        settings = self.settings.model_copy(update={"port": port, "worker_index": index})
        config = workdir / f"worker{index}.yaml"
        config.write_text(yaml.safe_dump(settings.model_dump(mode="json")))
        config.chmod(0o600)
        return _Worker(index, config, workdir / f"port{index}")

    def _start(self, worker: _Worker, env: dict[str, str]) -> None:
        worker.port_file.unlink(missing_ok=True)
        argv = [sys.executable, "-m", "splice.server.cli", "serve", "--config",
                str(worker.config), "--port-file", str(worker.port_file)]
        if worker.index == 0:
            argv += ["--review-port-file", str(worker.config.parent / "review_port")]
        worker.process = subprocess.Popen(argv, env=env)
        worker.started_at = time.monotonic()
        log.info("worker started", extra={"worker": worker.index, "pid": worker.process.pid})

    def _wait_started(self, timeout: float = 120.0) -> bool:
        """Wait until every worker wrote its port file; False if one died or a signal came."""
        deadline = time.monotonic() + timeout
        while not all(w.port_file.exists() for w in self._workers):
            dead = [w for w in self._workers if w.process and w.process.poll() is not None]
            if dead or self._stopping or time.monotonic() > deadline:
                if dead:
                    log.error("worker %d exited with %s during start-up", dead[0].index,
                              dead[0].process.returncode if dead[0].process else None)
                return self._stopping and not dead
            time.sleep(0.05)
        return True

    def _supervise(self, env: dict[str, str], prom_dir: Path) -> None:
        while not self._stopping:
            time.sleep(POLL_S)
            now = time.monotonic()
            for worker in self._workers:
                process = worker.process
                if process is not None and process.poll() is not None:
                    self._forget(process.pid, prom_dir)
                    ran = now - worker.started_at
                    worker.failures = 0 if ran > HEALTHY_AFTER_S else worker.failures + 1
                    delay = min(BACKOFF_MAX_S, 0.5 * 2 ** worker.failures) \
                        if worker.failures else 0.0
                    log.warning("worker %d (pid %d) exited with %s after %.1f s; restart in "
                                "%.1f s", worker.index, process.pid, process.returncode, ran,
                                delay)
                    worker.process, worker.restart_at = None, now + delay
                if worker.process is None and now >= worker.restart_at and not self._stopping:
                    self._start(worker, env)

    @staticmethod
    def _forget(pid: int, prom_dir: Path) -> None:
        """Drop a dead worker's live gauges (its counters stay: totals never go down)."""
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid, str(prom_dir))  # type: ignore[no-untyped-call]

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._stopping = True
        for worker in self._workers:
            if worker.process is not None and worker.process.poll() is None:
                worker.process.send_signal(signal.SIGTERM)

    def _stop_all(self) -> None:
        """SIGTERM every worker still running and wait for all (each drains for grace_s)."""
        self._stopping = True
        for worker in self._workers:
            if worker.process is not None and worker.process.poll() is None:
                worker.process.send_signal(signal.SIGTERM)
        for worker in self._workers:
            if worker.process is None:
                continue
            try:
                worker.process.wait(self.settings.grace_s + 30.0)
            except subprocess.TimeoutExpired:
                log.error("worker %d did not stop: killing it", worker.index)
                worker.process.kill()
                worker.process.wait()
        log.info("all workers stopped")
