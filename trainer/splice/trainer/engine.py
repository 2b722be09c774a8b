"""Rollout engines: sample ``n`` completions per prompt and keep every sampled token id.

An engine renders the problem with the chat template's generation prompt and, for a
continuation, appends the EXACT prefix token ids after it (the semantics of
``continue_final_message``, but on token ids, so an on-policy prefix is never re-tokenized).
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from splice.trainer.records import Rollout, SamplingParams


@dataclass(frozen=True)
class GenerationRequest:
    """One prompt: a problem and, for a continuation, the assistant prefix token ids."""

    problem_id: str
    problem: str
    prefix_ids: tuple[int, ...] = ()


def tokenizer_hash(tokenizer: Any) -> str:
    """Hash of the tokenizer's full definition (vocabulary, merges, pre-tokenizer, specials)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    text = backend.to_str() if backend is not None else repr(sorted(tokenizer.get_vocab().items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def chat_template_hash(tokenizer: Any) -> str:
    """Hash of the chat template ('' when there is none)."""
    template = getattr(tokenizer, "chat_template", None) or ""
    return hashlib.sha256(str(template).encode()).hexdigest()[:16] if template else ""


def prompt_ids(tokenizer: Any, problem: str, **template_kwargs: Any) -> list[int]:
    """The chat-formatted user turn followed by the assistant generation prompt."""
    messages = [{"role": "user", "content": problem}]
    out = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                        return_dict=False, **template_kwargs)
    if isinstance(out, dict) or hasattr(out, "keys"):
        out = out["input_ids"]
    return [int(i) for i in out]


def decode(tokenizer: Any, ids: Sequence[int]) -> str:
    """Exact text of ``ids``: special tokens kept, no clean-up of spaces."""
    return str(tokenizer.decode(list(ids), skip_special_tokens=False,
                                clean_up_tokenization_spaces=False))


class RolloutEngine(ABC):
    """Samples rollouts from a policy; implementations: transformers (CPU/GPU), vLLM."""

    tokenizer: Any
    checkpoint: str

    @abstractmethod
    def generate(
        self, requests: Sequence[GenerationRequest], sampling: SamplingParams
    ) -> list[list[Rollout]]:
        """``sampling.n`` rollouts for each request, in request order.

        The same requests, parameters and seed give the same rollouts.
        """

    def prompt_ids(self, problem: str) -> list[int]:
        """Token ids of the prompt for ``problem`` (user turn + generation prompt)."""
        return prompt_ids(self.tokenizer, problem)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (GPU memory, servers)."""
