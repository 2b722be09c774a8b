"""``splice serve``: run the oracle service."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from splice.server.config import OracleConfig, load_settings


def add_parser(sub: Any) -> None:
    """Register ``serve``."""
    p: argparse.ArgumentParser = sub.add_parser(
        "serve", help="run the gRPC oracle service",
        description="Run the Splice gRPC service. Defaults: symbolic oracle, SQLite file "
        "splice.db, port 50051, health and reflection on. Settings come from flags, then "
        "SPLICE_* environment variables, then --config YAML, then defaults.")
    p.add_argument("--config", type=Path, help="YAML settings file")
    p.add_argument("--host", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default 50051; 0 picks a free one)")
    p.add_argument("--store", dest="store_url",
                   help="store URL: sqlite:///splice.db (default) or postgresql://user@host/db")
    p.add_argument("--oracle", action="append", default=[], metavar="NAME=BACKEND",
                   help="add an oracle, e.g. --oracle noop=noop (repeatable)")
    p.add_argument("--default-oracle", help="oracle used when a request names none")
    p.add_argument("--port-file", type=Path,
                   help="write the bound port to this file once serving (useful with --port 0)")
    p.add_argument("--review-port-file", type=Path,
                   help="write the reviewer page's port to this file once serving")
    p.add_argument("--metrics-port-file", type=Path,
                   help="write the Prometheus /metrics port to this file once serving")
    p.add_argument("--workers", type=int,
                   help="server processes sharing the port and the store (default 1)")
    p.add_argument("--log-level", help="DEBUG, INFO, WARNING, ...")
    p.add_argument("--plain-logs", action="store_true", help="text logs instead of JSON lines")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Start the server and block until SIGTERM/SIGINT."""
    from splice.server.app import serve
    from splice.server.logs import configure_logging

    overrides: dict[str, Any] = {
        "host": args.host, "port": args.port, "store_url": args.store_url,
        "default_oracle": args.default_oracle, "log_level": args.log_level,
        "workers": args.workers,
    }
    if args.plain_logs:
        overrides["log_json"] = False
    settings = load_settings(args.config, **overrides)
    if args.oracle:
        extra = {}
        for spec in args.oracle:
            name, sep, backend = spec.partition("=")
            if not sep or not name or not backend:
                raise SystemExit(f"--oracle {spec!r}: expected NAME=BACKEND, e.g. noop=noop")
            extra[name] = OracleConfig(backend=backend)
        settings = settings.model_copy(update={"oracles": {**settings.oracles, **extra}})
    configure_logging(settings.log_level, settings.log_json)
    if settings.workers > 1 and settings.worker_index is None:
        from splice.server.supervisor import Supervisor

        return Supervisor(settings, port_file=args.port_file,
                          review_port_file=args.review_port_file,
                          metrics_port_file=args.metrics_port_file).run()

    def started(port: int) -> None:
        if args.port_file is not None:
            write_port(args.port_file, port)

    def review_started(port: int) -> None:
        if args.review_port_file is not None:
            write_port(args.review_port_file, port)

    def metrics_started(port: int) -> None:
        if args.metrics_port_file is not None:
            write_port(args.metrics_port_file, port)

    asyncio.run(serve(settings, on_started=started, on_review_started=review_started,
                      on_metrics_started=metrics_started))
    return 0


def write_port(path: Path, port: int) -> None:
    """Write ``port`` to ``path`` atomically (readers never see a partial file)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(str(port))
    tmp.replace(path)
