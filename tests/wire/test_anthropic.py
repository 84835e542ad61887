"""Anthropic Messages on the wire (src/wire/anthropic.py): its status table read both ways, what a
ProxyError looks like to an Anthropic client, the end of a stream, and the usage it reports."""

from __future__ import annotations

import importlib
from typing import Any

import orjson
import pytest

from src.wire.anthropic import MESSAGES, TYPES, as_openai_usage, is_message_stop, type_for
from src.wire.errors import InvalidRequest, LimitReached, ProxyError, UpstreamStatusError, UpstreamUnreachable
from src.wire.protocol import STATUS_BY_TYPE
from src.wire.sse import Event


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (402, "billing_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (413, "request_too_large"),
        (429, "rate_limit_error"),
        (529, "overloaded_error"),
        # any other 4xx is the client's fault, any other 5xx the server's
        (405, "invalid_request_error"),
        (408, "invalid_request_error"),
        (422, "invalid_request_error"),
        (499, "invalid_request_error"),
        (500, "api_error"),
        (502, "api_error"),
        (503, "api_error"),
        (504, "api_error"),
        (508, "api_error"),
        (599, "api_error"),
    ],
)
def test_type_for(status: int, expected: str) -> None:
    assert type_for(status) == expected


@pytest.mark.parametrize("status", sorted(TYPES))
def test_the_status_table_reads_both_ways(status: int) -> None:
    # An Anthropic upstream's error type maps back to the status it was given for.
    assert STATUS_BY_TYPE[type_for(status)] == status


def test_api_error_is_a_500() -> None:
    assert STATUS_BY_TYPE["api_error"] == 500


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (InvalidRequest("bad", param="model"), "invalid_request_error"),
        (LimitReached("over budget", code="insufficient_quota"), "rate_limit_error"),
        (UpstreamUnreachable("or", "down"), "api_error"),  # the status decides, not the proxy's own type
        (UpstreamStatusError("or", 529, "busy", upstream_type="overloaded"), "overloaded_error"),
        (ProxyError("boom"), "api_error"),
    ],
)
def test_error_body_and_event(error: ProxyError, kind: str) -> None:
    expected = {"type": "error", "error": {"type": kind, "message": "the message"}}
    assert orjson.loads(MESSAGES.error_body(error, "the message")) == expected
    event = MESSAGES.error_event(error, "the message")
    assert event.raw == b"event: error\ndata: " + orjson.dumps(expected) + b"\n\n"
    assert event.name == b"error"
    assert event.payload == expected


def test_the_error_event_stays_one_event_whatever_the_message() -> None:
    event = MESSAGES.error_event(ProxyError("x"), "line one\n\nline two\r\n")
    assert event.raw.count(b"\n\n") == 1 and event.raw.endswith(b"\n\n")
    assert orjson.loads(event.data)["error"]["message"] == "line one\n\nline two\r\n"


@pytest.mark.parametrize(
    ("error", "sdk_class"),
    [
        (InvalidRequest("bad"), "BadRequestError"),
        (LimitReached("slow down"), "RateLimitError"),
        (UpstreamUnreachable("or", "down"), "InternalServerError"),
    ],
)
def test_the_anthropic_sdk_raises_the_class_of_the_status(error: ProxyError, sdk_class: str) -> None:
    anthropic = pytest.importorskip("anthropic")
    base_client = importlib.import_module("anthropic._base_client")
    http = getattr(base_client, "httpx2", None) or base_client.httpx  # the HTTP package the SDK is built on
    body = MESSAGES.error_body(error, "the message")

    def answer(request: object) -> object:
        return http.Response(error.status, content=body, headers={"content-type": "application/json"})

    transport = http.Client(transport=http.MockTransport(answer))
    client = anthropic.Anthropic(api_key="x", base_url="http://proxy", http_client=transport, max_retries=0)
    with pytest.raises(getattr(anthropic, sdk_class)) as caught:
        client.messages.create(model="m", max_tokens=1, messages=[{"role": "user", "content": "hi"}])
    assert caught.value.body == orjson.loads(body)
    assert "the message" in str(caught.value)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'event: message_stop\ndata: {"type":"message_stop"}\n\n', True),
        (b"event: message_stop\ndata: {}\n\n", True),
        (b'data: {"type":"message_stop"}\n\n', True),  # no event name: its type says it
        (b'event: message_delta\ndata: {"type":"message_delta","stop_reason":"end_turn"}\n\n', False),
        (b'event: content_block_delta\ndata: {"delta":{"text":"message_stop"}}\n\n', False),  # content mentioning it
        (b'data: {"type":"text","text":"message_stop"}\n\n', False),
        (b"data: [DONE]\n\n", False),
        (b": message_stop\n\n", False),
    ],
)
def test_is_message_stop(raw: bytes, expected: bool) -> None:
    assert is_message_stop(Event(raw)) is expected
    assert MESSAGES.is_last(Event(raw)) is expected


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (
            {"type": "message_start", "message": {"usage": {"input_tokens": 10, "output_tokens": 1}}},
            {"prompt_tokens": 10, "prompt_tokens_details": {"cached_tokens": 0}, "completion_tokens": 1},
        ),
        (
            {"type": "message_delta", "usage": {"output_tokens": 42}},
            {"completion_tokens": 42},
        ),
        (
            # Anthropic's input excludes cache reads and writes; OpenAI's prompt includes them.
            {"usage": {"input_tokens": 5, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 20}},
            {"prompt_tokens": 125, "prompt_tokens_details": {"cached_tokens": 100}},
        ),
        (
            {"id": "msg_1", "usage": {"input_tokens": 0, "output_tokens": 0}},
            {"prompt_tokens": 0, "prompt_tokens_details": {"cached_tokens": 0}, "completion_tokens": 0},
        ),
        ({"type": "content_block_delta"}, None),
        ({"usage": None, "message": None}, None),
        ({"message": {"usage": "x"}}, None),
        ([{"usage": {}}], None),
        (None, None),
    ],
)
def test_usage_in_openai_shape(payload: object, expected: dict[str, Any] | None) -> None:
    assert MESSAGES.usage(payload) == expected


@pytest.mark.parametrize(
    "usage",
    [
        {"input_tokens": -1, "output_tokens": True},
        {"input_tokens": "10", "output_tokens": 1.5},
        {"input_tokens": None},
        {},
    ],
)
def test_counts_that_are_not_counts_are_left_out(usage: dict[str, Any]) -> None:
    assert as_openai_usage(usage) == {}


def test_odd_cache_counts_count_as_none() -> None:
    usage = {"input_tokens": 5, "cache_read_input_tokens": "7", "cache_creation_input_tokens": -2}
    assert as_openai_usage(usage) == {"prompt_tokens": 5, "prompt_tokens_details": {"cached_tokens": 0}}


def test_a_messages_client_is_never_given_a_replayed_stream() -> None:
    assert MESSAGES.replay(b'{"type":"message","content":[]}') is None
    assert MESSAGES.name == "anthropic"
