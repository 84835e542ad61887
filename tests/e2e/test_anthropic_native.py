"""Native pass-through: OpenRouter's `anthropic/*` models get the Messages request as it came, on `/messages`."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anthropic
import httpx
import pytest

from src.config import Config
from tests.e2e.anthropic_helpers import (  # noqa: F401 - fixtures
    OR_KEY,
    USER,
    make_config,
    native_fixture,
    native_server,
    openai_backend,
    post,
    sdk,
    sse_events,
)
from tests.fakes.messages_upstream import MESSAGE_SSE, NATIVE_TEXT, SIGNATURE, STREAM_ERROR, MessagesUpstream
from tests.fakes.proxy import PROXY_KEY, RunningProxy
from tests.fakes.scripted import ScriptedUpstream

StartProxy = Callable[[Config], RunningProxy]
CLAUDE = "anthropic/claude-sonnet-4"
BETA = "interleaved-thinking-2025-05-14,prompt-caching-2024-07-31"
HEADERS = {"anthropic-version": "2023-06-01", "anthropic-beta": BETA}
# What Claude Code replays: cache_control marks and a signed thinking block before a tool_use.
CONVERSATION: dict[str, Any] = {
    "system": [{"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}],
    "messages": [
        {"role": "user", "content": [{"type": "text", "text": "List files", "cache_control": {"type": "ephemeral"}}]},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "Use the tool.", "signature": SIGNATURE},
            {"type": "tool_use", "id": "toolu_01A", "name": "Glob", "input": {"pattern": "*"}},
        ]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01A", "content": "a.py"}]},
    ],
    "thinking": {"type": "enabled", "budget_tokens": 2048},
    "metadata": {"user_id": "user_abc"},
}


def _config(native: MessagesUpstream, **backend: Any) -> Config:
    spec = {"type": "openrouter", "base_url": native.base_url, "api_key": OR_KEY, "timeout": 5, **backend}
    return make_config({"openrouter": spec},
                       model_aliases=[{"pattern": "^claude-sonnet-.*", "replacement": f"openrouter:{CLAUDE}"}])


def _body(model: str = CLAUDE, stream: bool = False) -> dict[str, Any]:
    return {"model": model, "max_tokens": 256, **CONVERSATION, "stream": stream}


def test_a_claude_model_goes_to_the_messages_endpoint_as_it_came(native: MessagesUpstream,
                                                                 start_proxy: StartProxy) -> None:
    proxy = start_proxy(_config(native))

    raw = sdk(proxy).messages.with_raw_response.create(**_body(), extra_headers=HEADERS)
    message = raw.parse()

    [seen] = native.requests
    assert seen.path == "/v1/messages"
    assert seen.body == {**_body(), "stream": False}  # cache_control and the signed thinking block survive
    assert seen.header("anthropic-version") == "2023-06-01"
    assert seen.header("anthropic-beta") == BETA
    assert seen.header("authorization") == f"Bearer {OR_KEY}"
    assert seen.header("x-api-key") is None
    assert PROXY_KEY not in json.dumps(seen.headers)
    assert [b.type for b in message.content] == ["thinking", "text"]
    assert message.content[0].signature == SIGNATURE
    assert message.content[1].text == NATIVE_TEXT
    assert message.usage.cache_read_input_tokens == 100
    assert raw.headers["x-switchyard-route"] == f"openrouter:{CLAUDE}"


def test_an_aliased_model_is_the_only_field_rewritten(native: MessagesUpstream, start_proxy: StartProxy) -> None:
    proxy = start_proxy(_config(native))

    response = post(proxy, _body("claude-sonnet-4-6"), headers={"x-api-key": PROXY_KEY})

    assert response.status_code == 200
    assert native.requests[0].body == _body(CLAUDE)
    assert response.json()["content"][1] == {"type": "text", "text": NATIVE_TEXT}


def test_an_unchanged_body_is_forwarded_byte_for_byte(native: MessagesUpstream, start_proxy: StartProxy) -> None:
    proxy = start_proxy(_config(native))
    # Spacing and escapes orjson would not write: only an untouched forward keeps them.
    raw = json.dumps(_body(), indent=2, ensure_ascii=True).encode()  # the SDK's spacing differs from orjson's

    post(proxy, raw)

    assert native.requests[0].raw == raw


def test_a_bearer_proxy_key_is_replaced_by_the_upstream_key(native: MessagesUpstream,
                                                            start_proxy: StartProxy) -> None:
    proxy = start_proxy(_config(native))
    client = anthropic.Anthropic(base_url=proxy.url, auth_token=PROXY_KEY, max_retries=0)

    client.messages.create(model=CLAUDE, max_tokens=8, messages=USER)

    assert native.requests[0].header("authorization") == f"Bearer {OR_KEY}"
    assert PROXY_KEY not in json.dumps(native.requests[0].headers)


def test_uri_parameters_apply_to_a_native_request(native: MessagesUpstream, start_proxy: StartProxy) -> None:
    proxy = start_proxy(_config(native))

    post(proxy, {"model": f"{CLAUDE}?temperature=0.2", "max_tokens": 8, "messages": USER})

    assert native.requests[0].body == {"model": CLAUDE, "max_tokens": 8, "messages": USER, "temperature": 0.2}


def test_a_native_stream_comes_back_byte_for_byte(native: MessagesUpstream, start_proxy: StartProxy) -> None:
    proxy = start_proxy(_config(native))

    with httpx.stream("POST", f"{proxy.url}/v1/messages", json=_body(stream=True), timeout=10,
                      headers={"x-api-key": PROXY_KEY, "anthropic-version": "2023-06-01"}) as response:
        received = b"".join(response.iter_bytes())

    assert response.headers["content-type"].startswith("text/event-stream")
    assert received == MESSAGE_SSE  # it ends at message_stop: no [DONE], and no error event appended


def test_the_sdk_accumulates_a_native_stream(native: MessagesUpstream, start_proxy: StartProxy) -> None:
    proxy = start_proxy(_config(native))

    request = {k: v for k, v in _body().items() if k != "stream"}
    with sdk(proxy).messages.stream(**request) as stream:
        message = stream.get_final_message()

    assert [b.type for b in message.content] == ["thinking", "text"]
    assert message.content[1].text == NATIVE_TEXT  # type: ignore[union-attr]
    assert native.requests[0].body["stream"] is True


def test_a_native_error_event_mid_stream_reaches_the_sdk(native: MessagesUpstream, start_proxy: StartProxy) -> None:
    proxy = start_proxy(_config(native))
    native.stream_ending = "error"

    received = post(proxy, _body(stream=True)).content
    with pytest.raises(anthropic.APIError) as caught, sdk(proxy).messages.stream(
        model=CLAUDE, max_tokens=8, messages=USER
    ) as stream:
        stream.until_done()

    assert received.endswith(STREAM_ERROR) and received.count(b"event: error") == 1
    assert "overloaded_error" in str(caught.value)
    assert len(native.requests) == 2  # content had reached the client: no failover


def test_a_native_stream_cut_before_message_stop_ends_with_an_error_event(native: MessagesUpstream,
                                                                         start_proxy: StartProxy) -> None:
    proxy = start_proxy(_config(native))
    native.stream_ending = "cut"

    events = sse_events(post(proxy, _body(stream=True)).text)

    assert [name for name, _ in events][:2] == ["message_start", "ping"]
    assert events[-1][0] == "error" and events[-1][1]["type"] == "error"
    assert events[-1][1]["error"]["type"] == "api_error"


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_with_anthropic_native_off_the_same_request_is_translated(native: MessagesUpstream,
                                                                  start_proxy: StartProxy, stream: bool) -> None:
    proxy = start_proxy(_config(native, anthropic_native=False))

    response = post(proxy, _body(stream=stream))

    [seen] = native.requests
    assert seen.path == "/v1/chat/completions"
    assert seen.body["model"] == CLAUDE
    assert seen.body["messages"][0] == {  # a Claude model: its cache_control marks are kept
        "role": "system", "content": [{"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}]}
    assert "system" not in seen.body and "thinking" not in seen.body
    assert seen.header("authorization") == f"Bearer {OR_KEY}"
    text = (
        "".join(d["delta"].get("text", "") for n, d in sse_events(response.text) if n == "content_block_delta")
        if stream else response.json()["content"][0]["text"]
    )
    assert text == f"Hello from {CLAUDE}"


def test_a_model_that_is_not_anthropic_is_translated_on_the_openrouter_backend(native: MessagesUpstream,
                                                                               start_proxy: StartProxy) -> None:
    proxy = start_proxy(_config(native))

    message = sdk(proxy).messages.create(model="openai/gpt-4o", max_tokens=8, messages=USER)

    assert native.paths() == ["/v1/chat/completions"]
    assert native.requests[0].body["messages"] == [{"role": "user", "content": "hi"}]
    assert message.content[0].text == "Hello from openai/gpt-4o"  # type: ignore[union-attr]


def test_a_native_error_reaches_the_sdk_in_the_anthropic_envelope(native: MessagesUpstream,
                                                                  start_proxy: StartProxy) -> None:
    proxy = start_proxy(_config(native))
    native.fail_next(400)

    with pytest.raises(anthropic.BadRequestError) as caught:
        sdk(proxy).messages.create(model=CLAUDE, max_tokens=8, messages=USER)

    assert caught.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    assert "native failure 400" in caught.value.body["error"]["message"]  # type: ignore[index]


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_a_failing_native_route_fails_over_to_a_translated_one(native: MessagesUpstream, scripted: ScriptedUpstream,
                                                               start_proxy: StartProxy, stream: bool) -> None:
    backends = {
        "openrouter": {"type": "openrouter", "base_url": native.base_url, "api_key": OR_KEY, "timeout": 5},
        "local": openai_backend(scripted.base_url),
    }
    proxy = start_proxy(make_config(backends, failover_routes={f"openrouter:{CLAUDE}": ["local:qwen/qwen3-coder"]}))
    native.fail_next(503)

    response = post(proxy, _body(stream=stream))

    assert native.paths() == ["/v1/messages"]
    assert [s.model for s in scripted.requests] == ["qwen/qwen3-coder"]
    assert scripted.requests[0].body["messages"][-1]["role"] == "tool"  # translated for the fallback
    assert "cache_control" not in json.dumps(scripted.requests[0].body)  # which is no Claude model
    text = (
        "".join(d["delta"].get("text", "") for n, d in sse_events(response.text) if n == "content_block_delta")
        if stream else response.json()["content"][-1]["text"]
    )
    assert text == "Hello from qwen/qwen3-coder"
    assert response.headers["x-switchyard-route"] == "local:qwen/qwen3-coder"
