"""Fixtures of the vLLM engine tests: a vLLM-loadable variant of the tiny model, one engine.

Run in .venv-vllm (scripts/test_vllm_cpu.sh); the main suite does not collect this folder.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# vLLM's CPU attention needs head_dim >= 32; the default tiny model has 64 / 4 heads = 16
VLLM_NUM_HEADS = 2


def build_vllm_tiny(out_dir: Path, seed: int = 0, pretrain_steps: int = 450) -> Path:
    """``build_tiny`` with head_dim 32 (same tokenizer, corpus, size and pretraining)."""
    import torch
    from splice.trainer.tiny import _corpus, build_model, build_tokenizer, pretrain

    texts = _corpus(seed, 2000)
    tokenizer = build_tokenizer(texts)
    model = build_model(tokenizer, seed, num_heads=VLLM_NUM_HEADS)
    with torch.random.fork_rng():
        pretrain(model, tokenizer, texts, pretrain_steps, seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(out_dir)
    model.save_pretrained(out_dir)
    return out_dir


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny pretrained model, with heads vLLM's CPU backend supports."""
    import torch

    torch.set_num_threads(1)  # see tests/trainer/conftest.py: tiny models, shared runners
    return build_vllm_tiny(tmp_path_factory.mktemp("tiny-vllm") / "model", seed=0)


@pytest.fixture(scope="session")
def engine(tiny_model_dir: Path) -> Iterator[Any]:
    """A vLLM rollout engine over the tiny model (eager on CPU)."""
    from splice.trainer.vllm_engine import VllmEngine

    engine = VllmEngine(tiny_model_dir, dtype="float32", max_model_len=512)
    yield engine
    engine.close()
