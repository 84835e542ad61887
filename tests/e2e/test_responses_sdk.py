"""`POST /v1/responses` with the official openai SDK onto a chat-completions upstream: answers whole
and streamed, the one system message, the mapped fields, usage, a length stop, Codex's model list."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import openai
import pytest

from src.config import Config
from tests.e2e.responses_helpers import MODEL, answer_step, check, config, of_type, post, sdk, sent, stream
from tests.fakes.proxy import PROXY_KEY, RunningProxy
from tests.fakes.scripted import ScriptedUpstream

USAGE = {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150,
         "prompt_tokens_details": {"cached_tokens": 100}, "completion_tokens_details": {"reasoning_tokens": 12}}  # fmt: skip


@pytest.fixture
def proxy(scripted: ScriptedUpstream, start_proxy: Callable[[Config], RunningProxy]) -> RunningProxy:
    return start_proxy(config(scripted))


def test_a_whole_answer(proxy: RunningProxy, scripted: ScriptedUpstream) -> None:
    response = sdk(proxy).responses.create(model=MODEL, input="hi")
    assert response.status == "completed" and response.output_text == f"Hello from {MODEL}"
    assert response.id.startswith("resp_") and response.model == MODEL
    assert response.usage is not None and (response.usage.input_tokens, response.usage.output_tokens) == (10, 4)
    upstream = scripted.requests[-1]
    assert upstream.body == {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
    assert upstream.key == "sk-local-upstream-0001"  # the backend's key, never the proxy key


def test_a_streamed_answer(proxy: RunningProxy, scripted: ScriptedUpstream) -> None:
    with sdk(proxy).responses.stream(model=MODEL, input="hi") as events:
        kinds = [event.type for event in events]
        final = events.get_final_response()
    assert kinds[:2] == ["response.created", "response.in_progress"] and kinds[-1] == "response.completed"
    assert kinds.count("response.output_text.delta") == 3  # as the upstream streamed it: "Hello", " from", " ..."
    assert final.status == "completed" and final.output_text == f"Hello from {MODEL}"
    assert scripted.requests[-1].body["stream"] is True
    assert scripted.requests[-1].body["stream_options"] == {"include_usage": True}


def test_the_raw_stream_keeps_every_rule(proxy: RunningProxy) -> None:
    events = stream(proxy, {"model": MODEL, "input": "hi"})  # `stream` checks the rules
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    [done] = of_type(events, "response.output_item.done")
    assert done["item"]["content"][0]["text"] == f"Hello from {MODEL}"
    assert events[-1]["response"]["output"] == [done["item"]]


def test_instructions_developer_and_system_input_are_one_leading_system_message(
    proxy: RunningProxy, scripted: ScriptedUpstream
) -> None:
    sdk(proxy).responses.create(model=MODEL, instructions="You are terse.", input=[
        {"role": "developer", "content": "Prefer tools."},
        {"role": "user", "content": "first"},
        {"role": "system", "content": [{"type": "input_text", "text": "Answer in English."}]},
        {"role": "user", "content": [{"type": "input_text", "text": "second"}]},
    ])  # fmt: skip
    assert sent(scripted) == [
        {"role": "system", "content": "You are terse.\n\nPrefer tools.\n\nAnswer in English."},
        {"role": "user", "content": "first"},
        {"role": "user", "content": "second"},
    ]


def test_output_fields_map_to_chat_fields(proxy: RunningProxy, scripted: ScriptedUpstream) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
              "additionalProperties": False}  # fmt: skip
    response = sdk(proxy).responses.create(
        model=MODEL, input="hi", max_output_tokens=256, reasoning={"effort": "high"}, temperature=0.3,
        text={"format": {"type": "json_schema", "name": "city", "schema": schema, "strict": True}},
        store=False, include=["reasoning.encrypted_content"],
    )
    body = scripted.requests[-1].body
    assert body["max_tokens"] == 256 and "max_output_tokens" not in body
    assert body["reasoning"] == {"effort": "high"} and body["temperature"] == 0.3
    assert body["response_format"] == {"type": "json_schema",
                                       "json_schema": {"name": "city", "schema": schema, "strict": True}}  # fmt: skip
    assert not {"text", "store", "include", "input", "instructions"} & body.keys()
    assert response.max_output_tokens == 256 and response.temperature == 0.3  # echoed as OpenAI does


@pytest.mark.parametrize("streamed", [False, True])
def test_usage_reports_cached_and_reasoning_tokens(proxy: RunningProxy, scripted: ScriptedUpstream, streamed: bool) -> None:
    scripted.script(MODEL, answer_step(MODEL, {"content": "ok"}, usage=USAGE, stream=streamed))
    if streamed:
        usage = stream(proxy, {"model": MODEL, "input": "hi"})[-1]["response"]["usage"]
    else:
        usage = post(proxy, {"model": MODEL, "input": "hi"}).json()["usage"]
    assert usage == {"input_tokens": 120, "input_tokens_details": {"cached_tokens": 100}, "output_tokens": 30,
                     "output_tokens_details": {"reasoning_tokens": 12}, "total_tokens": 150}  # fmt: skip


def test_a_length_stop_is_an_incomplete_response(proxy: RunningProxy, scripted: ScriptedUpstream) -> None:
    scripted.script(MODEL, answer_step(MODEL, {"content": "It was a dark and"}, finish="length", stream=False))
    response = sdk(proxy).responses.create(model=MODEL, input="tell me a story", max_output_tokens=5)
    assert response.status == "incomplete"
    assert response.incomplete_details is not None and response.incomplete_details.reason == "max_output_tokens"
    assert response.output_text == "It was a dark and"


def test_a_streamed_length_stop_ends_with_response_incomplete(proxy: RunningProxy, scripted: ScriptedUpstream) -> None:
    step = answer_step(MODEL, {"content": "It was a dark and"}, finish="length")
    scripted.script(MODEL, step, step)
    events = stream(proxy, {"model": MODEL, "input": "tell me a story", "max_output_tokens": 5})
    assert events[-1]["type"] == "response.incomplete"
    assert events[-1]["response"]["status"] == "incomplete"
    assert events[-1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    with sdk(proxy).responses.stream(model=MODEL, input="again", max_output_tokens=5) as sdk_events:
        assert [e.type for e in sdk_events][-1] == "response.incomplete"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": "hi"}, "model"),
        ({"model": " ", "input": "hi"}, "model"),
        ({"model": MODEL}, "input"),
        ({"model": MODEL, "input": "hi", "background": True}, "background"),
        ({"model": MODEL, "input": "hi", "max_output_tokens": 0}, "max_output_tokens"),
        ({"model": MODEL, "input": [{"type": "function_call", "name": "f"}]}, "input.0"),
    ],
)
def test_a_malformed_request_is_a_400_in_openais_envelope(proxy: RunningProxy, scripted: ScriptedUpstream,
                                                         body: dict[str, object], param: str) -> None:
    reply = post(proxy, body)
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param and error["message"]
    assert scripted.requests == []


def test_the_sdk_raises_a_400_as_bad_request(proxy: RunningProxy) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        sdk(proxy).responses.create(model=MODEL, input="hi", background=True)
    assert caught.value.status_code == 400 and "background" in caught.value.message


def test_the_proxy_key_is_required(proxy: RunningProxy, scripted: ScriptedUpstream) -> None:
    with pytest.raises(openai.AuthenticationError):
        sdk(proxy, key="sy-wrong-key-000000").responses.create(model=MODEL, input="hi")
    assert scripted.requests == []


def test_codex_gets_an_empty_model_list_and_others_the_openai_list(proxy: RunningProxy) -> None:
    headers = {"Authorization": f"Bearer {PROXY_KEY}"}
    codex = httpx.get(f"{proxy.url}/v1/models", params={"client_version": "0.171.0"}, headers=headers, timeout=10)
    assert codex.status_code == 200 and codex.json() == {"models": []}
    listing = httpx.get(f"{proxy.url}/v1/models", headers=headers, timeout=10).json()
    assert listing["object"] == "list" and isinstance(listing["data"], list) and listing["data"]


def test_check_catches_a_stream_that_breaks_the_rules() -> None:
    good = [{"type": "response.created", "sequence_number": 0, "response": {"id": "r"}},
            {"type": "response.completed", "sequence_number": 1, "response": {"id": "r"}}]  # fmt: skip
    check(good)
    for broken in ([good[0], {**good[1], "sequence_number": 0}], [good[0]], [good[0], good[1], good[1]],
                   [good[0], {**good[1], "response": {"id": "other"}}]):  # fmt: skip
        with pytest.raises(AssertionError):
            check(json.loads(json.dumps(broken)))
