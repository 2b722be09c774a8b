"""The InT loop end to end on a CPU: mine → collect (real server, symbolic oracle) → filter →
LoRA patch → 2 GRPO steps → evaluate, every stage's outputs checked, then a resumed rerun."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from splice.server.testing import running_server
from splice.trainer.cli import main
from splice.trainer.collect import load_collected
from splice.trainer.config import load_config
from splice.trainer.counterfactual import load_scores
from splice.trainer.engine import decode, prompt_ids
from splice.trainer.mine import load_mine_result
from splice.trainer.patch import load_patch_dataset
from splice.trainer.pipeline import STAGES, run_all
from splice.trainer.records import read_jsonl, write_jsonl
from splice.trainer.sft import SFTStageConfig, build_sft_trainer
from splice.trainer.tiny import toy_problems

ORACLES = {"symbolic": {"backend": "symbolic", "options": {"workers": 1, "time_limit_s": 5}}}


def settings(tmp: Path, model: Path, address: str) -> dict[str, Any]:
    problems = [{"problem_id": p.problem_id, "problem": p.problem,
                 "reference_solution": p.solution(), "reference_answer": p.answer}
                for p in toy_problems(6, seed=11)]
    write_jsonl(tmp / "problems.jsonl", problems)
    return {
        "run_dir": str(tmp / "run"), "model": str(model),
        "problems": str(tmp / "problems.jsonl"), "show_progress": False,
        "mine": {"n": 4, "max_tokens": 40, "problems_per_batch": 6},
        "collect": {"server": address, "concurrency": 4, "rollouts_per_problem": 2},
        "filter": {"k": 4, "max_tokens": 16},
        "sft": {"use_lora": True, "max_steps": 2, "effective_batch_size": 4,
                "per_device_train_batch_size": 4, "learning_rate": "1e-3"},
        "grpo": {"train_batch_size": 2, "ppo_mini_batch_size": 2, "rollout_n": 4,
                 "per_device_train_batch_size": 4, "max_completion_length": 40,
                 "max_steps": 2, "learning_rate": 1.0e-5},
        "evaluate": {"n": 4, "max_tokens": 40, "bootstrap": 50},
    }


def test_int_loop_end_to_end(tiny_model_dir: Path, tokenizer: Any, tmp_path: Path) -> None:
    with running_server(tmp_path / "server", oracles=ORACLES,
                        default_oracle="symbolic") as address:
        config_path = tmp_path / "run.yaml"
        config_path.write_text(yaml.safe_dump(settings(tmp_path, tiny_model_dir, address)))
        assert main(["run", str(config_path)]) == 0
    run = tmp_path / "run"
    for stage in STAGES:
        assert (run / stage / "DONE").exists(), stage

    # mine: the tiny model cannot multiply; its failed rollouts keep their sampled ids
    mined = load_mine_result(run / "mine")
    assert mined.hard_set and len(mined.failed_rollouts) == 4 * len(mined.hard_set)
    for r in mined.failed_rollouts:
        assert r.reward == 0.0 and r.text == decode(tokenizer, r.sampled_ids)
    from datasets import load_from_disk

    assert len(load_from_disk(str(run / "mine" / "hard_set"))) == len(mined.hard_set)

    # collect: the symbolic oracle flags the wrong product and corrects it
    collected = load_collected(run / "collect")
    found = [c for c in collected if c.intervention.status.name == "FOUND_ERROR"]
    assert found and all(c.intervention.replacements for c in found)

    # filter: at least one corrected claim makes the base policy box the right answer
    scores = load_scores(run / "filter")
    kept = [s for s in scores if s.kept]
    assert kept and all(s.successes >= 1 for s in kept)

    # patch dataset: prompt masked, prefix = sampled ids, ends on the replacement (no EOS)
    examples = load_patch_dataset(run / "patch")
    assert len(examples) == len(kept)
    rollouts = {r.rollout_id: r for r in mined.failed_rollouts}
    problems = {p.problem_id: p for p in mined.hard_set}
    by_request = {c.intervention.request_id: c for c in collected}
    stop_ids = {tokenizer.eos_token_id, tokenizer.pad_token_id}
    for example, score in zip(examples, kept, strict=True):
        ids, mask = example["input_ids"], example["completion_mask"]
        prompt = prompt_ids(tokenizer, problems[example["problem_id"]].problem)
        assert ids[:len(prompt)] == prompt and mask == [0] * len(prompt) + \
            [1] * (len(ids) - len(prompt))
        rollout = rollouts[score.rollout_id]
        intervention = by_request[score.request_id].intervention
        start = len(prompt)
        prefix = ids[start:start + example["prefix_length"]]
        assert tuple(prefix) == rollout.sampled_ids[:len(prefix)]
        boundary = intervention.steps[score.location - 1].char_start
        assert rollout.text[:boundary].startswith(decode(tokenizer, prefix))
        assert decode(tokenizer, ids[start:]) == rollout.text[:boundary] + score.content
        assert ids[-1] not in stop_ids
        assert ids[-1] == tokenizer(score.content)["input_ids"][-1]
    # the labels TRL trains on mask exactly the prompt tokens
    from transformers import AutoModelForCausalLM

    trainer = build_sft_trainer(AutoModelForCausalLM.from_pretrained(tiny_model_dir), tokenizer,
                                examples, SFTStageConfig(max_steps=1), tmp_path / "sft-check")
    for example, row in zip(examples, trainer.train_dataset, strict=True):
        n = example["prompt_length"]
        assert row["labels"][:n] == [-100] * n
        assert row["labels"][n:] == example["input_ids"][n:]
        assert row["labels"][-1] not in stop_ids
    assert (run / "patch" / "adapter" / "adapter_config.json").exists()
    assert (run / "patch" / "model" / "model.safetensors").exists()
    assert any("loss" in row for row in read_jsonl(run / "patch" / "train_log.jsonl"))

    # GRPO: two steps with the InT metrics logged
    steps = [row for row in read_jsonl(run / "grpo" / "grpo_log.jsonl") if "reward" in row]
    assert len(steps) == 2
    for row in steps:
        for key in ("reward", "frac_reward_zero_std", "entropy", "kl",
                    "completions/mean_length"):
            assert key in row, key

    # evaluation of base, patched and final models, and the diffs
    for name in ("base", "patched", "final"):
        summary = json.loads((run / "evaluate" / f"{name}.json").read_text())
        assert sorted(summary["pass_at"]) == ["1", "2", "3", "4"]
        assert summary["problems"] == len(mined.hard_set)
    diff = json.loads((run / "evaluate" / "diff_base_final.json").read_text())
    assert set(diff) == {"problems", "newly_solved", "lost", "delta_pass_at"}

    # a rerun resumes: every stage is done, nothing runs again
    assert run_all(load_config(config_path)) == []
