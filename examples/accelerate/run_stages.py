"""The patch (SFT) and GRPO stages as they run under ``accelerate launch``, on the tiny model.

    accelerate launch --config_file examples/accelerate/multi_cpu.yaml \\
        examples/accelerate/run_stages.py --model MODEL_DIR --out OUT_DIR [--grpo-steps 1]

The stage functions are the pipeline's own (``train_patch``, ``train_grpo``), unchanged: TRL
trainers shard the batch over the processes and only the main process writes the models.
Each rank writes ``OUT_DIR/rank-<k>.json`` so a test can see that every process ran.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from accelerate import PartialState  # type: ignore[import-untyped]
from splice.trainer.grpo import GRPOStageConfig, train_grpo
from splice.trainer.records import Problem
from splice.trainer.sft import SFTStageConfig, train_patch
from splice.trainer.tiny import toy_patch_examples, toy_problems
from transformers import AutoTokenizer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--sft-steps", type=int, default=2)
    parser.add_argument("--grpo-steps", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    state = PartialState(cpu=not torch.cuda.is_available())  # gloo without CUDA, as TRL's
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    sft = SFTStageConfig(use_lora=True, max_steps=args.sft_steps, effective_batch_size=2,
                         per_device_train_batch_size=2, learning_rate=1e-3)
    patched = train_patch(args.model, toy_patch_examples(tokenizer, 8), sft, args.out / "patch")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"rank-{state.process_index}.json").write_text(json.dumps({
        "rank": state.process_index, "world_size": state.num_processes,
        "backend": str(state.backend), "trained_world_size": torch.distributed.get_world_size()
        if torch.distributed.is_initialized() else 1}))
    state.wait_for_everyone()
    if args.grpo_steps:
        problems = [Problem(p.problem_id, p.problem, p.solution(), p.answer)
                    for p in toy_problems(4, seed=7)]
        grpo = GRPOStageConfig(train_batch_size=2, ppo_mini_batch_size=2, rollout_n=2,
                               per_device_train_batch_size=2, max_completion_length=24,
                               max_steps=args.grpo_steps, learning_rate=1e-5)
        train_grpo(patched, problems, grpo, args.out / "grpo")
    state.wait_for_everyone()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
