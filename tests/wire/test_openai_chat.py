"""OpenAI chat completions on the wire (src/wire/openai_chat.py): what a ProxyError looks like to an
OpenAI client, the usage a chunk reports, and a whole completion replayed as a stream."""

from __future__ import annotations

import orjson
import pytest

from src.wire.errors import (
    AuthenticationFailed,
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    ProxyError,
    UpstreamProtocolError,
    UpstreamStatusError,
    UpstreamTimeout,
    UpstreamUnreachable,
)
from src.wire.openai_chat import CHAT, error_type
from src.wire.sse import joined


def upstream(status: int, upstream_type: str | None = None, code: str | None = None) -> UpstreamStatusError:
    return UpstreamStatusError("or", status, "upstream said no", upstream_type=upstream_type, code=code)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (402, "payment_required"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (408, "timeout_error"),
        (413, "request_too_large"),
        (422, "invalid_request_error"),
        (429, "rate_limit_error"),
        (529, "overloaded_error"),
        # any other 4xx is the client's fault, any other 5xx the server's
        (409, "invalid_request_error"),
        (418, "invalid_request_error"),
        (499, "invalid_request_error"),
        (500, "api_error"),
        (502, "api_error"),
        (503, "api_error"),
        (504, "api_error"),
        (599, "api_error"),
    ],
)
def test_openai_type_from_the_status_when_the_upstream_gave_none(status: int, expected: str) -> None:
    error = upstream(status)
    assert error.error_type is None
    assert error_type(error) == expected


@pytest.mark.parametrize(
    ("status", "upstream_type"),
    [(429, "requests"), (400, "invalid_request_error"), (500, "server_error"), (404, "model_not_found")],
)
def test_the_upstreams_own_type_takes_precedence(status: int, upstream_type: str) -> None:
    error = upstream(status, upstream_type)
    assert error.error_type == upstream_type
    assert error_type(error) == upstream_type


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (InvalidRequest("bad"), "invalid_request_error"),
        (AuthenticationFailed("no"), "authentication_error"),
        (NotFound("where"), "not_found_error"),
        (MethodNotAllowed("how"), "invalid_request_error"),
        (ProxyError("boom"), "api_error"),
        (UpstreamUnreachable("or", "down"), "upstream_unreachable"),
        (UpstreamTimeout("or", "slow"), "upstream_timeout"),
        (UpstreamProtocolError("or", "garbage"), "upstream_invalid_response"),
    ],
)
def test_the_proxys_own_errors_keep_their_type(error: ProxyError, expected: str) -> None:
    assert error_type(error) == expected


@pytest.mark.parametrize(
    ("error", "message", "expected"),
    [
        (
            InvalidRequest("bad", param="model"),
            "bad",
            {"message": "bad", "type": "invalid_request_error", "param": "model", "code": None},
        ),
        (
            AuthenticationFailed("no key", code="invalid_api_key"),
            "no key",
            {"message": "no key", "type": "authentication_error", "param": None, "code": "invalid_api_key"},
        ),
        (
            upstream(429, code="429"),
            "or: slow down [redacted]",
            {"message": "or: slow down [redacted]", "type": "rate_limit_error", "param": None, "code": "429"},
        ),
        (
            upstream(400, "invalid_request_error", "bad_model"),
            "m",
            {"message": "m", "type": "invalid_request_error", "param": None, "code": "bad_model"},
        ),
    ],
)
def test_openai_error_shape(error: ProxyError, message: str, expected: dict[str, object]) -> None:
    # The message is passed separately (already redacted); the error's own is not used.
    assert orjson.loads(CHAT.error_body(error, message)) == {"error": expected}


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (UpstreamTimeout("or", "slow"), "504"),
        (UpstreamUnreachable("or", "gone"), "502"),
        (upstream(429), "429"),
        (upstream(429, code="rate_limited"), "rate_limited"),
        (InvalidRequest("bad", code="bad_param"), "bad_param"),
        (ProxyError("boom"), "500"),
    ],
)
def test_openai_stream_error_is_one_event_with_a_truthy_error(error: ProxyError, code: str) -> None:
    event = CHAT.error_event(error, "the message").raw
    assert event.startswith(b"data: ")
    assert event.endswith(b"\n\n")
    assert event.count(b"\n\n") == 1
    assert b"\n" not in event[: -2]  # a single data line
    payload = orjson.loads(event[len(b"data: ") :])
    assert payload["error"]
    assert payload == {
        "error": {"message": "the message", "type": error_type(error), "param": error.param, "code": code}
    }


def test_stream_error_message_with_newlines_stays_one_event() -> None:
    event = CHAT.error_event(ProxyError("x"), "line one\nline two\r\n\n").raw
    assert event.count(b"\n") == 2 and event.endswith(b"\n\n")
    assert orjson.loads(event[6:])["error"]["message"] == "line one\nline two\r\n\n"


def test_the_error_event_carries_the_body_the_error_envelope_would() -> None:
    error = upstream(503, "server_error", "overloaded")
    event = CHAT.error_event(error, "busy")
    assert event.payload == orjson.loads(CHAT.error_body(error, "busy"))
    assert event.name is None  # a bare `data:` line: the OpenAI SDK reads no event names


def test_the_protocol_is_named() -> None:
    assert CHAT.name == "openai"


@pytest.mark.parametrize(
    ("payload", "usage"),
    [
        ({"choices": [], "usage": {"prompt_tokens": 3}}, {"prompt_tokens": 3}),
        ({"usage": {}}, {}),
        ({"choices": [{"delta": {"content": "x"}}]}, None),
        ({"usage": None}, None),
        ({"usage": [1, 2]}, None),
        ({"usage": "lots"}, None),
        ([{"usage": {"prompt_tokens": 1}}], None),
        ("usage", None),
        (None, None),
    ],
)
def test_usage_is_the_usage_object_as_sent(payload: object, usage: object) -> None:
    assert CHAT.usage(payload) == usage


def test_a_whole_completion_is_replayed_as_its_stream() -> None:
    choice = {"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}
    body = {"id": "c1", "model": "m", "choices": [choice]}
    events = CHAT.replay(orjson.dumps(body))
    assert events is not None
    assert joined(events).endswith(b"data: [DONE]\n\n")
    assert events[0].payload["choices"][0]["delta"] == {"role": "assistant", "content": "hi"}  # type: ignore[index]


@pytest.mark.parametrize("body", [b"", b"not json", b'{"choices":', b'{"error":{"message":"no"}}', b"[]", b'"text"'])
def test_a_body_that_is_no_completion_is_not_replayed(body: bytes) -> None:
    assert CHAT.replay(body) is None
