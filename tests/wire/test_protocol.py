"""The one in-band error rule (src/wire/protocol.py): a failure an upstream reports inside a 200,
as CHAT and MESSAGES read it, whatever odd types its fields have."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from src.wire.anthropic import MESSAGES
from src.wire.openai_chat import CHAT
from src.wire.protocol import DEFAULT_FAILURE, STATUS_BY_TYPE, InBandError, WireProtocol, error_in, in_band
from src.wire.sse import NOT_JSON, Event
from tests.wire.sse_helpers import OPENROUTER_ERROR, data, delta

MIDWAY = "the upstream model failed mid-generation"
LONG = "9" * 5000


def failure(status: int, message: str = "m", code: str | None = None, kind: str | None = None) -> InBandError:
    return InBandError(status, message, code, kind)


# (id, payload, what both protocols read in it)
BOTH: list[tuple[str, object, InBandError | None]] = [
    # not errors
    ("null-code-empty-message", {"error": {"code": None, "message": ""}}, None),
    ("null-code-no-message", {"error": {"code": None}}, None),
    ("no-code-null-message", {"error": {"message": None, "param": None}}, None),
    ("empty-object", {}, None),
    ("empty-string", "", None),
    ("null", None, None),
    ("list", [{"error": {"code": 429}}], None),
    ("not-json", NOT_JSON, None),
    ("empty-error", {"error": {}}, None),
    ("error-null", {"error": None}, None),
    ("error-empty-string", {"error": ""}, None),
    ("error-false", {"error": False}, None),
    ("chunk", {"choices": [{"index": 0, "delta": {"content": "error"}}]}, None),
    # the code's status
    (
        "code-int",
        {"error": {"code": 429, "message": "Rate limit exceeded"}},
        failure(429, "Rate limit exceeded", "429"),
    ),
    ("code-string", {"error": {"code": "429"}}, failure(429, DEFAULT_FAILURE, "429")),
    ("code-599", {"error": {"code": 599, "message": "m"}}, failure(599, code="599")),
    ("status-field", {"error": {"message": "m", "status": 503}}, failure(503)),
    ("http-status-field", {"error": {"message": "m", "http_status": "529"}}, failure(529)),
    (
        "code-before-type",
        {"error": {"code": 503, "type": "rate_limit_error", "message": "m"}},
        failure(503, "m", "503", "rate_limit_error"),
    ),
    # odd codes: the type's status, else 502
    ("code-superscript", {"error": {"code": "²", "message": "m"}}, failure(502, code="²")),
    (
        "code-superscript-typed",
        {"error": {"code": "²", "type": "rate_limit_error", "message": "m"}},
        failure(429, code="²", kind="rate_limit_error"),
    ),
    ("code-arabic-digits", {"error": {"code": "٤٢٩", "message": "m"}}, failure(502, code="٤٢٩")),
    ("code-5000-digits", {"error": {"code": LONG, "message": "m"}}, failure(502)),
    (
        "code-5000-digits-typed",
        {"error": {"code": LONG, "type": "server_error", "message": "m"}},
        failure(500, kind="server_error"),
    ),
    ("code-true", {"error": {"code": True, "message": "m"}}, failure(502)),
    ("code-false", {"error": {"code": False, "message": "m"}}, failure(502)),
    ("code-object", {"error": {"code": {"http": 429}, "message": "m"}}, failure(502)),
    ("code-float", {"error": {"code": 429.0, "message": "m"}}, failure(502)),
    ("code-200", {"error": {"code": 200, "message": "m"}}, failure(502, code="200")),
    ("code-zero", {"error": {"code": 0, "message": ""}}, failure(502, DEFAULT_FAILURE, "0")),
    ("code-word", {"error": {"code": "server_error", "message": "m"}}, failure(502, code="server_error")),
    # the type, wherever the upstream put it
    ("type-object", {"error": {"type": {"nested": 1}, "message": "m"}}, failure(502)),
    ("type-list-code", {"error": {"type": ["x"], "code": 503, "message": "m"}}, failure(503, code="503")),
    ("type-unknown", {"error": {"type": "teapot_error", "message": "m"}}, failure(502, kind="teapot_error")),
    ("error-type-field", {"error": {"message": "m", "error_type": "timeout"}}, failure(504, kind="timeout")),
    (
        "metadata-type",
        {"error": {"message": "m", "metadata": {"error_type": "provider_overloaded"}}},
        failure(503, kind="provider_overloaded"),
    ),
    ("metadata-odd", {"error": {"message": "m", "metadata": {"error_type": 7}}}, failure(502)),
    ("message-not-text", {"error": {"message": 42}}, failure(502, DEFAULT_FAILURE)),
    # an error as text
    ("error-text", {"error": "text", "message": "more"}, failure(502, "text")),
    ("error-true", {"error": True}, failure(502, DEFAULT_FAILURE)),
    ("type-error-text", {"type": "error", "error": "overloaded"}, failure(502, "overloaded")),
    # Anthropic's own error
    (
        "anthropic-overloaded",
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
        failure(529, "Overloaded", kind="overloaded_error"),
    ),
    (
        "anthropic-rate-limit",
        {"type": "error", "error": {"type": "rate_limit_error", "message": "slow"}},
        failure(429, "slow", kind="rate_limit_error"),
    ),
]

# (id, payload, CHAT's reading, MESSAGES' reading): the parts of a chunk only a chat stream has, and
# the `type` only an Anthropic event has.
APART: list[tuple[str, object, InBandError | None, InBandError | None]] = [
    (
        "finish-reason-error",
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "error"}]},
        failure(502, MIDWAY),
        None,
    ),
    (
        "finish-reason-error-outer-message",
        {"message": "why", "choices": [{"finish_reason": "error"}]},
        failure(502, "why"),
        None,
    ),
    ("choice-error", {"choices": [{"error": {"code": 429, "message": "m"}}]}, failure(429, code="429"), None),
    (
        "choice-empty-error",
        {"choices": [{"error": {"code": None, "message": ""}, "finish_reason": "stop"}]},
        None,
        None,
    ),
    (
        "openrouter",
        orjson.loads(OPENROUTER_ERROR[6:]),
        failure(502, "Provider disconnected unexpectedly", "server_error"),
        failure(502, "Provider disconnected unexpectedly", "server_error"),
    ),
    (
        "outer-message",
        {"error": {"code": 500}, "message": "outer"},
        failure(500, "outer", "500"),
        failure(500, DEFAULT_FAILURE, "500"),
    ),
    ("type-error-alone", {"type": "error"}, None, failure(502, DEFAULT_FAILURE)),
    ("type-error-null", {"type": "error", "error": None}, None, failure(502, DEFAULT_FAILURE)),
]

def cases() -> Iterator[Any]:
    for case_id, payload, expected in BOTH:
        for protocol in (CHAT, MESSAGES):
            yield pytest.param(protocol, payload, expected, id=f"{protocol.name}-{case_id}")
    for case_id, payload, chat, messages in APART:
        yield pytest.param(CHAT, payload, chat, id=f"openai-{case_id}")
        yield pytest.param(MESSAGES, payload, messages, id=f"anthropic-{case_id}")


@pytest.mark.parametrize(("protocol", "payload", "expected"), list(cases()))
def test_in_band_error(protocol: WireProtocol, payload: object, expected: InBandError | None) -> None:
    assert protocol.in_band_error(payload) == expected


@pytest.mark.parametrize(("protocol", "payload", "expected"), list(cases()))
def test_error_in_an_event_reads_the_same(
    protocol: WireProtocol, payload: object, expected: InBandError | None
) -> None:
    if payload is NOT_JSON:
        payload = "[DONE]"
    event = Event(data(payload)) if not isinstance(payload, str) else Event(b"data: " + payload.encode() + b"\n\n")
    assert error_in(event, protocol) == (expected if b'"error"' in event.raw else None)


class Spy:
    """A protocol that counts how often it is asked to read a payload."""

    def __init__(self, protocol: WireProtocol) -> None:
        self.protocol = protocol
        self.asked = 0

    def in_band_error(self, payload: object) -> InBandError | None:
        self.asked += 1
        return self.protocol.in_band_error(payload)


@pytest.mark.parametrize(
    "raw",
    [
        delta("an error occurred"),
        b"data: [DONE]\n\n",
        b": error\n\n",
        b'event: message_delta\ndata: {"type":"message_delta"}\n\n',
    ],
)
def test_an_event_without_an_error_key_is_never_parsed(raw: bytes) -> None:
    spy = Spy(CHAT)
    event = Event(raw)
    assert error_in(event, spy) is None  # type: ignore[arg-type]
    assert spy.asked == 0


@pytest.mark.parametrize("raw", [delta("error"), data({"choices": [], "error": None}), data({"error": {}})])
def test_an_event_naming_error_is_read_and_may_be_no_error(raw: bytes) -> None:
    spy = Spy(CHAT)
    assert error_in(Event(raw), spy) is None  # type: ignore[arg-type]
    assert spy.asked == 1


@pytest.mark.parametrize(
    ("error", "fallback", "expected"),
    [
        ({}, None, failure(502, DEFAULT_FAILURE)),
        ({"message": ""}, "outer", failure(502, "outer")),
        ({"message": "inner"}, "outer", failure(502, "inner")),
        ({}, 7, failure(502, DEFAULT_FAILURE)),
        ({"code": "x" * 64}, None, failure(502, DEFAULT_FAILURE, "x" * 64)),  # a code is kept up to 64 characters
        ({"code": "x" * 65}, None, failure(502, DEFAULT_FAILURE)),
        ({"code": -429}, None, failure(502, DEFAULT_FAILURE, "-429")),
        (
            {"type": "", "error_type": "rate_limit_exceeded"},
            None,
            failure(429, DEFAULT_FAILURE, kind="rate_limit_exceeded"),
        ),
    ],
)
def test_in_band(error: dict[str, Any], fallback: object, expected: InBandError) -> None:
    assert in_band(error, fallback) == expected


def test_every_type_stands_for_an_error_status() -> None:
    assert all(400 <= status <= 599 for status in STATUS_BY_TYPE.values())
    assert STATUS_BY_TYPE["overloaded_error"] == 529
    assert STATUS_BY_TYPE["rate_limit_error"] == 429
