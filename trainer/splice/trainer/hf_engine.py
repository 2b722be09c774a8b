"""Rollout engine on transformers ``generate``: left-padded micro-batches, CPU or one GPU."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from splice.trainer.engine import (
    GenerationRequest,
    RolloutEngine,
    chat_template_hash,
    decode,
    tokenizer_hash,
)
from splice.trainer.records import Rollout, RolloutProvenance, SamplingParams, digest
from transformers import GenerationConfig


def load_policy(path: str | Path, device: str = "cpu") -> tuple[Any, Any]:
    """(model, tokenizer) from a local checkpoint; a LoRA adapter folder is merged."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(path)
    if (path / "adapter_config.json").exists():
        from peft import AutoPeftModelForCausalLM

        model = AutoPeftModelForCausalLM.from_pretrained(path).merge_and_unload()
    else:
        model = AutoModelForCausalLM.from_pretrained(path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    return model.to(device).eval(), tokenizer


class TransformersEngine(RolloutEngine):
    """Samples with ``model.generate``; ``max_batch_size`` rows per forward pass.

    Rows of all requests are batched together (``n`` rows per request), so a filter's
    candidates share forward passes. Each micro-batch draws from its own generator seeded
    from ``sampling.seed`` and its index: a run is reproducible, and the global torch RNG
    is left untouched.
    """

    def __init__(self, model: Any, tokenizer: Any, *, checkpoint: str = "",
                 max_batch_size: int = 64, policy_step: int = 0) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.checkpoint = checkpoint or str(getattr(model, "name_or_path", ""))
        self.max_batch_size = max_batch_size
        self.policy_step = policy_step
        self._tokenizer_hash = tokenizer_hash(tokenizer)
        self._template_hash = chat_template_hash(tokenizer)
        eos = model.generation_config.eos_token_id
        eos_ids = [eos] if isinstance(eos, int) else list(eos or [])
        if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in eos_ids:
            eos_ids.append(tokenizer.eos_token_id)
        self.stop_ids = frozenset(int(i) for i in eos_ids)
        pad = tokenizer.pad_token_id
        self.pad_id = int(pad if pad is not None else next(iter(self.stop_ids)))

    @classmethod
    def from_pretrained(cls, path: str | Path, device: str = "cpu",
                        **kwargs: Any) -> TransformersEngine:
        """An engine over a saved checkpoint (a LoRA adapter folder is merged)."""
        model, tokenizer = load_policy(path, device)
        return cls(model, tokenizer, checkpoint=str(path), **kwargs)

    def generate(
        self, requests: Sequence[GenerationRequest], sampling: SamplingParams
    ) -> list[list[Rollout]]:
        inputs = [self.prompt_ids(r.problem) + list(r.prefix_ids) for r in requests]
        rows = [(r, i, ids) for r, ids in zip(requests, inputs, strict=True)
                for i in range(sampling.n)]
        out: list[Rollout] = []
        for batch_index, start in enumerate(range(0, len(rows), self.max_batch_size)):
            batch = rows[start:start + self.max_batch_size]
            seed = int(digest(str(sampling.seed), str(batch_index), size=8), 16)
            sampled = self._sample([ids for _, _, ids in batch], sampling, seed)
            for (request, index, _), (ids, finish) in zip(batch, sampled, strict=True):
                out.append(self._rollout(request, index, ids, finish, sampling, seed))
        n = sampling.n
        return [out[k * n:(k + 1) * n] for k in range(len(requests))]

    def _sample(self, inputs: list[list[int]], sampling: SamplingParams,
                seed: int) -> list[tuple[list[int], str]]:
        width = max(len(x) for x in inputs)
        ids = torch.full((len(inputs), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for row, x in enumerate(inputs):  # left padding: generation continues each row's end
            ids[row, width - len(x):] = torch.tensor(x, dtype=torch.long)
            mask[row, width - len(x):] = 1
        device = next(self.model.parameters()).device
        greedy = sampling.temperature <= 0
        # a fresh config: the checkpoint's own defaults (top_k, repetition_penalty, ...) must
        # not leak into sampling that the provenance describes
        kwargs: dict[str, Any] = {"do_sample": not greedy, "max_new_tokens": sampling.max_tokens,
                                  "eos_token_id": sorted(self.stop_ids),
                                  "pad_token_id": self.pad_id}
        if not greedy:
            kwargs.update(temperature=sampling.temperature, top_p=sampling.top_p,
                          top_k=sampling.top_k)
        config = GenerationConfig(**kwargs)  # type: ignore[no-untyped-call]
        devices = [device] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices), torch.no_grad():
            torch.manual_seed(seed)
            generated = self.model.generate(input_ids=ids.to(device),
                                            attention_mask=mask.to(device),
                                            generation_config=config)
        result = []
        for row in generated[:, width:].tolist():
            cut = next((k for k, t in enumerate(row) if t in self.stop_ids), None)
            result.append((row, "length") if cut is None else (row[:cut], "stop"))
        return result

    def _rollout(self, request: GenerationRequest, index: int, sampled: list[int], finish: str,
                 sampling: SamplingParams, seed: int) -> Rollout:
        completion = list(request.prefix_ids) + sampled
        provenance = RolloutProvenance(
            checkpoint=self.checkpoint, sampling=sampling.as_strings(),
            tokenizer_hash=self._tokenizer_hash, chat_template_hash=self._template_hash,
            seed=seed, policy_step=self.policy_step,
        )
        return Rollout(problem_id=request.problem_id, sample_index=index,
                       prefix_ids=tuple(request.prefix_ids), sampled_ids=tuple(sampled),
                       text=decode(self.tokenizer, completion), finish_reason=finish,
                       provenance=provenance)
