"""Cost: the upstream's figure, else catalog prices, else None."""

from __future__ import annotations

from decimal import Decimal

import pytest

from src.usage.pricing import cost_usd, format_usd, price_per_token
from src.usage.record import Tokens

PRICING = {"prompt": "0.000003", "completion": "0.000015"}
CACHED = {**PRICING, "input_cache_read": "0.0000003"}


@pytest.mark.parametrize(
    ("tokens", "reported", "pricing", "expected"),
    [
        # the reported cost wins over any pricing
        (Tokens(1000, 100), 0.5, PRICING, 0.5),
        (Tokens(), 0.0, None, 0.0),
        (Tokens(), 0.25, None, 0.25),
        # computed from prices per token
        (Tokens(1000, 100), None, PRICING, 0.0045),
        (Tokens(0, 0), None, PRICING, 0.0),
        (Tokens(1000, 100), None, {"prompt": 0.000003, "completion": 0.000015}, 0.0045),
        (Tokens(1000, 100), None, {"prompt": " 0.000003 ", "completion": "1.5E-5"}, 0.0045),
        (Tokens(1000, 0), None, {"prompt": "0", "completion": "0"}, 0.0),
        # cached prompt tokens at the cache price, or at the prompt price without one
        (Tokens(1000, 100, cached_tokens=400), None, CACHED, 600 * 0.000003 + 400 * 0.0000003 + 0.0015),
        (Tokens(1000, 100, cached_tokens=400), None, PRICING, 0.0045),
        (Tokens(1000, 100, cached_tokens=None), None, CACHED, 0.0045),
        (Tokens(100, 0, cached_tokens=400), None, CACHED, 100 * 0.0000003),  # more cached than prompt: capped
        # reasoning is inside completion tokens and not priced again
        (Tokens(1000, 100, reasoning_tokens=80), None, {**PRICING, "internal_reasoning": "0"}, 0.0045),
        # a fixed per-request price
        (Tokens(1000, 100), None, {**PRICING, "request": "0.01"}, 0.0145),
        # unknown: no pricing, missing or bad prices, missing counts
        (Tokens(1000, 100), None, None, None),
        (Tokens(1000, 100), None, {}, None),
        (Tokens(1000, 100), None, "0.000003", None),
        (Tokens(1000, 100), None, {"prompt": "0.000003"}, None),
        (Tokens(1000, 100), None, {"prompt": "abc", "completion": "0.000015"}, None),
        (Tokens(1000, 100), None, {"prompt": None, "completion": "0.000015"}, None),
        (Tokens(1000, 100), None, {"prompt": True, "completion": "0.000015"}, None),
        (Tokens(1000, 100), None, {"prompt": "-1", "completion": "-1"}, None),  # openrouter/auto
        (Tokens(1000, 100), None, {"prompt": "NaN", "completion": "0.000015"}, None),
        (Tokens(1000, 100), None, {**PRICING, "input_cache_read": "bad"}, None),
        (Tokens(1000, 100), None, {**PRICING, "request": []}, None),
        (Tokens(None, 100), None, PRICING, None),
        (Tokens(1000, None), None, PRICING, None),
    ],
)
def test_cost_usd(tokens: Tokens, reported: float | None, pricing: object, expected: float | None) -> None:
    result = cost_usd(tokens, reported, pricing)  # type: ignore[arg-type]
    if expected is None:
        assert result is None
    else:
        assert result == pytest.approx(expected, rel=1e-12, abs=1e-15)
        assert type(result) is float


def test_cost_is_exact_in_decimal() -> None:
    # 3 * 0.1 in binary floats is 0.30000000000000004; priced in Decimal it is 0.3.
    assert cost_usd(Tokens(3, 0), None, {"prompt": "0.1", "completion": "0"}) == 0.3


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0.000003", Decimal("0.000003")), (0, Decimal(0)), (1.5, Decimal("1.5")), ("", None), ("-1", None),
     (None, None), (False, None), ("inf", None), ([], None)],
)  # fmt: skip
def test_price_per_token(value: object, expected: Decimal | None) -> None:
    assert price_per_token(value) == expected


@pytest.mark.parametrize(
    ("amount", "text"),
    [(None, "-"), (0, "$0.00"), (0.0123, "$0.0123"), (2.5, "$2.50"), (15, "$15.00"), (0.075, "$0.075"),
     (0.000012, "$0.000012"), (1234.567, "$1,234.57"), (0.00001234567, "$0.000012")],
)  # fmt: skip
def test_format_usd(amount: float | None, text: str) -> None:
    assert format_usd(amount) == text
