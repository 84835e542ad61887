"""The cost of a request in USD: the upstream's own figure, else catalog prices, else unknown.

Catalog prices are OpenRouter's `pricing` object: USD per token, as strings
(`{"prompt": "0.0000025", "completion": "0.00001", "input_cache_read": "0.00000125"}`).
Nothing is ever guessed: a missing price or count makes the cost None.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from src.usage.record import Tokens


def cost_usd(tokens: Tokens, reported_cost: float | None, pricing: Mapping[str, Any] | None) -> float | None:
    """The request's cost: `reported_cost` when the upstream gave one, else computed from `pricing`.

    Uncached prompt tokens are priced at `prompt`, cached ones at `input_cache_read` (or
    `prompt` when the catalog has no cache price), completion tokens at `completion`, plus a
    fixed `request` price when the catalog lists one. Reasoning tokens are part of the
    completion tokens and billed with them; `internal_reasoning` is not applied, since
    OpenRouter lists it as "0" for models that bill reasoning as output.
    """
    if reported_cost is not None:
        return reported_cost
    if not isinstance(pricing, Mapping) or tokens.prompt_tokens is None or tokens.completion_tokens is None:
        return None
    prompt_price = price_per_token(pricing.get("prompt"))
    completion_price = price_per_token(pricing.get("completion"))
    cache_price = _optional_price(pricing, "input_cache_read", default=prompt_price)
    request_price = _optional_price(pricing, "request", default=Decimal(0))
    if prompt_price is None or completion_price is None or cache_price is None or request_price is None:
        return None
    cached = min(tokens.cached_tokens or 0, tokens.prompt_tokens)
    total = (
        (tokens.prompt_tokens - cached) * prompt_price
        + cached * cache_price
        + tokens.completion_tokens * completion_price
        + request_price
    )
    return float(total)


def price_per_token(value: object) -> Decimal | None:
    """A catalog price (string or number) as a Decimal; None if missing, malformed or negative.

    OpenRouter gives variable-price routers such as `openrouter/auto` a price of "-1".
    """
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        price = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return price if price.is_finite() and price >= 0 else None


def _optional_price(pricing: Mapping[str, Any], field: str, default: Decimal | None) -> Decimal | None:
    """An optional price: `default` when absent, None (cost unknown) when present but unusable."""
    value = pricing.get(field)
    return default if value is None else price_per_token(value)


def format_usd(amount: float | None) -> str:
    """An amount for people: `$2.50`, `$0.0123`, `$0.000012`, `$1,234.57`; `-` when unknown."""
    if amount is None:
        return "-"
    places = 2 if abs(amount) >= 100 else 4 if abs(amount) >= 0.0001 or amount == 0 else 6
    text = f"{amount:,.{places}f}"
    whole, _, fraction = text.partition(".")
    fraction = fraction.rstrip("0").ljust(2, "0")
    return f"${whole}.{fraction}"
