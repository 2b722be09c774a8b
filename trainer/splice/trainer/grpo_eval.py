"""pass@k on a held-out set during GRPO (Fig. 7): a TRL/transformers callback.

Every ``every`` optimizer steps the current policy samples ``n`` completions per held-out
problem (transformers ``generate``, as :class:`TransformersEngine`) and the unbiased pass@k
for k = 1..n is appended to the trainer's log history (``grpo_log.jsonl``) as one row
``{"step", "eval/pass@1", ..., "eval/solved"}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from splice.trainer.evaluate import EvalConfig, evaluate
from splice.trainer.hf_engine import TransformersEngine
from splice.trainer.records import Problem
from splice.trainer.rewards import RewardWorker
from transformers import TrainerCallback


class PassAtKCallback(TrainerCallback):
    """Held-out pass@k every ``every`` steps (on the main process only)."""

    def __init__(self, problems: Sequence[Problem], tokenizer: Any, reward: RewardWorker,
                 every: int, config: EvalConfig) -> None:
        if every < 1:
            raise ValueError(f"eval_every must be >= 1, got {every}")
        self.problems, self.tokenizer, self.reward = list(problems), tokenizer, reward
        self.every, self.config = every, config

    def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None,
                    **kwargs: Any) -> Any:
        if model is None or state.global_step % self.every or not state.is_world_process_zero:
            return control
        state.log_history.append({"step": state.global_step, **self.measure(model)})
        return control

    def measure(self, model: Any) -> dict[str, float]:
        """pass@k of ``model`` now (eval mode while sampling, training mode restored)."""
        training = model.training
        model.eval()
        try:
            engine = TransformersEngine(model, self.tokenizer,
                                        max_batch_size=self.config.problems_per_batch *
                                        self.config.n)
            result = evaluate(self.problems, engine, self.reward, self.config,
                              show_progress=False)
        finally:
            model.train(training)
        return {**{f"eval/pass@{k}": v for k, v in sorted(result.pass_at.items())},
                "eval/solved": float(result.solved_at_least_once)}
