"""Reasoning (``<think>``) chat templates: the patch splices the prefix where the policy wrote
it, whether the generation prompt opened the block or the policy did."""

from __future__ import annotations

import copy
from typing import Any

from splice.sdk.types import Replacement
from splice.trainer.collect import Collected
from splice.trainer.engine import decode, prompt_ids
from splice.trainer.hf_engine import TransformersEngine
from splice.trainer.patch import PatchDataConfig, patch_example
from splice.trainer.patching import patched_completion
from splice.trainer.records import CandidateScore, Problem

from tests.trainer.helpers import make_intervention, make_rollout

STEPS = ["We need $12 \\times 13$.\n\n", "$12 \\times 13 = 146$.\n\n", "So $\\boxed{146}$."]
FIX = Replacement(2, "$12 \\times 13 = 156$.")
PROBLEM = Problem("p", "What is 12 times 13?", "\\boxed{156}", "156")


def _example(tokenizer: Any, steps: list[str], fix: Replacement) -> dict[str, Any]:
    rollout = make_rollout(tokenizer, "p", "".join(steps))
    item = Collected("p", rollout.rollout_id, make_intervention(steps, [fix]))
    score = CandidateScore(request_id="r1", problem_id="p", rollout_id=rollout.rollout_id,
                           location=fix.location, content=fix.content, samples=1,
                           successes=1, kept=True, reason="")
    return patch_example(tokenizer, PROBLEM, rollout, item, score, PatchDataConfig())


def test_generation_prompt_opens_the_think_block(tokenizer: Any) -> None:
    """``<|im_start|>assistant\\n<think>\\n``: the opener is prompt, the rollout follows it."""
    thinking = copy.deepcopy(tokenizer)
    thinking.chat_template = tokenizer.chat_template.replace(
        "'<|im_start|>assistant\\n' }}", "'<|im_start|>assistant\\n<think>\\n' }}")
    prompt = prompt_ids(thinking, PROBLEM.problem)
    assert decode(thinking, prompt).endswith("<|im_start|>assistant\n<think>\n")
    steps = [STEPS[0], STEPS[1].replace("\n\n", "\n</think>\n\n"), STEPS[2]]
    example = _example(thinking, steps, FIX)
    ids = example["input_ids"]
    assert ids[:len(prompt)] == prompt and example["prompt_length"] == len(prompt)
    assert decode(thinking, ids[len(prompt):]) == steps[0] + FIX.content
    assert decode(thinking, ids).count("<think>") == 1
    # the engine continues the same ids: prompt (with the opener) + the patched completion
    engine = TransformersEngine.__new__(TransformersEngine)
    engine.tokenizer = thinking
    assert engine.prompt_ids(PROBLEM.problem) == prompt


def test_policy_written_opener_survives_a_first_step_replacement(tokenizer: Any) -> None:
    steps = ["<think>\n" + STEPS[0], *STEPS[1:]]
    rollout = make_rollout(tokenizer, "p", "".join(steps))
    fix = Replacement(1, "We need $12 \\times 13 = 156$.\n\n")
    patched = patched_completion(tokenizer, rollout, make_intervention(steps, [fix]), fix)
    assert patched.text == "<think>\n" + fix.content
    assert decode(tokenizer, patched.prefix_ids) == "<think>\n"
    assert patched.prefix_ids == rollout.sampled_ids[:len(patched.prefix_ids)]
    assert decode(tokenizer, patched.ids) == patched.text
    # a replacement that rewrites the opener itself is taken as is (no second opener)
    own = Replacement(1, "<think>\nWe need $12 \\times 13 = 156$.\n\n")
    again = patched_completion(tokenizer, rollout, make_intervention(steps, [own]), own)
    assert again.text == own.content and not again.prefix_ids
    # later steps are spliced at their own boundary, the opener kept in the prefix
    later = patched_completion(tokenizer, rollout, make_intervention(steps, [FIX]), FIX)
    assert later.text == steps[0] + FIX.content
    assert decode(tokenizer, _example(tokenizer, steps, FIX)["input_ids"]).endswith(
        "<|im_start|>assistant\n" + steps[0] + FIX.content)
