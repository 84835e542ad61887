"""Server-sent events: splitting, end detection and relaying."""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
import pytest

from src.core.errors import ProxyError, UpstreamError, UpstreamTimeout, UpstreamUnreachable
from src.core.streaming import EventSplitter, ends_stream, relay_events


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# --- EventSplitter ------------------------------------------------------------------------------

def split_all(chunks: list[bytes]) -> list[bytes]:
    splitter = EventSplitter()
    events: list[bytes] = []
    for chunk in chunks:
        events.extend(splitter.feed(chunk))
    tail = splitter.flush()
    if tail:
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
    assert splitter.feed(b"data: 1\n\ndata: 2\n\ndata: 3\n\ndata: 4") == [b"data: 1\n\n", b"data: 2\n\n", b"data: 3\n\n"]
    assert splitter.feed(b"\n") == []
    assert splitter.feed(b"\n") == [b"data: 4\n\n"]
    assert splitter.flush() == b""


@pytest.mark.parametrize(
    ("fed", "tail"),
    [
        (b"", b""),
        (b"data: a\n\n", b""),
        (b"data: a", b"data: a\n\n"),
        (b"data: a\n", b"data: a\n\n"),
        (b"data: a\n\ndata: [DONE]", b"data: [DONE]\n\n"),
        (b"event: e\ndata: a", b"event: e\ndata: a\n\n"),
        (b"data: a\r\n", b"data: a\n\n"),
    ],
)
def test_splitter_flush(fed: bytes, tail: bytes) -> None:
    splitter = EventSplitter()
    splitter.feed(fed)
    assert splitter.flush() == tail
    # flush empties the buffer
    assert splitter.flush() == b""
    assert splitter.feed(b"data: next\n\n") == [b"data: next\n\n"]


# --- ends_stream --------------------------------------------------------------------------------

def data(payload: object) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def delta(text: str) -> bytes:
    return data({"id": "gen-1", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": text}}]})


OPENROUTER_ERROR = data(
    {
        "id": "gen-1",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "openai/gpt-4o",
        "provider": "OpenAI",
        "error": {"code": "server_error", "message": "Provider disconnected unexpectedly"},
        "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}],
    }
)


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
def test_ends_stream(event: bytes, expected: bool) -> None:
    assert ends_stream(event) is expected


# --- relay_events -------------------------------------------------------------------------------

class FakeUpstream:
    """The part of UpstreamResponse that relay_events uses."""

    status = 200
    headers: dict[str, str] = {}

    def __init__(self, chunks: list[bytes], raise_after: Exception | None = None) -> None:
        self.chunks = chunks
        self.raise_after = raise_after

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk
        if self.raise_after is not None:
            raise self.raise_after

    async def read(self) -> bytes:
        return b"".join(self.chunks)

    async def aclose(self) -> None:
        pass


class ErrorEvents:
    def __init__(self) -> None:
        self.calls: list[ProxyError] = []

    def __call__(self, exc: ProxyError) -> bytes:
        self.calls.append(exc)
        return b"event: error\ndata: " + orjson.dumps({"error": {"message": exc.message, "type": exc.error_type}}) + b"\n\n"


async def relay(upstream: FakeUpstream, error_event: ErrorEvents) -> list[bytes]:
    return [chunk async for chunk in relay_events(upstream, "openrouter", error_event)]  # type: ignore[arg-type]


NORMAL = [
    b": OPENROUTER PROCESSING\n\n",
    b'data: {"choices":[{"delta":{"content":"Hel"}}]}\n',
    b'\ndata: {"choices":[{"delta":{"content":"lo error"}}]}\n\ndata: {"choices":[{"de',
    b'lta":{"content":"!"}}]}\n\n',
    b"data: [DONE]\n\n",
]


@pytest.mark.anyio
@pytest.mark.parametrize(
    "chunks",
    [
        NORMAL,
        [b"".join(NORMAL)],
        [bytes([b]) for b in b"".join(NORMAL)],
        [b'data: {"a":1}\n\ndata: [DONE]'],  # [DONE] in an unterminated tail
    ],
)
async def test_relay_passes_a_complete_stream_through(chunks: list[bytes]) -> None:
    errors = ErrorEvents()
    out = await relay(FakeUpstream(chunks), errors)
    joined = b"".join(chunks)
    expected = joined if joined.endswith(b"\n\n") else joined + b"\n\n"
    assert b"".join(out) == expected
    assert errors.calls == []
    assert all(part.endswith(b"\n\n") for part in out)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("chunks", "forwarded"),
    [
        ([b'data: {"a":1}\n\n', b'data: {"b":2}\n\n'], b'data: {"a":1}\n\ndata: {"b":2}\n\n'),
        ([b'data: {"a":1}\n\ndata: {"b":2}'], b'data: {"a":1}\n\ndata: {"b":2}\n\n'),
        ([], b""),
        ([b": OPENROUTER PROCESSING\n\n"], b": OPENROUTER PROCESSING\n\n"),
    ],
)
async def test_relay_truncated_stream_gets_an_error_event(chunks: list[bytes], forwarded: bytes) -> None:
    errors = ErrorEvents()
    out = await relay(FakeUpstream(chunks), errors)
    assert len(errors.calls) == 1
    exc = errors.calls[0]
    assert isinstance(exc, UpstreamUnreachable)
    assert exc.backend == "openrouter"
    assert exc.status == 502
    assert b"".join(out) == forwarded + ErrorEvents()(exc)
    assert out[-1].startswith(b"event: error\n")


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("chunks", "exc", "forwarded"),
    [
        ([b'data: {"a":1}\n\n'], UpstreamTimeout("openrouter", "no data for 600s"), b'data: {"a":1}\n\n'),
        ([], UpstreamTimeout("openrouter", "no data for 600s"), b""),
        ([b'data: {"a":1}\n\n'], UpstreamUnreachable("openrouter", "connection reset"), b'data: {"a":1}\n\n'),
        # half an event is not forwarded
        ([b'data: {"a":1}\n\ndata: {"b"'], UpstreamTimeout("openrouter", "no data for 600s"), b'data: {"a":1}\n\n'),
    ],
)
async def test_relay_failure_mid_stream_yields_the_error_event(
    chunks: list[bytes], exc: UpstreamError, forwarded: bytes
) -> None:
    errors = ErrorEvents()
    out = await relay(FakeUpstream(chunks, raise_after=exc), errors)
    assert errors.calls == [exc]
    assert b"".join(out) == forwarded + ErrorEvents()(exc)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("chunks", "raise_after"),
    [
        *[
            pytest.param(chunks, raise_after, id=f"{name}-{ending}")
            for name, chunks in (
                ("openrouter-error", [b'data: {"a":1}\n\n', OPENROUTER_ERROR]),
                ("split-error", [b'data: {"a":1}\n\n' + OPENROUTER_ERROR[:20], OPENROUTER_ERROR[20:]]),
                ("error-only", [data({"error": {"message": "Rate limit exceeded", "code": 429}})]),
                # the error's message mentions [DONE]
                (
                    "error-mentions-DONE",
                    [b'data: {"a":1}\n\n', data({"error": {"message": "provider sent [DONE] too early"}})],
                ),
            )
            for ending, raise_after in (
                ("eof", None),
                ("timeout", UpstreamTimeout("openrouter", "no data")),
                ("unreachable", UpstreamUnreachable("openrouter", "reset")),
            )
        ],
        # the upstream error event arrives in the unterminated tail, and the stream ends cleanly
        pytest.param([b'data: {"a":1}\n\n' + OPENROUTER_ERROR.rstrip(b"\n")], None, id="error-in-tail-eof"),
    ],
)
async def test_relay_forwarded_upstream_error_is_not_doubled(
    chunks: list[bytes], raise_after: Exception | None
) -> None:
    errors = ErrorEvents()
    out = await relay(FakeUpstream(chunks, raise_after=raise_after), errors)
    assert errors.calls == []
    joined = b"".join(chunks)
    assert b"".join(out) == (joined if joined.endswith(b"\n\n") else joined + b"\n\n")
    assert b"event: error\n" not in b"".join(out)
