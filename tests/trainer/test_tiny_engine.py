"""The tiny model builder and the transformers rollout engine (the shared engine contract)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from splice.trainer.engine import decode, prompt_ids
from splice.trainer.hf_engine import TransformersEngine
from splice.trainer.tiny import build_tokenizer

from tests.trainer import engine_contract
from tests.trainer.engine_contract import PROBLEMS


def test_tokenizer_round_trip_and_chat_template(tokenizer: Any) -> None:
    text = PROBLEMS[0].solution()
    ids = tokenizer(text)["input_ids"]
    assert decode(tokenizer, ids) == text  # byte-level BPE keeps every space
    assert tokenizer.convert_ids_to_tokens(tokenizer("$123$")["input_ids"])[1:4] == ["1", "2", "3"]
    fresh = build_tokenizer([text])  # the loaded tokenizer encodes as the one that was built
    assert fresh.chat_template == tokenizer.chat_template
    rendered = decode(tokenizer, prompt_ids(tokenizer, "Hi?"))
    assert rendered == "<|im_start|>user\nHi?<|im_end|>\n<|im_start|>assistant\n"
    no_think = tokenizer.apply_chat_template([{"role": "user", "content": "Hi?"}], tokenize=False,
                                             add_generation_prompt=True, enable_thinking=False)
    assert no_think.endswith("<think>\n\n</think>\n\n")


def test_tiny_build_is_fast_and_deterministic(tmp_path: Path, tiny_model_dir: Path) -> None:
    from splice.trainer.tiny import build_tiny

    t0 = time.monotonic()
    build_tiny(tmp_path / "a", seed=0, pretrain_steps=5)
    assert time.monotonic() - t0 < 30
    build_tiny(tmp_path / "b", seed=0, pretrain_steps=5)
    a = (tmp_path / "a" / "model.safetensors").read_bytes()
    assert a == (tmp_path / "b" / "model.safetensors").read_bytes()
    assert (tmp_path / "a" / "tokenizer.json").read_bytes() == \
        (tiny_model_dir / "tokenizer.json").read_bytes()


def test_n_samples_seeds_and_sampled_ids(engine: TransformersEngine) -> None:
    engine_contract.check_n_samples_seeds_and_sampled_ids(engine)


def test_continuation_from_exact_prefix_ids(engine: TransformersEngine) -> None:
    engine_contract.check_continuation_from_exact_prefix_ids(engine)


def test_model_learned_the_toy_format(engine: TransformersEngine) -> None:
    """The pretrained tiny model copies a stated product into the box (the filter needs it)."""
    engine_contract.check_model_learned_the_toy_format(engine)
