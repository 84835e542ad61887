"""`/v1/messages` and `/v1/messages/count_tokens` with the official anthropic SDK: the basics and auth."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from unittest.mock import ANY

import anthropic
import httpx
import pytest

from src.config import Config
from tests.e2e.anthropic_helpers import (
    USER,
    local_config,
    post,
    sdk,
    sse_events,
)
from tests.fakes.proxy import PROXY_KEY, RunningProxy
from tests.fakes.scripted import ScriptedUpstream

StartProxy = Callable[[Config], RunningProxy]


@pytest.fixture
def proxy(scripted: ScriptedUpstream, start_proxy: StartProxy) -> RunningProxy:
    return start_proxy(local_config(scripted.base_url))


def test_a_non_streaming_message_comes_back_as_an_anthropic_message(proxy: RunningProxy, scripted: ScriptedUpstream) -> None:
    raw = sdk(proxy).messages.with_raw_response.create(model="qwen/qwen3-coder", max_tokens=64, messages=USER)
    message = raw.parse()

    assert message.type == "message" and message.role == "assistant"
    assert message.model == "qwen/qwen3-coder"  # the model the client asked for
    assert message.id.startswith("msg_")
    assert [(b.type, getattr(b, "text", None)) for b in message.content] == [("text", "Hello from qwen/qwen3-coder")]
    assert message.stop_reason == "end_turn" and message.stop_sequence is None
    assert (message.usage.input_tokens, message.usage.output_tokens) == (10, 4)
    assert raw.headers["x-switchyard-route"] == "local:qwen/qwen3-coder"
    assert [s.body["model"] for s in scripted.requests] == ["qwen/qwen3-coder"]
    assert scripted.requests[0].body["messages"] == [{"role": "user", "content": "hi"}]


def test_a_streamed_message_accumulates_into_the_same_answer(proxy: RunningProxy) -> None:
    with sdk(proxy).messages.stream(model="qwen/qwen3-coder", max_tokens=64, messages=USER) as stream:
        text = "".join(stream.text_stream)
        message = stream.get_final_message()

    assert text == "Hello from qwen/qwen3-coder"
    assert [b.type for b in message.content] == ["text"]
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (10, 4)


@pytest.mark.parametrize("stream", [False, True])
def test_a_query_string_on_the_path_is_ignored(proxy: RunningProxy, stream: bool) -> None:
    response = post(proxy, {"model": "m", "max_tokens": 16, "messages": USER, "stream": stream},
                    path="/v1/messages?beta=true")

    assert response.status_code == 200
    if stream:
        assert sse_events(response.text)[-1] == ("message_stop", {"type": "message_stop"})
    else:
        assert response.json()["content"] == [{"type": "text", "text": "Hello from m"}]


def test_count_tokens_ignores_a_query_string_too(proxy: RunningProxy) -> None:
    response = post(proxy, {"model": "m", "messages": USER}, path="/v1/messages/count_tokens?beta=true")

    assert response.status_code == 200 and response.json()["input_tokens"] > 0


# --- auth --------------------------------------------------------------------------------------------


def test_the_proxy_key_works_as_x_api_key_and_as_a_bearer_token(proxy: RunningProxy, scripted: ScriptedUpstream) -> None:
    by_api_key = sdk(proxy).messages.create(model="m", max_tokens=8, messages=USER)
    by_bearer = anthropic.Anthropic(base_url=proxy.url, auth_token=PROXY_KEY, max_retries=0).messages.create(
        model="m", max_tokens=8, messages=USER
    )

    assert by_api_key.content[0].text == by_bearer.content[0].text == "Hello from m"  # type: ignore[union-attr]
    assert [s.key for s in scripted.requests] == ["sk-local-upstream-0001"] * 2  # never the proxy key


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/messages/count_tokens"])
def test_a_wrong_proxy_key_is_an_anthropic_authentication_error(proxy: RunningProxy, scripted: ScriptedUpstream,
                                                                path: str) -> None:
    client = sdk(proxy, api_key="sy-wrong-key-000000")
    with pytest.raises(anthropic.AuthenticationError) as caught:
        if path.endswith("count_tokens"):
            client.messages.count_tokens(model="m", messages=USER)
        else:
            client.messages.create(model="m", max_tokens=8, messages=USER)

    assert caught.value.status_code == 401
    assert caught.value.body == {"type": "error", "error": {"type": "authentication_error", "message": ANY}}
    assert scripted.requests == []


def test_a_missing_key_is_a_401_in_the_anthropic_envelope(proxy: RunningProxy) -> None:
    response = httpx.post(f"{proxy.url}/v1/messages", json={"model": "m", "max_tokens": 8, "messages": USER})

    assert response.status_code == 401
    body = response.json()
    assert body["type"] == "error" and body["error"]["type"] == "authentication_error"
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


@pytest.mark.parametrize("body", [
    {"model": "m", "messages": USER},
    {"model": "m", "max_tokens": 0, "messages": USER},
    {"max_tokens": 8, "messages": USER},
    {"model": "m", "max_tokens": 8},
])
def test_a_request_missing_a_required_field_is_a_bad_request(proxy: RunningProxy, scripted: ScriptedUpstream,
                                                              body: dict[str, Any]) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        sdk(proxy).post("/v1/messages", body=body, cast_to=object)

    assert caught.value.status_code == 400
    assert caught.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    assert scripted.requests == []


def test_a_body_that_is_not_json_is_a_bad_request(proxy: RunningProxy) -> None:
    response = post(proxy, b"{not json")

    assert response.status_code == 400 and response.json()["error"]["type"] == "invalid_request_error"


# --- count_tokens ----------------------------------------------------------------------------------


def _count(client: anthropic.Anthropic, **kwargs: object) -> int:
    return client.messages.count_tokens(model="claude-sonnet-4-6", **kwargs).input_tokens  # type: ignore[arg-type]


def test_count_tokens_is_a_real_estimate_that_grows_with_the_input(proxy: RunningProxy,
                                                                   scripted: ScriptedUpstream) -> None:
    client = sdk(proxy)
    hello = _count(client, messages=[{"role": "user", "content": "Hello, world"}])
    sentence = _count(client, messages=[{"role": "user", "content": "Explain how a hash map resolves collisions."}])
    paragraph = _count(client, messages=[{"role": "user", "content": "The quick brown fox jumps over the lazy dog. " * 40}])
    with_system = _count(client, system="You are a careful senior engineer. " * 20,
                         messages=[{"role": "user", "content": "Hello, world"}])
    tool = {"name": "get_weather", "description": "The weather in a city",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
    with_tools = _count(client, tools=[tool], messages=[{"role": "user", "content": "Hello, world"}])

    assert 5 <= hello <= 30  # Anthropic says 10 for this one
    assert hello < sentence < paragraph
    assert 300 <= paragraph <= 700  # 400 English words
    assert with_system > hello + 100
    assert with_tools > hello + 300  # the tool-use system prompt plus the schema
    assert len({hello, sentence, paragraph, with_system, with_tools}) == 5  # never a constant
    assert scripted.requests == []  # answered locally


def test_count_tokens_counts_a_conversation_with_tool_results(proxy: RunningProxy) -> None:
    turns = [
        {"role": "user", "content": "What is in the file?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {"path": "a.py"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "x = 1\n" * 200}]},
    ]
    short = _count(sdk(proxy), messages=turns[:1])
    long = _count(sdk(proxy), messages=turns)

    assert long > short + 200


def test_count_tokens_without_messages_is_a_bad_request(proxy: RunningProxy) -> None:
    response = post(proxy, {"model": "m"}, path="/v1/messages/count_tokens")

    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
