"""What a request may cost, before it is sent: the budget reservation of a key with no costs yet.

Deliberately high rather than low, since a reservation that is too small lets a burst overshoot
a budget: the prompt is counted as one token per BYTES_PER_TOKEN bytes of the whole request body
(JSON syntax and all; text runs about four bytes a token), and the answer as its `max_tokens`
(or `max_completion_tokens`, `max_output_tokens`), else DEFAULT_ANSWER_TOKENS.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from src.usage.pricing import price_per_token

BYTES_PER_TOKEN = 3
DEFAULT_ANSWER_TOKENS = 4096
_LIMITS = ("max_tokens", "max_completion_tokens", "max_output_tokens")


def answer_tokens(body: Mapping[str, Any]) -> int:
    for name in _LIMITS:
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return DEFAULT_ANSWER_TOKENS


def estimate_cost(body_bytes: int, body: Mapping[str, Any], pricing: Mapping[str, Any] | None) -> float:
    """The request's cost at `pricing` (a catalog entry's, USD per token); 0 when the price is unknown."""
    if not isinstance(pricing, Mapping):
        return 0.0
    prompt, completion = price_per_token(pricing.get("prompt")), price_per_token(pricing.get("completion"))
    if prompt is None or completion is None:
        return 0.0
    fixed = price_per_token(pricing.get("request")) or 0
    return float(-(-body_bytes // BYTES_PER_TOKEN) * prompt + answer_tokens(body) * completion + fixed)
