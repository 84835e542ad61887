"""The Responses API on the wire (src/wire/responses.py): failure codes, the in-band error rule, the
last events, usage in both directions, a whole response replayed as a stream, and the envelopes."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from src.wire.errors import InvalidRequest, ProxyError, UpstreamStatusError, UpstreamUnreachable
from src.wire.openai_chat import CHAT
from src.wire.responses import RESPONSES, as_chat_usage, event, failure_code, from_chat_usage, new_id, response_object
from src.wire.sse import Event


def upstream(status: int, code: str | None = None, message: str = "upstream said no") -> UpstreamStatusError:
    return UpstreamStatusError("or", status, message, code=code)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (upstream(429), "rate_limit_exceeded"),
        (upstream(429, code="429"), "rate_limit_exceeded"),  # OpenRouter's numeric code is no Responses code
        (upstream(402), "insufficient_quota"),
        (upstream(401), "invalid_api_key"),
        (upstream(403), "permission_denied"),
        (upstream(404), "not_found"),
        (upstream(408), "timeout"),
        (upstream(413), "context_length_exceeded"),
        (upstream(400), "invalid_request_error"),
        (upstream(500), "server_error"),
        (upstream(503), "server_error"),
        (UpstreamUnreachable("or", "connection lost"), "server_error"),
        # the upstream's own code, when it is one of the vocabulary
        (upstream(500, code="insufficient_quota"), "insufficient_quota"),
        (upstream(400, code="invalid_prompt"), "invalid_prompt"),
        (upstream(500, code="rate_limit_exceeded"), "rate_limit_exceeded"),
        # a message about the context window, whatever the status
        (upstream(400, message="This model's maximum context length is 8192 tokens"), "context_length_exceeded"),
        (upstream(502, message="prompt exceeds the context window"), "context_length_exceeded"),
        (upstream(400, message="the context was fine, the JSON was not"), "invalid_request_error"),
    ],
)
def test_failure_code_names_what_went_wrong_in_codexs_vocabulary(error: ProxyError, code: str) -> None:
    assert failure_code(error) == code


def failed(error: object) -> dict[str, Any]:
    return {"type": "response.failed", "sequence_number": 7, "response": {"object": "response", "status": "failed",
                                                                           "error": error}}  # fmt: skip


@pytest.mark.parametrize(
    ("payload", "status", "message", "code"),
    [
        (failed({"code": "rate_limit_exceeded", "message": "slow down"}), 429, "slow down", "rate_limit_exceeded"),
        (failed({"code": "insufficient_quota", "message": "pay"}), 402, "pay", "insufficient_quota"),
        (failed({"code": "context_length_exceeded", "message": "long"}), 400, "long", "context_length_exceeded"),
        (failed({"code": "server_error", "message": "boom"}), 500, "boom", "server_error"),
        (failed({"code": "vector_store_timeout", "message": "slow"}), 504, "slow", "vector_store_timeout"),
        (failed({"code": "something_new", "message": "odd"}), 502, "odd", "something_new"),
        (failed(None), 502, "the upstream reported a failure without a message", None),
        ({"object": "response", "status": "failed", "error": {"code": "rate_limit_exceeded", "message": "m"}},
         429, "m", "rate_limit_exceeded"),
        ({"type": "error", "code": "429", "message": "too many", "param": None, "sequence_number": 2},
         429, "too many", "429"),
    ],
)
def test_failed_responses_and_error_events_are_in_band_errors(
    payload: dict[str, Any], status: int, message: str, code: str | None
) -> None:
    found = RESPONSES.in_band_error(payload)
    assert found is not None
    assert (found.status, found.message, found.code) == (status, message, code)


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "response.completed", "response": {"status": "completed", "error": None}},
        {"type": "response.output_text.delta", "delta": '{"error": "just text"}'},
        {"object": "response", "status": "completed", "error": None},
        {"object": "response", "status": "incomplete", "error": None},
        {"type": "response.failed", "response": "not an object"},
        [1, 2],
        "error",
        None,
    ],
)
def test_everything_else_is_no_in_band_error(payload: object) -> None:
    assert RESPONSES.in_band_error(payload) is None


@pytest.mark.parametrize(
    ("name", "last", "content"),
    [
        ("response.created", False, False),
        ("response.in_progress", False, False),
        ("response.queued", False, False),
        ("response.output_item.added", False, True),
        ("response.output_text.delta", False, True),
        ("response.reasoning_summary_text.delta", False, True),
        ("response.completed", True, True),
        ("response.incomplete", True, True),
        ("response.failed", False, True),  # it ends a stream as an error, by the in-band rule
    ],
)
def test_last_events_and_events_that_show_the_client_something(name: str, last: bool, content: bool) -> None:
    happened = event(name, 3, response={"id": "resp_1"})
    assert RESPONSES.is_last(happened) is last
    assert RESPONSES.carries_content(happened) is content


def test_a_comment_carries_no_content() -> None:
    assert RESPONSES.carries_content(Event(b": keep-alive\n\n")) is False


def test_an_event_names_its_type_twice_and_carries_its_number() -> None:
    happened = event("response.output_text.delta", 4, delta="hi")
    assert happened.raw.startswith(b"event: response.output_text.delta\ndata: ")
    assert happened.payload == {"type": "response.output_text.delta", "sequence_number": 4, "delta": "hi"}


RESPONSES_USAGE = {"input_tokens": 100, "input_tokens_details": {"cached_tokens": 40}, "output_tokens": 30,
                   "output_tokens_details": {"reasoning_tokens": 12}, "total_tokens": 130}  # fmt: skip
CHAT_USAGE = {"prompt_tokens": 100, "completion_tokens": 30, "prompt_tokens_details": {"cached_tokens": 40},
              "completion_tokens_details": {"reasoning_tokens": 12}}  # fmt: skip


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "response.completed", "sequence_number": 9, "response": {"status": "completed", "usage": RESPONSES_USAGE}},
        {"object": "response", "status": "completed", "usage": RESPONSES_USAGE},
    ],
)
def test_usage_of_a_completed_event_or_a_whole_response_in_chat_shape(payload: dict[str, Any]) -> None:
    assert RESPONSES.usage(payload) == CHAT_USAGE


@pytest.mark.parametrize("payload", [{"type": "response.created", "response": {"usage": None}}, {"object": "response"},
                                     "usage", None])  # fmt: skip
def test_no_usage_where_there_is_none(payload: object) -> None:
    assert RESPONSES.usage(payload) is None


def test_chat_usage_keeps_cost_and_tolerates_missing_details() -> None:
    assert as_chat_usage({"input_tokens": 5, "output_tokens": 2, "cost": 0.5}) == {
        "prompt_tokens": 5, "completion_tokens": 2, "prompt_tokens_details": {}, "completion_tokens_details": {},
        "cost": 0.5}  # fmt: skip


def shaped(prompt: int, completion: int, cached: int = 0, reasoning: int = 0, total: int | None = None) -> dict[str, Any]:
    return {"input_tokens": prompt, "input_tokens_details": {"cached_tokens": cached}, "output_tokens": completion,
            "output_tokens_details": {"reasoning_tokens": reasoning},
            "total_tokens": prompt + completion if total is None else total}  # fmt: skip


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        (None, shaped(0, 0)),
        ("nonsense", shaped(0, 0)),
        ({}, shaped(0, 0)),
        ({"prompt_tokens": 12, "completion_tokens": 5}, shaped(12, 5)),
        ({"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 20}, shaped(12, 5, total=20)),
        ({**CHAT_USAGE, "total_tokens": 130}, shaped(100, 30, cached=40, reasoning=12)),
        ({"prompt_tokens": True, "completion_tokens": -3, "prompt_tokens_details": None}, shaped(0, 0)),
        ({"prompt_tokens": 12, "completion_tokens": 5, "cost": 0.25}, {**shaped(12, 5), "cost": 0.25}),
        ({"prompt_tokens": 12, "completion_tokens": 5, "cost": True}, shaped(12, 5)),
        ({"prompt_tokens": 12, "completion_tokens": 5, "cost": "0.25"}, shaped(12, 5)),
    ],
)
def test_chat_usage_as_the_responses_api_reports_it(usage: object, expected: dict[str, Any]) -> None:
    assert from_chat_usage(usage) == expected


def test_the_two_usage_mappings_agree() -> None:
    assert as_chat_usage(from_chat_usage({**CHAT_USAGE, "cost": 1.5})) == {**CHAT_USAGE, "cost": 1.5}


def test_a_response_object_has_every_field_the_sdks_require() -> None:
    response = response_object("resp_1", "m", "in_progress", 123, output=[{"type": "message"}], tools=[{"x": 1}])
    assert response["id"] == "resp_1" and response["object"] == "response" and response["created_at"] == 123
    assert response["status"] == "in_progress" and response["model"] == "m"
    assert response["output"] == [{"type": "message"}] and response["tools"] == [{"x": 1}]
    assert {"parallel_tool_calls", "tool_choice", "error", "incomplete_details", "usage"} <= response.keys()
    assert isinstance(response_object("r", "m", "completed")["created_at"], int)


def test_new_ids_are_prefixed_and_unique() -> None:
    ids = {new_id("resp") for _ in range(50)}
    assert len(ids) == 50 and all(i.startswith("resp_") for i in ids)


def test_errors_use_openais_envelope() -> None:
    error = InvalidRequest("input: required", param="input")
    assert RESPONSES.error_body(error, "input: required") == CHAT.error_body(error, "input: required")
    assert orjson.loads(RESPONSES.error_body(error, "input: required"))["error"]["param"] == "input"


def test_a_broken_stream_ends_with_response_failed_and_its_code() -> None:
    ending = RESPONSES.error_event(upstream(429), "or: slow down")
    assert ending.raw.startswith(b"event: response.failed\n")
    payload = ending.payload
    assert isinstance(payload, dict) and payload["type"] == "response.failed"
    assert payload["response"]["status"] == "failed" and payload["response"]["id"].startswith("resp_")
    assert payload["response"]["error"] == {"code": "rate_limit_exceeded", "message": "or: slow down"}
    assert RESPONSES.in_band_error(payload) is not None  # what it says is read back as the failure it is


WHOLE = {"id": "resp_9", "object": "response", "status": "completed", "model": "m", "usage": RESPONSES_USAGE,
         "output": [{"type": "reasoning", "id": "rs_1", "summary": []},
                    {"type": "message", "id": "msg_1", "role": "assistant", "content": []}]}  # fmt: skip


def test_a_whole_response_replayed_as_the_stream_it_stands_for() -> None:
    events = RESPONSES.replay(orjson.dumps(WHOLE))
    assert events is not None
    payloads = [e.payload for e in events]
    assert [p["type"] for p in payloads] == ["response.created", "response.output_item.done",  # type: ignore[index]
                                             "response.output_item.done", "response.completed"]
    assert [p["sequence_number"] for p in payloads] == [0, 1, 2, 3]  # type: ignore[index]
    created = payloads[0]["response"]  # type: ignore[index]
    assert created["status"] == "in_progress" and created["output"] == [] and created["usage"] is None
    assert [p["item"]["id"] for p in payloads[1:3]] == ["rs_1", "msg_1"]  # type: ignore[index]
    assert [p["output_index"] for p in payloads[1:3]] == [0, 1]  # type: ignore[index]
    assert payloads[-1]["response"] == WHOLE  # type: ignore[index]
    assert RESPONSES.is_last(events[-1])


def test_an_incomplete_response_replays_as_response_incomplete() -> None:
    events = RESPONSES.replay(orjson.dumps({**WHOLE, "status": "incomplete", "output": []}))
    assert events is not None and [e.name for e in events] == [b"response.created", b"response.incomplete"]


@pytest.mark.parametrize("body", [b"not json", b"[1]", orjson.dumps({"object": "chat.completion", "choices": []})])
def test_what_is_no_response_is_not_replayed(body: bytes) -> None:
    assert RESPONSES.replay(body) is None
