"""USD per token from a configurable price table.

The defaults are list prices per million tokens at the time of writing; providers change
them, so a deployment should set ``prices`` in the oracle's options (or the server's YAML).
A model with no price costs 0.0 and is reported as unpriced in the dry-run estimate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million input and output tokens (thinking tokens are billed as output)."""

    input_per_mtok: float
    output_per_mtok: float

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        """USD for this many tokens."""
        return (input_tokens * self.input_per_mtok + output_tokens * self.output_per_mtok) / 1e6


DEFAULT_PRICES: dict[str, Price] = {
    # Longest matching prefix of the model name wins.
    "claude-opus-4": Price(15.0, 75.0),
    "claude-sonnet-4": Price(3.0, 15.0),
    "claude-3-5-haiku": Price(0.8, 4.0),
    "claude-haiku-4": Price(1.0, 5.0),
    "gemini-2.5-pro": Price(1.25, 10.0),
    "gemini-2.5-flash": Price(0.30, 2.50),
    "gpt-4o-mini": Price(0.15, 0.60),
    "gpt-4o": Price(2.50, 10.0),
    "gpt-4.1": Price(2.0, 8.0),
    "o3": Price(2.0, 8.0),
}


class PriceTable:
    """Prices by model-name prefix: the defaults, overridden by configured entries."""

    def __init__(self, overrides: Mapping[str, Any] | None = None, *,
                 defaults: Mapping[str, Price] | None = None) -> None:
        self._prices: dict[str, Price] = dict(DEFAULT_PRICES if defaults is None else defaults)
        for model, value in (overrides or {}).items():
            self._prices[model] = value if isinstance(value, Price) else Price(
                float(value["input_per_mtok"]), float(value["output_per_mtok"]))

    def price(self, model: str) -> Price | None:
        """The price of ``model`` (longest matching prefix), or None when unpriced."""
        best = max((p for p in self._prices if model.startswith(p)), key=len, default=None)
        return self._prices[best] if best is not None else None

    def cost(self, model: str, input_tokens: int, output_tokens: int) -> float:
        """USD for a call of ``model``; 0.0 when unpriced."""
        price = self.price(model)
        return price.cost(input_tokens, output_tokens) if price else 0.0
