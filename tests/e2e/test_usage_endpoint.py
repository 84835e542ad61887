"""`GET /v1/usage`: totals and grouped rows, a key's own usage (an admin key's: everyone's), bad queries."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from tests.e2e.usage_helpers import (
    ADMIN_KEY,
    BOB_KEY,
    PricedUpstream,
    chat,
    get_usage,
    priced_server_fixture,  # noqa: F401
    usage_config,
    wait_rows,
)
from tests.fakes.proxy import PROXY_KEY, RunningProxy
from tests.fakes.scripted import Step


@pytest.fixture(scope="module")
def traffic(priced_server: PricedUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProxy]:
    """alice: vendor/a (ok), vendor/a (400), local:vendor/b (stream); bob: vendor/a; root (admin): vendor/c.
    Each success uses 10 prompt and 4 completion tokens and costs 0.0001."""
    priced_server.reset()
    db = tmp_path_factory.mktemp("usage") / "u.db"
    proxy = RunningProxy(usage_config(priced_server.base_url, db, local_url=priced_server.base_url)).start()
    try:
        priced_server.script("vendor/a", Step(), Step(status=400))
        assert chat(proxy, "vendor/a").status_code == 200
        assert chat(proxy, "vendor/a").status_code == 400
        assert chat(proxy, "local:vendor/b", stream=True).status_code == 200
        assert chat(proxy, "vendor/a", key=BOB_KEY).status_code == 200
        assert chat(proxy, "vendor/c", key=ADMIN_KEY).status_code == 200
        wait_rows(proxy, db, 5)
        yield proxy
    finally:
        proxy.stop()


def usage(proxy: RunningProxy, key: str = PROXY_KEY, **params: str) -> dict[str, Any]:
    response = get_usage(proxy, key, **params)
    assert response.status_code == 200, response.text
    return response.json()


def totals(requests: int, errors: int, successes: int) -> dict[str, Any]:
    return {"requests": requests, "errors": errors, "prompt_tokens": 10 * successes,
            "completion_tokens": 4 * successes, "reasoning_tokens": 0, "cached_tokens": 0,
            "cost_usd": pytest.approx(0.0001 * successes)}


def groups(summary: dict[str, Any]) -> list[tuple[Any, int, int]]:
    return [(row["group"], row["requests"], row["errors"]) for row in summary["rows"]]


def test_a_key_sees_only_its_own_usage(traffic: RunningProxy) -> None:
    summary = usage(traffic)
    assert summary["key"] == "alice" and summary["group_by"] == "model" and summary["since"] is None
    assert summary["totals"] == totals(3, 1, 2)
    assert summary["rows"] == [
        {"group": "vendor/a", **totals(2, 1, 1)},
        {"group": "vendor/b", **totals(1, 0, 1)},
    ]
    assert usage(traffic, BOB_KEY)["totals"] == totals(1, 0, 1)


def test_an_admin_key_sees_everyones_usage(traffic: RunningProxy) -> None:
    summary = usage(traffic, ADMIN_KEY, group_by="key")
    assert summary["key"] == "*"
    assert summary["totals"] == totals(5, 1, 4)
    assert groups(summary) == [("alice", 3, 1), ("bob", 1, 0), ("root", 1, 0)]
    assert summary["rows"][0]["cost_usd"] == pytest.approx(0.0002)


def test_usage_by_backend_and_by_model(traffic: RunningProxy) -> None:
    assert groups(usage(traffic, ADMIN_KEY, group_by="backend")) == [("openrouter", 4, 1), ("local", 1, 0)]
    assert groups(usage(traffic, ADMIN_KEY, group_by="model")) == [("vendor/a", 3, 1), ("vendor/b", 1, 0), ("vendor/c", 1, 0)]


def test_usage_by_utc_day(traffic: RunningProxy) -> None:
    summary = usage(traffic, ADMIN_KEY, group_by="day")
    assert groups(summary) == [(datetime.now(UTC).strftime("%Y-%m-%d"), 5, 1)]


@pytest.mark.parametrize("since", ["7d", "24h", "30m", "2w", "2000-01-01", "2000-01-01T00:00:00Z"])
def test_a_since_in_the_past_keeps_every_request(traffic: RunningProxy, since: str) -> None:
    summary = usage(traffic, ADMIN_KEY, since=since)
    assert summary["totals"]["requests"] == 5
    assert summary["since"] is not None and summary["since"].endswith("Z")


def test_since_as_a_duration_and_as_an_iso_time(traffic: RunningProxy) -> None:
    since = datetime.strptime(usage(traffic, ADMIN_KEY, since="24h")["since"], "%Y-%m-%dT%H:%M:%SZ")
    assert abs(since.replace(tzinfo=UTC).timestamp() - (time.time() - 86400)) < 5
    later = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
    for text in (later.isoformat(), later.astimezone(timezone(timedelta(hours=2))).isoformat()):
        summary = usage(traffic, ADMIN_KEY, since=text)
        assert summary["since"] == later.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert summary["totals"] == {**totals(0, 0, 0), "cost_usd": None} and summary["rows"] == []


@pytest.mark.parametrize(
    ("params", "param"),
    [({"since": "yesterday"}, "since"), ({"since": "7x"}, "since"), ({"group_by": "user"}, "group_by"),
     ({"group_by": "KEY"}, "group_by")],
)
def test_a_bad_query_is_a_400_in_the_openai_envelope(traffic: RunningProxy, params: dict[str, str], param: str) -> None:
    response = get_usage(traffic, ADMIN_KEY, **params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param
    assert param in error["message"]


def test_usage_needs_a_proxy_key(traffic: RunningProxy) -> None:
    assert httpx.get(f"{traffic.url}/v1/usage").status_code == 401
    response = httpx.get(f"{traffic.url}/v1/usage", headers={"Authorization": "Bearer not-a-key-at-all"})
    assert response.status_code == 401 and response.json()["error"]["type"] == "authentication_error"
