"""Valid-looking input gets a clear 4xx in the endpoint's own envelope, never a 500: odd tool_choice
types, deeply nested schemas and models, model strings past their limits."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fakes.hostile import HostileUpstream
from tests.fakes.proxy import PROXY_KEY, RunningProxy
from tests.fakes.proxy_setup import (
    no_traceback,  # noqa: F401
    proxy_config,
    serving,
)
from tests.fakes.threaded import shared

CHAT, MESSAGES, RESPONSES, COUNT = "/v1/chat/completions", "/v1/messages", "/v1/responses", "/v1/messages/count_tokens"
ANTHROPIC = (MESSAGES, COUNT)
HI = [{"role": "user", "content": "hi"}]


hostile_server, hostile = shared("hostile", lambda: HostileUpstream(plain=True))


@pytest.fixture(scope="module")
def proxy(hostile_server: HostileUpstream) -> Iterator[RunningProxy]:
    yield from serving(proxy_config(hostile_server.base_url, "sk-in-0001"))


def post(proxy: RunningProxy, path: str, body: dict[str, Any] | str) -> httpx.Response:
    """`body`, or raw JSON text (for nesting the json module cannot write)."""
    content = body if isinstance(body, str) else json.dumps(body)
    headers = {"Authorization": f"Bearer {PROXY_KEY}", "Content-Type": "application/json"}
    return httpx.post(f"{proxy.url}{path}", content=content, headers=headers, timeout=30)


def refusal(response: httpx.Response, path: str) -> str:
    """The message of a 4xx in the endpoint's own envelope (asserted), lower-cased."""
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    body = response.json()
    if path in ANTHROPIC:
        assert body["type"] == "error" and set(body["error"]) == {"type", "message"}
        assert body["error"]["type"] == "invalid_request_error"
        return str(body["error"]["message"]).lower()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    return str(body["error"]["message"]).lower()


def base(path: str, model: Any = "m") -> dict[str, Any]:
    if path == RESPONSES:
        return {"model": model, "input": "hi"}
    body = {"model": model, "messages": HI}
    return {**body, "max_tokens": 16} if path == MESSAGES else body


def nested_schema(levels: int) -> str:
    """A JSON Schema `levels` objects deep (an object per level: the schema, then its `properties`)."""
    return '{"type":"object","properties":{"p":' * (levels // 2) + '{"type":"string"}' + "}}" * (levels // 2)


def with_tool(path: str, schema: str, stream: bool = False) -> str:
    if path == CHAT:
        tool: dict[str, Any] = {"type": "function", "function": {"name": "t", "parameters": "@"}}
    elif path == RESPONSES:
        tool = {"type": "function", "name": "t", "parameters": "@"}
    else:
        tool = {"name": "t", "input_schema": "@"}
    body = {**base(path), "tools": [tool], **({"stream": True} if stream else {})}
    return json.dumps(body).replace('"@"', schema)


def depth(schema: Any) -> int:
    """How many objects deep a schema made by `nested_schema` is."""
    levels = 1
    while "properties" in schema:
        schema, levels = schema["properties"]["p"], levels + 2
    return levels


# --- tool_choice ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("choice", [{"type": {}}, {"type": []}, {"type": "tool", "name": {}}, {"type": None}, "any", 7])
def test_an_odd_tool_choice_is_a_400_naming_it(proxy: RunningProxy, hostile: HostileUpstream, choice: Any, stream: bool) -> None:
    tools = [{"name": "t", "input_schema": {"type": "object"}}]

    response = post(proxy, MESSAGES, {**base(MESSAGES), "tools": tools, "tool_choice": choice, "stream": stream})

    assert "tool_choice" in refusal(response, MESSAGES)
    assert hostile.requests == []


# --- deep nesting ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_a_tool_schema_250_levels_deep_is_forwarded_whole(proxy: RunningProxy, hostile: HostileUpstream, stream: bool) -> None:
    response = post(proxy, MESSAGES, with_tool(MESSAGES, nested_schema(250), stream))

    assert response.status_code == 200, response.text[:300]
    [received] = hostile.requests
    assert depth(received.body["tools"][0]["function"]["parameters"]) == depth(json.loads(nested_schema(250))) == 251


@pytest.mark.parametrize("path", [MESSAGES, CHAT, RESPONSES, COUNT])
@pytest.mark.parametrize("levels", [250, 1000])
def test_a_deep_tool_schema_never_gives_a_500(proxy: RunningProxy, path: str, levels: int) -> None:
    response = post(proxy, path, with_tool(path, nested_schema(levels)))

    if response.status_code != 200:
        assert "nested too deeply" in refusal(response, path)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_a_tool_schema_1000_levels_deep_on_messages_is_a_400(proxy: RunningProxy, hostile: HostileUpstream, stream: bool) -> None:
    response = post(proxy, MESSAGES, with_tool(MESSAGES, nested_schema(1000), stream))

    assert "nested too deeply" in refusal(response, MESSAGES)
    assert hostile.requests == []


@pytest.mark.parametrize("path", [CHAT, MESSAGES, RESPONSES])
@pytest.mark.parametrize("levels", [990, 100_000])
def test_a_model_that_is_a_deeply_nested_list_is_a_400(
    proxy: RunningProxy, hostile: HostileUpstream, path: str, levels: int
) -> None:
    body = json.dumps(base(path, "@")).replace('"@"', "[" * levels + "]" * levels)

    message = refusal(post(proxy, path, body), path)

    assert "model" in message or "nested too deeply" in message
    assert hostile.requests == []


# --- model strings past their limits ---------------------------------------------------------------------


@pytest.mark.parametrize("path", [CHAT, MESSAGES, RESPONSES])
def test_seventeen_alternatives_are_a_400_naming_the_limit(proxy: RunningProxy, hostile: HostileUpstream, path: str) -> None:
    response = post(proxy, path, base(path, "|".join(f"m{i}" for i in range(17))))

    assert "more than 16 alternatives" in refusal(response, path)
    assert hostile.requests == []


@pytest.mark.parametrize("path", [CHAT, MESSAGES, RESPONSES])
def test_sixteen_alternatives_are_served(proxy: RunningProxy, hostile: HostileUpstream, path: str) -> None:
    response = post(proxy, path, base(path, "|".join(f"m{i}" for i in range(16))))

    assert response.status_code == 200, response.text[:300]
    assert [r.body["model"] for r in hostile.requests] == ["m0"]


@pytest.mark.parametrize("path", [CHAT, MESSAGES, RESPONSES])
@pytest.mark.parametrize("model", ["m" * 1025, "\u00e9" * 513, "ab|" * 400], ids=["1025 ascii", "1026 bytes", "long plan"])
def test_a_model_over_1_kib_is_a_400_naming_the_limit(proxy: RunningProxy, hostile: HostileUpstream, path: str, model: str) -> None:
    message = refusal(post(proxy, path, base(path, model)), path)

    assert "1024 bytes" in message
    assert hostile.requests == []


@pytest.mark.parametrize("path", [CHAT, MESSAGES, RESPONSES])
def test_a_model_of_exactly_1_kib_is_served(proxy: RunningProxy, hostile: HostileUpstream, path: str) -> None:
    response = post(proxy, path, base(path, "v/" + "m" * 1022))

    assert response.status_code == 200, response.text[:300]
    assert len(hostile.requests) == 1


# --- lone surrogates (JSON "\ud800"), which a fast JSON library refuses to write ------------------------

S = "\ud800"
TOOL_USE = [{"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": S, "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "x"}]}]  # fmt: skip
CALLS = [{"type": "function_call", "call_id": "c1", "name": S, "arguments": "{}"},
         {"type": "function_call_output", "call_id": "c1", "output": "x"}]  # fmt: skip
SURROGATES = {  # name: (endpoint, fields over `base`)
    "chat model": (CHAT, {"model": "m" + S}),
    "chat content": (CHAT, {"messages": [{"role": "user", "content": S}]}),
    "messages model": (MESSAGES, {"model": "m" + S}),
    "messages text": (MESSAGES, {"messages": [{"role": "user", "content": S}], "system": S, "stop_sequences": [S]}),
    "messages tool": (MESSAGES, {"tools": [{"name": S, "input_schema": {"type": "object"}}]}),
    "messages tool_use": (MESSAGES, {"messages": TOOL_USE}),
    "count_tokens": (COUNT, {"messages": [{"role": "user", "content": S}], "tools": [{"name": S, "input_schema": {}}]}),
    "responses model": (RESPONSES, {"model": "m" + S}),
    "responses input": (RESPONSES, {"input": S}),
    "responses instructions": (RESPONSES, {"instructions": S}),
    "responses metadata": (RESPONSES, {"metadata": {"k": S}}),
    "responses tool": (RESPONSES, {"tools": [{"type": "function", "name": S, "parameters": {"type": "object"}}]}),
    "responses function_call": (RESPONSES, {"input": CALLS}),
}  # fmt: skip


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize(
    ("path", "fields"),
    [pytest.param(path, fields, id=name) for name, (path, fields) in SURROGATES.items()],
)  # fmt: skip
def test_a_lone_surrogate_never_gives_a_500(proxy: RunningProxy, path: str, fields: dict[str, Any], stream: bool) -> None:
    body = {**base(path), **fields, **({"stream": True} if stream and path != COUNT else {})}

    response = post(proxy, path, body)  # json.dumps writes a lone surrogate as the escape "\ud800"

    if response.status_code != 200:
        assert refusal(response, path)
    assert b"internal error" not in response.content
