"""Typed values of the Splice API: the contracts of ARCHITECTURE.md as plain dataclasses."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


class Status(enum.IntEnum):
    """What the oracle concluded (numbers match ``splice.v1.InterventionStatus``)."""

    UNSPECIFIED = 0
    RUNNING = 1
    FOUND_ERROR = 2
    NO_ERROR = 3
    ABSTAINED = 4
    PENDING = 5
    FAILED = 6

    @property
    def finished(self) -> bool:
        """True once the result is final (it then has a log sequence number)."""
        return self in (Status.FOUND_ERROR, Status.NO_ERROR, Status.ABSTAINED, Status.FAILED)


class ErrorCategory(enum.IntEnum):
    """Kind of the first critical error (paper, App. A, second prompt)."""

    UNSPECIFIED = 0
    HIGH_LEVEL = 1
    EXECUTION = 2


class FailureReason(enum.IntEnum):
    """Why an intervention failed (numbers match ``splice.v1.FailureReason``)."""

    UNSPECIFIED = 0
    ORACLE_ERROR = 1
    TIMEOUT = 2
    PARSE_ERROR = 3
    CONTEXT_TOO_LONG = 4
    REFUSED = 5
    BUDGET_EXCEEDED = 6
    INTERNAL = 7


class SegmentationMode(enum.IntEnum):
    """How raw rollout text is split into steps."""

    UNSPECIFIED = 0
    BLANK_LINE = 1
    KEYWORD = 2


@dataclass(slots=True, unsafe_hash=True)
class Step:
    """One rollout step, numbered from 1.

    ``text`` is exactly ``rollout[char_start:char_end]``, including the separator that ends
    the step; consecutive steps tile the rollout text with no gap and no overlap.

    Treat it as immutable. It is not ``frozen`` because segmentation builds one per step on
    every request and a frozen dataclass's ``__init__`` costs 3-4 times more; it still
    compares and hashes by value (``unsafe_hash``), so do not change a step after creation.
    """

    @property
    def content(self) -> str:
        """The step without its surrounding whitespace, as shown to an oracle."""
        return self.text.strip()

    index: int
    text: str
    char_start: int
    char_end: int


@dataclass(frozen=True, slots=True)
class Replacement:
    """A candidate that replaces step ``location`` and everything after it."""

    location: int
    content: str
    leaks_answer: bool = False


@dataclass(frozen=True, slots=True)
class Segmenter:
    """The segmenter that produced the steps."""

    name: str
    version: str


@dataclass(frozen=True, slots=True)
class OracleInfo:
    """Which oracle answered."""

    name: str
    backend: str
    version: str = ""
    config_hash: str = ""


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens, cost and latency of one oracle call."""

    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    oracle_latency_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class Failure:
    """Structured failure reason of a ``FAILED`` result."""

    reason: FailureReason
    message: str
    retryable: bool = False


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a rollout came from."""

    policy_checkpoint: str = ""
    sampling: Mapping[str, str] = field(default_factory=dict)
    tokenizer: str = ""
    chat_template_hash: str = ""
    policy_step: int = 0


@dataclass(frozen=True, slots=True)
class OracleDescription:
    """A configured oracle, as listed by ``ListOracles``."""

    info: OracleInfo
    description: str
    capabilities: tuple[str, ...]
    cost_model: str
    is_default: bool


@dataclass(frozen=True, slots=True)
class Intervention:
    """One intervention: the rollout's steps and the oracle's verdict."""

    request_id: str
    client_id: str
    status: Status
    first_error_step: int
    steps: tuple[Step, ...]
    replacements: tuple[Replacement, ...]
    category: ErrorCategory
    explanation: str
    oracle: OracleInfo
    usage: Usage
    failure: Failure | None
    segmenter: Segmenter
    sequence: int
    cached: bool
    problem_id: str = ""
    created_at: datetime | None = None
    finished_at: datetime | None = None
    provenance: Provenance | None = None

    @property
    def rollout_text(self) -> str:
        """The rollout text: the steps tile it exactly, separators included."""
        return "".join(step.text for step in self.steps)


def patched_prefix(intervention: Intervention, replacement: Replacement) -> str:
    """On-policy prefix up to the replaced step, followed by the replacement (§4.2).

    The prefix is ``rollout[:steps[location-1].char_start]``: byte for byte what the policy
    wrote, including the separator that ended the previous step.
    """
    steps = intervention.steps
    if not 1 <= replacement.location <= len(steps):
        raise ValueError(
            f"replacement location {replacement.location} is outside steps 1..{len(steps)}"
        )
    prefix = "".join(step.text for step in steps[: replacement.location - 1])
    return prefix + replacement.content
