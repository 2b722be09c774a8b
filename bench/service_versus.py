"""This checkout's server against the server of another git revision, same load, alternated.

For performance work: the noise of a shared machine is larger than most changes, so each
section alternates A (this checkout) and B (``--baseline``, a revision checked out into a
temporary worktree and run from there) and reports the median of the paired A/B ratios of
throughput, with the server CPU per request (the server and its child processes). Sections:
``unary`` (the ``noop`` oracle, 64 in flight, as ``bench/service.py`` (a)), ``stream`` (the
same over one bidirectional stream, as (b)) and ``flight`` (500 in flight against an oracle
that sleeps 0.5 s, as (c)).

    .venv/bin/python bench/service_versus.py --baseline HEAD~3 [--repeats 3] [--json]
    .venv/bin/python bench/service_versus.py --baseline HEAD~1 \
        --store-url "postgresql://postgres@127.0.0.1:5432/test?schema=versus_{side}"

Without ``--store-url`` each server has its own SQLite file; in a URL, ``{side}`` becomes
the side's name plus a token of this run, so each server gets a fresh database or schema
(left in place afterwards, to look at or drop).
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from splice.server.testing import ServerProcess, start_server_process  # noqa: E402

from bench.service import SERVER_SETTINGS, Loader, environment, progress  # noqa: E402
from bench.service_load import LoadSpec, request_template  # noqa: E402

SECTIONS = {"unary": ("noop", 64), "stream": ("noop", 64), "flight": ("sleepy", 500)}


@contextmanager
def worktree(revision: str) -> Iterator[Path]:
    """``revision`` checked out into a temporary directory (removed afterwards)."""
    with tempfile.TemporaryDirectory(prefix="splice-versus-") as tmp:
        path = Path(tmp) / "tree"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(path),
                        revision], check=True)
        try:
            yield path
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)],
                           check=False)


def start(tree: Path | None, workdir: Path, store_url: str | None = None) -> ServerProcess:
    """A server from ``tree`` (None: this checkout), its modules first on the path."""
    env = None
    if tree is not None:
        env = {"PYTHONPATH": ":".join(str(tree / part) for part in ("sdk", "server", "trainer"))}
    settings = {**SERVER_SETTINGS, "log_level": "WARNING"}
    if store_url is not None:
        settings["store_url"] = store_url
    return start_server_process(settings, workdir, env=env)


def section(name: str, servers: dict[str, ServerProcess], loader: Loader,
            args: argparse.Namespace) -> dict[str, Any]:
    """Alternate A and B ``args.repeats`` times; paired ratios of throughput."""
    oracle, in_flight = SECTIONS[name]
    stream = name == "stream"
    template = request_template(oracle, stream=stream)
    warmup = 1.0 if name == "flight" else 0.5

    def run(side: str, duration: float) -> dict[str, Any]:
        server = servers[side]
        return loader.run(LoadSpec(
            address=server.address, stream=stream, template=template, concurrency=in_flight,
            warmup_s=warmup, duration_s=duration, tag="", server_pid=server.process.pid))

    for side in servers:
        run(side, 0.5)
    runs: list[dict[str, Any]] = []
    for repeat in range(1, args.repeats + 1):
        for side in ("current", "baseline"):
            result = {"side": side, "repeat": repeat, **run(side, args.duration)}
            runs.append(result)
            progress(f"{name} {side} {repeat}/{args.repeats}: {result['rps']:.0f} req/s, "
                     f"server {result['server_cpu_us_per_req']:.0f} µs/request")
    ratios = [a["rps"] / b["rps"] for a, b in zip(runs[0::2], runs[1::2], strict=True)]

    def median(side: str, key: str) -> float:
        return float(statistics.median(r[key] for r in runs if r["side"] == side))

    return {
        "in_flight": in_flight, "oracle": oracle, "ratios": ratios,
        "ratio_median": statistics.median(ratios), "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "errors": sum(r["errors"] for r in runs),
        **{f"{side}_{key}": median(side, key) for side in ("current", "baseline")
           for key in ("rps", "p50_ms", "server_cpu_us_per_req")},
    }


def main(argv: list[str] | None = None) -> int:
    """Run the sections; print a table (and JSON last with ``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", required=True, help="git revision to compare against")
    parser.add_argument("--repeats", type=int, default=3, help="A/B pairs per section")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per run")
    parser.add_argument("--sections", default="unary,flight", help="unary, stream, flight")
    parser.add_argument("--json", action="store_true", help="print JSON results last")
    parser.add_argument("--store-url", help="a store URL with {side} in it (default: SQLite)")
    args = parser.parse_args(argv)
    names = [n for n in args.sections.split(",") if n]
    unknown = set(names) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}: choose from {sorted(SECTIONS)}")
    revision = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", args.baseline],
                              check=True, capture_output=True, text=True).stdout.strip()
    results: dict[str, Any] = {"environment": environment(), "baseline": revision}
    loader = Loader(1)
    with worktree(args.baseline) as tree, tempfile.TemporaryDirectory() as tmp:
        token = secrets.token_hex(3)

        def url(side: str) -> str | None:
            template: str | None = args.store_url
            return None if template is None else template.replace("{side}", f"{side}_{token}")

        servers = {"current": start(None, Path(tmp) / "current", url("current")),
                   "baseline": start(tree, Path(tmp) / "baseline", url("baseline"))}
        try:
            for name in names:
                results[name] = section(name, servers, loader, args)
        finally:
            for server in servers.values():
                server.kill()
            loader.close()
    print(f"this checkout vs {revision} (median of {args.repeats} paired runs, "
          f"{args.duration:g} s each)")
    for name in names:
        r = results[name]
        print(f"  {name:6s} ({r['in_flight']} in flight, {r['oracle']}): throughput ratio "
              f"{r['ratio_median']:.2f} [{r['ratio_min']:.2f}-{r['ratio_max']:.2f}]; "
              f"{r['current_rps']:.0f} vs {r['baseline_rps']:.0f} req/s; p50 "
              f"{r['current_p50_ms']:.1f} vs {r['baseline_p50_ms']:.1f} ms; server "
              f"{r['current_server_cpu_us_per_req']:.0f} vs "
              f"{r['baseline_server_cpu_us_per_req']:.0f} µs/request; errors {r['errors']}")
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
