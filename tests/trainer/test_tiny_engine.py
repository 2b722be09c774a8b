"""The tiny model builder and the transformers rollout engine."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from splice.trainer.engine import GenerationRequest, decode, prompt_ids
from splice.trainer.hf_engine import TransformersEngine
from splice.trainer.records import SamplingParams
from splice.trainer.tiny import build_tokenizer, toy_problems

PROBLEMS = toy_problems(4, seed=1)
REQUESTS = [GenerationRequest(p.problem_id, p.problem) for p in PROBLEMS[:2]]
SAMPLING = SamplingParams(n=3, temperature=1.0, top_p=0.95, top_k=20, max_tokens=40, seed=7)


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
    groups = engine.generate(REQUESTS, SAMPLING)
    assert [len(g) for g in groups] == [3, 3]
    for request, group in zip(REQUESTS, groups, strict=True):
        assert [r.sample_index for r in group] == [0, 1, 2]
        for r in group:
            assert r.problem_id == request.problem_id and r.prefix_ids == ()
            assert r.text == decode(engine.tokenizer, r.sampled_ids)
            assert r.finish_reason in ("stop", "length")
            assert len(r.sampled_ids) <= SAMPLING.max_tokens
            assert not set(r.sampled_ids) & engine.stop_ids
            assert r.provenance.sampling["top_k"] == "20"
            assert len(r.provenance.tokenizer_hash) == 16
            assert r.provenance.chat_template_hash
    ids = [[r.sampled_ids for r in g] for g in groups]
    assert [[r.sampled_ids for r in g] for g in engine.generate(REQUESTS, SAMPLING)] == ids
    reseeded = SamplingParams(**{**SAMPLING.__dict__, "seed": 8})
    assert [[r.sampled_ids for r in g] for g in engine.generate(REQUESTS, reseeded)] != ids


def test_continuation_from_exact_prefix_ids(engine: TransformersEngine) -> None:
    greedy = SamplingParams(n=1, temperature=0.0, max_tokens=40)
    (full,), = engine.generate(REQUESTS[:1], greedy)
    assert full.finish_reason == "stop" and len(full.sampled_ids) > 12
    cut = 9
    prefix = full.sampled_ids[:cut]
    (cont,), = engine.generate(
        [GenerationRequest(REQUESTS[0].problem_id, REQUESTS[0].problem, prefix)], greedy)
    assert cont.prefix_ids == prefix
    assert cont.completion_ids[:cut] == prefix
    # the same input ids as the full rollout had at that point: greedy decoding agrees
    assert cont.completion_ids == full.completion_ids
    assert cont.text == full.text


def test_model_learned_the_toy_format(engine: TransformersEngine) -> None:
    """The pretrained tiny model copies a stated product into the box (the filter needs it)."""
    problems = toy_problems(8, seed=3)
    requests = []
    for p in problems:
        prefix = p.solution().split("\n\nSo")[0]
        requests.append(GenerationRequest(p.problem_id, p.problem,
                                          tuple(engine.tokenizer(prefix)["input_ids"])))
    groups = engine.generate(requests, SamplingParams(n=1, temperature=0.0, max_tokens=16))
    copied = sum(f"\\boxed{{{p.answer}}}" in g[0].text
                 for p, g in zip(problems, groups, strict=True))
    assert copied >= 6
