"""``splice oracles``: list the oracles a server has configured."""

from __future__ import annotations

import argparse
from typing import Any

from splice.server.cli.common import add_target, dumps


def add_parser(sub: Any) -> None:
    """Register ``oracles``."""
    p: argparse.ArgumentParser = sub.add_parser(
        "oracles", help="list the server's oracles",
        description="Print the server's configured oracles, one JSON object per line.")
    add_target(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print each oracle as JSON."""
    from splice.sdk import Client

    with Client(args.target, timeout=args.timeout) as client:
        for oracle in client.oracles():
            print(dumps(oracle))
    return 0
