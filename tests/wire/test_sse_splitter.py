"""EventSplitter: a byte stream cut into whole SSE events, whatever the chunking and line endings."""

from __future__ import annotations

import pytest

from src.wire.sse import MAX_EVENT, Event, EventSplitter, EventTooLarge


def raw(events: list[Event]) -> list[bytes]:
    assert all(isinstance(event, Event) for event in events)
    return [event.raw for event in events]


def flushed(splitter: EventSplitter) -> bytes | None:
    tail = splitter.flush()
    return None if tail is None else tail.raw


def split_all(chunks: list[bytes]) -> list[bytes]:
    splitter = EventSplitter()
    events: list[bytes] = []
    for chunk in chunks:
        events.extend(raw(splitter.feed(chunk)))
    tail = flushed(splitter)
    if tail is not None:
        events.append(tail)
    return events


STREAMS = [
    (
        b'data: {"a":1}\n\ndata: {"b":2}\n\n',
        [b'data: {"a":1}\n\n', b'data: {"b":2}\n\n'],
    ),
    (
        b": OPENROUTER PROCESSING\n\nevent: message\ndata: x\nid: 7\n\ndata: [DONE]\n\n",
        [b": OPENROUTER PROCESSING\n\n", b"event: message\ndata: x\nid: 7\n\n", b"data: [DONE]\n\n"],
    ),
    (
        b"data: a\r\n\r\ndata: b\r\n\r\n",
        [b"data: a\n\n", b"data: b\n\n"],
    ),
    (
        b"event: e\r\ndata: line1\r\ndata: line2\r\n\r\ndata: [DONE]\r\n\r\n",
        [b"event: e\ndata: line1\ndata: line2\n\n", b"data: [DONE]\n\n"],
    ),
    (
        b"data: a\n\ndata: b\r\n\r\n",
        [b"data: a\n\n", b"data: b\n\n"],
    ),
    (
        "data: {\"content\":\"h\u00e9llo \u2603\"}\n\n".encode(),
        ["data: {\"content\":\"h\u00e9llo \u2603\"}\n\n".encode()],
    ),
    # bare CR line endings, and all three endings mixed
    (
        b"data: a\r\rdata: b\r\r",
        [b"data: a\n\n", b"data: b\n\n"],
    ),
    (
        b"event: e\rdata: 1\r\ndata: 2\n\r\n: c\r\rdata: [DONE]\n\n",
        [b"event: e\ndata: 1\ndata: 2\n\n", b": c\n\n", b"data: [DONE]\n\n"],
    ),
    # CR, then CRLF: two line endings, so a blank line
    (
        b"data: a\r\r\ndata: b\n\n",
        [b"data: a\n\n", b"data: b\n\n"],
    ),
    # an unterminated tail is completed by flush()
    (
        b"data: a\n\ndata: b",
        [b"data: a\n\n", b"data: b\n\n"],
    ),
    (
        b"data: a\n\ndata: b\n",
        [b"data: a\n\n", b"data: b\n\n"],
    ),
    (
        b"data: a\r\n\r\ndata: b\r\n",
        [b"data: a\n\n", b"data: b\n\n"],
    ),
]


@pytest.mark.parametrize(("stream", "expected"), STREAMS)
def test_splitter_whole_stream_in_one_chunk(stream: bytes, expected: list[bytes]) -> None:
    assert split_all([stream]) == expected


@pytest.mark.parametrize(("stream", "expected"), STREAMS)
def test_splitter_one_byte_at_a_time(stream: bytes, expected: list[bytes]) -> None:
    assert split_all([stream[i : i + 1] for i in range(len(stream))]) == expected


@pytest.mark.parametrize(("stream", "expected"), STREAMS)
def test_splitter_every_two_cut_points(stream: bytes, expected: list[bytes]) -> None:
    for i in range(len(stream) + 1):
        for j in range(i, len(stream) + 1):
            chunks = [stream[:i], stream[i:j], stream[j:]]
            assert split_all(chunks) == expected, (i, j)


def test_splitter_several_events_in_one_chunk_returned_together() -> None:
    splitter = EventSplitter()
    events = raw(splitter.feed(b"data: 1\n\ndata: 2\n\ndata: 3\n\ndata: 4"))
    assert events == [b"data: 1\n\n", b"data: 2\n\n", b"data: 3\n\n"]
    assert splitter.feed(b"\n") == []
    assert raw(splitter.feed(b"\n")) == [b"data: 4\n\n"]
    assert splitter.flush() is None


@pytest.mark.parametrize(
    ("fed", "tail"),
    [
        (b"", None),
        (b"data: a\n\n", None),
        (b"data: a", b"data: a\n\n"),
        (b"data: a\n", b"data: a\n\n"),
        (b"data: a\n\ndata: [DONE]", b"data: [DONE]\n\n"),
        (b"event: e\ndata: a", b"event: e\ndata: a\n\n"),
        (b"data: a\r\n", b"data: a\n\n"),
        (b"data: a\r", b"data: a\n\n"),
        (b"\r\n\r\ndata: a", b"data: a\n\n"),
    ],
)
def test_splitter_flush(fed: bytes, tail: bytes | None) -> None:
    splitter = EventSplitter()
    splitter.feed(fed)
    assert flushed(splitter) == tail
    # flush empties the buffer
    assert splitter.flush() is None
    assert raw(splitter.feed(b"data: next\n\n")) == [b"data: next\n\n"]


# --- line endings split across chunks, and empty chunks ------------------------------------------------------


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        # the LF of a CRLF arrives in the next chunk: it is not a second line ending
        ([b"data: a\r", b"\n\r", b"\n"], [b"data: a\n\n"]),
        ([b"data: a\r", b"\n", b"\r", b"\n", b"data: b\r\n\r\n"], [b"data: a\n\n", b"data: b\n\n"]),
        ([b"data: a\r\n\r", b"\ndata: b\r\n\r", b"\n"], [b"data: a\n\n", b"data: b\n\n"]),
        # empty chunks change nothing, not even a pending CR
        ([b"", b"data: a\r", b"", b"", b"\n\r\n", b""], [b"data: a\n\n"]),
        ([b"data: a\n", b"", b"\n"], [b"data: a\n\n"]),
        # a CR at the end of one chunk and a CR at the start of the next: a blank line
        ([b"data: a\r", b"\rdata: b\r", b"\r"], [b"data: a\n\n", b"data: b\n\n"]),
    ],
)
def test_splitter_line_endings_across_chunks(chunks: list[bytes], expected: list[bytes]) -> None:
    assert split_all(chunks) == expected


def test_splitter_empty_chunk_returns_nothing() -> None:
    splitter = EventSplitter()
    assert splitter.feed(b"") == []
    assert splitter.feed(b"data: a\n") == []
    assert splitter.feed(b"") == []
    assert raw(splitter.feed(b"\n")) == [b"data: a\n\n"]
    assert splitter.flush() is None


@pytest.mark.parametrize("ending", [b"\n\n", b"\r\n\r\n", b"\r\r"])
def test_splitter_huge_event_in_small_chunks_is_one_event(ending: bytes) -> None:
    event = b'data: {"content":"' + b"x" * (4 * 1024 * 1024) + b'"}' + ending
    splitter = EventSplitter()
    size = 4096
    events: list[bytes] = []
    for start in range(0, len(event), size):
        returned = raw(splitter.feed(event[start : start + size]))
        assert returned == [] or start + size >= len(event)  # nothing before the blank line
        events.extend(returned)
    assert events == [event.removesuffix(ending) + b"\n\n"]
    assert splitter.flush() is None


# --- the size limit of one event -----------------------------------------------------------------------------


def test_the_default_limit_is_max_event() -> None:
    splitter = EventSplitter()
    splitter.feed(b"data: " + b"x" * (MAX_EVENT - 6))  # exactly MAX_EVENT bytes buffered: not over
    with pytest.raises(EventTooLarge):
        splitter.feed(b"x")


@pytest.mark.parametrize(
    "chunks",
    [
        [b"data: 12345"],  # 11 bytes of one event in one chunk
        [b"data: ", b"12345"],
        [b"d", b"a", b"t", b"a", b":", b" ", b"1", b"2", b"3", b"4", b"5"],
        [b"data: 1\n\ndata: 12345"],  # a whole event first: only what is left of the next counts
        [b"data: 123", b"45\n"],  # an unfinished event, a single line ending
        [b"data: 123\r\n", b"4"],
    ],
)
def test_an_event_growing_past_the_limit_raises(chunks: list[bytes]) -> None:
    splitter = EventSplitter(10)
    with pytest.raises(EventTooLarge) as caught:
        for chunk in chunks:
            splitter.feed(chunk)
    assert caught.value.limit == 10
    assert "larger than" in str(caught.value)


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        ([b"data: 1234"], []),  # exactly the limit, not yet ended
        ([b"data: 123\r\n"], []),  # a CRLF is counted as the one LF it becomes
        ([b"data: 1234", b"\n\n"], [b"data: 1234\n\n"]),
        ([b"data: 12345678901234567890\n\n"], [b"data: 12345678901234567890\n\n"]),  # ended in its chunk
        ([b"data: 1\n\ndata: 2\n\ndata: 3\n\n"], [b"data: 1\n\n", b"data: 2\n\n", b"data: 3\n\n"]),
        ([b"data: 123", b"4\n\ndata: 5678"], [b"data: 1234\n\n"]),
    ],
)
def test_events_within_the_limit_pass(chunks: list[bytes], expected: list[bytes]) -> None:
    splitter = EventSplitter(10)
    events: list[bytes] = []
    for chunk in chunks:
        events.extend(raw(splitter.feed(chunk)))
    assert events == expected


def test_the_limit_is_in_mebibytes_in_the_message() -> None:
    splitter = EventSplitter(1048576)
    with pytest.raises(EventTooLarge, match=r"larger than 1 MiB"):
        splitter.feed(b"data: " + b"x" * 1048576)
