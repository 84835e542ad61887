"""Cost: OpenRouter's `usage.cost` where present, else the backend's catalog prices, else unknown (null)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from src.config import Config
from tests.e2e.usage_helpers import (
    NO_COST,
    PricedUpstream,
    chat,
    priced_fixture,  # noqa: F401
    priced_server_fixture,  # noqa: F401
    usage_config,
    wait_rows,
)
from tests.fakes.proxy import RunningProxy
from tests.fakes.scripted import ScriptedUpstream, Step, answer_events, completion, usage_chunk

Start = Callable[[Config], RunningProxy]
GPT_4O_COST = 1000 * 0.0000025 + 200 * 0.00001  # NO_COST at openai/gpt-4o's catalog prices


def script(priced: PricedUpstream, model: str, usage: dict[str, Any], stream: bool) -> None:
    """The next answer for `model` (streamed or not) carries `usage`."""
    upstream_model = model.partition(":")[2] if model.startswith("local:") else model
    if stream:
        events = [*answer_events(upstream_model)[:-2], usage_chunk(upstream_model, usage), "data: [DONE]"]
        priced.script(upstream_model, Step(events=events))
    else:
        priced.script(upstream_model, Step(completion=completion(upstream_model, usage=usage)))


def recorded_cost(priced: PricedUpstream, start_proxy: Start, db: Path, model: str, usage: dict[str, Any],
                  stream: bool = False) -> float | None:
    script(priced, model, usage, stream)
    proxy = start_proxy(usage_config(priced.base_url, db, local_url=priced.base_url))
    assert chat(proxy, model, stream=stream).status_code == 200
    (row,) = wait_rows(proxy, db, 1)
    assert row["status"] == 200
    return row["cost_usd"]


@pytest.mark.parametrize("stream", [False, True])
def test_the_upstreams_reported_cost_is_recorded_without_a_catalog_look_up(
    priced: PricedUpstream, start_proxy: Start, tmp_path: Path, stream: bool
) -> None:
    usage = {**NO_COST, "cost": 0.123}
    assert recorded_cost(priced, start_proxy, tmp_path / "u.db", "openai/gpt-4o", usage, stream) == 0.123
    assert priced.models_served == 0


@pytest.mark.parametrize("stream", [False, True])
def test_without_a_reported_cost_the_catalog_prices_it(
    priced: PricedUpstream, start_proxy: Start, tmp_path: Path, stream: bool
) -> None:
    cost = recorded_cost(priced, start_proxy, tmp_path / "u.db", "openai/gpt-4o", NO_COST, stream)
    assert cost == pytest.approx(GPT_4O_COST)


def test_a_non_default_backends_catalog_prices_its_routes(
    priced: PricedUpstream, start_proxy: Start, tmp_path: Path
) -> None:
    cost = recorded_cost(priced, start_proxy, tmp_path / "u.db", "local:openai/gpt-4o", NO_COST)
    assert cost == pytest.approx(GPT_4O_COST)


def test_cached_prompt_tokens_are_priced_at_the_cache_read_price(
    priced: PricedUpstream, start_proxy: Start, tmp_path: Path
) -> None:
    usage = {**NO_COST, "prompt_tokens_details": {"cached_tokens": 400}}
    cost = recorded_cost(priced, start_proxy, tmp_path / "u.db", "vendor/cached", usage)
    assert cost == pytest.approx(600 * 0.000002 + 400 * 0.0000005 + 200 * 0.00001)


def test_a_per_request_price_is_added(priced: PricedUpstream, start_proxy: Start, tmp_path: Path) -> None:
    cost = recorded_cost(priced, start_proxy, tmp_path / "u.db", "vendor/flat", NO_COST)
    assert cost == pytest.approx(1000 * 0.000001 + 200 * 0.000002 + 0.001)


def test_a_free_model_costs_zero_not_unknown(priced: PricedUpstream, start_proxy: Start, tmp_path: Path) -> None:
    assert recorded_cost(priced, start_proxy, tmp_path / "u.db", "qwen/qwen3-coder:free", NO_COST) == 0.0


@pytest.mark.parametrize(
    ("model", "usage"),
    [
        ("vendor/not-listed", NO_COST),  # not in the catalog
        ("vendor/unpriced", NO_COST),  # listed without pricing
        ("vendor/variable", NO_COST),  # a variable price ("-1")
        ("openai/gpt-4o", {"prompt_tokens": 1000}),  # no completion count to price
        ("openai/gpt-4o", {"completion_tokens": 5}),  # no prompt count to price
    ],
)
def test_a_cost_that_cannot_be_known_is_null_never_a_guess(
    priced: PricedUpstream, start_proxy: Start, tmp_path: Path, model: str, usage: dict[str, Any]
) -> None:
    assert recorded_cost(priced, start_proxy, tmp_path / "u.db", model, usage) is None


def test_a_route_is_priced_only_from_its_own_backends_catalog(
    priced: PricedUpstream, start_proxy: Start, tmp_path: Path
) -> None:
    # `local` lists no prices; `openrouter` (the priced fake) lists openai/gpt-4o: its price is not borrowed.
    plain = ScriptedUpstream().start()
    try:
        plain.script("openai/gpt-4o", Step(completion=completion("openai/gpt-4o", usage=NO_COST)))
        proxy = start_proxy(usage_config(priced.base_url, tmp_path / "u.db", local_url=plain.base_url))
        assert chat(proxy, "local:openai/gpt-4o").status_code == 200
        (row,) = wait_rows(proxy, tmp_path / "u.db", 1)
    finally:
        plain.stop()
    assert row["route"] == "local:openai/gpt-4o" and row["prompt_tokens"] == 1000
    assert row["cost_usd"] is None


def test_the_price_look_up_after_the_answer_is_not_part_of_the_latency(
    priced: PricedUpstream, start_proxy: Start, tmp_path: Path
) -> None:
    priced.models_delay = 0.5
    script(priced, "openai/gpt-4o", NO_COST, stream=False)
    proxy = start_proxy(usage_config(priced.base_url, tmp_path / "u.db"))
    began = time.monotonic()
    assert chat(proxy, "openai/gpt-4o").status_code == 200
    answered_ms = (time.monotonic() - began) * 1000
    assert answered_ms < 400
    (row,) = wait_rows(proxy, tmp_path / "u.db", 1)
    assert row["cost_usd"] == pytest.approx(GPT_4O_COST)
    assert row["latency_ms"] <= answered_ms
