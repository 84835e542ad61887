"""`previous_response_id` through the proxy: a stored conversation continues (its calls' outputs
included), an unknown id is a 404 in OpenAI's envelope, and `store: false` keeps nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import openai
import pytest

from src.config import Config
from tests.e2e.responses_helpers import MODEL, calls_step, config, post, sdk, sent, stream
from tests.fakes.proxy import RunningProxy
from tests.fakes.scripted import ScriptedUpstream

WEATHER = {"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {}}}


@pytest.fixture
def proxy(scripted: ScriptedUpstream, start_proxy: Callable[[Config], RunningProxy]) -> RunningProxy:
    return start_proxy(config(scripted))


@pytest.mark.parametrize("streamed", [False, True])
def test_a_stored_conversation_continues(proxy: RunningProxy, scripted: ScriptedUpstream, streamed: bool) -> None:
    client = sdk(proxy)
    first: Any
    if streamed:
        with client.responses.stream(model=MODEL, input="My name is Ada.", instructions="Be kind.") as events:
            first = events.get_final_response()
    else:
        first = client.responses.create(model=MODEL, input="My name is Ada.", instructions="Be kind.")
    second = client.responses.create(model=MODEL, input="What is my name?", previous_response_id=first.id,
                                     instructions="Be brief.")  # fmt: skip
    third = client.responses.create(model=MODEL, input="Thanks.", previous_response_id=second.id)
    assert sent(scripted, 1) == [
        {"role": "system", "content": "Be brief."},  # instructions are not carried over, as on OpenAI
        {"role": "user", "content": "My name is Ada."},
        {"role": "assistant", "content": f"Hello from {MODEL}"},
        {"role": "user", "content": "What is my name?"},
    ]
    assert [m["content"] for m in sent(scripted, 2)] == ["My name is Ada.", f"Hello from {MODEL}", "What is my name?",
                                                         f"Hello from {MODEL}", "Thanks."]  # fmt: skip
    assert len({first.id, second.id, third.id}) == 3


@pytest.mark.parametrize("streamed", [False, True])
def test_a_calls_output_continues_the_response_that_made_the_call(
    proxy: RunningProxy, scripted: ScriptedUpstream, streamed: bool
) -> None:
    scripted.script(MODEL, calls_step(MODEL, ("call_1", "get_weather", "{}"), stream=streamed))
    body = {"model": MODEL, "input": "Weather?", "tools": [WEATHER]}
    first = stream(proxy, body)[-1]["response"] if streamed else post(proxy, body).json()
    output = {"type": "function_call_output", "call_id": "call_1", "output": "rain"}
    reply = post(proxy, {"model": MODEL, "previous_response_id": first["id"], "input": [output], "tools": [WEATHER]})
    assert reply.status_code == 200, reply.text
    assert sent(scripted) == [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "rain"},
    ]  # fmt: skip


def test_an_unknown_previous_response_is_a_404_in_openais_envelope(proxy: RunningProxy, scripted: ScriptedUpstream) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        sdk(proxy).responses.create(model=MODEL, input="hi", previous_response_id="resp_never_made")
    error = caught.value.response.json()["error"]
    assert error["code"] == "previous_response_not_found" and error["param"] == "previous_response_id"
    assert error["type"] == "not_found_error" and "resp_never_made" in error["message"]
    assert scripted.requests == []


@pytest.mark.parametrize("streamed", [False, True])
def test_store_false_keeps_nothing(proxy: RunningProxy, scripted: ScriptedUpstream, streamed: bool) -> None:
    body = {"model": MODEL, "input": "secret", "store": False}
    first = stream(proxy, body)[-1]["response"] if streamed else post(proxy, body).json()
    assert first["store"] is False
    reply = post(proxy, {"model": MODEL, "input": "again", "previous_response_id": first["id"]})
    assert reply.status_code == 404 and reply.json()["error"]["code"] == "previous_response_not_found"
    assert len(scripted.requests) == 1


def test_previous_response_id_alone_is_a_request(proxy: RunningProxy, scripted: ScriptedUpstream) -> None:
    first = post(proxy, {"model": MODEL, "input": "hi"}).json()
    assert post(proxy, {"model": MODEL, "previous_response_id": first["id"]}).status_code == 200
    assert [m["role"] for m in sent(scripted)] == ["user", "assistant"]
