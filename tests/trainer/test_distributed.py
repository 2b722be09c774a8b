"""The SFT and GRPO stages under ``accelerate launch``: 2 CPU processes over gloo."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "accelerate"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_sft_and_grpo_stages_run_on_two_processes(tiny_model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    cmd = [sys.executable, "-m", "accelerate.commands.launch",
           "--config_file", str(EXAMPLE / "multi_cpu.yaml"),
           "--main_process_port", str(free_port()), str(EXAMPLE / "run_stages.py"),
           "--model", str(tiny_model_dir), "--out", str(out), "--grpo-steps", "1"]
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr[-4000:]
    ranks = [json.loads((out / f"rank-{k}.json").read_text()) for k in (0, 1)]
    for k, rank in enumerate(ranks):
        assert rank == {"rank": k, "world_size": 2, "backend": "gloo",
                        "trained_world_size": 2}
    assert (out / "patch" / "adapter" / "adapter_config.json").exists()
    assert (out / "patch" / "model" / "model.safetensors").exists()
    assert (out / "grpo" / "model" / "model.safetensors").exists()
    log = [json.loads(line) for line in (out / "grpo" / "grpo_log.jsonl").read_text().splitlines()]
    assert sum("reward" in row for row in log) == 1
