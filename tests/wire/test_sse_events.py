"""What a single SSE event means for the stream around it: whether it ends a chat stream (its last
event, or an in-band error), and whether an event left at the end of a stream is whole."""

from __future__ import annotations

import pytest

from src.wire.openai_chat import CHAT, is_done
from src.wire.protocol import error_in
from src.wire.sse import Event
from tests.wire.sse_helpers import OPENROUTER_ERROR, data, delta


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        # [DONE]
        (b"data: [DONE]\n\n", True),
        (b"data: [DONE]", True),
        (b"data: [DONE]  \n\n", True),
        (b"id: 9\ndata: [DONE]\n\n", True),
        # mid-stream errors with a top-level "error"
        (OPENROUTER_ERROR, True),
        (data({"error": {"message": "Rate limit exceeded", "code": 429}}), True),
        (data({"error": "boom"}), True),
        (b'data:{"error":{"message":"no space after the colon"}}\n\n', True),
        (b'event: error\ndata: {"error":{"message":"x"}}\n\n', True),
        (b'data: {"error":\ndata: {"message":"split over two data lines"}}\n\n', True),
        # an error whose text mentions [DONE] is still an error
        pytest.param(data({"error": {"message": "provider sent [DONE] too early"}}), True, id="error-mentions-DONE"),
        # ordinary content that merely mentions error or [DONE]
        (delta("an error occurred in your code"), False),
        (delta("error"), False),
        (delta('{"error": {"message": "x"}}'), False),
        (delta("[DONE]"), False),
        (delta("data: [DONE]"), False),
        (data({"choices": [{"delta": {"content": "x"}, "finish_reason": None}], "usage": None}), False),
        # comments
        (b": OPENROUTER PROCESSING\n\n", False),
        (b": error\n\n", False),
        # empty / null error fields are not errors
        (data({"error": {}}), False),
        (data({"error": None}), False),
        (data({"error": ""}), False),
        (data({"error": False}), False),
        (data({"choices": [], "error": {}}), False),
        # not JSON
        (b'data: "error"\n\n', False),
        (b'data: {"error": \n\n', False),
        (b'data: ["error"]\n\n', False),
        (b"", False),
    ],
)
def test_what_ends_a_chat_stream(event: bytes, expected: bool) -> None:
    # `ends_stream` is gone; the relay ends a stream on the protocol's last event or an in-band error.
    parsed = Event(event)
    assert (CHAT.is_last(parsed) or error_in(parsed, CHAT) is not None) is expected


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (b"data: [DONE]\n\n", True),
        (b"data:[DONE]\n\n", True),
        (b"data: [DONE]  \n\n", True),
        (b"id: 9\ndata: [DONE]\n\n", True),
        (OPENROUTER_ERROR, False),  # an error ends a stream, but is not its last event
        (delta("[DONE]"), False),
        (b": [DONE]\n\n", False),
        (b"data: [DONE] now\n\n", False),
    ],
)
def test_is_done(event: bytes, expected: bool) -> None:
    assert is_done(Event(event)) is expected
    assert CHAT.is_last(Event(event)) is expected


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        # [DONE]
        (b"data: [DONE]\n\n", True),
        (b"data:[DONE]\n\n", True),
        (b"data: [DONE]  \n\n", True),
        (b"id: 9\ndata: [DONE]\n\n", True),
        # data that parses as JSON
        (b'data: {"a":1}\n\n', True),
        (delta("hello"), True),
        (OPENROUTER_ERROR, True),
        (b'event: message\ndata: {"a":1}\nid: 3\n\n', True),
        (b'data: {"a":\ndata: 1}\n\n', True),  # two data lines joined
        (b"data: 42\n\n", True),
        (b'data: "text"\n\n', True),
        (b"data: null\n\n", True),
        # comments
        (b": OPENROUTER PROCESSING\n\n", True),
        (b":\n\n", True),
        # the first part of an event that was cut off
        (b'data: {"a":1\n\n', False),
        (b'data: {"choices":[{"delta":{"content":"Hel\n\n', False),
        (b"data: [DO\n\n", False),
        (b"data: [DONE\n\n", False),
        (b"data: \n\n", False),
        (b"data\n\n", False),
        (b"event: message\n\n", False),
        (b"id: 7\n\n", False),
        (b"dat\n\n", False),
        (b"data: hello\n\n", False),
    ],
)
def test_is_whole(event: bytes, expected: bool) -> None:
    assert Event(event).is_whole() is expected
