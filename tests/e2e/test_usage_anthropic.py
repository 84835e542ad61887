"""Usage of `/v1/messages` requests: translated to chat completions, or passed through to a native Messages API."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from src.config import Config
from tests.e2e.usage_helpers import (
    MESSAGES,
    PricedUpstream,
    priced_fixture,  # noqa: F401
    priced_server_fixture,  # noqa: F401
    usage_config,
    wait_rows,
)
from tests.fakes.messages_upstream import MessagesUpstream
from tests.fakes.proxy import PROXY_KEY, RunningProxy
from tests.fakes.upstream import FakeUpstream

Start = Callable[[Config], RunningProxy]
HEADERS = {"x-api-key": PROXY_KEY, "anthropic-version": "2023-06-01", "User-Agent": "claude-cli/1.0"}


@pytest.fixture(scope="module")
def native() -> Iterator[MessagesUpstream]:
    server = MessagesUpstream().start()
    yield server
    server.stop()


def messages(proxy: RunningProxy, model: str, stream: bool) -> httpx.Response:
    body = {"model": model, "max_tokens": 50, "messages": MESSAGES, "stream": stream}
    return httpx.post(f"{proxy.url}/v1/messages", json=body, headers=HEADERS, timeout=10)


@pytest.mark.parametrize("stream", [False, True])
def test_a_translated_request_is_recorded_with_the_chat_usage(
    priced: PricedUpstream, start_proxy: Start, tmp_path: Path, stream: bool
) -> None:
    proxy = start_proxy(usage_config(priced.base_url, tmp_path / "u.db"))
    assert messages(proxy, "vendor/claude-like", stream).status_code == 200

    (row,) = wait_rows(proxy, tmp_path / "u.db", 1)
    assert (row["frontend"], row["user_agent"], row["status"], row["stream"]) == ("anthropic", "claude-cli/1.0", 200, int(stream))
    assert (row["route"], row["prompt_tokens"], row["completion_tokens"], row["cost_usd"]) == (
        "openrouter:vendor/claude-like", 10, 4, 0.0001)
    assert (row["ttft_ms"] is not None) is stream


@pytest.mark.parametrize("stream", [False, True])
def test_a_native_request_is_recorded_with_anthropic_usage_in_openai_counts(
    native: MessagesUpstream, start_proxy: Start, tmp_path: Path, stream: bool
) -> None:
    native.reset()
    proxy = start_proxy(usage_config(native.base_url, tmp_path / "u.db"))
    assert messages(proxy, "anthropic/claude-sonnet-4", stream).status_code == 200
    assert native.paths() == ["/v1/messages"]

    (row,) = wait_rows(proxy, tmp_path / "u.db", 1)
    assert (row["frontend"], row["status"], row["stream"], row["route"]) == (
        "anthropic", 200, int(stream), "openrouter:anthropic/claude-sonnet-4")
    # input 12 + cache read 100 (+ cache writes 0); output 6 (a stream's message_delta replaces message_start's 1)
    assert (row["prompt_tokens"], row["cached_tokens"], row["completion_tokens"]) == (112, 100, 6)
    assert row["cost_usd"] is None  # no cost reported and no price listed: unknown, never a guess


def test_a_native_error_is_recorded_with_its_status(native: MessagesUpstream, start_proxy: Start, tmp_path: Path) -> None:
    native.reset()
    native.fail_next(400)
    proxy = start_proxy(usage_config(native.base_url, tmp_path / "u.db"))
    assert messages(proxy, "anthropic/claude-sonnet-4", False).status_code == 400
    (row,) = wait_rows(proxy, tmp_path / "u.db", 1)
    assert (row["frontend"], row["status"], [a["outcome"] for a in row["attempts"]]) == ("anthropic", 400, ["status_400"])


def test_an_answer_that_cannot_be_translated_keeps_its_route_and_attempt(
    upstream: FakeUpstream, start_proxy: Start, tmp_path: Path
) -> None:
    proxy = start_proxy(usage_config(upstream.base_url, tmp_path / "u.db"))
    assert messages(proxy, "x/ignores-stream-not-completion", False).status_code == 502
    (row,) = wait_rows(proxy, tmp_path / "u.db", 1)
    assert row["status"] == 502
    assert row["route"] == "openrouter:x/ignores-stream-not-completion" and len(row["attempts"]) == 1
