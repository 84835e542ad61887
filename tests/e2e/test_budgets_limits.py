"""Per-key budgets and rpm: a 429 in the client's protocol envelope that names the limit, spend and reset."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from src.config import Config
from src.usage import schema
from src.usage.record import UsageRecord, new_request_id
from tests.e2e.usage_helpers import (
    ADMIN,
    BOB,
    BOB_KEY,
    MESSAGES,
    PricedUpstream,
    chat,
    priced_fixture,  # noqa: F401
    priced_server_fixture,  # noqa: F401
    usage_config,
    wait_rows,
)
from tests.fakes.proxy import PROXY_KEY, RunningProxy
from tests.fakes.scripted import Step, completion

Start = Callable[[Config], RunningProxy]
COST = 0.25


def costly(priced: PricedUpstream, model: str, count: int, **step: Any) -> None:
    """The next `count` answers for `model` cost COST each."""
    usage = {"prompt_tokens": 10, "completion_tokens": 4, "cost": COST}
    priced.script(model, *(Step(completion=completion(model, usage=usage), **step) for _ in range(count)))


def limited(priced: PricedUpstream, db: Path, **limits: Any) -> Config:
    return usage_config(priced.base_url, db, keys=[{"name": "alice", "key": PROXY_KEY, **limits}, BOB, ADMIN])


def next_midnight(now: datetime) -> datetime:
    return (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)


def next_month(now: datetime) -> datetime:
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)


def test_a_total_budget_admits_while_spend_is_below_it_then_answers_429(
    priced: PricedUpstream, start_proxy: Start, tmp_path: Path
) -> None:
    costly(priced, "vendor/m", 3)
    proxy = start_proxy(limited(priced, tmp_path / "u.db", budget_usd=0.6, budget_period="total"))
    for count in (1, 2, 3):  # spend before each: 0, 0.25, 0.5, all below 0.6
        assert chat(proxy, "vendor/m").status_code == 200
        wait_rows(proxy, tmp_path / "u.db", count)  # recorded, so settled
    client = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=PROXY_KEY, max_retries=0)
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="vendor/m", messages=MESSAGES)
    error = caught.value
    assert error.status_code == 429 and error.code == "insufficient_quota"
    assert error.body["message"] == (  # type: ignore[index]
        "proxy key 'alice' is over its total budget: $0.75 spent (including requests in flight) of $0.60; "
        "a total budget does not reset"
    )
    assert "retry-after" not in error.response.headers  # a total budget never resets
    assert len(priced.requests) == 3
    assert chat(proxy, "vendor/m", key=BOB_KEY).status_code == 200  # another key's budget is its own
    rows = wait_rows(proxy, tmp_path / "u.db", 5)
    assert [(r["key_name"], r["status"]) for r in rows[3:]] == [("alice", 429), ("bob", 200)]


@pytest.mark.parametrize(("period", "reset"), [("daily", next_midnight), ("monthly", next_month)])
def test_a_periodic_budget_says_when_it_resets_with_retry_after(
    priced: PricedUpstream, start_proxy: Start, tmp_path: Path, period: str, reset: Callable[[datetime], datetime]
) -> None:
    costly(priced, "vendor/m", 1)
    proxy = start_proxy(limited(priced, tmp_path / "u.db", budget_usd=0.2, budget_period=period))
    assert chat(proxy, "vendor/m").status_code == 200
    wait_rows(proxy, tmp_path / "u.db", 1)
    response = chat(proxy, "vendor/m")
    resets = reset(datetime.now(UTC))
    assert response.status_code == 429
    error = response.json()["error"]
    assert error["code"] == "insufficient_quota" and error["type"] == "rate_limit_error"
    assert error["message"] == (f"proxy key 'alice' is over its {period} budget: $0.25 spent (including requests "
                                f"in flight) of $0.20; resets at {resets.strftime('%Y-%m-%dT%H:%M:%SZ')}")
    assert abs(int(response.headers["retry-after"]) - math.ceil(resets.timestamp() - time.time())) <= 2


def record_at(db: Path, when: float, cost: float) -> None:
    """A record of alice's written to `db` before the proxy starts, as an earlier run would have left it."""
    conn = schema.connect(db)
    rec = UsageRecord(time=when, key_name="alice", user_agent=None, frontend="openai", requested_model="vendor/old",
                      status=200, route="openrouter:vendor/old", cost_usd=cost, request_id=new_request_id())
    [(sql, values)] = schema.insert_statements([schema.row_of(rec)])
    conn.execute(sql, values)
    conn.close()


@pytest.mark.parametrize(("period", "days_ago", "admitted"),
                         [("total", 40, False), ("monthly", 40, True), ("monthly", 0, False), ("daily", 2, True),
                          ("daily", 0, False)])  # fmt: skip
def test_spend_already_in_the_database_counts_in_its_period(
    priced: PricedUpstream, start_proxy: Start, tmp_path: Path, period: str, days_ago: int, admitted: bool
) -> None:
    record_at(tmp_path / "u.db", time.time() - days_ago * 86400 - 1, 5.0)
    proxy = start_proxy(limited(priced, tmp_path / "u.db", budget_usd=1.0, budget_period=period))
    response = chat(proxy, "vendor/m")
    assert response.status_code == (200 if admitted else 429)
    if not admitted:
        assert "$5.00 spent" in response.json()["error"]["message"]


def test_rpm_admits_that_many_requests_a_minute(priced: PricedUpstream, start_proxy: Start, tmp_path: Path) -> None:
    proxy = start_proxy(limited(priced, tmp_path / "u.db", rpm=2))
    assert [chat(proxy, "vendor/m").status_code for _ in range(2)] == [200, 200]
    response = chat(proxy, "vendor/m")
    assert response.status_code == 429
    error = response.json()["error"]
    assert error["code"] == "rate_limit_exceeded" and error["type"] == "rate_limit_error"
    assert error["message"].startswith("proxy key 'alice' is over its rate limit: 2 requests in the last 60 s "
                                       "of 2 per minute; resets at ")
    assert 55 <= int(response.headers["retry-after"]) <= 60
    assert chat(proxy, "vendor/m", key=BOB_KEY).status_code == 200
    assert len(priced.requests) == 3


@pytest.mark.parametrize("limits", [{"rpm": 1}, {"budget_usd": 0.0, "budget_period": "daily"}])
def test_limits_on_the_messages_endpoint_are_anthropic_rate_limit_errors(
    priced: PricedUpstream, start_proxy: Start, tmp_path: Path, limits: dict[str, Any]
) -> None:
    proxy = start_proxy(limited(priced, tmp_path / "u.db", **limits))
    client = anthropic.Anthropic(base_url=proxy.url, api_key=PROXY_KEY, max_retries=0)
    if "rpm" in limits:
        client.messages.create(model="vendor/m", max_tokens=20, messages=MESSAGES)
    with pytest.raises(anthropic.RateLimitError) as caught:
        client.messages.create(model="vendor/m", max_tokens=20, messages=MESSAGES)
    body = caught.value.response.json()
    assert body["type"] == "error" and body["error"]["type"] == "rate_limit_error"
    assert body["error"]["message"].startswith("proxy key 'alice' is over its ")
    assert int(caught.value.response.headers["retry-after"]) >= 1


def test_a_stream_over_its_limit_is_refused_before_it_starts(
    priced: PricedUpstream, start_proxy: Start, tmp_path: Path
) -> None:
    proxy = start_proxy(limited(priced, tmp_path / "u.db", budget_usd=0.0))
    response = httpx.post(f"{proxy.url}/v1/chat/completions", headers={"Authorization": f"Bearer {PROXY_KEY}"},
                          json={"model": "vendor/m", "messages": MESSAGES, "stream": True})
    assert response.status_code == 429 and response.headers["content-type"].startswith("application/json")
    assert response.json()["error"]["code"] == "insufficient_quota" and priced.requests == []
