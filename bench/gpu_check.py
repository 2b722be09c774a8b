"""One-shot checks of the trainer's GPU paths, for a lent H100/H200 (docs/trainer.md).

Runs, on the shipped arith base policy: transformers rollouts on CUDA (against the same
rollouts on the machine's CPUs, same run), seeded determinism on the GPU, a bf16 LoRA and a
bf16 full SFT patch step through TRL, a few bf16 GRPO steps through TRL, and an evaluation of
the GRPO model. Writes ``$OUT/gpu_check.json`` (or ``--out``) and exits non-zero if any check
failed. Every check records its error instead of stopping the others.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch


def _check(results: dict[str, Any], name: str, fn: Callable[[], dict[str, Any]]) -> None:
    started = time.monotonic()
    try:
        results[name] = {"ok": True, **fn()}
    except Exception as exc:  # a failed check is a result here
        results[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}",
                         "trace": traceback.format_exc()[-2000:]}
    results[name]["seconds"] = round(time.monotonic() - started, 2)
    print(name, json.dumps({k: v for k, v in results[name].items() if k != "trace"}),
          flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "gpu_check")))
    parser.add_argument("--device", default="cuda", help="cpu: a dry run of the script")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path("/tmp/splice_gpu_check")

    import transformers
    import trl
    from splice.trainer.engine import GenerationRequest
    from splice.trainer.evaluate import EvalConfig, evaluate
    from splice.trainer.grpo import GRPOStageConfig, train_grpo
    from splice.trainer.hf_engine import TransformersEngine
    from splice.trainer.records import SamplingParams, read_jsonl
    from splice.trainer.rewards import RewardWorker
    from splice.trainer.sft import SFTStageConfig, _bf16, train_patch
    from splice.trainer.worlds.arith.distill import distill_examples
    from splice.trainer.worlds.arith.generate import HARD, generate_many
    from splice.trainer.worlds.arith.policy import CHECKPOINT_DIR, verify_checkpoint
    from splice.trainer.worlds.arith.requests import to_problem
    from transformers import AutoTokenizer

    results: dict[str, Any] = {}
    verify_checkpoint()
    specs = generate_many(64 if args.device != "cpu" else 4, seed=3_000_000, config=HARD)
    problems = [to_problem(s) for s in specs]
    requests = [GenerationRequest(p.problem_id, p.problem) for p in problems]
    sampling = SamplingParams(n=16 if args.device != "cpu" else 2, temperature=1.0, top_p=1.0,
                              top_k=0, max_tokens=160, seed=0)
    worker = RewardWorker()

    def env() -> dict[str, Any]:
        return {"torch": torch.__version__, "transformers": transformers.__version__,
                "trl": trl.__version__, "cuda": torch.cuda.is_available(),
                "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
                "bf16_supported": torch.cuda.is_available() and torch.cuda.is_bf16_supported(),
                "sft_bf16_default": _bf16(None), "cpu_threads": torch.get_num_threads()}

    def rollouts() -> dict[str, Any]:
        timing: dict[str, float] = {}
        ids: dict[str, list[tuple[int, ...]]] = {}
        passed: dict[str, float] = {}
        for device in ("cuda", "cuda_again", "cpu"):
            engine = TransformersEngine.from_pretrained(
                CHECKPOINT_DIR, device=args.device if device != "cpu" else "cpu",
                max_batch_size=1024)
            started = time.monotonic()
            out = engine.generate(requests, sampling)
            timing[device] = time.monotonic() - started
            flat = [r for group in out for r in group]
            ids[device] = [tuple(r.completion_ids) for r in flat]
            scores = worker.score([r.text for r in flat],
                                  [p.reference_answer for p in problems for _ in range(sampling.n)])
            passed[device] = sum(scores) / len(scores)
        rows = len(ids["cuda"])
        return {"rollouts": rows, "generate_s": timing, "pass_rate": passed,
                "gpu_over_cpu_speed": timing["cpu"] / timing["cuda"],
                "gpu_rerun_identical": ids["cuda"] == ids["cuda_again"],
                "gpu_equals_cpu_tokens": ids["cuda"] == ids["cpu"]}

    tokenizer = AutoTokenizer.from_pretrained(CHECKPOINT_DIR)
    examples = distill_examples(tokenizer, problems[:32], {p.problem_id: s for p, s in
                                                            zip(problems, specs, strict=True)})

    def sft(lora: bool) -> Callable[[], dict[str, Any]]:
        def run() -> dict[str, Any]:
            config = SFTStageConfig(use_lora=lora, learning_rate=3e-4, num_train_epochs=2,
                                    effective_batch_size=8, per_device_train_batch_size=8)
            out = work / ("sft_lora" if lora else "sft_full")
            model = train_patch(CHECKPOINT_DIR, examples, config, out)
            losses = [r["loss"] for r in read_jsonl(out / "train_log.jsonl") if "loss" in r]
            if not losses or not all(math.isfinite(x) for x in losses):
                raise RuntimeError(f"non-finite or missing SFT losses: {losses}")
            return {"bf16": _bf16(None), "steps": len(losses), "first_loss": losses[0],
                    "last_loss": losses[-1], "model": (model / "config.json").exists()}
        return run

    def grpo() -> dict[str, Any]:
        b = 8 if args.device != "cpu" else 2
        config = GRPOStageConfig(train_batch_size=b, ppo_mini_batch_size=b, rollout_n=b,
                                 per_device_train_batch_size=b * b, learning_rate=2e-5,
                                 temperature=1.0, top_p=1.0, max_completion_length=160,
                                 max_steps=6 if args.device != "cpu" else 1, seed=0)
        out = work / "grpo"
        model = train_grpo(CHECKPOINT_DIR, problems, config, out, worker)
        log = list(read_jsonl(out / "grpo_log.jsonl"))
        rewards = [r.get("reward") for r in log if "reward" in r]
        if not rewards or not all(math.isfinite(x) for x in rewards):
            raise RuntimeError(f"GRPO logged no finite reward: {log[:3]}")
        engine = TransformersEngine.from_pretrained(model, device=args.device,
                                                    max_batch_size=1024)
        result = evaluate(problems, engine, worker, EvalConfig(
            n=16, temperature=1.0, top_p=1.0, top_k=0, max_tokens=160, seed=1,
            bootstrap=0, problems_per_batch=64), show_progress=False)
        return {"bf16": config.to_trl(out / "x").bf16, "steps_logged": len(rewards),
                "rewards": rewards, "eval_pass_at": {str(k): v for k, v in
                                                      result.pass_at.items()}}

    _check(results, "env", env)
    _check(results, "rollouts_cuda", rollouts)
    _check(results, "sft_lora_bf16", sft(True))
    _check(results, "sft_full_bf16", sft(False))
    _check(results, "grpo_bf16", grpo)
    worker.close()
    (args.out / "gpu_check.json").write_text(json.dumps(results, indent=2, default=str))
    failed = [k for k, v in results.items() if not v["ok"]]
    print("FAILED: " + ", ".join(failed) if failed else "all GPU checks passed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
