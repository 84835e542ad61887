"""The OpenAI SDK, unchanged, against the real proxy and a fake OpenRouter."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
from openai.types.chat import (
    ChatCompletionFunctionToolParam,
    ChatCompletionMessageFunctionToolCall,
    ChatCompletionMessageParam,
)

from tests.fakes.proxy import PROXY_KEY, UPSTREAM_KEY, config_for
from tests.fakes.upstream import USAGE, FakeUpstream

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]
TOOLS: list[ChatCompletionFunctionToolParam] = [
    {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}}},
]


def test_non_streaming_completion(client: openai.OpenAI, upstream: FakeUpstream) -> None:
    response = client.chat.completions.create(model="openai/gpt-4o", messages=MESSAGES)

    assert response.choices[0].message.content == "Hello from openai/gpt-4o"
    assert response.usage is not None and response.usage.total_tokens == USAGE["total_tokens"]
    sent = upstream.last()
    assert sent.path == "/api/v1/chat/completions"
    assert sent.body == {"model": "openai/gpt-4o", "messages": MESSAGES}
    assert sent.headers["Authorization"] == f"Bearer {UPSTREAM_KEY}"


def test_streaming_completion_keeps_every_chunk_and_the_usage_chunk(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(model="openai/gpt-4o", messages=MESSAGES, stream=True)
    chunks = list(stream)

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from openai/gpt-4o"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.prompt_tokens == USAGE["prompt_tokens"]


def test_keep_alive_comments_reach_raw_clients_as_sse_comments(proxy, upstream: FakeUpstream) -> None:
    body = {"model": "openai/gpt-4o", "messages": MESSAGES, "stream": True}
    response = httpx.post(f"{proxy.url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {PROXY_KEY}"})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-generation-id"] == "gen-fake"
    events = [e for e in response.text.split("\n\n") if e]
    assert events[0] == ": OPENROUTER PROCESSING"
    assert events[-1] == "data: [DONE]"
    assert all(e.startswith("data: ") for e in events[1:])


def test_streamed_parallel_tool_call_arguments_arrive_intact(client: openai.OpenAI) -> None:
    with client.chat.completions.stream(model="x/tools", messages=MESSAGES, tools=TOOLS) as stream:
        final = stream.get_final_completion()

    calls = final.choices[0].message.tool_calls
    assert calls is not None
    assert [c.id for c in calls] == ["call_a", "call_b"]
    assert [c.function.name for c in calls] == ["get_weather", "get_time"]
    assert json.loads(calls[0].function.arguments) == {"city": "Paris, \u00e9"}
    assert json.loads(calls[1].function.arguments) == {"tz": "Europe/Paris"}
    assert final.choices[0].finish_reason == "tool_calls"


def test_non_streamed_tool_calls(client: openai.OpenAI, upstream: FakeUpstream) -> None:
    response = client.chat.completions.create(model="x/tools", messages=MESSAGES, tools=TOOLS, tool_choice="auto")

    calls = response.choices[0].message.tool_calls
    assert calls is not None
    functions = [c.function for c in calls if isinstance(c, ChatCompletionMessageFunctionToolCall)]
    assert [json.loads(f.arguments) for f in functions] == [{"city": "Paris"}, {"tz": "Europe/Paris"}]
    assert upstream.last().body["tools"] == TOOLS
    assert upstream.last().body["tool_choice"] == "auto"


def test_fields_the_proxy_does_not_own_pass_through_untouched(client: openai.OpenAI, upstream: FakeUpstream) -> None:
    extra: dict[str, Any] = {
        "provider": {"order": ["anthropic"], "allow_fallbacks": False},
        "models": ["openai/gpt-4o", "anthropic/claude-3.5-sonnet"],
        "reasoning": {"effort": "high", "exclude": True},
        "plugins": [{"id": "web"}],
        "some_future_field": {"nested": [1, 2.5, None, "x"]},
    }
    client.chat.completions.create(
        model="openai/gpt-4o",
        messages=MESSAGES,
        response_format={"type": "json_object"},
        user="user-42",
        temperature=0.3,
        extra_body=extra,
    )

    sent = upstream.last().body
    assert {k: sent[k] for k in extra} == extra
    assert sent["response_format"] == {"type": "json_object"}
    assert sent["user"] == "user-42"
    assert sent["temperature"] == 0.3


def test_uri_parameters_override_body_fields(client: openai.OpenAI, upstream: FakeUpstream) -> None:
    client.chat.completions.create(
        model="openrouter:openai/gpt-4o?temperature=0.7&top_k=40&reasoning_effort=low",
        messages=MESSAGES,
        temperature=1.5,
    )

    sent = upstream.last().body
    assert sent["model"] == "openai/gpt-4o"
    assert (sent["temperature"], sent["top_k"], sent["reasoning_effort"]) == (0.7, 40, "low")


def test_alias_rewrites_the_model(client: openai.OpenAI, upstream: FakeUpstream) -> None:
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert upstream.last().body["model"] == "openai/gpt-4o-mini"

    client.chat.completions.create(model="fast", messages=MESSAGES)
    assert upstream.last().body["model"] == "openai/gpt-4o-mini"
    assert upstream.last().body["temperature"] == 0.2


def test_backend_slash_form_selects_the_backend(client: openai.OpenAI, upstream: FakeUpstream) -> None:
    client.chat.completions.create(model="openrouter/anthropic/claude-3-haiku:beta", messages=MESSAGES)
    assert upstream.last().body["model"] == "anthropic/claude-3-haiku:beta"

    client.chat.completions.create(model="openrouter/auto", messages=MESSAGES)
    assert upstream.last().body["model"] == "openrouter/auto"


def test_identity_defaults_and_client_headers(client: openai.OpenAI, upstream: FakeUpstream) -> None:
    client.chat.completions.create(
        model="openai/gpt-4o", messages=MESSAGES, extra_headers={"HTTP-Referer": "https://client.example"}
    )

    headers = upstream.last().headers
    assert headers["User-Agent"].startswith("OpenAI/Python")
    assert headers["HTTP-Referer"] == "https://client.example"
    assert headers["X-Title"] == headers["X-OpenRouter-Title"] == "Switchyard"
    assert PROXY_KEY not in json.dumps(headers)


def test_configured_identity_replaces_the_clients_headers(upstream: FakeUpstream, start_proxy) -> None:
    backends = {
        "openrouter": {
            "type": "openrouter",
            "base_url": upstream.base_url,
            "api_key": UPSTREAM_KEY,
            "identity": {"title": "PerBackend"},
        }
    }
    identity = {"user_agent": "MyApp/1.0", "referer": "https://myapp.example", "title": "Global"}
    proxy = start_proxy(config_for(upstream.base_url, identity=identity, backends=backends))
    client = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=PROXY_KEY, max_retries=0)

    client.chat.completions.create(
        model="openai/gpt-4o",
        messages=MESSAGES,
        extra_headers={"HTTP-Referer": "https://client.example", "X-Title": "ClientTitle"},
    )

    headers = upstream.last().headers
    assert headers["User-Agent"] == "MyApp/1.0"
    assert headers["HTTP-Referer"] == "https://myapp.example"
    assert headers["X-Title"] == headers["X-OpenRouter-Title"] == "PerBackend"
