"""How much Python per request a grpc.aio event loop affords, and how much Splice spends.

Part 1: the bare echo server of ``bench/service.py`` answering the same 20 KB payload, with
each unary call first spinning ``--burn`` µs of Python (0 is the plain echo server); load as
in (a), rounds alternated; the median throughput of each as a ratio to burn 0. Part 2:
Splice's own handler (``InterventionServicer.Intervene`` with the ``noop`` oracle and the
durable SQLite store, no gRPC) called in this process by 64 coroutines: event-loop CPU per
request (the store's writer process not included). Together they say where (a) lands.
Part 3: Splice under (a)'s load (64 in flight, ``noop``): how busy its event-loop thread, its
other threads (gRPC's poller, executors), its writer process and the load generator are,
as % of one core and in µs per request, over the load's measurement window.

    .venv/bin/python bench/service_headroom.py [--burn 0,150,300,450] [--rounds 3] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from splice.server import metrics  # noqa: E402
from splice.server.config import Settings  # noqa: E402
from splice.server.engine import InterventionEngine  # noqa: E402
from splice.server.oracles.set import OracleSet  # noqa: E402
from splice.server.servicer import InterventionServicer  # noqa: E402
from splice.server.store import open_store  # noqa: E402
from splice.server.testing import start_server_process  # noqa: E402

from bench.service import SERVER_SETTINGS, Loader, capture_replies, progress, start_echo  # noqa: E402
from bench.service_load import (  # noqa: E402
    PLACEHOLDER,
    LoadSpec,
    process_cpu_s,
    request_template,
    thread_cpu_s,
    unique_id,
)


def burn_curve(burns: list[float], rounds: int, duration: float, workdir: Path,
               loader: Loader) -> list[dict[str, Any]]:
    """Throughput of the echo server at each burn, rounds alternated."""
    server = start_server_process({**SERVER_SETTINGS, "log_level": "WARNING"},
                                  workdir / "splice")
    try:
        unary, stream = capture_replies(server.address)
    finally:
        server.kill()
    echoes = {b: start_echo(workdir / f"echo-{b:g}", unary, stream, b) for b in burns}
    template = request_template("noop", stream=False)
    runs: dict[float, list[dict[str, Any]]] = {b: [] for b in burns}
    try:
        for r in range(rounds):
            for burn, (proc, address) in echoes.items():
                run = loader.run(LoadSpec(address=address, stream=False, template=template,
                                          concurrency=64, warmup_s=0.5, duration_s=duration,
                                          tag="", server_pid=proc.pid))
                runs[burn].append(run)
                progress(f"burn {burn:g} µs, round {r + 1}: {run['rps']:.0f} req/s")
    finally:
        for proc, _ in echoes.values():
            proc.kill()
            proc.wait()
    base = statistics.median(x["rps"] for x in runs[burns[0]])
    return [{"burn_us": b, "rps": statistics.median(x["rps"] for x in runs[b]),
             "ratio": statistics.median(x["rps"] for x in runs[b]) / base,
             "server_cpu_us_per_req": statistics.median(x["server_cpu_us_per_req"]
                                                        for x in runs[b]),
             "client_cpu_us_per_req": statistics.median(_client_us_per_req(x)
                                                        for x in runs[b])}
            for b in burns]


def _client_us_per_req(run: dict[str, Any]) -> float:
    """The load generator's CPU µs per request of one load run."""
    return run["client_cpu_pct"] / 100.0 / run["rps"] * 1e6 if run["rps"] else 0.0


async def handler_cost(requests: int, workdir: Path) -> dict[str, float]:
    """Event-loop CPU µs per request of Splice's unary handler, in this process."""
    metrics.enable()
    settings = Settings.model_validate(
        {**SERVER_SETTINGS, "store_url": f"sqlite:///{workdir / 'handler.db'}"})
    store = open_store(settings.store_url)
    await store.open()
    engine = InterventionEngine(settings, store, OracleSet(settings.oracles,
                                                           settings.default_oracle))
    await engine.start()
    servicer = InterventionServicer(engine)
    template = request_template("noop", stream=False)
    datas = iter([template.replace(PLACEHOLDER.encode(), unique_id("handler", n).encode())
                  for n in range(requests)])

    async def worker() -> None:
        for data in datas:
            await servicer.Intervene(data, None)  # answers serialized bytes

    gc.collect()
    gc.freeze()
    try:
        started, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker() for _ in range(64)))
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        await engine.close()
        await store.close()
        metrics.disable()
    return {"requests": requests, "cpu_us_per_req": cpu / requests * 1e6,
            "rps": requests / wall}


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(child) for child in f.read().split()]
    except OSError:
        return []


def _server_cpu_split(pid: int) -> dict[str, dict[int, float]]:
    """CPU seconds so far of the server's main thread, its other threads and its child
    processes (the store's writer), each by thread or process id."""
    threads = thread_cpu_s(pid)
    main = {pid: threads.pop(pid, 0.0)}
    return {"event_loop_thread": main, "other_threads": threads,
            "writer_process": {child: process_cpu_s(child) for child in _children(pid)}}


def occupancy(duration: float, workdir: Path, loader: Loader) -> dict[str, Any]:
    """Where the CPU goes while Splice serves (a)'s unary load (after a warm-up run).

    The split of the server's CPU comes from /proc samples around the run; it is applied to
    the server's CPU inside the load's measurement window, so that every figure covers the
    same requests.
    """
    server = start_server_process({**SERVER_SETTINGS, "log_level": "WARNING"},
                                  workdir / "occupancy")
    pid = server.process.pid
    template = request_template("noop", stream=False)

    def spec(seconds: float) -> LoadSpec:
        return LoadSpec(address=server.address, stream=False, template=template,
                        concurrency=64, warmup_s=0.2, duration_s=seconds, tag="",
                        server_pid=pid)

    try:
        loader.run(spec(0.5))
        before = _server_cpu_split(pid)
        run = loader.run(spec(duration))
        after = _server_cpu_split(pid)
    finally:
        server.terminate()
    used = {part: sum(cpu - before[part].get(key, 0.0) for key, cpu in ids.items())
            for part, ids in after.items()}
    whole = sum(used.values()) or 1.0
    out: dict[str, Any] = {"rps": run["rps"], "errors": run["errors"]}
    for part, seconds in used.items():
        share = seconds / whole
        out[part] = {"pct": share * run["server_cpu_pct"],
                     "us_per_req": share * run["server_cpu_us_per_req"]}
    out["load_generator"] = {"pct": run["client_cpu_pct"], "us_per_req": _client_us_per_req(run)}
    out["cores_busy"] = (run["server_cpu_pct"] + run["client_cpu_pct"]) / 100.0
    return out


def main(argv: list[str] | None = None) -> int:
    """All three parts; a table, and JSON last with ``--json``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--burn", default="0,150,300,450", help="µs per call, comma-separated")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per run")
    parser.add_argument("--requests", type=int, default=6000, help="part 2 requests")
    parser.add_argument("--occupancy", type=float, default=6.0,
                        help="seconds of part 3's load run")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    burns = sorted({float(b) for b in args.burn.split(",")} | {0.0})
    loader = Loader(1)
    with tempfile.TemporaryDirectory(prefix="splice-headroom-") as tmp:
        try:
            curve = burn_curve(burns, args.rounds, args.duration, Path(tmp), loader)
            busy = occupancy(args.occupancy, Path(tmp), loader)
        finally:
            loader.close()
        handler = asyncio.run(handler_cost(args.requests, Path(tmp)))
    print("bare grpc.aio echo server, unary, 64 in flight, 20 KB payload:")
    for row in curve:
        print(f"  burn {row['burn_us']:4.0f} µs/call: {row['rps']:6.0f} req/s, ratio "
              f"{row['ratio']:.2f} to burn 0, server {row['server_cpu_us_per_req']:.0f} "
              f"µs/request, load generator {row['client_cpu_us_per_req']:.0f}")
    print(f"Splice's handler in process (noop oracle, durable SQLite): "
          f"{handler['cpu_us_per_req']:.0f} µs of event-loop CPU per request")
    print(f"Splice under (a)'s load: {busy['rps']:.0f} req/s, {busy['errors']} errors; "
          f"Splice and its load generator keep {busy['cores_busy']:.2f} cores busy")
    for name in ("event_loop_thread", "other_threads", "writer_process", "load_generator"):
        print(f"  {name.replace('_', ' ')}: {busy[name]['pct']:3.0f} % of a core, "
              f"{busy[name]['us_per_req']:.0f} µs/request")
    if args.json:
        print(json.dumps({"curve": curve, "handler": handler, "occupancy": busy}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
