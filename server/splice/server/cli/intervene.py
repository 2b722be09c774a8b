"""``splice intervene``: send interventions from a JSON/JSONL file or flags; print JSON."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from splice.server.cli.common import add_target, dumps

_FIELDS = {"problem", "reference_solution", "rollout", "rollout_steps", "reference_answer",
           "problem_id", "oracle", "request_id", "client_id", "segmentation", "categorize",
           "options"}


def add_parser(sub: Any) -> None:
    """Register ``intervene``."""
    p: argparse.ArgumentParser = sub.add_parser(
        "intervene", help="ask the service for one or more interventions",
        description="Send interventions and print each result as one JSON line. Input: "
        "--file with a JSON object or JSONL (one object per line; keys: problem, "
        "reference_solution, rollout or rollout_steps, and optionally reference_answer, "
        "problem_id, oracle, request_id, client_id, segmentation (BLANK_LINE|KEYWORD), "
        "categorize, options), or the flags below for a single request.")
    add_target(p)
    p.add_argument("--file", help="JSON or JSONL file ('-' for stdin)")
    p.add_argument("--problem", help="problem text")
    p.add_argument("--reference", help="reference solution text")
    p.add_argument("--reference-answer", default="", help="final answer, if known")
    p.add_argument("--rollout", help="rollout text")
    p.add_argument("--rollout-file", type=Path, help="read the rollout text from a file")
    p.add_argument("--oracle", default="", help="oracle name (default: the server's)")
    p.add_argument("--request-id", help="idempotency key (default: random)")
    p.add_argument("--client-id", default="cli", help="who asks (default 'cli')")
    p.add_argument("--keyword-segmentation", action="store_true",
                   help="also split at reflection keywords ('Wait', 'But', ...)")
    p.add_argument("--categorize", action="store_true", help="ask for the error category")
    p.add_argument("--concurrency", type=int, default=16, help="requests in flight (JSONL)")
    p.set_defaults(run=run)


def _from_mapping(obj: Any, where: str) -> Any:
    from splice.sdk import InterventionRequest, SegmentationMode

    if not isinstance(obj, dict):
        raise SystemExit(f"{where}: expected a JSON object")
    unknown = set(obj) - _FIELDS
    if unknown:
        raise SystemExit(f"{where}: unknown keys {sorted(unknown)}; allowed: {sorted(_FIELDS)}")
    fields = dict(obj)
    if "segmentation" in fields:
        fields["segmentation"] = SegmentationMode[str(fields["segmentation"]).upper()]
    if "rollout_steps" in fields:
        fields["rollout_steps"] = tuple(fields["rollout_steps"])
    try:
        return InterventionRequest(**fields)
    except TypeError as exc:
        raise SystemExit(f"{where}: {exc}") from exc


def requests_from_file(path: str) -> list[Any]:
    """InterventionRequests from a JSON object or JSONL file (``-``: stdin)."""
    text = sys.stdin.read() if path == "-" else Path(path).read_text()
    stripped = text.strip()
    if stripped.startswith("{") and "\n{" not in stripped:
        return [_from_mapping(json.loads(stripped), path)]
    return [_from_mapping(json.loads(line), f"{path}:{n}")
            for n, line in enumerate(text.splitlines(), 1) if line.strip()]


def _read_requests(args: argparse.Namespace) -> list[Any]:
    from splice.sdk import InterventionRequest, SegmentationMode

    if args.file:
        return requests_from_file(args.file)
    rollout = args.rollout_file.read_text() if args.rollout_file else args.rollout
    if not (args.problem and args.reference and rollout):
        raise SystemExit("give --file, or --problem, --reference and --rollout/--rollout-file")
    extra = {"request_id": args.request_id} if args.request_id else {}
    return [InterventionRequest(
        problem=args.problem, reference_solution=args.reference, rollout=rollout,
        reference_answer=args.reference_answer, oracle=args.oracle, client_id=args.client_id,
        categorize=args.categorize,
        segmentation=(SegmentationMode.KEYWORD if args.keyword_segmentation
                      else SegmentationMode.UNSPECIFIED), **extra)]


def run(args: argparse.Namespace) -> int:
    """Send the requests; print one JSON line per result (errors as {"error": ...})."""
    from splice.sdk import Client, SpliceError

    requests = _read_requests(args)
    failed = 0
    with Client(args.target, client_id=args.client_id, timeout=args.timeout) as client:
        results = client.intervene_many(requests, concurrency=args.concurrency,
                                        return_exceptions=True)
    for req, result in zip(requests, results, strict=True):
        if isinstance(result, SpliceError):
            failed += 1
            print(json.dumps({"request_id": req.request_id, "error": result.code.name,
                              "message": result.message}))
        else:
            print(dumps(result))
    return 1 if failed else 0
