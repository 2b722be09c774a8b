"""The ``cascade`` backend: a policy over other oracles, written as configuration only.

    triage:
      backend: cascade
      options:
        stages:                      # tried in order until one gives a usable verdict
          - {name: symbolic, backend: symbolic}
          - {name: gemini, backend: "llm:gemini", options: {model: gemini-2.5-pro}}
        escalate_on: [ABSTAINED, FAILED]     # statuses that move on to the next stage
        confirm: {name: claude, backend: "llm:anthropic", options: {model: claude-sonnet-4-5}}
        confirm_on: [FOUND_ERROR]            # verdicts that get a second opinion
        on_disagree: {name: human, backend: human}   # or omit: ABSTAINED on disagreement

Two verdicts agree when their status and first-error step match. The explanation records
the path the task took; usage sums every stage that ran.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from splice.sdk.types import Status, Usage
from splice.server.errors import ServiceError
from splice.server.oracles.base import Oracle, OracleResult, OracleTask
from splice.server.oracles.registry import build_oracle


class StageConfig(BaseModel):
    """One oracle of the policy, configured inline like a server oracle."""

    model_config = ConfigDict(extra="forbid")

    name: str
    backend: str
    options: dict[str, Any] = Field(default_factory=dict)


class CascadeOptions(BaseModel):
    """The policy."""

    model_config = ConfigDict(extra="forbid")

    stages: list[StageConfig] = Field(min_length=1)
    escalate_on: list[Status] = Field(default_factory=lambda: [Status.ABSTAINED, Status.FAILED])
    confirm: StageConfig | None = None
    confirm_on: list[Status] = Field(default_factory=lambda: [Status.FOUND_ERROR])
    on_disagree: StageConfig | None = None


def _status(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return Status[value]
    except KeyError:
        raise ValueError(f"unknown status {value!r}; one of "
                         f"{', '.join(s.name for s in Status)}") from None


def _describe(name: str, result: OracleResult) -> str:
    step = f"@{result.first_error_step}" if result.status is Status.FOUND_ERROR else ""
    return f"{name}→{result.status.name}{step}"


def _add(a: Usage, b: Usage) -> Usage:
    return Usage(input_tokens=a.input_tokens + b.input_tokens,
                 output_tokens=a.output_tokens + b.output_tokens,
                 cost_usd=a.cost_usd + b.cost_usd)


class CascadeOracle(Oracle):
    """Runs the configured policy; see the module docstring."""

    backend: ClassVar[str] = "cascade"
    description: ClassVar[str] = "A configured policy over other oracles."
    capabilities: ClassVar[tuple[str, ...]] = ("categorize", "replacements")
    cost_model: ClassVar[str] = "sum of its stages"

    def __init__(self, name: str, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(name, options)
        raw = dict(self.options)
        for key in ("escalate_on", "confirm_on"):
            if key in raw:
                raw[key] = [_status(v) for v in raw[key]]
        try:
            self.policy = CascadeOptions.model_validate(raw)
        except ValidationError as exc:
            raise ValueError(f"oracle {name!r}: invalid cascade policy: {exc}") from None
        self.stages = [self._build(s) for s in self.policy.stages]
        self.confirm = self._build(self.policy.confirm) if self.policy.confirm else None
        self.on_disagree = (self._build(self.policy.on_disagree)
                            if self.policy.on_disagree else None)

    def _build(self, stage: StageConfig) -> Oracle:
        return build_oracle(f"{self.name}/{stage.name}", stage.backend, stage.options)

    def _all(self) -> list[Oracle]:
        return [*self.stages, *(o for o in (self.confirm, self.on_disagree) if o is not None)]

    async def start(self) -> None:
        for oracle in self._all():
            await oracle.start()

    async def aclose(self) -> None:
        for oracle in self._all():
            await oracle.aclose()

    async def admit(self, client_id: str) -> None:
        """Admitted when some stage of the chain admits (later ones may answer for free);
        otherwise the first stage's refusal. Each stage's budget is still checked before
        its calls."""
        refusal: ServiceError | None = None
        for oracle in self.stages:
            try:
                await oracle.admit(client_id)
            except ServiceError as exc:
                refusal = refusal or exc
            else:
                return
        assert refusal is not None
        raise refusal

    async def intervene(self, task: OracleTask) -> OracleResult:
        path: list[str] = []
        usage = Usage()
        answer: OracleResult | None = None
        answered_by = ""
        for oracle in self.stages:
            answer = await oracle.intervene(task)
            usage = _add(usage, answer.usage)
            path.append(_describe(oracle.name, answer))
            answered_by = oracle.name
            if answer.status not in self.policy.escalate_on:
                break
        assert answer is not None  # at least one stage
        if self.confirm is not None and answer.status in self.policy.confirm_on \
                and answered_by != self.confirm.name:
            second = await self.confirm.intervene(task)
            usage = _add(usage, second.usage)
            path.append(_describe(self.confirm.name, second))
            if second.status in (Status.FOUND_ERROR, Status.NO_ERROR):
                agree = (second.status, second.first_error_step) == \
                    (answer.status, answer.first_error_step)
                if agree:
                    merged = answer.replacements + tuple(
                        r for r in second.replacements if r not in answer.replacements)
                    answer = replace(answer, replacements=merged)
                    path.append("agreed")
                elif self.on_disagree is not None:
                    path.append("disagreed")
                    answer = await self.on_disagree.intervene(task)
                    usage = _add(usage, answer.usage)
                    path.append(_describe(self.on_disagree.name, answer))
                else:
                    path.append("disagreed")
                    answer = OracleResult(status=Status.ABSTAINED, raw=answer.raw)
        trail = "cascade: " + "; ".join(path)
        explanation = f"{answer.explanation}\n{trail}".strip()
        return replace(answer, usage=usage, explanation=explanation)
