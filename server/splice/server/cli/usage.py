"""``splice usage``: LLM usage per client and oracle (calls, tokens, USD, budgets)."""

from __future__ import annotations

import argparse
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from splice.server.cli.common import add_target, dumps

_AGO = re.compile(r"(\d+(?:\.\d+)?)([hd])")


def parse_since(value: str) -> datetime:
    """``2025-06-01``, ``2025-06-01T12:00`` (naive: UTC), or ``36h`` / ``7d`` ago."""
    ago = _AGO.fullmatch(value.strip())
    if ago:
        unit = {"h": "hours", "d": "days"}[ago.group(2)]
        return datetime.now(UTC) - timedelta(**{unit: float(ago.group(1))})
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r}: give an ISO date or time (2025-06-01, 2025-06-01T12:00) "
            "or an age (36h, 7d)") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def add_parser(sub: Any) -> None:
    """Register ``usage``."""
    p: argparse.ArgumentParser = sub.add_parser(
        "usage", help="LLM usage and budgets per client and oracle",
        description="Print LLM oracle usage since --since (default: midnight UTC today), one "
        "JSON object per (client, oracle): calls, input/output tokens, cost in USD and the "
        "daily budgets that apply.")
    add_target(p)
    p.add_argument("--client", default="", help="only this client_id")
    p.add_argument("--oracle", default="", help="only this oracle")
    p.add_argument("--since", type=parse_since, default=None,
                   help="ISO date/time (UTC if no zone) or an age such as 36h or 7d")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print each total as JSON."""
    from splice.sdk import Client, SpliceError

    with Client(args.target, timeout=args.timeout) as client:
        try:
            totals = client.usage(client_id=args.client, oracle=args.oracle, since=args.since)
        except SpliceError as exc:
            print(f"error: {exc.code.name}: {exc.message}", file=sys.stderr)
            return 1
    for total in totals:
        print(dumps(total))
    return 0
