"""The InT loop (Algorithm 1) as resumable stages: mine → collect → filter → patch → grpo →
evaluate. Each stage writes into ``run_dir/<stage>/`` and a ``DONE`` marker last; a stage
whose marker exists is skipped, so a rerun resumes where the last one stopped.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from splice.trainer.config import RunConfig, dump_config
from splice.trainer.hf_engine import TransformersEngine
from splice.trainer.progress import console
from splice.trainer.records import Problem
from splice.trainer.rewards import RewardWorker

STAGES = ("mine", "collect", "filter", "patch", "grpo", "evaluate")
DONE = "DONE"


def stage_dir(config: RunConfig, stage: str) -> Path:
    return config.root / stage


def is_done(config: RunConfig, stage: str) -> bool:
    return (stage_dir(config, stage) / DONE).exists()


def _mark_done(config: RunConfig, stage: str, summary: dict[str, Any]) -> None:
    (stage_dir(config, stage) / DONE).write_text(json.dumps(summary, indent=2, default=str))


class Resources:
    """What consecutive stages share: one reward worker (spawned once, closed at the end)."""

    def __init__(self, config: RunConfig) -> None:
        self.config = config
        self._stack = ExitStack()
        self._reward: RewardWorker | None = None

    @property
    def reward(self) -> RewardWorker:
        if self._reward is None:
            self._reward = self._stack.enter_context(
                RewardWorker(self.config.mine.reward_timeout_s))
        return self._reward

    def __enter__(self) -> Resources:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()


def _engine(config: RunConfig, model: Path | str) -> TransformersEngine:
    return TransformersEngine.from_pretrained(model, device=config.device,
                                              max_batch_size=config.engine_batch_size)


def _problems(path: str) -> list[Problem]:
    from splice.trainer.mine import load_problems

    return load_problems(Path(path))


def run_mine(config: RunConfig, res: Resources) -> dict[str, Any]:
    from splice.trainer.mine import mine_hard_set

    engine = _engine(config, config.model)
    result = mine_hard_set(_problems(config.problems), engine, res.reward, config.mine,
                           stage_dir(config, "mine"), config.show_progress)
    return {"problems": len(result.correct), "hard": len(result.hard_set),
            "failed_rollouts": len(result.failed_rollouts)}


def run_collect(config: RunConfig, res: Resources) -> dict[str, Any]:
    from splice.sdk import Client
    from splice.trainer.collect import collect_interventions
    from splice.trainer.mine import load_mine_result

    mined = load_mine_result(stage_dir(config, "mine"))
    c = config.collect
    with Client(c.server, client_id=c.client_id, timeout=c.timeout_s) as client:
        result = collect_interventions(mined.hard_set, mined.failed_rollouts, client, c,
                                       stage_dir(config, "collect"), config.show_progress)
    if result.errors:  # no DONE marker: a rerun retries the failed requests
        raise RuntimeError(f"collect: {result.errors} requests failed; run it again to retry")
    return {"interventions": len(result.interventions), "by_status": result.by_status,
            "cost_usd": result.cost_usd}


def run_filter(config: RunConfig, res: Resources) -> dict[str, Any]:
    from splice.trainer.collect import load_collected
    from splice.trainer.counterfactual import filter_candidates, load_arms
    from splice.trainer.mine import load_mine_result

    mined = load_mine_result(stage_dir(config, "mine"))
    collected = load_collected(stage_dir(config, "collect"))
    engine = _engine(config, config.model)
    scores = filter_candidates(collected, mined.hard_set, mined.failed_rollouts, engine,
                               res.reward, config.filter, stage_dir(config, "filter"),
                               config.show_progress)
    summary: dict[str, Any] = {"candidates": len(scores), "kept": sum(s.kept for s in scores)}
    if config.filter.arms:
        summary["arms"] = load_arms(stage_dir(config, "filter"))
    return summary


def run_patch(config: RunConfig, res: Resources) -> dict[str, Any]:
    from splice.trainer.collect import load_collected
    from splice.trainer.counterfactual import load_scores
    from splice.trainer.mine import load_mine_result
    from splice.trainer.patch import build_patch_dataset, save_patch_dataset
    from splice.trainer.sft import train_patch
    from transformers import AutoTokenizer

    out = stage_dir(config, "patch")
    mined = load_mine_result(stage_dir(config, "mine"))
    tokenizer = AutoTokenizer.from_pretrained(config.model)
    examples = build_patch_dataset(load_scores(stage_dir(config, "filter")),
                                   load_collected(stage_dir(config, "collect")),
                                   mined.hard_set, mined.failed_rollouts, tokenizer, config.patch)
    save_patch_dataset(examples, out)
    if not examples:
        raise RuntimeError("patch: no intervention passed the filter; nothing to patch with")
    model = train_patch(Path(config.model), examples, config.sft, out)
    return {"examples": len(examples), "model": str(model)}


def patched_model(config: RunConfig) -> Path:
    return stage_dir(config, "patch") / "model"


def final_model(config: RunConfig) -> Path:
    return stage_dir(config, "grpo") / "model"


def run_grpo(config: RunConfig, res: Resources) -> dict[str, Any]:
    from splice.trainer.grpo import step_metrics, train_grpo
    from splice.trainer.mine import load_mine_result
    from splice.trainer.progress import print_table
    from splice.trainer.records import read_jsonl

    out = stage_dir(config, "grpo")
    hard_set = load_mine_result(stage_dir(config, "mine")).hard_set
    held = config.grpo.held_out or config.eval_problems
    held_out = _problems(held) if config.grpo.eval_every > 0 and held else []
    train_grpo(patched_model(config), hard_set, config.grpo, out, res.reward, held_out)
    metrics = step_metrics(list(read_jsonl(out / "grpo_log.jsonl")))
    print_table("GRPO", metrics, config.show_progress)
    return {"steps": len(metrics)}


def run_evaluate(config: RunConfig, res: Resources) -> dict[str, Any]:
    from splice.trainer.evaluate import compare, evaluate, load_eval, save_eval
    from splice.trainer.mine import load_mine_result

    out = stage_dir(config, "evaluate")
    problems = _problems(config.eval_problems) if config.eval_problems else \
        load_mine_result(stage_dir(config, "mine")).hard_set
    models = {"base": Path(config.model), "patched": patched_model(config),
              "final": final_model(config)}
    for name, model in models.items():
        if not (out / f"{name}.json").exists():
            save_eval(evaluate(problems, _engine(config, model), res.reward, config.evaluate,
                               config.show_progress), out, name)
    base = load_eval(out, "base")
    summary: dict[str, Any] = {}
    for name in ("patched", "final"):
        diff = compare(base, load_eval(out, name), config.evaluate.bootstrap,
                       config.evaluate.confidence)
        (out / f"diff_base_{name}.json").write_text(json.dumps(diff, indent=2))
        summary[name] = {"pass@1": load_eval(out, name).pass_at.get(1),
                         "newly_solved": len(diff["newly_solved"])}
    summary["base"] = {"pass@1": base.pass_at.get(1)}
    return summary


RUNNERS: dict[str, Callable[[RunConfig, Resources], dict[str, Any]]] = {
    "mine": run_mine, "collect": run_collect, "filter": run_filter, "patch": run_patch,
    "grpo": run_grpo, "evaluate": run_evaluate,
}


def run_stage(config: RunConfig, stage: str, force: bool = False,
              resources: Resources | None = None) -> bool:
    """Run one stage unless it is done (or ``force``); True if it ran."""
    if stage not in RUNNERS:
        raise ValueError(f"unknown stage {stage!r}; stages: {', '.join(STAGES)}")
    if is_done(config, stage) and not force:
        if config.show_progress:
            console.print(f"[dim]{stage}: done, skipped[/dim]")
        return False
    stage_dir(config, stage).mkdir(parents=True, exist_ok=True)
    (config.root / "config.yaml").write_text(dump_config(config))
    with ExitStack() as stack:
        res = resources or stack.enter_context(Resources(config))
        summary = RUNNERS[stage](config, res)
    _mark_done(config, stage, summary)
    return True


def run_all(config: RunConfig, force: tuple[str, ...] = ()) -> list[str]:
    """Every stage in order; returns the stages that ran."""
    with Resources(config) as res:
        return [s for s in STAGES if run_stage(config, s, force=s in force, resources=res)]
