"""The pre-registered comparison (docs/preregistration.md): standard RL vs InT + RL on HARD.

One code path for every size: ``--preset demo`` (``make demo``, a REDUCED RUN), ``smoke``
(tests) and ``full`` (``make reproduce``). Problem sets come from the world generator; a real
``splice serve`` (``world:arith`` default, ``symbolic``; SQLite) answers the interventions;
the trainer's pipeline stages mine, filter, patch and run GRPO; every arm gets the same GRPO
budget and is evaluated on the held-out HARD test set.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from splice.trainer.collect import CollectConfig
from splice.trainer.config import RunConfig
from splice.trainer.counterfactual import ARMS, FilterConfig
from splice.trainer.evaluate import EvalConfig, EvalResult
from splice.trainer.grpo import GRPOStageConfig
from splice.trainer.mine import MineConfig
from splice.trainer.patch import PatchDataConfig
from splice.trainer.records import Problem, write_jsonl
from splice.trainer.sft import SFTStageConfig
from splice.trainer.worlds.arith.generate import HARD, TRAIN, generate_many
from splice.trainer.worlds.arith.policy import CHECKPOINT_DIR, verify_checkpoint
from splice.trainer.worlds.arith.requests import to_problem
from splice.trainer.worlds.arith.spec import ProblemSpec
from splice.trainer.worlds.arith.tune import Choice, tune_arms, with_choice

STANDARD, INT = "(i) standard RL", "(iii) InT + RL"
ARM_NAMES = {"base": "(0) base", "standard_rl": STANDARD,
             "distill_rl": "(ii) distill unseen-style refs + RL", "int_rl": INT,
             "int_rl_mix": "(iii') InT + RL on mix",
             "prefix_rl": "(iv) SFT on prefix alone + RL",
             "int_nofilter_rl": "(iv) InT, no filter + RL"}
ALL_ARMS = ["standard_rl", "distill_rl", "int_rl", "int_rl_mix", "prefix_rl",
            "int_nofilter_rl"]
ORACLES = {"world": {"backend": "world:arith"},
           "symbolic": {"backend": "symbolic", "options": {"workers": 1, "time_limit_s": 5}}}


@dataclass
class ExperimentConfig:
    """Sizes, seeds and hyper-parameters of one comparison (the presets below)."""

    preset: str = "demo"
    label: str = "REDUCED RUN"
    hard_pool: int = 128
    easy: int = 64
    test: int = 64
    pool_seed: int = 1_000_000
    easy_seed: int = 2_000_000
    test_seed: int = 3_000_000
    standard: int = 32  # a held-out TRAIN-preset set: does an arm lose skills it had?
    standard_seed: int = 5_000_000
    aux_n: int = 8  # samples per problem on the training hard set and the standard set
    tune: bool = False  # per-arm tuning on a validation split (tune.py)
    val: int = 32
    val_seed: int = 4_000_000
    val_n: int = 16
    tune_steps: int = 4
    grid: dict[str, list[float]] = field(default_factory=lambda: {
        "grpo_lr": [1.0e-5, 2.0e-5, 5.0e-5], "sft_lr": [1.0e-4, 3.0e-4, 1.0e-3],
        "sft_epochs": [4, 8, 16]})
    mine_n: int = 16
    eval_n: int = 16
    decision_k: int = 0  # pass@k of the verdict; 0: k = eval_n
    max_tokens: int = 160
    rollouts_per_problem: int = 2
    filter_k: int = 8
    sft_lr: float = 3.0e-4
    sft_epochs: float = 4
    grpo_steps: int = 12
    grpo_prompts: int = 8
    grpo_generations: int = 8
    grpo_lr: float = 2.0e-5
    seeds: list[int] = field(default_factory=lambda: [0])
    arms: list[str] = field(default_factory=lambda: ["standard_rl", "int_rl"])
    bootstrap: int = 1000
    show_progress: bool = True
    jobs: int = 1  # seeds run in parallel processes (each single-threaded)


PRESETS: dict[str, ExperimentConfig] = {
    "demo": ExperimentConfig(),
    "smoke": ExperimentConfig(preset="smoke", hard_pool=3, easy=2, test=3, mine_n=2, eval_n=2,
                              max_tokens=96, rollouts_per_problem=1, filter_k=2, sft_epochs=1,
                              grpo_steps=1, grpo_prompts=2, grpo_generations=2, bootstrap=50,
                              standard=2, aux_n=2,
                              show_progress=False),
    "full": ExperimentConfig(preset="full", label="FULL RUN", hard_pool=400, easy=200,
                             test=100, standard=64, aux_n=8, mine_n=32, eval_n=64,
                             decision_k=32, rollouts_per_problem=2, filter_k=8,
                             grpo_steps=24, grpo_prompts=8, grpo_generations=16,
                             seeds=[0, 1, 2], jobs=3, arms=list(ALL_ARMS), bootstrap=2000,
                             tune=True, val=32, val_n=16, tune_steps=6,
                             grid={"grpo_lr": [2.0e-5, 5.0e-5, 1.0e-4],
                                   "sft_lr": [1.0e-4, 3.0e-4, 1.0e-3],
                                   "sft_epochs": [2, 4, 8]}),
}


def problem_sets(cfg: ExperimentConfig) -> dict[str, list[ProblemSpec]]:
    """HARD pool (to mine), easy TRAIN problems (the mix) and the held-out HARD test set."""
    pool = generate_many(cfg.hard_pool, seed=cfg.pool_seed, config=HARD)
    seen = {to_problem(s).problem_id for s in pool}
    test = [s for s in generate_many(cfg.test, seed=cfg.test_seed, config=HARD)
            if to_problem(s).problem_id not in seen]
    taken = seen | {to_problem(s).problem_id for s in test}
    easy = generate_many(cfg.easy, seed=cfg.easy_seed, config=TRAIN)
    taken |= {to_problem(s).problem_id for s in easy}
    standard = [s for s in generate_many(cfg.standard, seed=cfg.standard_seed, config=TRAIN)
                if to_problem(s).problem_id not in taken]
    val = [s for s in generate_many(cfg.val, seed=cfg.val_seed, config=HARD)
           if to_problem(s).problem_id not in taken]
    return {"hard_pool": pool, "easy": easy, "test": test, "standard": standard, "val": val}


def run_config(cfg: ExperimentConfig, root: Path, data: Path, address: str, seed: int,
               filtered: bool = True, patch_mode: str = "prefix") -> RunConfig:
    """The trainer pipeline's configuration for the InT arms of one seed (the Table 1
    analogue is measured by the filtered InT arm only)."""
    rl = cfg.grpo_prompts * cfg.grpo_generations
    return RunConfig(
        run_dir=str(root), model=str(CHECKPOINT_DIR), problems=str(data / "hard_pool.jsonl"),
        eval_problems=str(data / "test.jsonl"), show_progress=cfg.show_progress,
        engine_batch_size=128,
        mine=MineConfig(n=cfg.mine_n, temperature=1.0, top_p=1.0, top_k=0,
                        max_tokens=cfg.max_tokens, seed=0),
        collect=CollectConfig(server=address, rollouts_per_problem=cfg.rollouts_per_problem,
                              concurrency=4, categorize=True, timeout_s=120),
        filter=FilterConfig(enabled=filtered, k=cfg.filter_k, temperature=1.0, top_p=1.0,
                            top_k=0, max_tokens=cfg.max_tokens, seed=seed,
                            arms=list(ARMS) if filtered else []),
        patch=PatchDataConfig(mode=patch_mode, clone_suffix=False),
        sft=SFTStageConfig(use_lora=False, learning_rate=cfg.sft_lr,
                           num_train_epochs=cfg.sft_epochs, effective_batch_size=8,
                           per_device_train_batch_size=8, seed=seed),
        grpo=GRPOStageConfig(train_batch_size=cfg.grpo_prompts,
                             ppo_mini_batch_size=cfg.grpo_prompts,
                             rollout_n=cfg.grpo_generations, learning_rate=cfg.grpo_lr,
                             temperature=1.0, top_p=1.0, per_device_train_batch_size=rl,
                             max_completion_length=cfg.max_tokens, max_steps=cfg.grpo_steps,
                             seed=seed),
        evaluate=EvalConfig(n=cfg.eval_n, temperature=1.0, top_p=1.0, top_k=0,
                            max_tokens=cfg.max_tokens, seed=10_000 + seed,
                            bootstrap=cfg.bootstrap, problems_per_batch=8),
    )


class WorldClient:
    """An SDK client that adds each problem's ``world_spec`` option (requests.py) to the
    collector's requests, so the ``world:arith`` oracle never parses the wording."""

    def __init__(self, client: Any, specs: Iterable[ProblemSpec]) -> None:
        from splice.trainer.worlds.arith.requests import world_options

        self._client = client
        self._options = {to_problem(s).problem_id: world_options(s) for s in specs}

    def intervene_many(self, requests: Iterable[Any], **kwargs: Any) -> list[Any]:
        tagged = [dataclasses.replace(r, options={**self._options[r.problem_id],
                                                  **dict(r.options or {})}) for r in requests]
        return list(self._client.intervene_many(tagged, **kwargs))


def run_collect(config: RunConfig, specs: Sequence[ProblemSpec]) -> None:
    """The pipeline's collect stage through :class:`WorldClient` (same outputs and marker)."""
    import json

    from splice.sdk import Client
    from splice.trainer.collect import collect_interventions
    from splice.trainer.mine import load_mine_result
    from splice.trainer.pipeline import DONE, is_done, stage_dir

    if is_done(config, "collect"):
        return
    mined = load_mine_result(stage_dir(config, "mine"))
    c = config.collect
    with Client(c.server, client_id=c.client_id, timeout=c.timeout_s) as client:
        result = collect_interventions(mined.hard_set, mined.failed_rollouts,
                                       WorldClient(client, specs), c,
                                       stage_dir(config, "collect"), config.show_progress)
    if result.errors:
        raise RuntimeError(f"collect: {result.errors} requests failed; run it again to retry")
    (stage_dir(config, "collect") / DONE).write_text(json.dumps(
        {"interventions": len(result.interventions), "by_status": result.by_status}))


def rl(start: Path, problems: Sequence[Problem], config: RunConfig, out: Path,
       res: Any) -> Path:
    """GRPO (the pipeline's stage config and trainer) from ``start`` on ``problems``."""
    from splice.trainer.grpo import train_grpo

    if not (out / "model" / "config.json").exists():
        train_grpo(start, problems, config.grpo, out, res.reward)
    return out / "model"


def evaluate_arm(model: Path, test: Sequence[Problem], config: RunConfig, out: Path, name: str,
                 res: Any, n: int | None = None) -> EvalResult:
    """pass@k on ``test`` with ``n`` samples (default: the verdict's), cached in
    ``out/<name>.json``."""
    from splice.trainer.evaluate import evaluate, load_eval, save_eval
    from splice.trainer.hf_engine import TransformersEngine

    if not (out / f"{name}.json").exists():
        engine = TransformersEngine.from_pretrained(model, max_batch_size=128)
        eval_config = dataclasses.replace(config.evaluate, n=n or config.evaluate.n)
        save_eval(evaluate(test, engine, res.reward, eval_config, config.show_progress),
                  out, name)
    return load_eval(out, name)


def sft_tokens(examples: Iterable[dict[str, Any]]) -> int:
    """Tokens that carry SFT loss (the arm's extra cost beyond the RL budget)."""
    return sum(sum(e["completion_mask"]) for e in examples)


def distill(cfg: RunConfig, hard: Sequence[Problem], specs: Sequence[ProblemSpec], out: Path,
            seed: int) -> tuple[Path, int]:
    """Arm (ii)'s SFT: the base policy cloned on unseen-style references of the hard set."""
    from splice.trainer.sft import train_patch
    from splice.trainer.worlds.arith.distill import distill_examples
    from transformers import AutoTokenizer

    by_id = {to_problem(s).problem_id: s for s in specs}
    examples = distill_examples(AutoTokenizer.from_pretrained(CHECKPOINT_DIR), hard, by_id,
                                seed)
    if not (out / "model" / "config.json").exists():
        train_patch(CHECKPOINT_DIR, examples, cfg.sft, out)
    return out / "model", sft_tokens(examples)


def _sft_arm(config: RunConfig, source: RunConfig, res: Any, stages: Sequence[str]) -> int:
    """Copy ``stages`` of ``source`` into ``config``, then filter (if not copied) and patch."""
    from splice.trainer.patch import load_patch_dataset
    from splice.trainer.pipeline import run_stage, stage_dir

    for stage in stages:
        if not stage_dir(config, stage).exists():
            shutil.copytree(stage_dir(source, stage), stage_dir(config, stage))
    if "filter" not in stages:
        run_stage(config, "filter", resources=res)
    run_stage(config, "patch", resources=res)
    return sft_tokens(load_patch_dataset(stage_dir(config, "patch")))


def default_choices(cfg: ExperimentConfig) -> dict[str, Choice]:
    """Every arm with the preset's values (no tuning)."""
    return {arm: Choice(cfg.sft_lr, cfg.sft_epochs, cfg.grpo_lr) for arm in cfg.arms}


SFT_GROUP = {"int_rl": "int", "int_rl_mix": "int", "int_nofilter_rl": "nofilter",
             "prefix_rl": "prefix", "distill_rl": "distill"}
MIXED = ("standard_rl", "int_rl_mix")  # arms whose RL set is the hard set + easy problems


def run_tuning(cfg: ExperimentConfig, out: Path, address: str,
               specs: dict[str, list[ProblemSpec]]) -> dict[str, Choice]:
    """Per-arm values chosen on the validation split (seed 0; tune.py)."""
    from splice.trainer.mine import load_mine_result
    from splice.trainer.patch import load_patch_dataset
    from splice.trainer.pipeline import Resources, stage_dir
    from splice.trainer.worlds.arith.distill import distill_examples
    from transformers import AutoTokenizer

    data, root = out / "data", out / "tune"
    base_cfg = run_config(cfg, out / "shared", data, address, seed=0)
    configs = {"int": run_config(cfg, root / "int", data, address, 0),
               "nofilter": run_config(cfg, root / "nofilter", data, address, 0, filtered=False),
               "prefix": run_config(cfg, root / "prefix", data, address, 0,
                                    patch_mode="prefix_alone")}
    val = [to_problem(s) for s in specs["val"]]
    easy = [to_problem(s) for s in specs["easy"]]
    with Resources(configs["int"]) as res:  # mine and collect: prepare_shared
        hard = load_mine_result(stage_dir(base_cfg, "mine")).hard_set

        def sft_data(group: str) -> list[dict[str, Any]]:
            if group == "distill":
                by_id = {to_problem(s).problem_id: s for s in specs["hard_pool"]}
                return distill_examples(AutoTokenizer.from_pretrained(CHECKPOINT_DIR), hard,
                                        by_id, 0)
            source = configs["int"] if group == "prefix" else base_cfg
            stages = ("mine", "collect", "filter") if group == "prefix" else ("mine", "collect")
            _sft_arm(configs[group], source, res, stages)
            return load_patch_dataset(stage_dir(configs[group], "patch"))

        return tune_arms(
            cfg.arms, SFT_GROUP, sft_data,
            lambda arm: [*hard, *easy] if arm in MIXED else hard, configs["int"], cfg.grid,
            cfg.tune_steps, root,
            lambda model, where: evaluate_arm(model, val, configs["int"], where, "val", res,
                                              n=cfg.val_n),
            CHECKPOINT_DIR, res.reward)


def run_seed(cfg: ExperimentConfig, out: Path, address: str, seed: int,
             specs: dict[str, list[ProblemSpec]], choices: dict[str, Choice],
             ) -> tuple[dict[str, dict[str, EvalResult]], dict[str, Any]]:
    """Every arm of one seed; returns the evaluations per set and the InT stages' numbers."""
    from splice.trainer.counterfactual import load_arms, load_scores
    from splice.trainer.mine import load_mine_result
    from splice.trainer.patch import load_patch_dataset
    from splice.trainer.pipeline import Resources, patched_model, run_stage, stage_dir

    data, shared, root = out / "data", out / "shared", out / f"seed{seed}"
    base_cfg = run_config(cfg, shared, data, address, seed=0)
    int_cfg = run_config(cfg, root / "int", data, address, seed)
    if "int_rl" in choices:
        int_cfg = with_choice(int_cfg, choices["int_rl"])
    sets = {name: [to_problem(s) for s in specs[name]] for name in ("test", "easy", "standard")}
    costs: dict[str, dict[str, int]] = {arm: {"sft_tokens": 0, "filter_rollouts": 0}
                                        for arm in ["base", *cfg.arms]}
    with Resources(int_cfg) as res:  # mine and collect: prepare_shared
        hard = load_mine_result(stage_dir(base_cfg, "mine")).hard_set
        sets["hard_train"] = list(hard)
        int_tokens = _sft_arm(int_cfg, base_cfg, res, ("mine", "collect"))
        filter_rollouts = sum(s.samples for s in load_scores(stage_dir(int_cfg, "filter")))
        configs = {"int_rl": int_cfg, "int_rl_mix": int_cfg}
        for arm in ("int_rl", "int_rl_mix"):
            costs[arm] = {"sft_tokens": int_tokens, "filter_rollouts": filter_rollouts}
        if "int_nofilter_rl" in cfg.arms:
            configs["int_nofilter_rl"] = with_choice(run_config(
                cfg, root / "int_nofilter", data, address, seed, filtered=False),
                choices["int_nofilter_rl"])
            costs["int_nofilter_rl"]["sft_tokens"] = _sft_arm(
                configs["int_nofilter_rl"], base_cfg, res, ("mine", "collect"))
        if "prefix_rl" in cfg.arms:  # the same kept candidates as InT, prefix only
            configs["prefix_rl"] = with_choice(run_config(
                cfg, root / "prefix", data, address, seed, patch_mode="prefix_alone"),
                choices["prefix_rl"])
            costs["prefix_rl"] = {"filter_rollouts": filter_rollouts, "sft_tokens": _sft_arm(
                configs["prefix_rl"], int_cfg, res, ("mine", "collect", "filter"))}
        models = {"base": CHECKPOINT_DIR}
        for arm in cfg.arms:
            arm_cfg = with_choice(int_cfg, choices[arm])
            if arm == "standard_rl":
                models[arm] = rl(CHECKPOINT_DIR, [*hard, *sets["easy"]], arm_cfg,
                                 root / "standard_rl", res)
            elif arm == "int_rl_mix":
                models[arm] = rl(patched_model(int_cfg), [*hard, *sets["easy"]], arm_cfg,
                                 root / "int_rl_mix", res)
            elif arm == "distill_rl":
                start, costs[arm]["sft_tokens"] = distill(
                    arm_cfg, hard, specs["hard_pool"], root / "distill", seed)
                models[arm] = rl(start, hard, arm_cfg, root / "distill_rl", res)
            else:
                run_stage(configs[arm], "grpo", resources=res)  # the pipeline: hard set only
                models[arm] = stage_dir(configs[arm], "grpo") / "model"
        evals_dir = root / "eval"
        evals = {"test": {arm: evaluate_arm(m, sets["test"], int_cfg, evals_dir, arm, res)
                          for arm, m in models.items()}}
        for name in ("hard_train", "standard"):
            evals[name] = {arm: evaluate_arm(m, sets[name], int_cfg, evals_dir / name, arm, res,
                                             n=cfg.aux_n) for arm, m in models.items()}
    filt = stage_dir(int_cfg, "filter")
    info = {"table1": load_arms(filt), "kept": sum(s.kept for s in load_scores(filt)),
            "interventions": sum(1 for _ in (stage_dir(int_cfg, "collect") /
                                             "interventions.jsonl").open()),
            "patch_examples": len(load_patch_dataset(stage_dir(int_cfg, "patch"))),
            "hard": len(hard), "easy": len(sets["easy"]), "test": len(sets["test"]),
            "standard": len(sets["standard"]), "costs": costs}
    return evals, info


def _seed_job(cfg: ExperimentConfig, out: Path, address: str, seed: int,
              specs: dict[str, list[ProblemSpec]], choices: dict[str, Choice],
              ) -> tuple[dict[str, dict[str, EvalResult]], dict[str, Any]]:
    """:func:`run_seed` in a worker process, single-threaded like the parent."""
    import torch

    torch.set_num_threads(1)
    return run_seed(cfg, out, address, seed, specs, choices)


def run_seeds(cfg: ExperimentConfig, out: Path, address: str,
              specs: dict[str, list[ProblemSpec]], choices: dict[str, Choice],
              ) -> list[tuple[dict[str, dict[str, EvalResult]], dict[str, Any]]]:
    """Every seed, ``cfg.jobs`` at a time (the shared stages must exist when jobs > 1)."""
    if cfg.jobs <= 1 or len(cfg.seeds) <= 1:
        return [run_seed(cfg, out, address, s, specs, choices) for s in cfg.seeds]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    quiet = dataclasses.replace(cfg, show_progress=False)
    with ProcessPoolExecutor(cfg.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(_seed_job, quiet, out, address, s, specs, choices)
                   for s in cfg.seeds]
        return [f.result() for f in futures]


def prepare_shared(cfg: ExperimentConfig, out: Path, address: str,
                   specs: dict[str, list[ProblemSpec]]) -> None:
    """Mining and interventions, shared by every seed and arm (before seeds run in parallel)."""
    from splice.trainer.pipeline import Resources, run_stage

    base_cfg = run_config(cfg, out / "shared", out / "data", address, seed=0)
    with Resources(base_cfg) as res:
        run_stage(base_cfg, "mine", resources=res)
        run_collect(base_cfg, specs["hard_pool"])


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run_experiment(cfg: ExperimentConfig, out: Path) -> dict[str, Any]:
    """Problem sets → server → every seed's arms → results.json, pass_at_k.png, report.md."""
    import torch
    from splice.server.testing import start_server_process
    from splice.trainer.worlds.arith.experiment_report import (
        arm_summary,
        aux_summary,
        bootstrap_pass,
        write_outputs,
    )

    torch.set_num_threads(1)
    started, commit = time.monotonic(), _commit()  # the code the run starts with
    verify_checkpoint()
    out = out.resolve()  # the server runs in its own working directory
    out.mkdir(parents=True, exist_ok=True)
    specs = problem_sets(cfg)
    (out / "data").mkdir(exist_ok=True)
    for name, group in specs.items():
        write_jsonl(out / "data" / f"{name}.jsonl", [to_problem(s) for s in group])
    server = start_server_process({"oracles": ORACLES, "default_oracle": "world"},
                                  out / "server")
    try:
        prepare_shared(cfg, out, server.address, specs)
        choices = (run_tuning(cfg, out, server.address, specs) if cfg.tune
                   else default_choices(cfg))
        per_seed = run_seeds(cfg, out, server.address, specs, choices)
    finally:
        server.terminate()
    arms = ["base", *cfg.arms]
    runs = {arm: [evals["test"][arm] for evals, _ in per_seed] for arm in arms}
    info = per_seed[0][1]
    k = cfg.decision_k or cfg.eval_n
    diff = bootstrap_pass(runs["int_rl"], k, minus=runs["standard_rl"],
                          bootstrap=cfg.bootstrap)
    versus = {ARM_NAMES[a]: bootstrap_pass(runs[a], k, minus=runs["standard_rl"],
                                           bootstrap=cfg.bootstrap)
              for a in arms if a != "standard_rl"}
    aux = {name: {ARM_NAMES[a]: aux_summary([evals[name][a] for evals, _ in per_seed])
                  for a in arms} for name in ("hard_train", "standard")}
    results: dict[str, Any] = {
        "label": cfg.label, "config": dataclasses.asdict(cfg), "commit": commit,
        "arms": {ARM_NAMES[a]: arm_summary(runs[a], cfg.bootstrap, 0.95) for a in arms},
        "diff": {"minuend": INT, "subtrahend": STANDARD, "k": k, **diff},
        "versus_standard": versus, "aux": aux, "tuned": cfg.tune,
        "choices": {ARM_NAMES[a]: {**dataclasses.asdict(c), **(
            {} if a in SFT_GROUP else {"sft_lr": None, "sft_epochs": None})}
            for a, c in choices.items()},
        "costs": {ARM_NAMES[a]: c for a, c in info["costs"].items()},
        "sets": {"hard_pool": len(specs["hard_pool"]), "hard": info["hard"],
                 "easy": info["easy"], "test": info["test"], "standard": info["standard"]},
        "rl_budget": f"{cfg.grpo_steps} GRPO steps × {cfg.grpo_prompts} prompts × "
                     f"{cfg.grpo_generations} generations",
        "table1": info["table1"], "kept": info["kept"], "interventions": info["interventions"],
        "patch_examples": info["patch_examples"], "wall_s": time.monotonic() - started,
    }
    write_outputs(results, out, cfg.show_progress)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="demo")
    parser.add_argument("--full", action="store_true", help="same as --preset full")
    parser.add_argument("--run-dir", type=Path, default=None)
    parser.add_argument("--jobs", type=int, default=None,
                        help="seeds run in parallel processes (default: the preset's)")
    args = parser.parse_args(argv)
    preset = "full" if args.full else args.preset
    cfg = PRESETS[preset]
    if args.jobs is not None:
        cfg = dataclasses.replace(cfg, jobs=args.jobs)
    run_experiment(cfg, args.run_dir or Path("runs") / preset)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
