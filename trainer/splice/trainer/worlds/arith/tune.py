"""Per-arm tuning on a validation split, with the same budget for every arm.

The pre-registered grid (docs/preregistration.md): SFT lr × SFT epochs for the arms that
start with an SFT stage, chosen by validation pass@k right after SFT (cheap: no RL); then the
GRPO lr, one short GRPO run (``tune_steps`` steps, the arm's prompts × generations) per grid
value and arm from the arm's chosen start, chosen by validation pass@k. Every arm gets the
same number of GRPO trials of the same size; the SFT trials are the SFT arms' extra cost.
Ties go to the first value of the grid. Tuning uses seed 0; every seed of the comparison then
runs with the chosen values.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from splice.trainer.config import RunConfig
from splice.trainer.evaluate import EvalResult, pass_at_k
from splice.trainer.records import Problem
from splice.trainer.rewards import RewardWorker

CHOICES = "choices.json"


@dataclasses.dataclass(frozen=True)
class Choice:
    """Hyper-parameters of one arm (``sft_*`` unused by arms without SFT)."""

    sft_lr: float
    sft_epochs: float
    grpo_lr: float


def score(result: EvalResult) -> float:
    """The tuning criterion: mean pass@n over the validation problems."""
    counts = list(result.correct.values())
    return sum(pass_at_k(result.n, c, result.n) for c in counts) / max(1, len(counts))


def best(candidates: Sequence[Any], scores: Sequence[float]) -> Any:
    """The candidate with the highest score; the first one on a tie."""
    top = max(scores)
    return candidates[list(scores).index(top)]


def with_choice(config: RunConfig, choice: Choice) -> RunConfig:
    """``config`` with the arm's SFT and GRPO values."""
    return dataclasses.replace(
        config, sft=dataclasses.replace(config.sft, learning_rate=choice.sft_lr,
                                        num_train_epochs=choice.sft_epochs),
        grpo=dataclasses.replace(config.grpo, learning_rate=choice.grpo_lr))


def tune_arms(arms: Sequence[str], sft_group: dict[str, str],
              sft_data: Callable[[str], list[dict[str, Any]]],
              rl_problems: Callable[[str], Sequence[Problem]], config: RunConfig,
              grid: dict[str, list[float]], tune_steps: int, out: Path,
              evaluate_on_val: Callable[[Path, Path], EvalResult], start: Path,
              worker: RewardWorker) -> dict[str, Choice]:
    """Choose every arm's values on the validation split (cached in ``out/choices.json``).

    ``sft_group[arm]``: the name of the arm's SFT data (arms that share it share the SFT
    choice); an arm missing from it has no SFT. ``sft_data(group)``: its examples.
    ``evaluate_on_val(model, cache_dir)``: the model's validation evaluation.
    """
    from splice.trainer.grpo import train_grpo
    from splice.trainer.sft import train_patch

    if (out / CHOICES).exists():
        return {a: Choice(**c) for a, c in json.loads((out / CHOICES).read_text()).items()}
    log: list[dict[str, Any]] = []
    sft_chosen: dict[str, tuple[Path, float, float]] = {}
    for group in dict.fromkeys(sft_group[a] for a in arms if a in sft_group):
        examples = sft_data(group)
        grid_sft = [(lr, ep) for lr in grid["sft_lr"] for ep in grid["sft_epochs"]]
        trials = []
        for lr, ep in grid_sft:
            where = out / "sft" / group / f"lr{lr:g}_ep{ep:g}"
            if not (where / "model" / "config.json").exists():
                train_patch(start, examples, dataclasses.replace(
                    config.sft, learning_rate=lr, num_train_epochs=ep), where)
            trials.append(score(evaluate_on_val(where / "model", where)))
            log.append({"sft": group, "sft_lr": lr, "sft_epochs": ep, "val": trials[-1]})
        lr, ep = best(grid_sft, trials)
        sft_chosen[group] = (out / "sft" / group / f"lr{lr:g}_ep{ep:g}" / "model", lr, ep)
    choices: dict[str, Choice] = {}
    for arm in arms:
        model, sft_lr, sft_epochs = sft_chosen.get(
            sft_group.get(arm, ""), (start, config.sft.resolved_lr(),
                                     config.sft.num_train_epochs))
        scores = []
        for lr in grid["grpo_lr"]:
            where = out / "grpo" / arm / f"lr{lr:g}"
            grpo = dataclasses.replace(config.grpo, learning_rate=lr, max_steps=tune_steps)
            if not (where / "model" / "config.json").exists():
                train_grpo(model, rl_problems(arm), grpo, where, worker)
            scores.append(score(evaluate_on_val(where / "model", where)))
            log.append({"arm": arm, "grpo_lr": lr, "val": scores[-1]})
        choices[arm] = Choice(sft_lr, sft_epochs, best(grid["grpo_lr"], scores))
    (out / "tune_log.json").write_text(json.dumps(log, indent=2))
    (out / CHOICES).write_text(json.dumps({a: dataclasses.asdict(c) for a, c in
                                           choices.items()}, indent=2))
    return choices
