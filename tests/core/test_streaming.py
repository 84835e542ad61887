"""relay_events: whole events forwarded as they come, a broken stream ended by an error event, and
what follows the end of a stream (an upstream's error event) redacted."""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
import pytest

from src.wire.errors import ProxyError, UpstreamError, UpstreamTimeout, UpstreamUnreachable
from src.wire.redaction import Redactor
from src.wire.sse import relay_events
from tests.core.sse_helpers import OPENROUTER_ERROR, data

SECRET = "sk-or-v1-relay-secret-0123456789"

pytestmark = pytest.mark.anyio


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


class SpyRedactor:
    """A Redactor for SECRET that remembers what it was given."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self._redact = Redactor([SECRET])

    def __call__(self, text: str) -> str:
        self.seen.append(text)
        return self._redact(text)


async def relay(upstream: FakeUpstream, error_event: ErrorEvents, redact: SpyRedactor | None = None) -> list[bytes]:
    redact = redact or SpyRedactor()
    return [chunk async for chunk in relay_events(upstream, "openrouter", error_event, redact)]  # type: ignore[arg-type]


NORMAL = [
    b": OPENROUTER PROCESSING\n\n",
    b'data: {"choices":[{"delta":{"content":"Hel"}}]}\n',
    b'\ndata: {"choices":[{"delta":{"content":"lo error"}}]}\n\ndata: {"choices":[{"de',
    b'lta":{"content":"!"}}]}\n\n',
    b"data: [DONE]\n\n",
]


@pytest.mark.parametrize(
    "chunks",
    [
        NORMAL,
        [b"".join(NORMAL)],
        [bytes([b]) for b in b"".join(NORMAL)],
        [b'data: {"a":1}\n\ndata: [DONE]'],  # [DONE] in an unterminated tail
        [b'data: {"a":1}\n\ndata: [DONE]\n'],
    ],
)
async def test_relay_passes_a_complete_stream_through(chunks: list[bytes]) -> None:
    errors = ErrorEvents()
    out = await relay(FakeUpstream(chunks), errors)
    joined = b"".join(chunks).rstrip(b"\n") + b"\n\n"
    assert b"".join(out) == joined
    assert errors.calls == []
    assert all(part.endswith(b"\n\n") for part in out)


async def test_relay_content_events_are_forwarded_byte_identical_and_unscanned() -> None:
    content = [
        b'data: {"choices":[{"delta":{"content":"caf\xc3\xa9 \xe2\x98\x83"}}]}\n\n',
        b'data: {"choices":[{"delta":{"content":"not UTF-8: \xff\xfe \xc3"}}]}\n\n',
        b": comment\n\n",
    ]
    redact = SpyRedactor()
    out = await relay(FakeUpstream([*content, b"data: [DONE]\n\n"]), ErrorEvents(), redact)
    assert out[: len(content)] == content
    assert b"".join(out) == b"".join(content) + b"data: [DONE]\n\n"
    # Only error events are scanned for secrets.
    assert redact.seen == []


@pytest.mark.parametrize(
    ("chunks", "forwarded"),
    [
        ([b'data: {"a":1}\n\n', b'data: {"b":2}\n\n'], b'data: {"a":1}\n\ndata: {"b":2}\n\n'),
        ([b'data: {"a":1}\n\ndata: {"b":2}'], b'data: {"a":1}\n\ndata: {"b":2}\n\n'),
        ([], b""),
        ([b": OPENROUTER PROCESSING\n\n"], b": OPENROUTER PROCESSING\n\n"),
        # a whole event left in the tail is forwarded, completed, before the error event
        ([b'data: {"a":1}\n\ndata: {"b":2}\n'], b'data: {"a":1}\n\ndata: {"b":2}\n\n'),
        ([b'data: {"a":1}\n\n: keep-alive'], b'data: {"a":1}\n\n: keep-alive\n\n'),
        # the first half of an event is dropped: only the error event follows
        ([b'data: {"a":1}\n\ndata: {"b"'], b'data: {"a":1}\n\n'),
        ([b'data: {"a":1}\n\ndata: {"choices":[{"delta":{"content":"Hel'], b'data: {"a":1}\n\n'),
        ([b'data: {"a":1}\n\ndata: [DO'], b'data: {"a":1}\n\n'),
        ([b'data: {"a":1}\n\nevent: message'], b'data: {"a":1}\n\n'),
        ([b'data: {"b"'], b""),
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


# --- what follows the end of the stream is redacted -----------------------------------------------------------

UPSTREAM_ERROR = data({"error": {"message": f"Invalid API key {SECRET} for this account", "code": 401}})


@pytest.mark.parametrize(
    "chunks",
    [
        [b'data: {"a":1}\n\n', UPSTREAM_ERROR],
        [b'data: {"a":1}\n\n' + UPSTREAM_ERROR],
        [b'data: {"a":1}\n\n' + UPSTREAM_ERROR[:30], UPSTREAM_ERROR[30:]],
        [bytes([b]) for b in b'data: {"a":1}\n\n' + UPSTREAM_ERROR],
        [b'data: {"a":1}\n\n' + UPSTREAM_ERROR.rstrip(b"\n")],  # in the tail
        [UPSTREAM_ERROR.replace(b"\n", b"\r\n")],
    ],
    ids=["own chunk", "same chunk", "split", "bytewise", "tail", "crlf"],
)
async def test_relay_upstream_error_event_quoting_a_secret_is_masked(chunks: list[bytes]) -> None:
    errors = ErrorEvents()
    out = b"".join(await relay(FakeUpstream(chunks), errors))
    assert SECRET.encode() not in out
    assert b"Invalid API key [redacted] for this account" in out
    assert errors.calls == []  # the upstream's own error ends the stream
    sent = b"".join(chunks).replace(b"\r\n", b"\n").rstrip(b"\n") + b"\n\n"
    assert out == sent.replace(SECRET.encode(), b"[redacted]")


async def test_relay_error_events_after_done_are_masked_too() -> None:
    chunks = [b'data: {"a":1}\n\n', b"data: [DONE]\n\n", data({"error": {"message": f"key {SECRET}"}})]
    out = b"".join(await relay(FakeUpstream(chunks), ErrorEvents()))
    assert out == b'data: {"a":1}\n\ndata: [DONE]\n\n' + data({"error": {"message": "key [redacted]"}})


async def test_relay_half_event_after_done_is_dropped_without_an_error_event() -> None:
    errors = ErrorEvents()
    out = await relay(FakeUpstream([b'data: {"a":1}\n\ndata: [DONE]\n\ndata: {"b"']), errors)
    assert b"".join(out) == b'data: {"a":1}\n\ndata: [DONE]\n\n'
    assert errors.calls == []
