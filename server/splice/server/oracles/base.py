"""The oracle plugin interface: what every backend receives and returns."""

from __future__ import annotations

import abc
import functools
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from splice.sdk.types import (
    ErrorCategory,
    Failure,
    FailureReason,
    OracleDescription,
    OracleInfo,
    Replacement,
    Status,
    Step,
    Usage,
)


@dataclass(frozen=True, slots=True)
class OracleTask:
    """One request as an oracle sees it: problem, reference and the numbered rollout."""

    request_id: str
    client_id: str
    problem: str
    reference_solution: str
    reference_answer: str
    steps: tuple[Step, ...]
    categorize: bool = False
    options: Mapping[str, str] = field(default_factory=dict)
    problem_id: str = ""

    @property
    def rollout_text(self) -> str:
        """The rollout text, which the steps tile exactly."""
        return "".join(step.text for step in self.steps)


@dataclass(frozen=True, slots=True)
class OracleResult:
    """An oracle's verdict on one task."""

    status: Status
    first_error_step: int = 0
    replacements: tuple[Replacement, ...] = ()
    category: ErrorCategory = ErrorCategory.UNSPECIFIED
    explanation: str = ""
    usage: Usage = field(default_factory=Usage)
    failure: Failure | None = None
    raw: str = ""

    @classmethod
    def failed(
        cls, reason: FailureReason, message: str, *, retryable: bool = False, raw: str = ""
    ) -> OracleResult:
        """A ``FAILED`` result with its reason."""
        return cls(
            status=Status.FAILED,
            failure=Failure(reason=reason, message=message, retryable=retryable),
            raw=raw,
        )


class Oracle(abc.ABC):
    """An oracle backend. Subclasses set ``backend`` and implement :meth:`intervene`.

    Instances are built by the registry from a configured name and an options mapping;
    ``options`` holds backend-specific settings and must never contain secrets in clear
    (keys are read from the environment or a secret file by the backend itself).

    ``free``: a backend whose calls cost nothing (no money, no quota, no human time) may set
    it. The engine then runs it inline, before anything is stored, and stores request and
    result in one write (:meth:`Store.accept_finished`): one store round trip instead of an
    accept and a finish. Its answer may therefore be computed again (a retry, a duplicate
    request_id arriving at once, a crash before the write), but what is stored and returned
    is still one row and one log entry per request_id, and cache hits are served as before.
    A caller that goes away before the write leaves nothing behind. Paid backends keep the
    default: accepted durably first, then run detached from the call, never twice.
    """

    backend: ClassVar[str]
    version: ClassVar[str] = "1"
    free: ClassVar[bool] = False
    """Calls cost nothing and may be repeated: see the class docstring."""
    description: ClassVar[str] = ""
    capabilities: ClassVar[tuple[str, ...]] = ()
    cost_model: ClassVar[str] = "free"

    def __init__(self, name: str, options: Mapping[str, Any] | None = None) -> None:
        self.name = name
        self.options: dict[str, Any] = dict(options or {})

    @functools.cached_property
    def info(self) -> OracleInfo:
        """Identity of this oracle, stored with every result (computed once: options are
        fixed after construction)."""
        return OracleInfo(
            name=self.name, backend=self.backend, version=self.version,
            config_hash=self.config_hash(),
        )

    def config_hash(self) -> str:
        """Hash of everything that changes this oracle's answers (part of the cache key)."""
        blob = json.dumps(
            {"backend": self.backend, "version": self.version, "options": self.options},
            sort_keys=True, default=str,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def describe(self, *, is_default: bool = False) -> OracleDescription:
        """What ``ListOracles`` shows for this oracle."""
        return OracleDescription(
            info=self.info, description=self.description,
            capabilities=self.capabilities, cost_model=self.cost_model, is_default=is_default,
        )

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Acquire resources (worker pools, HTTP clients). Called once before use."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release resources. Called once at shutdown."""

    async def admit(self, client_id: str) -> None:  # noqa: B027 - optional hook
        """Refuse work before it is accepted by raising a ServiceError (e.g. a used-up
        budget: RESOURCE_EXHAUSTED). Called by the engine before ``store.accept``."""

    @abc.abstractmethod
    async def intervene(self, task: OracleTask) -> OracleResult:
        """Find the first critical error of ``task`` and propose replacements."""
