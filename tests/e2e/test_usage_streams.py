"""How streams end, as the usage record tells it: complete, broken, or cut short by a client that left."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from src.config import Config
from tests.e2e.usage_helpers import (
    MESSAGES,
    PricedUpstream,
    auth,
    chat,
    metrics,
    priced_fixture,  # noqa: F401
    priced_server_fixture,  # noqa: F401
    sample,
    usage_config,
    wait_rows,
)
from tests.fakes.proxy import RunningProxy
from tests.fakes.scripted import Step, answer_events
from tests.fakes.upstream import FakeUpstream

Start = Callable[[Config], RunningProxy]


def leave_mid_stream(priced: PricedUpstream, start_proxy: Start, db: Path) -> dict[str, Any]:
    """A stream whose upstream goes silent after " from"; the client reads that far and hangs up."""
    priced.script("vendor/long", Step(stall_after=4))  # role, "Hello", " from", then 30 s of silence
    proxy = start_proxy(usage_config(priced.base_url, db))
    body = {"model": "vendor/long", "messages": MESSAGES, "stream": True}
    with httpx.stream("POST", f"{proxy.url}/v1/chat/completions", json=body, headers=auth(), timeout=10) as response:
        assert response.status_code == 200
        chunks, seen = response.iter_text(), ""
        while '" from"' not in seen:
            seen += next(chunks)
        assert sample(metrics(proxy), "switchyard_streams_in_flight") == 1
    (row,) = wait_rows(proxy, db, 1)
    assert sample(metrics(proxy), "switchyard_streams_in_flight") == 0
    return row


def test_a_client_that_leaves_mid_stream_is_recorded_with_what_was_known(
    priced: PricedUpstream, start_proxy: Start, tmp_path: Path
) -> None:
    row = leave_mid_stream(priced, start_proxy, tmp_path / "u.db")
    assert (row["stream"], row["route"], row["requested_model"]) == (1, "openrouter:vendor/long", "vendor/long")
    assert [a["outcome"] for a in row["attempts"]] == ["ok"]
    assert row["ttft_ms"] is not None and row["latency_ms"] >= row["ttft_ms"]
    assert (row["prompt_tokens"], row["completion_tokens"], row["cost_usd"]) == (None, None, None)  # usage never came


def test_a_client_that_leaves_mid_stream_is_recorded_as_499(
    priced: PricedUpstream, start_proxy: Start, tmp_path: Path
) -> None:
    assert leave_mid_stream(priced, start_proxy, tmp_path / "u.db")["status"] == 499


def test_a_client_that_gives_up_on_a_non_streaming_request_is_recorded_as_499(
    priced: PricedUpstream, start_proxy: Start, tmp_path: Path
) -> None:
    priced.script("vendor/slow", Step(stall=3))
    proxy = start_proxy(usage_config(priced.base_url, tmp_path / "u.db"))
    with pytest.raises(httpx.TimeoutException):
        chat(proxy, "vendor/slow", timeout=0.3)

    (row,) = wait_rows(proxy, tmp_path / "u.db", 1)
    assert (row["status"], row["stream"], row["requested_model"]) == (499, 0, "vendor/slow")
    assert row["cost_usd"] is None and 250 <= row["latency_ms"] < 3000


def test_an_error_event_mid_stream_is_recorded_with_its_status(
    upstream: FakeUpstream, start_proxy: Start, tmp_path: Path
) -> None:
    proxy = start_proxy(usage_config(upstream.base_url, tmp_path / "u.db"))
    assert chat(proxy, "x/midstream-error", stream=True).status_code == 200  # the error comes as an event
    assert chat(proxy, "x/truncated", stream=True).status_code == 200
    rows = wait_rows(proxy, tmp_path / "u.db", 2)
    assert [(r["requested_model"], r["status"], r["stream"]) for r in rows] == [
        ("x/midstream-error", 502, 1), ("x/truncated", 502, 1)]


def test_a_complete_stream_ends_the_streams_in_flight(priced: PricedUpstream, start_proxy: Start, tmp_path: Path) -> None:
    proxy = start_proxy(usage_config(priced.base_url, tmp_path / "u.db"))
    for _ in range(3):
        assert chat(proxy, "vendor/m", stream=True).status_code == 200
    rows = wait_rows(proxy, tmp_path / "u.db", 3)
    assert {r["status"] for r in rows} == {200}
    assert sample(metrics(proxy), "switchyard_streams_in_flight") == 0


def test_a_stream_the_upstream_answered_with_json_is_recorded_as_served(
    upstream: FakeUpstream, start_proxy: Start, tmp_path: Path
) -> None:
    proxy = start_proxy(usage_config(upstream.base_url, tmp_path / "u.db"))
    response = chat(proxy, "x/ignores-stream", stream=True)
    assert response.status_code == 200 and "data: [DONE]" in response.text
    (row,) = wait_rows(proxy, tmp_path / "u.db", 1)
    assert (row["prompt_tokens"], row["cost_usd"]) == (12, 0.00012)
    assert row["status"] == 200


def test_a_stream_that_ends_without_done_is_recorded_as_failed(
    priced: PricedUpstream, start_proxy: Start, tmp_path: Path
) -> None:
    priced.script("vendor/cut", Step(events=answer_events("vendor/cut")[:-1]))  # no data: [DONE]
    proxy = start_proxy(usage_config(priced.base_url, tmp_path / "u.db"))
    response = chat(proxy, "vendor/cut", stream=True)
    assert "ended before it was complete" in response.text
    (row,) = wait_rows(proxy, tmp_path / "u.db", 1)
    assert (row["status"], row["prompt_tokens"], row["cost_usd"]) == (502, 10, 0.0001)  # its usage did arrive
