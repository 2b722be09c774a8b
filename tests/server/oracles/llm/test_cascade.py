"""The cascade policy, configured in YAML only, over scripted and LLM oracles."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from splice.sdk.types import Status
from splice.server.errors import BudgetExceededError
from splice.server.oracles.llm.ledger import MemoryLedger, set_shared_ledger
from splice.server.oracles.registry import build_oracle

from .fake_provider import Act, FakeProvider, verdict
from .helpers import KEY_ENV, SECRET, make_task

POLICY = """
stages:
  - {name: first, backend: fake, options: {status: ABSTAINED}}
  - {name: second, backend: fake, options: {step: 2, replacement: "Fix step two."}}
confirm: {name: check, backend: fake, options: {step: 2, replacement: "Also this."}}
on_disagree: {name: judge, backend: fake, options: {step: 3, replacement: "Judge says."}}
"""


def cascade(policy: str, **edits: Any) -> Any:
    options = {**yaml.safe_load(policy), **edits}
    return build_oracle("triage", "cascade", options)


async def test_escalates_on_abstain_and_confirms() -> None:
    r = await cascade(POLICY).intervene(make_task())
    assert r.status is Status.FOUND_ERROR and r.first_error_step == 2
    assert [x.content for x in r.replacements] == ["Fix step two.", "Also this."]
    assert r.explanation.endswith("cascade: triage/first→ABSTAINED; triage/second→"
                                  "FOUND_ERROR@2; triage/check→FOUND_ERROR@2; agreed")


async def test_disagreement_goes_to_the_judge() -> None:
    policy = cascade(POLICY, confirm={"name": "check", "backend": "fake",
                                      "options": {"step": 1}})
    r = await policy.intervene(make_task())
    assert r.first_error_step == 3 and "disagreed; triage/judge→FOUND_ERROR@3" in r.explanation


async def test_disagreement_without_judge_abstains() -> None:
    policy = cascade(POLICY, confirm={"name": "check", "backend": "fake",
                                      "options": {"status": "NO_ERROR"}}, on_disagree=None)
    r = await policy.intervene(make_task())
    assert r.status is Status.ABSTAINED and r.explanation.endswith("disagreed")


def test_bad_policy_fails_at_build() -> None:
    with pytest.raises(ValueError, match="invalid cascade policy"):
        cascade(POLICY, stages=[])
    with pytest.raises(ValueError, match="unknown status"):
        cascade(POLICY, escalate_on=["NOT_A_STATUS"])


async def test_abstaining_stage_then_llm_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, SECRET)
    set_shared_ledger(MemoryLedger())
    fake = FakeProvider(default=Act(text=verdict(2, (2, "Use 6 as the denominator."))))
    await fake.start()
    policy = cascade(POLICY, stages=[
        {"name": "cheap", "backend": "fake", "options": {"status": "ABSTAINED"}},
        {"name": "llm", "backend": "llm:openai", "options": {
            "model": "m", "base_url": fake.base_url + "/v1", "api_key_env": KEY_ENV}}],
        confirm=None)
    await policy.start()
    try:
        r = await policy.intervene(make_task())
    finally:
        await policy.aclose()
        await fake.close()
    assert r.status is Status.FOUND_ERROR and r.first_error_step == 2
    assert r.usage.input_tokens > 0 and len(fake.seen) == 1


async def test_admit_refuses_only_when_every_stage_refuses(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, SECRET)
    set_shared_ledger(MemoryLedger())
    broke = {"name": "llm", "backend": "llm:openai", "options": {
        "model": "m", "base_url": "http://127.0.0.1:9/v1", "api_key_env": KEY_ENV,
        "budgets": {"*": {"usd_per_day": 0.0}}}}
    only_llm = cascade(POLICY, stages=[broke], confirm=None, on_disagree=None)
    with pytest.raises(BudgetExceededError, match="budget '\\*' of client 'c1'"):
        await only_llm.admit("c1")
    free_first = cascade(POLICY, stages=[
        {"name": "cheap", "backend": "fake", "options": {"status": "ABSTAINED"}}, broke],
        confirm=None, on_disagree=None)
    await free_first.admit("c1")  # the free stage can still answer
