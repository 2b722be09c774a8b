"""Fixtures of the trainer tests: a tiny pretrained model built from scratch, once per session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from splice.trainer.hf_engine import TransformersEngine
from splice.trainer.tiny import build_tiny


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Qwen2 model + byte-level BPE tokenizer with a chat template (seed 0)."""
    pytest.importorskip("torch", reason="needs the trainer extra")

    return build_tiny(tmp_path_factory.mktemp("tiny") / "model", seed=0)


@pytest.fixture(scope="session")
def engine(tiny_model_dir: Path) -> Any:
    """A transformers rollout engine over the tiny model."""

    return TransformersEngine.from_pretrained(tiny_model_dir, max_batch_size=64)


@pytest.fixture(scope="session")
def tokenizer(engine: Any) -> Any:
    return engine.tokenizer
