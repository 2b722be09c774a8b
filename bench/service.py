"""End-to-end benchmark of the Splice service against a bare grpc.aio server, on one machine.

Sections: (a) unary and (b) bidi-stream throughput and latency of Splice with the ``noop``
oracle vs a bare grpc.aio server (A/B alternated, median ratio); (c) 500 and 1,000 requests
in flight against an oracle that sleeps 0.5 s; (d) segmentation of a 20 KB rollout;
(e) symbolic-oracle latency over PRMBench-dev through the real service. The store is a
durable SQLite file with the server's default settings; every request is new content.

    .venv/bin/python bench/service.py [--quick] [--json] [--repeats 5] [--clients 1]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import grpc  # noqa: E402
from splice.server.testing import ServerProcess, start_server_process  # noqa: E402
from splice.v1 import intervention_pb2 as pb  # noqa: E402

from bench.service_load import (  # noqa: E402
    CHANNEL_OPTIONS,
    INTERVENE,
    INTERVENE_STREAM,
    LoadResult,
    LoadSpec,
    drive,
    percentile,
    process_cpu_s,
    request_template,
    unique_id,
)
from bench.service_report import (  # noqa: E402
    render,
    segmentation_section,
    symbolic_section,
)

SLEEP_S = 0.5
SERVER_SETTINGS: dict[str, Any] = {
    "oracles": {"noop": {"backend": "noop"},
                "sleepy": {"backend": "fake", "options": {"delay_s": SLEEP_S}}},
    "default_oracle": "noop",
}


@dataclass(frozen=True)
class Plan:
    """How long and how hard to run each section."""

    repeats: int
    warmup_s: float
    duration_s: float
    concurrency: int
    clients: int
    flight_duration_s: float
    symbolic_rows: int | None


def _plan(args: argparse.Namespace) -> Plan:
    if args.quick:
        return Plan(repeats=args.repeats or 1, warmup_s=0.3, duration_s=0.7,
                    concurrency=args.concurrency, clients=args.clients, flight_duration_s=1.5,
                    symbolic_rows=12)
    return Plan(repeats=args.repeats or 7, warmup_s=0.5, duration_s=args.duration,
                concurrency=args.concurrency, clients=args.clients, flight_duration_s=8.0,
                symbolic_rows=None)


def environment() -> dict[str, Any]:
    """Where the numbers come from."""
    load1 = os.getloadavg()[0]
    return {"cpus": os.cpu_count() or 0, "python": platform.python_version(),
            "grpcio": grpc.__version__, "platform": platform.platform(terse=True),
            "loadavg_1m_at_start": round(load1, 2)}


def progress(message: str) -> None:
    """One progress line on stderr (stdout carries the table and the JSON)."""
    sys.stderr.write(f"[bench] {message}\n")
    sys.stderr.flush()


class Loader:
    """Runs load runs with 1 client (in this process) or N client processes."""

    def __init__(self, clients: int) -> None:
        self.clients = clients
        self._runs = 0
        self._pool = (ProcessPoolExecutor(clients, mp_context=get_context("spawn"))
                      if clients > 1 else None)

    def close(self) -> None:
        """Stop the client processes."""
        if self._pool is not None:
            self._pool.shutdown()

    def run(self, spec: LoadSpec) -> dict[str, Any]:
        """One run; ``spec.concurrency`` is split across the client processes."""
        self._runs += 1
        per_client = max(1, spec.concurrency // self.clients)
        specs = [replace(spec, concurrency=per_client, tag=f"r{self._runs:03d}w{w:02d}",
                         server_pid=spec.server_pid if w == 0 else 0,
                         start_at=time.time() + (1.0 if self._pool else 0.0))
                 for w in range(self.clients)]
        pool = self._pool
        results = [drive(specs[0])] if pool is None else list(pool.map(drive, specs))
        total = LoadResult()
        for r in results:
            total.merge(r)
        window = results[0].window_s or spec.duration_s
        return {
            "rps": total.completed / window, "p50_ms": percentile(total.latencies_ms, 0.5),
            "p99_ms": percentile(total.latencies_ms, 0.99), "completed": total.completed,
            "errors": total.errors, "cached": total.cached,
            "server_cpu_pct": 100.0 * total.server_cpu_s / window,
            "client_cpu_pct": 100.0 * total.client_cpu_s / window,
            "server_cpu_us_per_req": 1e6 * total.server_cpu_s / max(1, total.completed),
            "first_error": total.first_error,
        }


def capture_replies(address: str) -> tuple[bytes, bytes]:
    """One real Splice answer per method (unary; stream without request_id)."""
    def unique(template: bytes, n: int) -> bytes:
        return template.replace(b"{UNIQUE-REQUEST-ID!}", unique_id("capture", n).encode())

    with grpc.insecure_channel(address, options=CHANNEL_OPTIONS) as channel:
        unary = channel.unary_unary(INTERVENE)(
            unique(request_template("noop", stream=False), 0), timeout=30)
        stream = channel.stream_stream(INTERVENE_STREAM)(
            iter([unique(request_template("noop", stream=True), 1)]), timeout=30)
        item = next(iter(stream))
    reply = pb.InterveneStreamResponse.FromString(item)
    reply.ClearField("request_id")
    return unary, reply.SerializeToString()


def start_echo(workdir: Path, unary: bytes, stream: bytes,
               burn_us: float = 0.0) -> tuple[subprocess.Popen[bytes], str]:
    """Start the bare echo server (bench/service_echo.py) as its own process."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "unary.bin").write_bytes(unary)
    (workdir / "stream.bin").write_bytes(stream)
    port_file = workdir / "port"
    log = (workdir / "echo.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("service_echo.py")),
         "--port-file", str(port_file), "--unary-reply", str(workdir / "unary.bin"),
         "--stream-reply", str(workdir / "stream.bin"), "--burn-us", str(burn_us)],
        stdout=log, stderr=log)
    deadline = time.monotonic() + 60
    while not port_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"echo server failed:\n{(workdir / 'echo.log').read_text()}")
        time.sleep(0.02)
    return proc, f"127.0.0.1:{int(port_file.read_text())}"


def ab_section(name: str, stream: bool, ours: tuple[str, int], bare: tuple[str, int],
               loader: Loader, plan: Plan) -> dict[str, Any]:
    """Alternate Splice (A) and bare (B) runs; the median ratio of A/B throughput."""
    sides = {"ours": ours, "bare": bare}
    template = request_template("noop", stream=stream)  # identical bytes for A and B

    def spec(side: str, warmup: bool) -> LoadSpec:
        address, pid = sides[side]
        return LoadSpec(address=address, stream=stream, template=template,
                        concurrency=plan.concurrency, warmup_s=plan.warmup_s,
                        duration_s=0.5 if warmup else plan.duration_s, tag="", server_pid=pid)

    for side in sides:  # connections, page cache, lazy imports
        loader.run(spec(side, warmup=True))
    runs: list[dict[str, Any]] = []
    for repeat in range(1, plan.repeats + 1):
        for side in ("ours", "bare"):
            run = {"side": side, "repeat": repeat, **loader.run(spec(side, warmup=False))}
            runs.append(run)
            progress(f"{name} {side} {repeat}/{plan.repeats}: {run['rps']:.0f} req/s, "
                     f"p50 {run['p50_ms']:.1f} ms, server CPU {run['server_cpu_pct']:.0f}%")
    ratios = [a["rps"] / b["rps"] if b["rps"] else 0.0
              for a, b in zip(runs[0::2], runs[1::2], strict=True)]

    def side_summary(side: str) -> dict[str, float]:
        mine = [r for r in runs if r["side"] == side]
        return {key: statistics.median(r[key] for r in mine)
                for key in ("rps", "p50_ms", "p99_ms", "server_cpu_pct", "client_cpu_pct",
                            "server_cpu_us_per_req")}

    ratio = statistics.median(ratios)
    return {
        "ours": side_summary("ours"), "bare": side_summary("bare"), "ratios": ratios,
        "ratio_median": ratio, "ratio_min": min(ratios), "ratio_max": max(ratios),
        "errors": sum(r["errors"] for r in runs), "cached": sum(r["cached"] for r in runs),
        "concurrency": plan.concurrency, "target": 0.5, "pass": ratio >= 0.5,
        "runs": runs,
    }


def flight_section(ours: tuple[str, int], loader: Loader, plan: Plan) -> dict[str, Any]:
    """Closed loop of N requests in flight against an oracle that sleeps SLEEP_S."""
    template = request_template("sleepy", stream=False)
    out: dict[str, Any] = {"sleep_s": SLEEP_S}
    for in_flight in (500, 1000):
        run = loader.run(LoadSpec(
            address=ours[0], stream=False, template=template, concurrency=in_flight,
            warmup_s=SLEEP_S + 0.5, duration_s=plan.flight_duration_s, tag="",
            server_pid=ours[1]))
        ideal = in_flight / SLEEP_S
        run.update(in_flight=in_flight, ideal_rps=ideal, pct_of_ideal=100.0 * run["rps"] / ideal)
        if in_flight == 500:
            run.update(target_pct=95.0, target_errors=0,
                       **{"pass": run["pct_of_ideal"] >= 95.0 and run["errors"] == 0})
        out[f"in_flight_{in_flight}"] = run
        progress(f"{in_flight} in flight: {run['rps']:.0f}/s of {ideal:.0f}/s ideal, "
                 f"{run['errors']} errors")
    return out


def _symbolic_available() -> bool:
    try:
        return importlib.util.find_spec("splice.server.oracles.symbolic") is not None
    except ImportError:
        return False


def run_service_sections(plan: Plan, workdir: Path) -> dict[str, Any]:
    """Sections (a), (b), (c), (e): they need the servers."""
    settings = dict(SERVER_SETTINGS)
    symbolic = _symbolic_available()
    if symbolic:
        settings["oracles"] = {**settings["oracles"], "symbolic": {"backend": "symbolic"}}
    progress(f"starting Splice (SQLite store in {workdir})")
    server: ServerProcess = start_server_process(settings, workdir / "splice")
    loader = Loader(plan.clients)
    echo: subprocess.Popen[bytes] | None = None
    try:
        unary_reply, stream_reply = capture_replies(server.address)
        echo, echo_address = start_echo(workdir / "echo", unary_reply, stream_reply)
        ours, bare = (server.address, server.process.pid), (echo_address, echo.pid)
        results: dict[str, Any] = {
            "unary": ab_section("unary", False, ours, bare, loader, plan),
            "stream": ab_section("stream", True, ours, bare, loader, plan),
            "concurrency": flight_section(ours, loader, plan),
        }
        results["symbolic"] = (
            symbolic_section(server.address, plan.symbolic_rows, progress) if symbolic
            else {"skipped": "splice.server.oracles.symbolic is not installed"})
        results["server_cpu_s_total"] = process_cpu_s(server.process.pid)
        return results
    finally:
        loader.close()
        if echo is not None:
            echo.kill()
            echo.wait()
        server.terminate()


def main(argv: list[str] | None = None) -> int:
    """Run every section, print the tables (and the JSON on the last line with --json)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short smoke run (~30 s)")
    parser.add_argument("--json", action="store_true", help="print JSON results last")
    parser.add_argument("--repeats", type=int, default=0, help="A/B pairs (default 7)")
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per run")
    parser.add_argument("--concurrency", type=int, default=64, help="requests in flight")
    parser.add_argument("--clients", type=int, default=1, help="client processes")
    parser.add_argument("--workdir", type=Path, help="where the SQLite file goes")
    args = parser.parse_args(argv)
    plan = _plan(args)
    started = time.perf_counter()
    results: dict[str, Any] = {"environment": environment(), "plan": vars(plan)}
    with tempfile.TemporaryDirectory(prefix="splice-bench-", dir=args.workdir) as tmp:
        results.update(run_service_sections(plan, Path(tmp)))
    results["segmentation"] = segmentation_section(args.quick)
    results["elapsed_s"] = time.perf_counter() - started
    results["environment"]["loadavg_1m_at_end"] = round(os.getloadavg()[0], 2)
    render(results)
    if args.json:
        print(json.dumps(results, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
