"""Patched completions on token ids: the on-policy prefix is the sampled ids, never re-encoded."""

from __future__ import annotations

from typing import Any

import pytest
from splice.sdk.types import Replacement, patched_prefix
from splice.trainer.engine import decode
from splice.trainer.patching import (
    RolloutMismatch,
    intervention_from_json,
    intervention_to_json,
    patched_completion,
    token_boundary,
)

from tests.trainer.helpers import make_intervention, make_rollout

TEXT = "We need $12 \\times 13$.\n\n$12 \\times 13 = 146$.\n\nSo $\\boxed{146}$."
STEPS = ["We need $12 \\times 13$.\n\n", "$12 \\times 13 = 146$.\n\n", "So $\\boxed{146}$."]
FIX = Replacement(2, "$12 \\times 13 = 156$.")


def test_prefix_is_the_sampled_ids_up_to_the_step(tokenizer: Any) -> None:
    rollout = make_rollout(tokenizer, "p", TEXT)
    result = make_intervention(STEPS, [FIX])
    patched = patched_completion(tokenizer, rollout, result, FIX)
    assert patched.text == patched_prefix(result, FIX) == STEPS[0] + FIX.content
    k = len(patched.prefix_ids)
    assert patched.prefix_ids == rollout.sampled_ids[:k]
    assert decode(tokenizer, patched.prefix_ids) == STEPS[0]
    assert decode(tokenizer, patched.ids) == patched.text
    assert patched.patch_ids == tuple(tokenizer(FIX.content)["input_ids"])


def test_non_canonical_sampled_ids_are_kept(tokenizer: Any) -> None:
    """The policy may sample a tokenization that encoding the text would not give."""
    ids = [tokenizer.convert_tokens_to_ids(t) for t in ["W", "e"]]
    ids += tokenizer(TEXT[2:])["input_ids"]
    rollout = make_rollout(tokenizer, "p", TEXT, ids)
    assert rollout.sampled_ids != tuple(tokenizer(TEXT)["input_ids"])
    patched = patched_completion(tokenizer, rollout, make_intervention(STEPS, [FIX]), FIX)
    assert patched.prefix_ids == rollout.sampled_ids[:len(patched.prefix_ids)]
    assert patched.prefix_ids[:2] == tuple(ids[:2])


def test_token_straddling_the_boundary_is_retokenized_with_the_replacement(
        tokenizer: Any) -> None:
    steps = ["A.\n", "\nB."]  # the sampled token "\n\n" spans the step boundary
    text = "".join(steps)
    rollout = make_rollout(tokenizer, "p", text)
    assert "ĊĊ" in tokenizer.convert_ids_to_tokens(list(rollout.sampled_ids))
    fix = Replacement(2, "\nC.")
    patched = patched_completion(tokenizer, rollout, make_intervention(steps, [fix]), fix)
    assert decode(tokenizer, patched.prefix_ids) == "A."
    assert decode(tokenizer, patched.patch_ids) == "\n\nC."  # leftover "\n" + replacement
    assert token_boundary(tokenizer, rollout.sampled_ids, text, 3) == len(patched.prefix_ids)


def test_mismatch_and_json_round_trip(tokenizer: Any) -> None:
    result = make_intervention(STEPS, [FIX])
    with pytest.raises(RolloutMismatch):
        patched_completion(tokenizer, make_rollout(tokenizer, "p", TEXT + " "), result, FIX)
    assert intervention_from_json(intervention_to_json(result)) == result
