"""The arith world's generator, problem text and spec serialization (no torch)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from splice.trainer.worlds.arith import (
    HARD,
    TRAIN,
    OpKind,
    ProblemSpec,
    StepType,
    WorldConfig,
    generate,
    generate_many,
    parse_problem,
    render_problem,
    step_type,
)

SEEDS = st.integers(min_value=0, max_value=2**32 - 1)
CONFIGS = st.sampled_from([TRAIN, HARD])


@given(SEEDS, CONFIGS)
def test_generated_problems_are_valid_and_within_knobs(seed: int, config: WorldConfig) -> None:
    spec = generate(seed, config)
    assert spec == generate(seed, config)  # deterministic in the seed
    assert spec.valid()
    assert config.n_ops[0] <= len(spec.ops) <= config.n_ops[1]
    assert max(spec.values()) <= config.max_value
    assert sum(t.hard for t in spec.step_types()) >= config.min_hard_steps


@given(SEEDS, CONFIGS)
def test_text_and_json_round_trip(seed: int, config: WorldConfig) -> None:
    spec = generate(seed, config)
    text = render_problem(spec)
    parsed = parse_problem(text)
    assert parsed == spec and parsed is not None and render_problem(parsed) == text
    assert ProblemSpec.from_json(spec.to_json()) == spec


def test_hard_problems_are_as_long_as_training_ones_but_harder() -> None:
    train, hard = generate_many(600, 1, TRAIN), generate_many(600, 2, HARD)
    mean_len = [sum(len(s.ops) for s in specs) / len(specs) for specs in (train, hard)]
    assert abs(mean_len[0] - mean_len[1]) < 0.3
    share = [sum(t.hard for s in specs for t in s.step_types())
             / sum(len(s.ops) for s in specs) for specs in (train, hard)]
    assert share[0] < 0.2 < 0.5 < share[1]


@pytest.mark.parametrize("wanted", [StepType.ADD_CARRY, StepType.MUL_TABLE, StepType.MUL_MULTI])
def test_a_pure_mix_gives_only_that_step_type(wanted: StepType) -> None:
    config = WorldConfig(n_ops=(4, 4), mix={wanted: 1.0}, max_value=10**9)
    for spec in generate_many(50, 3, config):
        assert spec.step_types() == [wanted] * 4


def test_step_types_classify_carries_tables_and_products() -> None:
    assert step_type(OpKind.ADD, 148, 58) is StepType.ADD_CARRY
    assert step_type(OpKind.ADD, 142, 53) is StepType.ADD
    assert step_type(OpKind.SUB, 286, 23) is StepType.SUB
    assert step_type(OpKind.SUB, 206, 27) is StepType.SUB_BORROW
    assert step_type(OpKind.MUL, 37, 4) is StepType.MUL_SMALL
    assert step_type(OpKind.MUL, 37, 8) is StepType.MUL_TABLE
    assert step_type(OpKind.MUL, 37, 46) is StepType.MUL_MULTI


def test_foreign_text_and_bad_json_are_rejected() -> None:
    assert parse_problem("What is 12 times 13?") is None
    assert parse_problem("Ana has 5 points. Ana gives away 9 points. "
                         "How many points does Ana have now?") is None  # not well formed
    for bad in ("{", "[]", '{"start": 5, "ops": []}', '{"start": 5, "ops": [["pow", 2]]}'):
        with pytest.raises(ValueError):
            ProblemSpec.from_json(bad)


def test_config_rejects_impossible_knobs() -> None:
    with pytest.raises(ValueError):
        WorldConfig(n_ops=(0, 3))
    with pytest.raises(ValueError):
        WorldConfig(n_ops=(2, 3), min_hard_steps=3)
