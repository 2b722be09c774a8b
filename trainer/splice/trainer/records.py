"""Plain records that flow between the stages: problems, sampling parameters, rollouts."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from splice.sdk.types import Provenance

T = TypeVar("T")


def digest(*parts: str, size: int = 32) -> str:
    """A stable hex digest of ``parts`` (separated, so ("ab", "c") != ("a", "bc"))."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
    return h.hexdigest()[:size]


@dataclass(frozen=True)
class Problem:
    """A training problem ``x`` with its reference solution ``y*`` and final answer."""

    problem_id: str
    problem: str
    reference_solution: str
    reference_answer: str


@dataclass(frozen=True)
class SamplingParams:
    """How to sample: ``n`` samples per prompt, temperature / top-p / top-k, a token budget."""

    n: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    max_tokens: int = 256
    seed: int = 0

    def as_strings(self) -> dict[str, str]:
        """The parameters as the string map of a rollout's provenance."""
        return {k: str(v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class RolloutProvenance:
    """Where a rollout came from: checkpoint, sampling, tokenizer and chat template."""

    checkpoint: str
    sampling: Mapping[str, str]
    tokenizer_hash: str
    chat_template_hash: str
    seed: int
    policy_step: int = 0

    def to_sdk(self) -> Provenance:
        """The SDK form sent with an intervention request."""
        return Provenance(policy_checkpoint=self.checkpoint,
                          sampling={**self.sampling, "batch_seed": str(self.seed)},
                          tokenizer=self.tokenizer_hash,
                          chat_template_hash=self.chat_template_hash,
                          policy_step=self.policy_step)


@dataclass(frozen=True)
class Rollout:
    """One sampled completion of the assistant turn.

    ``completion_ids`` = ``prefix_ids`` (given, for a continuation) + ``sampled_ids`` (drawn
    by the policy); ``text`` is exactly their decoding. The stop token (end of turn) is not
    part of either; ``finish_reason`` says whether one was sampled ("stop") or not ("length").
    """

    problem_id: str
    sample_index: int
    prefix_ids: tuple[int, ...]
    sampled_ids: tuple[int, ...]
    text: str
    finish_reason: str
    provenance: RolloutProvenance
    reward: float | None = None

    @property
    def completion_ids(self) -> tuple[int, ...]:
        return self.prefix_ids + self.sampled_ids

    @property
    def rollout_id(self) -> str:
        """Content address of the rollout (problem + text)."""
        return digest(self.problem_id, self.text, size=16)


@dataclass(frozen=True)
class CandidateScore:
    """Counterfactual check of one replacement: ``successes`` of ``samples`` continuations.

    ``suffix_ids``: the first successful continuation (sampled ids, then the stop token), for
    the "+ suffix" ablation. ``reason`` says why a candidate was dropped.
    """

    request_id: str
    problem_id: str
    rollout_id: str
    location: int
    content: str
    samples: int
    successes: int
    kept: bool
    reason: str = ""
    suffix_ids: tuple[int, ...] = ()

    @property
    def success_rate(self) -> float:
        return self.successes / self.samples if self.samples else 0.0


def to_json(obj: Any) -> Any:
    """A JSON-ready form of records (dataclasses, tuples, mappings)."""
    if hasattr(obj, "__dataclass_fields__"):
        return {f.name: to_json(getattr(obj, f.name)) for f in fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): to_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_json(v) for v in obj]
    return obj


def problem_from_json(data: Mapping[str, Any]) -> Problem:
    return Problem(**{f.name: str(data[f.name]) for f in fields(Problem)})


def rollout_from_json(data: Mapping[str, Any]) -> Rollout:
    prov = dict(data["provenance"])
    return Rollout(
        problem_id=data["problem_id"], sample_index=int(data["sample_index"]),
        prefix_ids=tuple(data["prefix_ids"]), sampled_ids=tuple(data["sampled_ids"]),
        text=data["text"], finish_reason=data["finish_reason"],
        provenance=RolloutProvenance(**{**prov, "sampling": dict(prov["sampling"])}),
        reward=data.get("reward"),
    )


def candidate_from_json(data: Mapping[str, Any]) -> CandidateScore:
    values = {f.name: data[f.name] for f in fields(CandidateScore) if f.name in data}
    return CandidateScore(**{**values, "suffix_ids": tuple(data.get("suffix_ids", ()))})


@dataclass
class JsonlWriter:
    """Appends one JSON object per line and flushes it (a crash loses at most one line)."""

    path: Path
    _file: Any = field(default=None, init=False, repr=False)

    def __enter__(self) -> JsonlWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        torn = False
        if self.path.exists() and self.path.stat().st_size:
            with self.path.open("rb") as f:
                f.seek(-1, 2)
                torn = f.read(1) != b"\n"
        self._file = self.path.open("a", encoding="utf-8")
        if torn:  # a crash mid-line: end it, or the next row would be glued to it and lost
            self._file.write("\n")
        return self

    def write(self, obj: Any) -> None:
        self._file.write(json.dumps(to_json(obj), ensure_ascii=False) + "\n")
        self._file.flush()

    def __exit__(self, *exc: object) -> None:
        self._file.close()


def write_jsonl(path: Path, items: Iterable[Any]) -> int:
    """Write ``items`` to ``path`` (replacing it, through a temporary file); returns the count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    count = 0
    with tmp.open("w", encoding="utf-8") as f:
        for item in items:
            f.write(json.dumps(to_json(item), ensure_ascii=False) + "\n")
            count += 1
    tmp.replace(path)
    return count


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """The objects of a JSONL file; a torn last line (a crash mid-write) is skipped."""
    if not path.exists():
        return
    with path.open(encoding="utf-8") as f:
        for line in f:
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue
