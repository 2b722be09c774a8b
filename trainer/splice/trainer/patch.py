"""Patch dataset (§4.2): prompt = problem (chat template), completion = ``[y_<i, y_int,i]``.

Examples are pre-tokenized (``input_ids`` + ``completion_mask``) so that the prefix stays
exactly the policy's sampled ids. By default nothing follows the replacement: no suffix, no
EOS or end-of-turn, so the model learns to *continue* after the intervention on its own.
Ablations of Table 1: ``clone_suffix`` ("+ suffix": also clone the filter's successful
continuation, with its end-of-turn) and ``mode="intervention_only"`` ("+ no prefix": the
prefix moves into the prompt and only the intervention carries loss). The control
``mode="prefix_alone"`` clones the on-policy prefix with no intervention after it (an example
whose prefix is empty is dropped): it shows what the patch gains over SFT on the policy's own
text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from splice.trainer.collect import Collected
from splice.trainer.engine import prompt_ids, tokenizer_hash
from splice.trainer.patching import patched_completion
from splice.trainer.records import CandidateScore, Problem, Rollout, read_jsonl, write_jsonl

PATCH_DATASET = "patch_dataset.jsonl"
MODES = ("prefix", "intervention_only", "prefix_alone")


@dataclass
class PatchDataConfig:
    """What the SFT target clones (defaults: Table 1's best, "prefix, no suffix")."""

    mode: str = "prefix"
    clone_suffix: bool = False

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"patch mode {self.mode!r} is not one of {MODES}")


class TokenizerMismatch(ValueError):
    """The rollout was sampled under another tokenizer: its ids mean other text here."""


def patch_example(tokenizer: Any, problem: Problem, rollout: Rollout, collected: Collected,
                  score: CandidateScore, config: PatchDataConfig) -> dict[str, Any]:
    """One pre-tokenized SFT example of a kept candidate."""
    replacement = next(r for r in collected.intervention.replacements
                       if (r.location, r.content) == (score.location, score.content))
    patched = patched_completion(tokenizer, rollout, collected.intervention, replacement)
    prompt = prompt_ids(tokenizer, problem.problem)
    if config.mode == "prefix_alone":
        completion = list(patched.prefix_ids)
    else:
        completion = list(patched.ids) + (list(score.suffix_ids) if config.clone_suffix else [])
    unmasked = len(prompt) + (len(patched.prefix_ids) if config.mode == "intervention_only"
                              else 0)
    input_ids = prompt + completion
    return {
        "problem_id": problem.problem_id, "request_id": score.request_id,
        "location": score.location, "input_ids": input_ids,
        "completion_mask": [0] * unmasked + [1] * (len(input_ids) - unmasked),
        "prompt_length": len(prompt), "prefix_length": len(patched.prefix_ids),
        "patch_length": len(patched.patch_ids),
    }


def build_patch_dataset(scores: Sequence[CandidateScore], collected: Sequence[Collected],
                        problems: Sequence[Problem], rollouts: Sequence[Rollout],
                        tokenizer: Any, config: PatchDataConfig) -> list[dict[str, Any]]:
    """Examples of every kept candidate, in the filter's order."""
    by_problem = {p.problem_id: p for p in problems}
    by_rollout = {r.rollout_id: r for r in rollouts}
    by_request = {c.intervention.request_id: c for c in collected}
    current = tokenizer_hash(tokenizer)
    examples = []
    for score in scores:
        if not score.kept:
            continue
        rollout = by_rollout[score.rollout_id]
        if rollout.provenance.tokenizer_hash not in ("", current):
            raise TokenizerMismatch(f"rollout {rollout.rollout_id} was sampled with tokenizer "
                                    f"{rollout.provenance.tokenizer_hash}, not {current}")
        example = patch_example(tokenizer, by_problem[score.problem_id], rollout,
                                by_request[score.request_id], score, config)
        if any(example["completion_mask"]):
            examples.append(example)
    return examples


def save_patch_dataset(examples: Sequence[dict[str, Any]], out_dir: Path) -> None:
    """``patch_dataset.jsonl`` and the ``patch_dataset/`` datasets folder."""
    from datasets import Dataset  # type: ignore[import-untyped]

    write_jsonl(out_dir / PATCH_DATASET, examples)
    if examples:
        Dataset.from_list(list(examples)).save_to_disk(str(out_dir / "patch_dataset"))


def load_patch_dataset(out_dir: Path) -> list[dict[str, Any]]:
    return list(read_jsonl(out_dir / PATCH_DATASET))
