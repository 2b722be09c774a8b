"""A validated intervention request, and the checks that make it one."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from splice.sdk.types import Provenance, SegmentationMode, Segmenter, Step
from splice.server.config import Limits
from splice.server.errors import InvalidArgumentError, TooLargeError
from splice.server.segmentation import PRESEGMENTED, join_presegmented, segment, segmenter_for


@dataclass(frozen=True, slots=True)
class InterveneInput:
    """What a caller asked for, before validation (decoded from protobuf or JSON)."""

    request_id: str
    client_id: str
    problem: str
    reference_solution: str
    rollout_text: str = ""
    rollout_steps: tuple[str, ...] = ()
    reference_answer: str = ""
    problem_id: str = ""
    oracle: str = ""
    segmentation: SegmentationMode = SegmentationMode.UNSPECIFIED
    categorize: bool = False
    options: Mapping[str, str] = field(default_factory=dict)
    provenance: Provenance | None = None


@dataclass(frozen=True, slots=True)
class SegmentedRollout:
    """The rollout as the oracle will see it."""

    steps: tuple[Step, ...]
    segmenter: Segmenter


def _check_id(name: str, value: str, limit: int) -> None:
    if not value:
        raise InvalidArgumentError(name, f"is required (1-{limit} characters)")
    if len(value) > limit:
        raise TooLargeError(name, len(value), limit)
    if not value.isprintable():
        raise InvalidArgumentError(name, "must be printable text without control characters")


def _check_text(name: str, value: str, limit: int, *, required: bool) -> None:
    if len(value) > limit:
        raise TooLargeError(name, len(value), limit)
    if required and not value.strip():
        raise InvalidArgumentError(name, "is required and must not be blank")


def _text_fields(inp: InterveneInput) -> Iterator[tuple[str, str]]:
    """Every text field of ``inp``, by the name an error gives it."""
    yield from (("request_id", inp.request_id), ("client_id", inp.client_id),
                ("problem.text", inp.problem),
                ("problem.reference_solution", inp.reference_solution),
                ("problem.reference_answer", inp.reference_answer),
                ("problem.problem_id", inp.problem_id), ("rollout.text", inp.rollout_text),
                ("oracle", inp.oracle))
    yield from ((f"rollout.steps[{i}]", s) for i, s in enumerate(inp.rollout_steps))
    for key, value in inp.options.items():
        yield f"options[{key[:32]!r}]", key + value
    p = inp.provenance
    if p is not None:
        yield from (("rollout.provenance.policy_checkpoint", p.policy_checkpoint),
                    ("rollout.provenance.tokenizer", p.tokenizer),
                    ("rollout.provenance.chat_template_hash", p.chat_template_hash))
        for key, value in p.sampling.items():
            yield f"rollout.provenance.sampling[{key[:32]!r}]", key + value


def validate(inp: InterveneInput, limits: Limits) -> None:
    """Raise InvalidArgumentError / TooLargeError naming the first bad field."""
    for name, value in _text_fields(inp):  # PostgreSQL cannot store NUL: refuse it everywhere
        if "\x00" in value:
            raise InvalidArgumentError(name, "contains a NUL character (\\x00); remove it")
    _check_id("request_id", inp.request_id, limits.max_id_chars)
    _check_id("client_id", inp.client_id, limits.max_id_chars)
    _check_text("problem.text", inp.problem, limits.max_problem_chars, required=True)
    _check_text("problem.reference_solution", inp.reference_solution,
                limits.max_problem_chars, required=True)
    _check_text("problem.reference_answer", inp.reference_answer,
                limits.max_problem_chars, required=False)
    if len(inp.problem_id) > limits.max_id_chars:
        raise TooLargeError("problem.problem_id", len(inp.problem_id), limits.max_id_chars)
    if inp.rollout_text and inp.rollout_steps:
        raise InvalidArgumentError(
            "rollout", "give either rollout.text or rollout.steps, not both")
    if inp.rollout_steps:
        if len(inp.rollout_steps) > limits.max_steps:
            raise TooLargeError("rollout.steps", len(inp.rollout_steps), limits.max_steps, "steps")
        total = sum(len(s) for s in inp.rollout_steps)
        if total > limits.max_rollout_chars:
            raise TooLargeError("rollout.steps", total, limits.max_rollout_chars)
        for i, s in enumerate(inp.rollout_steps):
            if not s.strip():
                raise InvalidArgumentError(f"rollout.steps[{i}]", "is blank; drop empty steps")
    else:
        _check_text("rollout.text", inp.rollout_text, limits.max_rollout_chars, required=True)
    if inp.segmentation not in tuple(SegmentationMode):
        raise InvalidArgumentError("segmentation", f"unknown mode {int(inp.segmentation)}")
    if inp.rollout_steps and inp.segmentation is not SegmentationMode.UNSPECIFIED:
        raise InvalidArgumentError(
            "segmentation", "applies to rollout.text only; steps are already segmented")
    if len(inp.options) > limits.max_options:
        raise TooLargeError("options", len(inp.options), limits.max_options, "entries")
    for key, value in inp.options.items():
        if len(key) > 128 or len(value) > 4096:
            raise TooLargeError(f"options[{key[:32]}]", len(key) + len(value), 4096 + 128)


def segment_rollout(inp: InterveneInput, limits: Limits) -> SegmentedRollout:
    """Steps of a validated request (caller's steps, or the chosen segmentation)."""
    if inp.rollout_steps:
        _, steps = join_presegmented(inp.rollout_steps)
        return SegmentedRollout(steps=steps, segmenter=PRESEGMENTED)
    mode = inp.segmentation
    if mode is SegmentationMode.UNSPECIFIED:
        mode = SegmentationMode.BLANK_LINE
    steps = segment(inp.rollout_text, mode)
    if len(steps) > limits.max_steps:
        raise TooLargeError("rollout.text", len(steps), limits.max_steps, "steps")
    return SegmentedRollout(steps=steps, segmenter=segmenter_for(mode))


def content_hash(inp: InterveneInput, rollout: SegmentedRollout) -> str:
    """Hash of everything the oracle sees; with the oracle's config, the cache key."""
    h = hashlib.sha256()
    head = json.dumps(
        [inp.problem, inp.reference_solution, inp.reference_answer, inp.categorize,
         sorted(inp.options.items()), rollout.segmenter.name, rollout.segmenter.version,
         len(rollout.steps)],
        ensure_ascii=False,
    )
    h.update(head.encode())
    # Each step preceded by a NUL byte: one join and one encode, not two updates per step.
    texts = [step.text for step in rollout.steps]
    h.update(("\x00" + "\x00".join(texts) if texts else "").encode("utf-8", "surrogatepass"))
    return h.hexdigest()
