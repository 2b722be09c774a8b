"""RL after patching (§4.3, Algorithm 1 line 12): TRL ``GRPOTrainer`` on the hard set.

Defaults are App. C Table 3 (e3-1.7B), written in verl's terms and mapped to TRL:

=========================  ========  ===========================================================
verl (Table 3)             value     TRL ``GRPOConfig``
=========================  ========  ===========================================================
train_batch_size           32        prompts per generation batch:
                                     ``steps_per_generation`` = 32·n / (per-device batch · GPUs)
ppo_mini_batch_size        16        prompts per optimizer step: ``gradient_accumulation_steps``
                                     = 16·n / (per-device batch · GPUs) → 2 updates per batch
rollout.n                  16        ``num_generations``
learning_rate              1e-6      ``learning_rate``
kl_loss_coef               0.001     ``beta`` (both use the k3 / "low_var_kl" estimator)
entropy_coeff              0.001     ``entropy_coef``
temperature, top_p         0.6, .95  ``temperature``, ``top_p``
ppo lower / higher clip    0.2, .35  ``epsilon``, ``epsilon_high`` (clip-higher)
ppo_epochs                 1         ``num_iterations`` = 1
loss_agg_mode token-mean   -         ``loss_type="dapo"`` (token mean over the global batch)
norm_adv_by_std_in_grpo    True      ``scale_rewards="group"``
=========================  ========  ===========================================================

Logged every step (``grpo_log.jsonl``): reward, ``frac_reward_zero_std`` (the zero-advantage
ratio of Fig. 8c), entropy, kl, completion length; with ``eval_every`` > 0, held-out pass@k
(Fig. 7, :mod:`splice.trainer.grpo_eval`). Generation uses transformers on a CPU or
one GPU; ``use_vllm`` hands it to vLLM where installed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from splice.trainer.records import Problem, write_jsonl
from splice.trainer.rewards import MathReward, RewardWorker

LOGGED = ("reward", "frac_reward_zero_std", "entropy", "kl", "completions/mean_length")


@dataclass
class GRPOStageConfig:
    """GRPO hyper-parameters in verl's terms (App. C Table 3), mapped to TRL in ``to_trl``."""

    train_batch_size: int = 32
    ppo_mini_batch_size: int = 16
    rollout_n: int = 16
    learning_rate: float = 1.0e-6
    kl_loss_coef: float = 0.001
    entropy_coeff: float = 0.001
    temperature: float = 0.6
    top_p: float = 0.95
    clip_low: float = 0.2
    clip_high: float = 0.35
    per_device_train_batch_size: int = 16
    max_completion_length: int = 32768
    max_steps: int = -1
    num_train_epochs: float = 1.0
    use_lora: bool = False
    use_vllm: bool = False
    bf16: bool | None = None
    seed: int = 0
    logging_steps: int = 1
    reward_timeout_s: float = 5.0
    eval_every: int = 0
    eval_n: int = 4
    eval_max_tokens: int = 1024
    held_out: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_trl(self, output_dir: Path, world_size: int = 1) -> Any:
        """The TRL ``GRPOConfig``."""
        from trl import GRPOConfig  # type: ignore[attr-defined]

        per_step = self.per_device_train_batch_size * world_size
        mini = self.ppo_mini_batch_size * self.rollout_n
        batch = self.train_batch_size * self.rollout_n
        if mini % per_step or batch % per_step:
            raise ValueError(f"per-device batch {self.per_device_train_batch_size} × {world_size} "
                             f"must divide {mini} (mini batch) and {batch} (train batch)")
        bf16 = self.bf16 if self.bf16 is not None else bool(
            torch.cuda.is_available() and torch.cuda.is_bf16_supported())
        return GRPOConfig(
            output_dir=str(output_dir), learning_rate=self.learning_rate,
            num_generations=self.rollout_n,
            per_device_train_batch_size=self.per_device_train_batch_size,
            gradient_accumulation_steps=mini // per_step, steps_per_generation=batch // per_step,
            num_iterations=1, beta=self.kl_loss_coef, entropy_coef=self.entropy_coeff,
            temperature=self.temperature, top_p=self.top_p, epsilon=self.clip_low,
            epsilon_high=self.clip_high, loss_type="dapo", scale_rewards="group",
            max_completion_length=self.max_completion_length, max_steps=self.max_steps,
            num_train_epochs=self.num_train_epochs, use_vllm=self.use_vllm, bf16=bf16,
            use_cpu=not torch.cuda.is_available(), report_to="none", save_strategy="no",
            logging_steps=self.logging_steps, seed=self.seed, **self.extra,
        )


def grpo_dataset(problems: Sequence[Problem]) -> Any:
    """Conversational prompts with the reference answer as a column for the reward."""
    from datasets import Dataset  # type: ignore[import-untyped]

    return Dataset.from_list([{"prompt": [{"role": "user", "content": p.problem}],
                               "reference_answer": p.reference_answer,
                               "problem_id": p.problem_id} for p in problems])


def build_grpo_trainer(model: Any, tokenizer: Any, problems: Sequence[Problem],
                       config: GRPOStageConfig, output_dir: Path,
                       reward: MathReward | None = None) -> Any:
    """A TRL ``GRPOTrainer`` on ``problems`` with the math-verify reward."""
    from accelerate import PartialState  # type: ignore[import-untyped]
    from trl import GRPOTrainer  # type: ignore[attr-defined]

    # under ``accelerate launch`` the global batch is split over the processes (gloo on CPUs,
    # as ``to_trl``'s ``use_cpu``: the first PartialState of a process fixes its backend)
    world_size = PartialState(cpu=not torch.cuda.is_available()).num_processes
    peft_config = None
    if config.use_lora:
        from peft import LoraConfig

        peft_config = LoraConfig(r=16, lora_alpha=32, target_modules="all-linear",
                                 task_type="CAUSAL_LM")
    reward_func: Any = reward or MathReward(config.reward_timeout_s)
    return GRPOTrainer(model=model, reward_funcs=[reward_func],
                       args=config.to_trl(output_dir, world_size),
                       train_dataset=grpo_dataset(problems), processing_class=tokenizer,
                       peft_config=peft_config)


def train_grpo(model_path: Path, problems: Sequence[Problem], config: GRPOStageConfig,
               out_dir: Path, worker: RewardWorker | None = None,
               held_out: Sequence[Problem] = ()) -> Path:
    """GRPO from ``model_path``; saves the model to ``out_dir/model`` and the step log.

    ``worker``: a running reward worker to share (one is started and stopped otherwise).
    ``held_out``: problems of the pass@k log every ``config.eval_every`` steps.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if config.eval_every > 0 and not held_out:
        raise ValueError("grpo.eval_every needs held-out problems (grpo.held_out)")
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    model = AutoModelForCausalLM.from_pretrained(model_path)
    reward = MathReward(config.reward_timeout_s, worker=worker)
    try:
        trainer = build_grpo_trainer(model, tokenizer, problems, config,
                                     out_dir / "checkpoints", reward)
        if config.eval_every > 0:
            from splice.trainer.evaluate import EvalConfig
            from splice.trainer.grpo_eval import PassAtKCallback

            trainer.add_callback(PassAtKCallback(
                held_out, tokenizer, reward.worker, config.eval_every,
                EvalConfig(n=config.eval_n, max_tokens=config.eval_max_tokens,
                           temperature=config.temperature, top_p=config.top_p, bootstrap=0)))
        trainer.train()
    finally:
        if worker is None:
            reward.close()
    target = out_dir / "model"
    if not trainer.accelerator.is_main_process:  # one writer under ``accelerate launch``
        return target
    trained = trainer.model
    if config.use_lora:
        trained = trained.merge_and_unload()
    trained.save_pretrained(target)
    tokenizer.save_pretrained(target)
    write_jsonl(out_dir / "grpo_log.jsonl", trainer.state.log_history)
    return target


def step_metrics(log_history: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The per-step metrics that matter for InT (reward, zero-advantage ratio, ...)."""
    return [{"step": row.get("step"), **{k: row[k] for k in LOGGED if k in row}}
            for row in log_history if "reward" in row]
