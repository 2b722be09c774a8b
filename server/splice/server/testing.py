"""Start a real Splice server for tests and benchmarks: a subprocess on port 0."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc


@dataclass
class ServerProcess:
    """A server subprocess: its address, process handle, config and log files, and the
    reviewer page's ``http://host:port`` when it serves one."""

    address: str
    process: subprocess.Popen[bytes]
    config_path: Path
    log_path: Path
    review_url: str | None = None
    metrics_url: str | None = None

    def kill(self) -> None:
        """SIGKILL (a crash)."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM (a graceful shutdown); returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def log(self) -> str:
        """What the server wrote to stderr so far."""
        return self.log_path.read_text(errors="replace")


def wait_serving(address: str, timeout: float = 60.0) -> None:
    """Block until the health service at ``address`` answers SERVING."""
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=1.0)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"server at {address} not SERVING after {timeout} s")
            time.sleep(0.05)


def start_server_process(
    settings: Mapping[str, Any], workdir: Path, *, env: Mapping[str, str] | None = None,
    timeout: float = 60.0,
) -> ServerProcess:
    """Start ``splice serve`` with ``settings`` (as YAML) in ``workdir``; wait until SERVING."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = {"host": "127.0.0.1", "port": 0, "review_port": 0, "metrics_port": 0,
              "store_url": f"sqlite:///{workdir / 'splice.db'}", **settings}
    config_path = workdir / "splice.yaml"
    config_path.write_text(yaml.safe_dump(config))
    port_file = workdir / "port"
    port_file.unlink(missing_ok=True)
    review_port_file = workdir / "review_port"
    review_port_file.unlink(missing_ok=True)
    metrics_port_file = workdir / "metrics_port"
    metrics_port_file.unlink(missing_ok=True)
    log_path = workdir / "server.log"
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "splice.server.cli", "serve", "--config", str(config_path),
             "--port-file", str(port_file), "--review-port-file", str(review_port_file),
             "--metrics-port-file", str(metrics_port_file)],
            stdout=log_file, stderr=log_file, cwd=workdir,
            env={**os.environ, **(env or {})},
        )
    deadline = time.monotonic() + timeout
    while not port_file.exists():
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log_path.read_text()}")
        if time.monotonic() > deadline:
            process.kill()
            raise TimeoutError(f"server did not start in {timeout} s:\n{log_path.read_text()}")
        time.sleep(0.02)
    address = f"127.0.0.1:{int(port_file.read_text())}"
    wait_serving(address, timeout)
    review_url = None
    if review_port_file.exists():  # written before the gRPC port file
        review_url = f"http://127.0.0.1:{int(review_port_file.read_text())}"
    metrics_url = None
    if metrics_port_file.exists():  # written before the gRPC port file
        metrics_url = f"http://127.0.0.1:{int(metrics_port_file.read_text())}/metrics"
    return ServerProcess(address, process, config_path, log_path, review_url, metrics_url)


@contextmanager
def running_server(
    workdir: Path | None = None, *, env: Mapping[str, str] | None = None, **settings: Any
) -> Iterator[str]:
    """A real server subprocess for the duration of the block; yields its address.

    ``settings`` are server settings (e.g. ``oracles={"noop": {"backend": "noop"}}``).
    """
    with tempfile.TemporaryDirectory(prefix="splice-") as tmp:
        server = start_server_process(settings, workdir or Path(tmp), env=env)
        try:
            yield server.address
        finally:
            if server.terminate() not in (0, -signal.SIGTERM):
                sys.stderr.write(server.log())
