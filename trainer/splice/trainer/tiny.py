"""Tiny models for tests: a byte-level BPE tokenizer and a Qwen2 model built from scratch.

Nothing is downloaded. The toy domain is two-digit multiplication written in the step format
that the symbolic oracle checks ("We need $a \\times b$." / "$a \\times b = p$." /
"So $\\boxed{p}$."). A short pretraining teaches the model the format and to copy the
product of the claim into the box, but not to multiply: its rollouts fail with a flagged
arithmetic error, and a corrected claim (an intervention) makes it answer correctly.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import GenerationConfig, PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

ENDOFTEXT, IM_START, IM_END = "<|endoftext|>", "<|im_start|>", "<|im_end|>"
THINK_TOKENS = ("<think>", "</think>")
# Qwen2's pre-tokenizer (single digits, so numbers copy token by token), except that
# punctuation does not absorb the newlines after it: a step then tokenizes the same alone as
# in context. No merge crosses that boundary, so Qwen2Tokenizer's own regex, which
# AutoTokenizer substitutes for model_type qwen2, encodes every text the same way.
PRETOKENIZE_REGEX = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+"""
    r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{%- set content = message['content'] %}"
    "{%- if message['role'] == 'assistant' and '</think>' in content %}"
    "{%- set content = content.split('</think>')[-1].lstrip('\\n') %}"
    "{%- endif %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + content + '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}"
    "{%- if enable_thinking is defined and not enable_thinking %}"
    "{{- '<think>\\n\\n</think>\\n\\n' }}{%- endif %}"
    "{%- endif %}"
)
"""Qwen-style ChatML; past reasoning is dropped from history; ``enable_thinking=False`` opens
an empty think block."""


@dataclass(frozen=True)
class ToyProblem:
    """One multiplication problem of the toy domain."""

    a: int
    b: int

    @property
    def problem_id(self) -> str:
        return f"mul-{self.a}-{self.b}"

    @property
    def problem(self) -> str:
        return f"What is {self.a} times {self.b}?"

    @property
    def answer(self) -> str:
        return str(self.a * self.b)

    def solution(self, product: int | None = None) -> str:
        """The three-step solution; a wrong ``product`` gives a failed rollout."""
        p = self.a * self.b if product is None else product
        return (f"We need ${self.a} \\times {self.b}$.\n\n${self.a} \\times {self.b} = {p}$."
                f"\n\nSo $\\boxed{{{p}}}$.")


def toy_problems(count: int, seed: int = 0, low: int = 10, high: int = 31) -> list[ToyProblem]:
    """``count`` distinct problems with factors in ``[low, high]`` (3-digit products)."""
    pairs = [(a, b) for a in range(low, high + 1) for b in range(low, high + 1)]
    random.Random(seed).shuffle(pairs)
    return [ToyProblem(a, b) for a, b in pairs[:count]]


def toy_patch_examples(tokenizer: Any, count: int, seed: int = 5) -> list[dict[str, Any]]:
    """Pre-tokenized correct toy solutions (prompt masked out): a stand-in SFT patch set."""
    from splice.trainer.engine import prompt_ids

    examples = []
    for p in toy_problems(count, seed=seed):
        prompt = prompt_ids(tokenizer, p.problem)
        completion = tokenizer(p.solution())["input_ids"]
        examples.append({"input_ids": prompt + completion,
                         "completion_mask": [0] * len(prompt) + [1] * len(completion)})
    return examples


def _chat(problem: str, answer: str) -> str:
    return f"{IM_START}user\n{problem}{IM_END}\n{IM_START}assistant\n{answer}{IM_END}\n"


def _corpus(seed: int, size: int) -> list[str]:
    rng = random.Random(seed)
    texts = []
    for _ in range(size):
        p = ToyProblem(rng.randint(10, 31), rng.randint(10, 31))
        # mostly correct products; some near misses keep the model from trusting its guess
        product = p.a * p.b if rng.random() < 0.5 else rng.randint(100, 961)
        texts.append(_chat(p.problem, p.solution(product)))
    return texts


def build_tokenizer(texts: list[str], vocab_size: int = 320) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer (Qwen2 pipeline) trained on ``texts``, with a chat template."""
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    specials = [ENDOFTEXT, IM_START, IM_END]
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=specials, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(texts, trainer=trainer)
    wrapped = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=tok, eos_token=IM_END, pad_token=ENDOFTEXT, unk_token=None,
        model_max_length=1024, clean_up_tokenization_spaces=False,
    )
    wrapped.add_tokens(list(THINK_TOKENS))
    wrapped.chat_template = CHAT_TEMPLATE
    return wrapped


def build_model(tokenizer: PreTrainedTokenizerFast, seed: int = 0, hidden_size: int = 64,
                num_layers: int = 2, num_heads: int = 4) -> Qwen2ForCausalLM:
    """A randomly initialised tiny Qwen2 model (deterministic by ``seed``)."""
    eos = [tokenizer.vocab[t] for t in (IM_END, ENDOFTEXT)]
    config = Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=hidden_size, intermediate_size=2 * hidden_size,
        num_hidden_layers=num_layers, num_attention_heads=num_heads,
        num_key_value_heads=num_heads // 2, max_position_embeddings=1024,
        tie_word_embeddings=True, bos_token_id=None, eos_token_id=eos[0],
        pad_token_id=tokenizer.pad_token_id, dtype="float32",
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(  # type: ignore[no-untyped-call]
        eos_token_id=eos, pad_token_id=tokenizer.pad_token_id, do_sample=True,
    )
    return model


def pretrain(model: Qwen2ForCausalLM, tokenizer: PreTrainedTokenizerFast, texts: list[str],
             steps: int, seed: int = 0, batch_size: int = 32, lr: float = 3e-3) -> float:
    """A few AdamW steps of language modelling on ``texts``; returns the last loss."""
    gen = torch.Generator().manual_seed(seed)
    ids = [tokenizer(t)["input_ids"] for t in texts]
    width = max(len(x) for x in ids)
    pad = tokenizer.pad_token_id
    data = torch.full((len(ids), width), pad, dtype=torch.long)
    mask = torch.zeros_like(data)
    for row, x in enumerate(ids):
        data[row, : len(x)] = torch.tensor(x)
        mask[row, : len(x)] = 1
    optim = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.OneCycleLR(optim, max_lr=lr, total_steps=max(steps, 1))
    model.train()
    loss = torch.tensor(float("nan"))
    for _ in range(steps):
        pick = torch.randint(0, len(ids), (batch_size,), generator=gen)
        labels = data[pick].masked_fill(mask[pick] == 0, -100)
        loss = model(input_ids=data[pick], attention_mask=mask[pick], labels=labels).loss
        loss.backward()
        optim.step()
        sched.step()
        optim.zero_grad()
    model.eval()  # type: ignore[no-untyped-call]
    return float(loss.detach())


def build_tiny(out_dir: Path, seed: int = 0, pretrain_steps: int = 450) -> Path:
    """Build, pretrain and save a tiny tokenizer + model under ``out_dir``; returns it."""
    texts = _corpus(seed, 2000)
    tokenizer = build_tokenizer(texts)
    model = build_model(tokenizer, seed)
    if pretrain_steps:
        threads = torch.get_num_threads()
        # one thread: a model this small gains nothing from more, and on a shared CI runner
        # OpenMP threads that spin-wait for each other make a run many times slower
        torch.set_num_threads(1)
        try:
            with torch.random.fork_rng():
                pretrain(model, tokenizer, texts, pretrain_steps, seed)
        finally:
            torch.set_num_threads(threads)
    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(out_dir)
    model.save_pretrained(out_dir)
    return out_dir
