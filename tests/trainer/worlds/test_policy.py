"""The shipped base policy: checksums on load, a well-formed greedy solution, a deterministic
build."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from splice.trainer.engine import GenerationRequest
from splice.trainer.hf_engine import TransformersEngine
from splice.trainer.records import SamplingParams
from splice.trainer.worlds.arith import TRAIN, check, generate, render_problem
from splice.trainer.worlds.arith.build_policy import BuildConfig, train
from splice.trainer.worlds.arith.check import read_step, split_steps
from splice.trainer.worlds.arith.policy import (
    CHECKPOINT_DIR,
    ChecksumError,
    load_base_policy,
    read_manifest,
    verify_checkpoint,
)


def test_the_manifest_covers_every_file_and_records_the_build() -> None:
    manifest = verify_checkpoint()
    assert {"model.safetensors", "config.json", "tokenizer.json"} <= set(manifest["sha256"])
    assert manifest["build"]["seed"] == read_manifest()["build"]["seed"]
    assert {"torch", "transformers"} <= set(manifest["versions"])
    size = sum(p.stat().st_size for p in CHECKPOINT_DIR.iterdir())
    assert size < 12 * 2**20


def test_a_modified_file_fails_the_checksum(tmp_path: Path) -> None:
    copy = tmp_path / "policy"
    shutil.copytree(CHECKPOINT_DIR, copy)
    verify_checkpoint(copy)
    with (copy / "config.json").open("a") as handle:
        handle.write(" ")
    with pytest.raises(ChecksumError, match=r"config\.json"):
        load_base_policy(copy)
    (copy / "config.json").unlink()
    with pytest.raises(ChecksumError, match="missing"):
        verify_checkpoint(copy)


def test_the_policy_writes_a_well_formed_solution_greedily() -> None:
    model, tokenizer = load_base_policy()
    engine = TransformersEngine(model, tokenizer)
    spec = generate(11, TRAIN)
    rollout = engine.generate([GenerationRequest("p", render_problem(spec))],
                              SamplingParams(n=1, temperature=0.0, max_tokens=160))[0][0]
    steps = split_steps(rollout.text)
    assert rollout.finish_reason == "stop"
    assert len(steps) >= 2 and all(read_step(s) for s in steps)
    assert steps[-1].startswith("\\boxed{")
    assert check(spec, steps).status in ("NO_ERROR", "FOUND_ERROR")


def test_the_build_is_deterministic_given_its_seed() -> None:
    config = BuildConfig(seed=3, n_problems=48, vocab_size=300, hidden_size=32,
                         intermediate_size=64, num_layers=1, num_heads=2, num_kv_heads=1,
                         steps=3, batch_size=4, warmup_steps=1, threads=1)
    first, _, _ = train(config)
    second, _, _ = train(config)
    other, _, _ = train(replace(config, seed=4))
    a, b, c = (m.state_dict() for m in (first, second, other))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(a[k].shape == c[k].shape and torch.equal(a[k], c[k]) for k in a)
