"""Run configuration (YAML, overrides, validation) and one stage through the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from splice.trainer.cli import main
from splice.trainer.config import RunConfig, dump_config, from_dict, load_config
from splice.trainer.records import write_jsonl
from splice.trainer.tiny import toy_problems


def test_yaml_overrides_and_validation(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({"run_dir": "r", "model": "m", "problems": "p.jsonl",
                                    "sft": {"learning_rate": "1e-6", "use_lora": False}}))
    config = load_config(path, ["mine.n=4", "filter.enabled=false", "sft.target_modules=[q]"])
    assert config.sft.learning_rate == 1e-6 and config.sft.resolved_lr() == 1e-6
    assert (config.mine.n, config.filter.enabled, config.sft.target_modules) == (4, False, ["q"])
    assert config.grpo.rollout_n == 16 and config.grpo.clip_high == 0.35  # Table 3 defaults
    assert config.sft.lr_scheduler_type == "cosine_with_min_lr" and config.sft.min_lr_rate == 0.1
    assert from_dict(RunConfig, yaml.safe_load(dump_config(config))) == config
    with pytest.raises(ValueError, match="unknown setting"):
        load_config(path, ["mine.samples=4"])
    with pytest.raises(ValueError, match=r"mine\.n"):
        load_config(path, ["mine.n=many"])


def test_one_stage_from_the_cli(tiny_model_dir: Path, tmp_path: Path) -> None:
    write_jsonl(tmp_path / "problems.jsonl", [
        {"problem_id": p.problem_id, "problem": p.problem, "reference_solution": p.solution(),
         "reference_answer": p.answer} for p in toy_problems(2, seed=31)])
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({"run_dir": str(tmp_path / "run"), "model": str(tiny_model_dir),
                                    "problems": str(tmp_path / "problems.jsonl"),
                                    "show_progress": False}))
    assert main(["mine", str(path), "--set", "mine.n=2", "--set", "mine.max_tokens=8"]) == 0
    assert (tmp_path / "run" / "mine" / "DONE").exists()
    assert not (tmp_path / "run" / "collect").exists()
    stored = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert stored["mine"]["n"] == 2
    before = (tmp_path / "run" / "mine" / "DONE").stat().st_mtime_ns
    assert main(["mine", str(path)]) == 0  # done: skipped
    assert (tmp_path / "run" / "mine" / "DONE").stat().st_mtime_ns == before
