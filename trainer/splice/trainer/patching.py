"""The patched completion ``[y_<i, y_int,i]`` on token ids (§4.2), shared by filter and SFT.

The prefix stays on-policy token for token: it is the policy's SAMPLED ids up to the last
token that ends at or before the replaced step's first character. The characters between
that token and the step boundary (a token that straddled the boundary) and the replacement
are tokenized together after it. Re-tokenizing the prefix text instead could give other ids
than the ones the policy sampled, and the SFT target would no longer be on-policy.

Reasoning templates: when the policy opened its reasoning block itself and the oracle's
replacement of that first step omits the opener, the opener (``<think>`` and the whitespace
after it) stays in the prefix, so the patch never teaches the policy to skip it. An opener
that the chat template's generation prompt wrote is part of the prompt ids, not the rollout.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format
from splice.sdk.convert import intervention_from_pb, intervention_to_pb
from splice.sdk.types import Intervention, Replacement, patched_prefix
from splice.trainer.engine import decode
from splice.trainer.records import Rollout
from splice.v1 import intervention_pb2 as pb

REASONING_OPENER = re.compile(r"<think>\s*")


class RolloutMismatch(ValueError):
    """The intervention's steps do not tile this rollout's text."""


@dataclass(frozen=True)
class PatchedCompletion:
    """``prefix_ids`` (sampled by the policy) + ``patch_ids`` (leftover + replacement)."""

    prefix_ids: tuple[int, ...]
    patch_ids: tuple[int, ...]
    text: str
    location: int

    @property
    def ids(self) -> tuple[int, ...]:
        return self.prefix_ids + self.patch_ids


def token_boundary(tokenizer: Any, ids: Sequence[int], text: str, char_offset: int) -> int:
    """Number of leading ``ids`` whose decoding ends at or before ``char_offset`` of ``text``."""
    lo, hi = 0, len(ids)
    while lo < hi:  # largest j with len(decode(ids[:j])) <= char_offset
        mid = (lo + hi + 1) // 2
        if len(decode(tokenizer, ids[:mid])) <= char_offset:
            lo = mid
        else:
            hi = mid - 1
    # a token cut inside a multi-byte character decodes to U+FFFD: step back to a clean one
    while lo > 0 and not text.startswith(decode(tokenizer, ids[:lo])):
        lo -= 1
    return lo


def patched_completion(tokenizer: Any, rollout: Rollout, intervention: Intervention,
                       replacement: Replacement) -> PatchedCompletion:
    """The completion that clones the on-policy prefix and the replacement, nothing after."""
    if intervention.rollout_text != rollout.text:
        raise RolloutMismatch(f"intervention {intervention.request_id} was made on other text")
    patched_prefix(intervention, replacement)  # validates the location
    boundary = intervention.steps[replacement.location - 1].char_start
    opener = REASONING_OPENER.match(rollout.text, boundary)
    if opener and not replacement.content.lstrip().startswith("<think>"):
        boundary = opener.end()
    text = rollout.text[:boundary] + replacement.content
    ids = rollout.completion_ids
    j = token_boundary(tokenizer, ids, rollout.text, boundary)
    done = len(decode(tokenizer, ids[:j]))
    rest = rollout.text[done:boundary] + replacement.content
    patch = tokenizer(rest, add_special_tokens=False)["input_ids"] if rest else []
    return PatchedCompletion(prefix_ids=tuple(ids[:j]), patch_ids=tuple(int(i) for i in patch),
                             text=text, location=replacement.location)


def intervention_to_json(intervention: Intervention) -> dict[str, Any]:
    """JSON form of an intervention (the protobuf JSON mapping: stable and complete)."""
    data: dict[str, Any] = json_format.MessageToDict(intervention_to_pb(intervention))
    return data


def intervention_from_json(data: Mapping[str, Any]) -> Intervention:
    """Inverse of :func:`intervention_to_json`."""
    msg = json_format.Parse(json.dumps(dict(data)), pb.Intervention())
    return intervention_from_pb(msg)
