"""Build the arith world's base policy from scratch: tokenizer, tiny Qwen2, full fine-tuning.

The policy learns the policy-style solutions (:func:`.solutions.policy_solution`) of
``TRAIN``-mix problems, loss on the completion only. Everything is drawn from ``seed``: the
problems, the tokenizer's corpus, the initial weights and the batch order. With
``torch.use_deterministic_algorithms`` and a fixed thread count, two builds on the same
machine, with the same thread count and library versions, give bit-identical weights; other
thread counts or CPUs may differ in the last bits (float summation order).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from splice.trainer.tiny import IM_END, IM_START, build_tokenizer
from splice.trainer.worlds.arith.generate import TRAIN, WorldConfig, generate
from splice.trainer.worlds.arith.solutions import policy_solution
from splice.trainer.worlds.arith.spec import ProblemSpec, StepType
from splice.trainer.worlds.arith.text import render_problem
from transformers import GenerationConfig, PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

EVAL_SEED_OFFSET = 1_000_003
"""Held-out problems are drawn from ``seed + EVAL_SEED_OFFSET`` (and deduplicated)."""


@dataclass(frozen=True)
class BuildConfig:
    """Everything that determines the base policy (recorded in the manifest)."""

    seed: int = 0
    world: WorldConfig = TRAIN
    n_problems: int = 48_000
    vocab_size: int = 512
    hidden_size: int = 128
    num_layers: int = 4
    num_heads: int = 4
    num_kv_heads: int = 2
    intermediate_size: int = 512
    max_positions: int = 512
    steps: int = 3000
    batch_size: int = 16
    lr: float = 2e-3
    min_lr_ratio: float = 0.1
    warmup_steps: int = 100
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    threads: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready description (the world's mix keyed by step type name)."""
        out = asdict(self)
        out["world"] = {**asdict(self.world),
                        "mix": {str(k): v for k, v in self.world.mix.items()}}
        return out


def chat_text(problem: str, solution: str | None = None) -> str:
    """The chat-formatted prompt (user turn + generation prompt), plus the completion."""
    prompt = f"{IM_START}user\n{problem}{IM_END}\n{IM_START}assistant\n"
    return prompt if solution is None else f"{prompt}{solution}{IM_END}\n"


def train_problems(config: BuildConfig) -> list[ProblemSpec]:
    """The training problems: ``n_problems`` draws from ``config.world`` by ``seed``."""
    rng = random.Random(config.seed)
    return [generate(rng, config.world) for _ in range(config.n_problems)]


def held_out(count: int, world: WorldConfig, exclude: Sequence[ProblemSpec],
             seed: int = 0) -> list[ProblemSpec]:
    """``count`` distinct problems of ``world`` that are not in ``exclude`` (by their ops)."""
    seen = {(s.start, tuple((o.kind, o.operand) for o in s.ops)) for s in exclude}
    rng = random.Random(seed + EVAL_SEED_OFFSET)
    out: list[ProblemSpec] = []
    while len(out) < count:
        spec = generate(rng, world)
        key = (spec.start, tuple((o.kind, o.operand) for o in spec.ops))
        if key not in seen:
            seen.add(key)
            out.append(spec)
    return out


def encode(tokenizer: PreTrainedTokenizerFast, spec: ProblemSpec) -> tuple[list[int], int]:
    """Token ids of one training example and the length of its prompt (no loss there)."""
    problem = render_problem(spec)
    prompt = tokenizer(chat_text(problem))["input_ids"]
    ids = tokenizer(chat_text(problem, policy_solution(spec)))["input_ids"]
    if ids[:len(prompt)] != prompt:
        raise RuntimeError("prompt tokens differ alone and in context; fix the pre-tokenizer")
    return ids[:-1], len(prompt)  # drop the trailing "\n": generation stops at <|im_end|>


def build_model(tokenizer: PreTrainedTokenizerFast, config: BuildConfig) -> Qwen2ForCausalLM:
    """A randomly initialised tiny Qwen2 (weights drawn from ``config.seed``)."""
    eos = [tokenizer.vocab[IM_END], tokenizer.pad_token_id]
    model_config = Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=config.hidden_size,
        intermediate_size=config.intermediate_size, num_hidden_layers=config.num_layers,
        num_attention_heads=config.num_heads, num_key_value_heads=config.num_kv_heads,
        max_position_embeddings=config.max_positions, tie_word_embeddings=True,
        bos_token_id=None, eos_token_id=eos[0], pad_token_id=tokenizer.pad_token_id,
        dtype="float32",
    )
    torch.manual_seed(config.seed)
    model = Qwen2ForCausalLM(model_config)
    model.generation_config = GenerationConfig(  # type: ignore[no-untyped-call]
        eos_token_id=eos, pad_token_id=tokenizer.pad_token_id, do_sample=True,
        temperature=1.0, max_new_tokens=160,
    )
    return model


def _batch(rows: list[tuple[list[int], int]], pad: int) -> tuple[torch.Tensor, ...]:
    width = max(len(ids) for ids, _ in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    labels = torch.full_like(ids, -100)
    mask = torch.zeros_like(ids)
    for r, (x, prompt) in enumerate(rows):
        ids[r, :len(x)] = torch.tensor(x)
        mask[r, :len(x)] = 1
        labels[r, prompt:len(x)] = ids[r, prompt:len(x)]
    return ids, mask, labels


def lr_at(step: int, config: BuildConfig) -> float:
    """Linear warm-up, then cosine decay to ``min_lr_ratio`` of the peak."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    floor = config.min_lr_ratio
    return config.lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


Callback = Callable[[int, float, float], None]
Monitor = Callable[[int, Qwen2ForCausalLM, PreTrainedTokenizerFast], None]


def train(config: BuildConfig, on_step: Callback | None = None, monitor: Monitor | None = None,
          monitor_every: int = 200,
          ) -> tuple[Qwen2ForCausalLM, PreTrainedTokenizerFast, dict[str, Any]]:
    """Build and train the policy; returns (model, tokenizer, training statistics).

    ``on_step(step, loss, tokens_per_s)`` is called after every optimizer step and
    ``monitor(step, model, tokenizer)`` every ``monitor_every`` steps (it must not draw
    random numbers: the build stays deterministic).
    """
    threads, strict = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(config.threads)
    torch.use_deterministic_algorithms(True)
    try:
        return _train(config, on_step, monitor, monitor_every)
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(strict)


def _train(config: BuildConfig, on_step: Callback | None, monitor: Monitor | None,
           monitor_every: int) -> tuple[Qwen2ForCausalLM, PreTrainedTokenizerFast, dict[str, Any]]:
    specs = train_problems(config)
    corpus = [chat_text(render_problem(s), policy_solution(s)) for s in specs[:4000]]
    tokenizer = build_tokenizer(corpus, vocab_size=config.vocab_size)
    tokenizer.model_max_length = config.max_positions
    data = [encode(tokenizer, s) for s in specs]
    if max(len(ids) for ids, _ in data) > config.max_positions:
        raise ValueError("a training example is longer than max_positions")
    model = build_model(tokenizer, config)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    optim = torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                               {"params": no_decay, "weight_decay": 0.0}],
                              lr=config.lr, betas=(0.9, 0.98))
    gen = torch.Generator().manual_seed(config.seed)
    order = torch.randperm(len(data), generator=gen).tolist()
    pad = int(tokenizer.pad_token_id)
    model.train()
    start, tokens, loss_value, cursor = time.perf_counter(), 0, float("nan"), 0
    for step in range(config.steps):
        if cursor + config.batch_size > len(order):
            order, cursor = torch.randperm(len(data), generator=gen).tolist(), 0
        rows = [data[i] for i in order[cursor:cursor + config.batch_size]]
        cursor += config.batch_size
        ids, mask, labels = _batch(rows, pad)
        for group in optim.param_groups:
            group["lr"] = lr_at(step, config)
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optim.step()
        optim.zero_grad(set_to_none=True)
        tokens += int(mask.sum())
        loss_value = float(loss.detach())
        if on_step is not None:
            on_step(step, loss_value, tokens / (time.perf_counter() - start))
        if monitor is not None and (step + 1) % monitor_every == 0:
            model.eval()  # type: ignore[no-untyped-call]
            monitor(step + 1, model, tokenizer)
            model.train()
    model.eval()  # type: ignore[no-untyped-call]
    wall = time.perf_counter() - start
    stats = {"final_loss": loss_value, "train_tokens": tokens, "train_wall_s": round(wall, 1),
             "tokens_per_s": round(tokens / wall, 1),
             "epochs": round(config.steps * config.batch_size / len(data), 3)}
    return model, tokenizer, stats


@torch.no_grad()
def step_accuracy(model: Qwen2ForCausalLM, tokenizer: PreTrainedTokenizerFast,
                  specs: Sequence[ProblemSpec], batch_size: int = 64) -> dict[str, float]:
    """Teacher-forced accuracy of each step's result, by step type (greedy next tokens).

    A step counts as right when the argmax of every token of its result (after ``=``) and
    the line break after it is the reference's, given the reference before it. Cheap: one
    forward pass per batch, no sampling.
    """
    hits: dict[str, list[int]] = {str(t): [0, 0] for t in StepType}
    pad = int(tokenizer.pad_token_id)
    for lo in range(0, len(specs), batch_size):
        chunk = specs[lo:lo + batch_size]
        rows = [encode(tokenizer, s) for s in chunk]
        ids, mask, _ = _batch(rows, pad)
        pred = model(input_ids=ids, attention_mask=mask).logits.argmax(-1)
        for r, (spec, (x, prompt)) in enumerate(zip(chunk, rows, strict=True)):
            text_ids = x[prompt:]
            offsets = _result_spans(tokenizer, text_ids)
            for kind, (a, b) in zip(spec.step_types(), offsets, strict=False):
                ok = all(int(pred[r, prompt + k - 1]) == text_ids[k] for k in range(a, b))
                hits[str(kind)][0] += ok
                hits[str(kind)][1] += 1
    return {k: round(h / n, 3) for k, (h, n) in hits.items() if n}


def _result_spans(tokenizer: PreTrainedTokenizerFast, ids: list[int]) -> list[tuple[int, int]]:
    """Token spans (within the completion) of each claim's result and the break after it."""
    pieces = [tokenizer.decode([t]) for t in ids]
    spans, start = [], None
    for k, piece in enumerate(pieces):
        if "=" in piece:
            start = k + 1
        elif start is not None and "\n" in piece:
            spans.append((start, k + 1))
            start = None
    return spans


def build(out_dir: Path, config: BuildConfig, on_step: Callback | None = None,
          provenance: dict[str, Any] | None = None, monitor: Monitor | None = None,
          ) -> dict[str, Any]:
    """Train the policy, save it (fp32 safetensors) to ``out_dir`` and write its manifest."""
    import tokenizers
    import transformers
    from splice.trainer.worlds.arith.policy import write_manifest

    began = time.perf_counter()
    model, tokenizer, stats = train(config, on_step, monitor)
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.iterdir():
        if old.is_file():
            old.unlink()
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    info = {
        "name": "arith-base-policy", "build": config.as_json(), "data_size": config.n_problems,
        "training": stats, "wall_s": round(time.perf_counter() - began, 1),
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                     "tokenizers": tokenizers.__version__},
        "parameters": sum(p.numel() for p in model.parameters()),
        "determinism": ("bit-identical for the same seed, machine, thread count and library "
                        "versions (torch.use_deterministic_algorithms)"),
        **(provenance or {}),
    }
    return write_manifest(out_dir, info)
