"""Streams that are not the textbook case, as the OpenAI SDK sees them through the proxy.

An upstream that ignores `stream: true`, one whose error event quotes its key, one that
stops halfway through an event, and one that ends its lines with bare CR.
"""

from __future__ import annotations

import json

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionFunctionToolParam, ChatCompletionMessageParam

from tests.fakes.proxy import PROXY_KEY, UPSTREAM_KEY, RunningProxy
from tests.fakes.upstream import USAGE, FakeUpstream

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]
TOOLS: list[ChatCompletionFunctionToolParam] = [
    {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}}},
    {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}},
]


# --- an upstream that answers a streaming request with one JSON completion --------------------------------


def test_json_answer_to_a_stream_request_reaches_the_sdk_as_a_stream(
    client: openai.OpenAI, upstream: FakeUpstream
) -> None:
    chunks = list(client.chat.completions.create(model="x/ignores-stream", messages=MESSAGES, stream=True))

    assert upstream.last().body["stream"] is True  # the upstream was asked for a stream, and ignored it
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from x/ignores-stream"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert all(c.object == "chat.completion.chunk" and c.id == "gen-fake" for c in chunks)
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.total_tokens) == (
        USAGE["prompt_tokens"],
        USAGE["total_tokens"],
    )


def test_json_answer_to_a_stream_request_is_sent_as_sse(proxy: RunningProxy) -> None:
    body = {"model": "x/ignores-stream", "messages": MESSAGES, "stream": True}
    response = httpx.post(f"{proxy.url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {PROXY_KEY}"})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-generation-id"] == "gen-json"
    events = [e for e in response.text.split("\n\n") if e]
    assert events[-1] == "data: [DONE]"
    payloads = [json.loads(e.removeprefix("data: ")) for e in events[:-1]]
    assert all(e.startswith("data: ") for e in events)
    assert payloads[0]["choices"][0]["delta"] == {"role": "assistant", "content": "Hello from x/ignores-stream"}


def test_json_answer_with_tool_calls_streams_them_with_intact_arguments(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(model="x/ignores-stream-tools", messages=MESSAGES, tools=TOOLS, stream=True)
    )
    deltas = [call for c in chunks if c.choices for call in c.choices[0].delta.tool_calls or ()]
    named = [(d.index, d.id, d.function.name if d.function else None) for d in deltas]
    assert named == [(0, "call_a", "get_weather"), (1, "call_b", "get_time")]
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"

    with client.chat.completions.stream(model="x/ignores-stream-tools", messages=MESSAGES, tools=TOOLS) as stream:
        final = stream.get_final_completion()

    calls = final.choices[0].message.tool_calls
    assert calls is not None
    assert [c.id for c in calls] == ["call_a", "call_b"]
    assert [c.function.name for c in calls] == ["get_weather", "get_time"]
    assert [json.loads(c.function.arguments) for c in calls] == [{"city": "Paris"}, {"tz": "Europe/Paris"}]
    assert final.choices[0].finish_reason == "tool_calls"
    assert final.usage is not None and final.usage.total_tokens == USAGE["total_tokens"]


def test_json_answer_that_is_no_completion_raises_naming_the_backend(
    client: openai.OpenAI, upstream: FakeUpstream
) -> None:
    received = []
    with pytest.raises(openai.APIError) as raised:
        for chunk in client.chat.completions.create(
            model="x/ignores-stream-not-completion", messages=MESSAGES, stream=True
        ):
            received.append(chunk)

    assert received == []
    assert raised.value.message.endswith("openrouter: answered a streaming request with neither a stream nor a chat completion")
    assert len(upstream.requests) == 1


def test_json_answer_whose_message_is_no_object_raises_an_api_error(
    client: openai.OpenAI, upstream: FakeUpstream
) -> None:
    received = []
    with pytest.raises(openai.APIError) as raised:  # not a hang, nor a connection cut mid-body
        for chunk in client.with_options(timeout=10).chat.completions.create(
            model="x/ignores-stream-bad-message", messages=MESSAGES, stream=True
        ):
            received.append(chunk)

    assert received == []
    assert raised.value.message.endswith("openrouter: answered a streaming request with neither a stream nor a chat completion")
    assert len(upstream.requests) == 1


def test_json_answer_whose_message_is_no_object_is_a_502_before_the_stream(proxy: RunningProxy) -> None:
    """Read whole before the stream is committed to, so another route could still have been tried."""
    body = {"model": "x/ignores-stream-bad-message", "messages": MESSAGES, "stream": True}
    headers = {"Authorization": f"Bearer {PROXY_KEY}"}
    response = httpx.post(f"{proxy.url}/v1/chat/completions", json=body, headers=headers, timeout=10)

    assert response.status_code == 502
    assert "neither a stream nor a chat completion" in response.json()["error"]["message"]


# --- a mid-stream error event that quotes the upstream key --------------------------------------------------


def test_key_quoted_in_a_mid_stream_error_event_is_redacted(client: openai.OpenAI, upstream: FakeUpstream) -> None:
    received = []
    with pytest.raises(openai.APIError) as raised:
        for chunk in client.chat.completions.create(model="x/midstream-echo-key", messages=MESSAGES, stream=True):
            received.append(chunk.choices[0].delta.content)

    assert upstream.last().headers["Authorization"] == f"Bearer {UPSTREAM_KEY}"  # the fake did have a key to quote
    assert "Hello" in received
    assert raised.value.message == "Provider rejected the key [redacted]"
    assert UPSTREAM_KEY not in str(raised.value)
    assert UPSTREAM_KEY not in json.dumps(raised.value.body)
    assert isinstance(raised.value.body, dict)
    assert raised.value.body["metadata"] == {"raw": "[redacted]"}


# --- a stream that stops in the middle of an event ---------------------------------------------------------


def test_half_an_event_at_the_end_raises_an_api_error_after_the_good_content(client: openai.OpenAI) -> None:
    received = []
    # Were the half event passed on as if whole, the SDK would fail parsing it with a JSONDecodeError.
    with pytest.raises(openai.APIError) as raised:
        for chunk in client.chat.completions.create(model="x/half-event", messages=MESSAGES, stream=True):
            received.append(chunk.choices[0].delta.content)

    assert received == ["", "Hello"]
    assert raised.value.message == "openrouter: the stream ended before it was complete"


def test_half_an_event_is_not_forwarded_to_raw_clients(proxy: RunningProxy) -> None:
    body = {"model": "x/half-event", "messages": MESSAGES, "stream": True}
    response = httpx.post(f"{proxy.url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {PROXY_KEY}"})

    events = [e for e in response.text.split("\n\n") if e]
    assert events[0] == ": OPENROUTER PROCESSING"
    payloads = [json.loads(e.removeprefix("data: ")) for e in events[1:]]  # every event forwarded is whole JSON
    assert payloads[-1]["error"]["message"] == "openrouter: the stream ended before it was complete"
    assert [p["choices"][0]["delta"].get("content") for p in payloads[:-1]] == ["", "Hello"]
    assert response.text.endswith("\n\n")


# --- bare CR line endings ----------------------------------------------------------------------------------


def test_cr_line_endings_are_delivered_incrementally_and_intact(client: openai.OpenAI, upstream: FakeUpstream) -> None:
    model = "x/cr-stream"
    chunks = []
    sent_all_when_first_content_arrived = None
    for chunk in client.chat.completions.create(model=model, messages=MESSAGES, stream=True):
        if sent_all_when_first_content_arrived is None and chunk.choices and chunk.choices[0].delta.content:
            sent_all_when_first_content_arrived = upstream.finished_sending[model]
        chunks.append(chunk)

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from x/cr-stream"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == USAGE["total_tokens"]
    # The first words reached the client while the upstream was still generating the rest.
    assert sent_all_when_first_content_arrived is False
    assert upstream.finished_sending[model] is True


def test_cr_line_endings_reach_raw_clients_as_whole_lf_events(proxy: RunningProxy) -> None:
    body = {"model": "x/cr-stream", "messages": MESSAGES, "stream": True}
    response = httpx.post(f"{proxy.url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {PROXY_KEY}"})

    assert response.status_code == 200
    assert "\r" not in response.text
    events = [e for e in response.text.split("\n\n") if e]
    assert events[0] == ": OPENROUTER PROCESSING"
    assert events[-1] == "data: [DONE]"
    assert len(events) == 8  # comment, role, three words, finish, usage, [DONE]
    assert all("\n" not in e for e in events)
