"""Event: one SSE event as it travelled, its fields read on demand and its JSON parsed at most once."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from src.wire import sse
from src.wire.json_body import upstream_json
from src.wire.sse import NOT_JSON, Event, joined


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'data: {"a":1}\n\n', b'{"a":1}'),
        (b'data:{"a":1}\n\n', b'{"a":1}'),
        (b"data:   x\n\n", b"x"),
        (b"data: [DONE]\n\n", b"[DONE]"),
        (b"data: [DONE]", b"[DONE]"),  # no blank line: an unterminated tail
        (b"event: e\ndata: x\nid: 7\n\n", b"x"),
        (b'data: {"a":\ndata: 1}\n\n', b'{"a":\n1}'),  # several data lines joined by LF
        (b": comment\n\n", b""),
        (b"event: ping\n\n", b""),
        (b"", b""),
    ],
)
def test_data_is_the_data_lines_joined(raw: bytes, expected: bytes) -> None:
    assert Event(raw).data == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'data: {"a":1}\n\n', {"a": 1}),
        (b'data: {"a":\ndata: 1}\n\n', {"a": 1}),
        (b"data: 42\n\n", 42),
        (b"data: null\n\n", None),
        (b'event: e\ndata: ["x"]\n\n', ["x"]),
        (b"data: [DONE]\n\n", NOT_JSON),
        (b": comment\n\n", NOT_JSON),
        (b'data: {"a":\n\n', NOT_JSON),
        (b"data: \xff\n\n", NOT_JSON),
    ],
)
def test_payload(raw: bytes, expected: object) -> None:
    payload = Event(raw).payload
    if expected is NOT_JSON:
        assert payload is NOT_JSON
    else:
        assert payload == expected


def test_not_json_is_falsy_and_named() -> None:
    assert not NOT_JSON
    assert repr(NOT_JSON) == "NOT_JSON"


class CountingOrjson:
    """The JSON reader src.wire.sse parses events with, counting its parses."""

    def __init__(self) -> None:
        self.loads_calls = 0

    def loads(self, data: Any) -> Any:
        self.loads_calls += 1
        return upstream_json(data)


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> CountingOrjson:
    spy = CountingOrjson()
    monkeypatch.setattr(sse, "upstream_json", spy.loads)
    return spy


@pytest.mark.parametrize("raw", [b'data: {"a":[1,2]}\n\n', b"data: [DONE]\n\n", b'data: {"cut\n\n', b": c\n\n"])
def test_payload_is_parsed_once(counting: CountingOrjson, raw: bytes) -> None:
    event = Event(raw)
    assert counting.loads_calls == 0  # not parsed before it is asked for
    first = event.payload
    for _ in range(3):
        assert event.payload is first  # the same object, not a second parse
    assert counting.loads_calls == 1


def test_an_event_built_from_a_payload_is_never_parsed(counting: CountingOrjson) -> None:
    payload = {"error": {"message": "x"}}
    event = Event.of(payload)
    assert event.payload is payload
    assert counting.loads_calls == 0


@pytest.mark.parametrize(
    ("payload", "name", "raw"),
    [
        ({"a": 1}, None, b'data: {"a":1}\n\n'),
        ({"type": "ping"}, "ping", b'event: ping\ndata: {"type":"ping"}\n\n'),
        ("line one\nline two\r\n\n", None, b'data: "line one\\nline two\\r\\n\\n"\n\n'),  # stays one event
        ([], "e", b"event: e\ndata: []\n\n"),
    ],
)
def test_of(payload: object, name: str | None, raw: bytes) -> None:
    event = Event.of(payload, name)
    assert event.raw == raw
    assert event.raw.count(b"\n\n") == 1
    assert orjson.loads(event.data) == payload
    assert event.name == (name.encode() if name else None)


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        (b"event: message_start\ndata: {}\n\n", b"message_start"),
        (b"event:ping\n\n", b"ping"),
        (b"id: 1\nevent: error \ndata: {}\n\n", b"error"),
        (b"data: {}\n\n", None),
        (b'data: {"event: x":1}\n\n', None),
        (b": event: x\n\n", None),
    ],
)
def test_name(raw: bytes, name: bytes | None) -> None:
    assert Event(raw).name == name


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b": OPENROUTER PROCESSING\n\n", True),
        (b":\n\n", True),
        (b": a\n: b\n\n", True),
        (b": a\ndata: x\n\n", False),
        (b": a\nevent: ping\n\n", False),
        (b"data: x\n\n", False),
        (b"event: ping\n\n", False),
    ],
)
def test_is_comment(raw: bytes, expected: bool) -> None:
    assert Event(raw).is_comment is expected


def test_joined_is_the_events_as_they_travelled() -> None:
    events = [Event(b"data: 1\n\n"), Event(b": c\n\n"), Event.of({"a": 1}, "e")]
    assert joined(events) == b'data: 1\n\n: c\n\nevent: e\ndata: {"a":1}\n\n'
    assert joined([]) == b""
    assert joined(iter(events)) == joined(events)


def test_repr_shows_the_raw_event() -> None:
    assert repr(Event(b"data: 1\n\n")) == "Event(b'data: 1\\n\\n')"
