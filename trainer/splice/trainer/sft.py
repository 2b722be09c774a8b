"""Patching (Algorithm 1, line 11): SFT on the patch dataset through TRL's ``SFTTrainer``.

Loss on the completion only (TRL's ``completion_only_loss`` over our ``completion_mask``);
LoRA (peft) or full fine-tuning. Defaults follow App. C Table 4 (InT column, e3-1.7B):
effective batch 64, 16 epochs, lr 1e-6 for full fine-tuning (LoRA gets 1e-4: adapters
start at zero and need a larger step), ``cosine_with_min_lr`` with ``min_lr_rate`` 0.1,
warmup ratio 0.1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

FULL_FT_LR, LORA_LR = 1.0e-6, 1.0e-4


@dataclass
class SFTStageConfig:
    """Hyper-parameters of the patching SFT (App. C Table 4)."""

    use_lora: bool = True
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    target_modules: list[str] | str = "all-linear"
    learning_rate: float | None = None
    num_train_epochs: float = 16
    max_steps: int = -1
    effective_batch_size: int = 64
    per_device_train_batch_size: int = 8
    lr_scheduler_type: str = "cosine_with_min_lr"
    min_lr_rate: float = 0.1
    warmup_ratio: float = 0.1
    max_length: int | None = None
    seed: int = 0
    bf16: bool | None = None
    logging_steps: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    def resolved_lr(self) -> float:
        if self.learning_rate is not None:
            return self.learning_rate
        return LORA_LR if self.use_lora else FULL_FT_LR


def _bf16(flag: bool | None) -> bool:
    if flag is not None:
        return flag
    return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())


def build_sft_trainer(model: Any, tokenizer: Any, examples: Sequence[dict[str, Any]],
                      config: SFTStageConfig, output_dir: Path) -> Any:
    """A TRL ``SFTTrainer`` over pre-tokenized examples (input_ids + completion_mask)."""
    from datasets import Dataset  # type: ignore[import-untyped]
    from trl import SFTConfig, SFTTrainer  # type: ignore[attr-defined]

    rows = [{"input_ids": e["input_ids"], "completion_mask": e["completion_mask"]}
            for e in examples]
    accumulation = max(1, config.effective_batch_size // config.per_device_train_batch_size)
    args = SFTConfig(
        output_dir=str(output_dir), learning_rate=config.resolved_lr(),
        num_train_epochs=config.num_train_epochs, max_steps=config.max_steps,
        per_device_train_batch_size=config.per_device_train_batch_size,
        gradient_accumulation_steps=accumulation,
        lr_scheduler_type=config.lr_scheduler_type,
        lr_scheduler_kwargs={"min_lr_rate": config.min_lr_rate}
        if config.lr_scheduler_type == "cosine_with_min_lr" else None,
        warmup_steps=config.warmup_ratio, completion_only_loss=True,
        max_length=config.max_length, packing=False, bf16=_bf16(config.bf16),
        use_cpu=not torch.cuda.is_available(), report_to="none", save_strategy="no",
        logging_steps=config.logging_steps, seed=config.seed, dataset_num_proc=None,
        **config.extra,
    )
    peft_config = None
    if config.use_lora:
        from peft import LoraConfig

        peft_config = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha,
                                 lora_dropout=config.lora_dropout,
                                 target_modules=config.target_modules, task_type="CAUSAL_LM")
    return SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows),
                      processing_class=tokenizer, peft_config=peft_config)


def train_patch(model_path: Path, examples: Sequence[dict[str, Any]], config: SFTStageConfig,
                out_dir: Path) -> Path:
    """Patch the policy at ``model_path``; saves the (LoRA-merged) model to ``out_dir/model``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    model = AutoModelForCausalLM.from_pretrained(model_path)
    trainer = build_sft_trainer(model, tokenizer, examples, config, out_dir / "checkpoints")
    trainer.train()
    target = out_dir / "model"
    # under ``accelerate launch`` every rank trains; only the main process writes files
    if not trainer.accelerator.is_main_process:
        return target
    trained = trainer.model
    if config.use_lora:
        trained.save_pretrained(out_dir / "adapter")
        trained = trained.merge_and_unload()
    trained.save_pretrained(target)
    tokenizer.save_pretrained(target)
    _save_log(trainer, out_dir)
    return target


def _save_log(trainer: Any, out_dir: Path) -> None:
    from splice.trainer.records import write_jsonl

    write_jsonl(out_dir / "train_log.jsonl", trainer.state.log_history)
