"""The vLLM rollout engine passes the engine contract that the transformers engine passes."""

from __future__ import annotations

from typing import Any

from tests.trainer import engine_contract


def test_n_samples_seeds_and_sampled_ids(engine: Any) -> None:
    engine_contract.check_n_samples_seeds_and_sampled_ids(engine)


def test_continuation_from_exact_prefix_ids(engine: Any) -> None:
    engine_contract.check_continuation_from_exact_prefix_ids(engine)


def test_model_learned_the_toy_format(engine: Any) -> None:
    engine_contract.check_model_learned_the_toy_format(engine)
