"""Sustained load on one server: does throughput hold as the store grows?

Rounds of unary load (each request new content) against one Splice server with the ``noop``
oracle, one line per round: requests/s, errors, server memory. Nothing is reset between
rounds, so a store that slows down as it fills (a stale query plan, a WAL that is never
restarted) shows as falling rounds.

    .venv/bin/python bench/service_soak.py [--store-url URL] [--rounds 5] [--seconds 8]
    .venv/bin/python bench/service_soak.py \\
        --store-url "postgresql://postgres@127.0.0.1:5432/test?schema=soak"
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from splice.server.testing import start_server_process  # noqa: E402

from bench.service import SERVER_SETTINGS  # noqa: E402
from bench.service_load import LoadSpec, drive, request_template  # noqa: E402


def rss_mb(pid: int) -> int:
    """Resident memory of process ``pid`` in MiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the rounds and print one line each."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store-url", help="default: a SQLite file in a temporary folder")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=8.0, help="per round")
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args(argv)
    settings: dict[str, Any] = dict(SERVER_SETTINGS)
    if args.store_url:
        settings["store_url"] = args.store_url
    template = request_template("noop", stream=False)
    with tempfile.TemporaryDirectory(prefix="splice-soak-") as tmp:
        server = start_server_process(settings, Path(tmp))
        try:
            for n in range(args.rounds):
                result = drive(LoadSpec(
                    address=server.address, stream=False, template=template,
                    concurrency=args.concurrency, warmup_s=0.2, duration_s=args.seconds,
                    tag=f"s{os.getpid() % 1000:03d}{n:03d}", server_pid=server.process.pid))
                print(f"round {n + 1}: {result.completed / result.window_s:,.0f} requests/s, "
                      f"{result.errors} errors, server RSS {rss_mb(server.process.pid)} MiB",
                      flush=True)
        finally:
            server.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
