"""Approximate API prices, in US dollars per million tokens, for the run's cost estimate.

These are list prices as published by the providers for standard (not batch) requests, read in
2025; they change, and cached-input discounts, long-context tiers and taxes are ignored. A model
that is not in the table exactly (a self-hosted one, a new snapshot) gets cost ``null``: never a
guess from a similar name.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

#: model name -> (input, output) USD per 1M tokens
PRICES_PER_MTOK: Mapping[str, tuple[float, float]] = MappingProxyType({
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-2024-08-06": (2.50, 10.00),
    "gpt-4o-2024-11-20": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gemini-2.5-pro": (1.25, 10.00),
    "gemini-2.5-flash": (0.30, 2.50),
    "gemini-2.5-flash-lite": (0.10, 0.40),
    "gemini-2.0-flash": (0.10, 0.40),
})


def cost_usd(model: str, input_tokens: int, output_tokens: int) -> float | None:
    """The estimated cost, or ``None`` for a model without a known price."""
    price = PRICES_PER_MTOK.get(model)
    if price is None:
        return None
    return round((input_tokens * price[0] + output_tokens * price[1]) / 1e6, 6)
