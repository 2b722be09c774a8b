"""The rollout-engine contract: checks that every engine (transformers, vLLM) must pass.

Each check takes an engine over the tiny pretrained model; the engine's test module calls it.
"""

from __future__ import annotations

from typing import Any

from splice.trainer.engine import GenerationRequest, decode
from splice.trainer.records import SamplingParams
from splice.trainer.tiny import toy_problems

PROBLEMS = toy_problems(4, seed=1)
REQUESTS = [GenerationRequest(p.problem_id, p.problem) for p in PROBLEMS[:2]]
SAMPLING = SamplingParams(n=3, temperature=1.0, top_p=0.95, top_k=20, max_tokens=40, seed=7)


def check_n_samples_seeds_and_sampled_ids(engine: Any) -> None:
    """``n`` rollouts per request; ids kept and decode to the text; provenance; seeds."""
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
            assert r.provenance.checkpoint == engine.checkpoint
            assert r.provenance.sampling["top_k"] == "20"
            assert len(r.provenance.tokenizer_hash) == 16
            assert r.provenance.chat_template_hash
    ids = [[r.sampled_ids for r in g] for g in groups]
    assert len({s for g in ids for s in g}) > 1  # the samples of a request differ
    assert [[r.sampled_ids for r in g] for g in engine.generate(REQUESTS, SAMPLING)] == ids
    reseeded = SamplingParams(**{**SAMPLING.__dict__, "seed": 8})
    assert [[r.sampled_ids for r in g] for g in engine.generate(REQUESTS, reseeded)] != ids


def check_continuation_from_exact_prefix_ids(engine: Any) -> None:
    """A continuation appends the exact prefix ids: greedy decoding reproduces the rollout."""
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


def check_model_learned_the_toy_format(engine: Any) -> None:
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
