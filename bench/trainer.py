"""Trainer overhead on the tiny model: the filter stage against the engine's bare ``generate``,
and the patch SFT against a bare TRL ``SFTTrainer``; A/B alternated, median ratio and spread.

    python bench/trainer.py [--quick] [--json] [--repeats 5]

Filter: continuations per second of ``score_candidates`` (generate + reward checks) over the
same prompts as ``engine.generate`` alone (target ratio >= 0.9). SFT: patch tokens per second
of ``build_sft_trainer(...).train()`` over ``SFTTrainer(...).train()`` with the same arguments
and rows (target >= 0.95). Peak memory per stage: RSS above the start of the run on a CPU,
``max_memory_allocated`` on CUDA.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]
import torch
from splice.sdk.types import (
    ErrorCategory,
    Intervention,
    OracleInfo,
    Replacement,
    Segmenter,
    Status,
    Step,
    Usage,
)
from splice.trainer.collect import Collected
from splice.trainer.counterfactual import Candidate, FilterConfig, score_candidates
from splice.trainer.engine import GenerationRequest, decode
from splice.trainer.hf_engine import TransformersEngine
from splice.trainer.patching import patched_completion
from splice.trainer.records import Problem, Rollout, RolloutProvenance
from splice.trainer.rewards import RewardWorker
from splice.trainer.sft import SFTStageConfig, build_sft_trainer
from splice.trainer.tiny import build_tiny, toy_patch_examples, toy_problems


@contextmanager
def peak_memory(out: dict[str, float]) -> Iterator[None]:
    """Peak memory (MiB) of the block into ``out["peak_mib"]``."""
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
        yield
        out["peak_mib"] = torch.cuda.max_memory_allocated() / 2**20
        return
    proc, stop, peak = psutil.Process(), threading.Event(), [0]
    base = proc.memory_info().rss

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss)
            stop.wait(0.005)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        out["peak_mib"] = max(peak[0] - base, 0) / 2**20


def candidates(tokenizer: Any, count: int) -> tuple[list[Candidate], dict[str, Problem]]:
    """Filter candidates: a failed toy rollout (wrong product) with the corrected step 2."""
    made, problems = [], {}
    for p in toy_problems(count, seed=1):
        problems[p.problem_id] = Problem(p.problem_id, p.problem, p.solution(), p.answer)
        text = p.solution(p.a * p.b - 10)
        ids = tuple(tokenizer(text)["input_ids"])
        rollout = Rollout(p.problem_id, 0, (), ids, decode(tokenizer, ids), "stop",
                          RolloutProvenance("tiny", {}, "", "", 0), reward=0.0)
        steps, start = [], 0
        for k, part in enumerate(text.split("\n\n"), 1):
            chunk = part + ("\n\n" if k < 3 else "")
            steps.append(Step(k, chunk, start, start + len(chunk)))
            start += len(chunk)
        rep = Replacement(2, f"${p.a} \\times {p.b} = {p.a * p.b}$.\n\n")
        result = Intervention(
            request_id=f"r-{p.problem_id}", client_id="bench", status=Status.FOUND_ERROR,
            first_error_step=2, steps=tuple(steps), replacements=(rep,),
            category=ErrorCategory.EXECUTION, explanation="", oracle=OracleInfo("o", "s"),
            usage=Usage(), failure=None, segmenter=Segmenter("blank_line", "1"), sequence=1,
            cached=False)
        collected = Collected(p.problem_id, rollout.rollout_id, result)
        made.append(Candidate(collected, rep, patched_completion(tokenizer, rollout, result,
                                                                 rep)))
    return made, problems


def alternate(a: Callable[[], float], b: Callable[[], float], repeats: int) -> dict[str, Any]:
    """A/B/A/B timed runs (each returns a rate); the median a/b ratio and its spread."""
    a(), b()  # warm-up
    rates_a, rates_b = [], []
    for _ in range(repeats):
        rates_a.append(a())
        rates_b.append(b())
    ratios = [x / y for x, y in zip(rates_a, rates_b, strict=True)]
    return {"ours": statistics.median(rates_a), "bare": statistics.median(rates_b),
            "ratio_median": statistics.median(ratios), "ratio_min": min(ratios),
            "ratio_max": max(ratios), "repeats": repeats}


def bench_filter(engine: TransformersEngine, count: int, k: int, tokens: int,
                 repeats: int) -> dict[str, Any]:
    cands, problems = candidates(engine.tokenizer, count)
    config = FilterConfig(k=k, max_tokens=tokens, candidates_per_batch=count)
    requests = [GenerationRequest(c.collected.problem_id, problems[c.collected.problem_id]
                                  .problem, c.patched.ids) for c in cands]
    memory: dict[str, dict[str, float]] = {"filter": {}, "generate": {}}
    with RewardWorker(5.0) as reward:
        def ours() -> float:
            t0 = time.perf_counter()
            with peak_memory(memory["filter"]):
                scores = score_candidates(cands, problems, engine, reward, config)
            return sum(s.samples for s in scores) / (time.perf_counter() - t0)

        def bare() -> float:
            t0 = time.perf_counter()
            with peak_memory(memory["generate"]):
                groups = engine.generate(requests, config.sampling())
            return sum(map(len, groups)) / (time.perf_counter() - t0)

        result = alternate(ours, bare, repeats)
    return {**result, "unit": "continuations/s", "target": 0.9,
            "peak_mib": {n: m.get("peak_mib", 0.0) for n, m in memory.items()}}


def bench_sft(model_dir: Path, tokenizer: Any, count: int, steps: int, repeats: int,
              work: Path) -> dict[str, Any]:
    from datasets import Dataset  # type: ignore[import-untyped]
    from transformers import AutoModelForCausalLM
    from trl import SFTTrainer  # type: ignore[attr-defined]

    rows = toy_patch_examples(tokenizer, count, seed=2)
    config = SFTStageConfig(use_lora=False, max_steps=steps, effective_batch_size=8,
                            per_device_train_batch_size=8, learning_rate=1e-4,
                            logging_steps=steps)
    tokens = sum(len(r["input_ids"]) for r in rows[:8]) * steps  # full batches of 8
    memory: dict[str, dict[str, float]] = {"sft": {}, "bare_sft": {}}

    def ours() -> float:
        model = AutoModelForCausalLM.from_pretrained(model_dir)
        t0 = time.perf_counter()
        with peak_memory(memory["sft"]):
            build_sft_trainer(model, tokenizer, rows, config, work / "ours").train()
        return tokens / (time.perf_counter() - t0)

    def bare() -> float:
        model = AutoModelForCausalLM.from_pretrained(model_dir)
        args = build_sft_trainer(model, tokenizer, rows, config, work / "bare").args
        t0 = time.perf_counter()
        with peak_memory(memory["bare_sft"]):
            SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows),
                       processing_class=tokenizer).train()
        return tokens / (time.perf_counter() - t0)

    result = alternate(ours, bare, repeats)
    return {**result, "unit": "patch tokens/s", "target": 0.95,
            "peak_mib": {n: m.get("peak_mib", 0.0) for n, m in memory.items()}}


def table(results: dict[str, Any]) -> str:
    lines = [f"{'stage':<8} {'ours':>12} {'bare':>12} {'ratio':>7} {'spread':>13} "
             f"{'target':>6}  peak MiB (ours / bare)", "-" * 86]
    for name in ("filter", "sft"):
        r = results[name]
        peaks = " / ".join(f"{v:.0f}" for v in r["peak_mib"].values())
        lines.append(f"{name:<8} {r['ours']:>12.1f} {r['bare']:>12.1f} {r['ratio_median']:>7.3f} "
                     f"{r['ratio_min']:>6.3f}-{r['ratio_max']:<6.3f} {r['target']:>6}  {peaks}")
    lines.append(f"units: filter {results['filter']['unit']}, sft {results['sft']['unit']}; "
                 f"median of {results['filter']['repeats']} A/B pairs; {results['device']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 2 repeats")
    parser.add_argument("--json", action="store_true", help="print one JSON line at the end")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    repeats = 2 if args.quick else args.repeats
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-trainer-"))
    model_dir = build_tiny(work / "tiny", pretrain_steps=20 if args.quick else 100)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    engine = TransformersEngine.from_pretrained(model_dir, device=device, max_batch_size=64)
    results: dict[str, Any] = {"device": device, "quick": args.quick}
    results["filter"] = bench_filter(engine, 4 if args.quick else 16, 4 if args.quick else 8,
                                     8 if args.quick else 24, repeats)
    results["sft"] = bench_sft(model_dir, engine.tokenizer, 16, 2 if args.quick else 8,
                               repeats, work)
    print(table(results))
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
