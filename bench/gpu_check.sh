#!/usr/bin/env bash
# GPU check of the trainer on a machine with an accelerator, in one run of a few minutes:
# builds the tiny model, times rollouts of the transformers engine on CUDA, one bf16 GRPO
# step (TRL), and vLLM rollouts when vLLM is importable; prints a table.
#
#   bash bench/gpu_check.sh            # from the repository root
#   SKIP_INSTALL=1 bash bench/gpu_check.sh
#
# NOT RUN YET: written in a task without a GPU machine; it has not been executed on CUDA.
# Installs the server and trainer extras (and vllm, if `pip install vllm` succeeds against
# constraints.txt) into .venv-gpu unless SKIP_INSTALL=1 and the current python has them.
set -euo pipefail
cd "$(dirname "$0")/.."
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || { echo "no GPU"; exit 1; }
PY=${PYTHON:-python3}
if [[ "${SKIP_INSTALL:-0}" != 1 ]]; then
  [[ -d .venv-gpu ]] || "$PY" -m venv .venv-gpu
  PY=.venv-gpu/bin/python
  "$PY" -m pip install -q -c constraints.txt -e ".[server,trainer]"
  "$PY" -m pip install -q -c constraints.txt vllm 2>/dev/null || echo "vllm: not installed"
fi
WORK=$(mktemp -d /tmp/gpu-check-XXXX)
export WORK
timeout 900 "$PY" - <<'PY'
"""Rollout throughput (transformers engine, vLLM) and one bf16 GRPO step on the tiny model."""
import os, time
from pathlib import Path

import torch
from splice.trainer.engine import GenerationRequest
from splice.trainer.grpo import GRPOStageConfig, build_grpo_trainer
from splice.trainer.hf_engine import TransformersEngine
from splice.trainer.records import Problem, SamplingParams
from splice.trainer.tiny import build_tiny, toy_problems
from transformers import AutoModelForCausalLM, AutoTokenizer

work = Path(os.environ["WORK"])
model_dir = build_tiny(work / "tiny", pretrain_steps=450)
problems = toy_problems(64, seed=3)
rows = []
sampling = SamplingParams(n=8, temperature=1.0, max_tokens=64, seed=0)
engine = TransformersEngine.from_pretrained(model_dir, device="cuda", max_batch_size=512)
requests = [GenerationRequest(p.problem_id, p.problem) for p in problems]
engine.generate(requests[:4], sampling)  # warm-up
torch.cuda.synchronize(); t0 = time.perf_counter()
groups = engine.generate(requests, sampling)
torch.cuda.synchronize(); dt = time.perf_counter() - t0
tokens = sum(len(r.sampled_ids) for g in groups for r in g)
rows.append(("transformers rollouts", f"{tokens / dt:,.0f} tok/s",
             f"{sum(map(len, groups)) / dt:,.1f} seq/s", f"{dt:.2f} s"))
del engine; torch.cuda.empty_cache()

try:
    from vllm import LLM, SamplingParams as VSampling
    llm = LLM(str(model_dir), dtype="bfloat16", gpu_memory_utilization=0.3, seed=0)
    prompts = [{"prompt_token_ids": llm.get_tokenizer().apply_chat_template(
        [{"role": "user", "content": p.problem}], add_generation_prompt=True)}
        for p in problems]
    params = VSampling(n=8, temperature=1.0, max_tokens=64, seed=0)
    llm.generate(prompts[:4], params)
    t0 = time.perf_counter(); outs = llm.generate(prompts, params); dt = time.perf_counter() - t0
    tokens = sum(len(c.token_ids) for o in outs for c in o.outputs)
    rows.append(("vLLM rollouts", f"{tokens / dt:,.0f} tok/s",
                 f"{len(outs) * 8 / dt:,.1f} seq/s", f"{dt:.2f} s"))
    del llm; torch.cuda.empty_cache()
except ImportError:
    rows.append(("vLLM rollouts", "not installed", "-", "-"))

hard = [Problem(p.problem_id, p.problem, p.solution(), p.answer) for p in problems[:16]]
config = GRPOStageConfig(train_batch_size=8, ppo_mini_batch_size=8, rollout_n=8,
                         per_device_train_batch_size=64, max_completion_length=64,
                         max_steps=1, bf16=True)
model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.bfloat16)
trainer = build_grpo_trainer(model, AutoTokenizer.from_pretrained(model_dir), hard, config,
                             work / "grpo")
torch.cuda.reset_peak_memory_stats(); t0 = time.perf_counter()
trainer.train()
torch.cuda.synchronize(); dt = time.perf_counter() - t0
log = next(r for r in trainer.state.log_history if "reward" in r)
rows.append(("GRPO step (bf16)", f"{dt:.2f} s/step",
             f"{64 / dt:,.1f} completions/s",
             f"peak {torch.cuda.max_memory_allocated() / 2**20:,.0f} MiB"))
print(f"\n{torch.cuda.get_device_name()}  torch {torch.__version__}")
print(f"{'check':<24} {'throughput':>16} {'rate':>20} {'time / memory':>20}")
for row in rows:
    print(f"{row[0]:<24} {row[1]:>16} {row[2]:>20} {row[3]:>20}")
print(f"GRPO reward {log['reward']:.3f}, frac_reward_zero_std {log['frac_reward_zero_std']}")
PY
