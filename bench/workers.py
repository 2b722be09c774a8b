"""Throughput of ``splice serve --workers N`` with the noop oracle: 1 → 2 workers.

The load comes from client processes (each its own connection, so SO_REUSEPORT spreads
them over the workers), on the same machine: on a small box they compete with the workers
for the cores, which caps what a second worker can add.

    .venv/bin/python bench/workers.py [--clients 4] [--duration 3] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from splice.server.testing import start_server_process  # noqa: E402

from bench.service import SERVER_SETTINGS, Loader, environment, progress  # noqa: E402
from bench.service_load import LoadSpec, request_template  # noqa: E402


def measure(workers: int, loader: Loader, args: argparse.Namespace) -> dict[str, Any]:
    """Median throughput of ``args.repeats`` runs against ``workers`` workers."""
    with tempfile.TemporaryDirectory(prefix="splice-bench-workers-") as tmp:
        server = start_server_process({**SERVER_SETTINGS, "workers": workers,
                                       "log_level": "WARNING"}, Path(tmp))
        try:
            runs = []
            for r in range(args.repeats):
                spec = LoadSpec(address=server.address, stream=False,
                                template=request_template("noop", stream=False),
                                concurrency=args.concurrency, warmup_s=0.5,
                                duration_s=args.duration, tag=f"w{workers}r{r}")
                runs.append(loader.run(spec))
                progress(f"workers={workers} run {r + 1}: {runs[-1]['rps']:.0f} req/s")
        finally:
            server.terminate()
    return {"workers": workers, "rps": statistics.median(r["rps"] for r in runs),
            "p50_ms": statistics.median(r["p50_ms"] for r in runs),
            "p99_ms": statistics.median(r["p99_ms"] for r in runs),
            "errors": sum(r["errors"] for r in runs)}


def main() -> int:
    """Run 1 and 2 workers; print a table, the ratio and (--json) the numbers."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=4, help="client processes")
    parser.add_argument("--concurrency", type=int, default=64, help="requests in flight")
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    loader = Loader(args.clients)
    try:
        rows = [measure(n, loader, args) for n in (1, 2)]
    finally:
        loader.close()
    print(f"{'workers':>8} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for row in rows:
        print(f"{row['workers']:>8} {row['rps']:>9.0f} {row['p50_ms']:>8.2f} "
              f"{row['p99_ms']:>8.2f} {row['errors']:>7}")
    ratio = rows[1]["rps"] / rows[0]["rps"]
    print(f"2 workers / 1 worker: {ratio:.2f}x ({environment()['cpus']} CPUs, "
          f"{args.clients} client processes on the same machine)")
    if args.json:
        print(json.dumps({"rows": rows, "ratio": ratio, "environment": environment()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
