"""Dry-run cost estimate of a batch: prompts rendered and counted, nothing sent."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from splice.server.oracles.base import OracleTask
from splice.server.oracles.llm import prompts
from splice.server.oracles.llm.oracle import LlmOracle
from splice.server.oracles.llm.pricing import PriceTable


@dataclass(frozen=True, slots=True)
class BatchEstimate:
    """What a batch would cost: input tokens counted from the rendered prompts."""

    requests: int
    calls: int
    input_tokens: int
    output_tokens_max: int
    output_tokens_typical: int
    usd_typical: float
    usd_max: float
    priced: bool
    """False when the model has no price: the USD figures are then 0."""


def estimate_batch(oracle: LlmOracle, tasks: Iterable[OracleTask], *,
                   typical_output_tokens: int = 4000) -> BatchEstimate:
    """Estimate ``tasks`` on ``oracle`` (``samples`` calls each, categorisation excluded).

    ``typical_output_tokens`` is the expected answer length per call (a verification log
    plus the block); the maximum assumes every call uses its whole ``max_tokens``.
    """
    s = oracle.settings
    prices = PriceTable(s.prices)
    n = calls = tokens_in = 0
    for task in tasks:
        settings = s.with_request(dict(task.options))
        prompt = prompts.render_intervention(
            task.problem, task.reference_solution, task.steps,
            categorize=task.categorize and settings.categorize_mode == "inline")
        n += 1
        calls += settings.samples
        tokens_in += prompt.estimated_tokens * settings.samples
    typical = min(typical_output_tokens, s.max_tokens) * calls
    maximum = s.max_tokens * calls
    return BatchEstimate(
        requests=n, calls=calls, input_tokens=tokens_in, output_tokens_max=maximum,
        output_tokens_typical=typical, usd_typical=prices.cost(s.model, tokens_in, typical),
        usd_max=prices.cost(s.model, tokens_in, maximum), priced=prices.price(s.model) is not None)
