"""First-error localisation on PRMBench-dev: load tasks, run an oracle, compute and print metrics.

Both halves of every row are scored: ``modified_process`` (first error ``min(error_steps)``,
or none) and ``original_process`` as an error-free rollout. By default the oracle runs through
the real service (a server subprocess, the SDK's ``intervene_many``); ``--direct`` calls the
``symbolic`` backend in-process instead.

    .venv/bin/python bench/first_error.py [--data PATH] [--oracle symbolic] [--direct] [--json]
        [--audit docs/results/prmbench_first_errors.jsonl]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.first_error_audit import (  # noqa: E402
    audit,
    check_labels,
    load_labels,
    print_audit,
    row_key,
)

DEFAULT_DATA = Path("/work/shared/data/prmbench-dev.jsonl")
ERRONEOUS, ERROR_FREE = "erroneous", "error_free"


@dataclass(frozen=True)
class BenchItem:
    """One rollout to judge: ``truth`` is the first error step (1-based) or 0 for none."""

    item_id: str
    classification: str
    half: str
    problem: str
    reference_solution: str
    steps: tuple[str, ...]
    truth: int


@dataclass(frozen=True)
class Verdict:
    """What an oracle answered for one item."""

    status: str
    step: int = 0
    latency_ms: float | None = None


def load_items(path: Path) -> list[BenchItem]:
    """Both halves of every PRMBench row: the modified rollout and the original one."""
    items: list[BenchItem] = []
    for n, line in enumerate(path.read_text().splitlines()):
        if not line.strip():
            continue
        row = json.loads(line)
        problem = row.get("modified_question") or row.get("question") or ""
        reference = "\n\n".join(row["original_process"])
        cls = row.get("classification", "unknown")
        errors = row.get("error_steps") or []
        base = row_key(str(row.get("idx", n)), n)
        items.append(BenchItem(f"{base}/mod", cls, ERRONEOUS if errors else ERROR_FREE,
                               problem, reference, tuple(row["modified_process"]),
                               min(errors) if errors else 0))
        items.append(BenchItem(f"{base}/orig", cls, ERROR_FREE, problem, reference,
                               tuple(row["original_process"]), 0))
    return items


@dataclass
class Metrics:
    """Counts and the figures derived from them, for one group of items."""

    n: int = 0
    n_erroneous: int = 0
    n_error_free: int = 0
    claims: int = 0
    claims_correct: int = 0
    no_error_correct: int = 0
    abstained: int = 0
    failed: int = 0
    figures: dict[str, float] = field(default_factory=dict)

    def add(self, item: BenchItem, verdict: Verdict) -> None:
        self.n += 1
        if item.truth:
            self.n_erroneous += 1
        else:
            self.n_error_free += 1
        if verdict.status == "FOUND_ERROR":
            self.claims += 1
            self.claims_correct += int(bool(item.truth) and verdict.step == item.truth)
        elif verdict.status == "NO_ERROR":
            self.no_error_correct += int(not item.truth)
        elif verdict.status == "ABSTAINED":
            self.abstained += 1
        else:
            self.failed += 1

    def finish(self) -> Metrics:
        """Fill ``figures``: an abstention counts as wrong on both halves."""
        acc_err = _ratio(self.claims_correct, self.n_erroneous)
        acc_ok = _ratio(self.no_error_correct, self.n_error_free)
        precision = _ratio(self.claims_correct, self.claims)
        self.figures = {
            "accuracy_erroneous": acc_err,  # exact first-error accuracy = recall
            "accuracy_error_free": acc_ok,
            "recall": acc_err,
            "precision": precision,
            "abstention_rate": _ratio(self.abstained, self.n),
            "f1": _harmonic(acc_err, acc_ok),
            "claim_f1": _harmonic(precision, acc_err),
        }
        return self


def _ratio(a: int, b: int) -> float:
    return a / b if b else 0.0


def _harmonic(a: float, b: float) -> float:
    return 2 * a * b / (a + b) if a + b else 0.0


def compute_metrics(
    items: Sequence[BenchItem], verdicts: Sequence[Verdict]
) -> tuple[Metrics, dict[str, Metrics]]:
    """Totals and per-classification metrics."""
    total = Metrics()
    per: dict[str, Metrics] = {}
    for item, verdict in zip(items, verdicts, strict=True):
        total.add(item, verdict)
        per.setdefault(item.classification, Metrics()).add(item, verdict)
    return total.finish(), {k: m.finish() for k, m in sorted(per.items())}


def latency_summary(verdicts: Iterable[Verdict]) -> dict[str, float]:
    """p50 / p99 / max of the oracle latencies that were measured (cached ones excluded)."""
    values = sorted(v.latency_ms for v in verdicts if v.latency_ms is not None)
    if not values:
        return {}

    def pct(p: float) -> float:
        return values[min(len(values) - 1, int(p * len(values)))]

    return {"p50_ms": pct(0.5), "p99_ms": pct(0.99), "max_ms": values[-1],
            "mean_ms": statistics.fmean(values), "n": float(len(values))}


def print_table(total: Metrics, per: dict[str, Metrics], latency: dict[str, float]) -> None:
    """A plain-text table: one line per classification, then the total."""
    head = (f"{'classification':<22}{'n':>5}{'err':>5}{'claims':>8}{'correct':>9}"
            f"{'prec':>7}{'recall':>8}{'acc_ok':>8}{'abst':>7}{'F1':>7}")
    print(head)
    print("-" * len(head))
    for name, m in [*per.items(), ("TOTAL", total)]:
        f = m.figures
        print(f"{name:<22}{m.n:>5}{m.n_erroneous:>5}{m.claims:>8}{m.claims_correct:>9}"
              f"{f['precision']:>7.2f}{f['recall']:>8.3f}{f['accuracy_error_free']:>8.3f}"
              f"{f['abstention_rate']:>7.2f}{f['f1']:>7.3f}")
    if latency:
        print(f"oracle latency: p50 {latency['p50_ms']:.1f} ms, p99 {latency['p99_ms']:.1f} ms, "
              f"max {latency['max_ms']:.1f} ms over {int(latency['n'])} uncached calls")
    if total.failed:
        print(f"FAILED verdicts: {total.failed}")


def _progress(done: int, total: int) -> None:
    sys.stderr.write(f"\r{done}/{total} rollouts judged")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def run_service(
    items: Sequence[BenchItem], oracle: str, backend: str, concurrency: int,
    options: dict[str, Any],
) -> list[Verdict]:
    """Judge every item through a real server subprocess and the SDK client."""
    from splice.sdk import Client
    from splice.sdk.requests import InterventionRequest
    from splice.server.testing import running_server

    settings: dict[str, Any] = {"oracles": {oracle: {"backend": backend, "options": options}},
                                "default_oracle": oracle}
    run_id = uuid.uuid4().hex[:8]
    verdicts: list[Verdict] = []
    with running_server(**settings) as address, Client(address, client_id="bench") as client:
        chunk = max(1, concurrency * 4)
        for start in range(0, len(items), chunk):
            batch = items[start : start + chunk]
            requests = [InterventionRequest(
                request_id=f"{run_id}-{start + i}", client_id="bench", problem=it.problem,
                reference_solution=it.reference_solution, reference_answer="",
                rollout_steps=list(it.steps), oracle=oracle,
            ) for i, it in enumerate(batch)]
            for res in client.intervene_many(requests, concurrency=concurrency,
                                             return_exceptions=True):
                if isinstance(res, Exception):
                    verdicts.append(Verdict("FAILED"))
                    continue
                latency = None if res.cached else res.usage.oracle_latency_ms
                verdicts.append(Verdict(res.status.name, res.first_error_step, latency))
            _progress(len(verdicts), len(items))
    return verdicts


async def _run_direct(
    items: Sequence[BenchItem], backend: str, concurrency: int, options: dict[str, Any]
) -> list[Verdict]:
    from splice.server.oracles.base import OracleTask
    from splice.server.oracles.registry import build_oracle
    from splice.server.segmentation import join_presegmented

    oracle = build_oracle(backend, backend, options)
    await oracle.start()
    slots = asyncio.Semaphore(concurrency)
    done = 0

    async def judge(n: int, item: BenchItem) -> Verdict:
        nonlocal done
        _, steps = join_presegmented(list(item.steps))
        task = OracleTask(request_id=f"direct-{n}", client_id="bench", problem=item.problem,
                          reference_solution=item.reference_solution, reference_answer="",
                          steps=steps)
        async with slots:
            t0 = time.perf_counter()
            result = await oracle.intervene(task)
            latency = (time.perf_counter() - t0) * 1000
        done += 1
        if done % 20 == 0 or done == len(items):
            _progress(done, len(items))
        return Verdict(result.status.name, result.first_error_step, latency)

    try:
        return list(await asyncio.gather(*(judge(n, it) for n, it in enumerate(items))))
    finally:
        await oracle.aclose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="PRMBench-style JSONL")
    parser.add_argument("--oracle", default="symbolic", help="oracle name (and backend)")
    parser.add_argument("--backend", default="", help="backend, if not the oracle name")
    parser.add_argument("--direct", action="store_true",
                        help="call the backend in-process instead of through the service")
    parser.add_argument("--concurrency", type=int, default=2,
                        help="requests in flight (default: one per checker worker)")
    parser.add_argument("--limit", type=int, default=0, help="only the first N rows")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="backend option, e.g. time_limit_s=2 (repeatable)")
    parser.add_argument("--audit", type=Path, metavar="LABELS",
                        help="hand labels of the first errors (bench/first_error_audit.py): "
                             "what a sound checker could claim, against what this oracle did")
    parser.add_argument("--json", action="store_true",
                        help="print the totals as JSON on the last line")
    args = parser.parse_args(argv)
    items = load_items(args.data)
    labels = load_labels(args.audit) if args.audit else None
    if args.limit:
        items = items[: 2 * args.limit]
    if labels is not None:  # labels that do not fit the data fail before the run
        check_labels(items, labels, partial=bool(args.limit))
    backend = args.backend or args.oracle
    options: dict[str, Any] = dict(o.split("=", 1) for o in args.option)
    t0 = time.perf_counter()
    if args.direct:
        verdicts = asyncio.run(_run_direct(items, backend, args.concurrency, options))
    else:
        verdicts = run_service(items, args.oracle, backend, args.concurrency, options)
    wall = time.perf_counter() - t0
    total, per = compute_metrics(items, verdicts)
    latency = latency_summary(verdicts)
    print_table(total, per, latency)
    print(f"{len(items)} rollouts in {wall:.1f} s ({'direct' if args.direct else 'service'})")
    audited = None
    if labels is not None:
        audited = audit(items, verdicts, labels, partial=bool(args.limit))
        print_audit(audited)
    if args.json:
        print(json.dumps({"oracle": args.oracle, "mode": "direct" if args.direct else "service",
                          **{k: v for k, v in asdict(total).items() if k != "figures"},
                          **total.figures, "latency": latency, "wall_s": wall,
                          **({"audit": audited} if audited else {})}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
