"""relay: the last step of every stream. Events are passed on as they come, and a stream that breaks,
or ends without the protocol's last event, is ended by that protocol's error event, exactly once.
Redacting what it passes on is not its job: that is the egress step (tests/core/test_delivery.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from src.frontends.relay import relay
from src.wire.anthropic import MESSAGES
from src.wire.errors import ProxyError, UpstreamError, UpstreamProtocolError, UpstreamTimeout, UpstreamUnreachable
from src.wire.openai_chat import CHAT
from src.wire.protocol import WireProtocol
from src.wire.sse import Event, Sent, joined
from tests.wire.sse_helpers import OPENROUTER_ERROR, batches_of, data, upstream_events

pytestmark = pytest.mark.anyio


class Spy:
    """A protocol that records the error events it is asked for."""

    def __init__(self, protocol: WireProtocol) -> None:
        self.protocol = protocol
        self.name = protocol.name
        self.errors: list[ProxyError] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self.protocol, name)

    def error_event(self, error: ProxyError, message: str, sent: Sent | None = None) -> Event:
        assert message == error.message
        self.errors.append(error)
        return self.protocol.error_event(error, message, sent)


async def relayed(batches: AsyncIterator[list[Event]], spy: Spy, origin: str = "openrouter") -> list[list[Event]]:
    return [batch async for batch in relay(batches, spy, origin)]  # type: ignore[arg-type]


def sent(out: list[list[Event]]) -> bytes:
    return b"".join(joined(batch) for batch in out)


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
    spy = Spy(CHAT)
    out = await relayed(upstream_events(chunks), spy)
    assert sent(out) == b"".join(chunks).rstrip(b"\n") + b"\n\n"
    assert spy.errors == []
    assert all(event.raw.endswith(b"\n\n") for batch in out for event in batch)


class Counting(Event):
    """An event that counts how often its JSON is asked for."""

    __slots__ = ()
    asked = 0

    @property
    def payload(self) -> object:
        Counting.asked += 1
        return super().payload


async def test_relay_content_events_are_passed_on_as_they_are_and_unparsed() -> None:
    content = [
        b'data: {"choices":[{"delta":{"content":"caf\xc3\xa9 \xe2\x98\x83"}}]}\n\n',
        b'data: {"choices":[{"delta":{"content":"not UTF-8: \xff\xfe \xc3"}}]}\n\n',
        b": comment\n\n",
    ]
    batches: list[list[Event]] = [
        [Counting(raw) for raw in content[:2]],
        [Counting(content[2]), Counting(b"data: [DONE]\n\n")],
    ]

    async def given() -> AsyncIterator[list[Event]]:
        for batch in batches:
            yield batch

    Counting.asked = 0
    out = await relayed(given(), Spy(CHAT))
    assert out == batches  # the same batches, the same events: nothing copied
    assert all(a is b for got, batch in zip(out, batches, strict=True) for a, b in zip(got, batch, strict=True))
    assert Counting.asked == 0  # no JSON parsed on the way


@pytest.mark.parametrize("protocol", [CHAT, MESSAGES], ids=["openai", "anthropic"])
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
async def test_relay_truncated_stream_gets_an_error_event(
    protocol: WireProtocol, chunks: list[bytes], forwarded: bytes
) -> None:
    spy = Spy(protocol)
    out = await relayed(upstream_events(chunks, protocol=protocol), spy)
    assert len(spy.errors) == 1
    exc = spy.errors[0]
    assert isinstance(exc, UpstreamUnreachable)
    assert exc.backend == "openrouter"
    assert exc.status == 502
    assert exc.message == "openrouter: the stream ended before it was complete"
    error_event = protocol.error_event(exc, exc.message)
    assert sent(out) == forwarded + error_event.raw
    assert [event.raw for event in out[-1]] == [error_event.raw]  # a batch of its own


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
    spy = Spy(CHAT)
    out = await relayed(upstream_events(chunks, raise_after=exc), spy)
    assert spy.errors == [exc]
    assert sent(out) == forwarded + CHAT.error_event(exc, exc.message).raw


async def test_an_event_past_the_size_limit_ends_the_stream_with_an_error_event() -> None:
    spy = Spy(CHAT)
    chunks = [b'data: {"a":1}\n\n', b'data: {"content":"' + b"x" * 64]
    out = await relayed(upstream_events(chunks, max_event=32), spy)
    [exc] = spy.errors
    assert isinstance(exc, UpstreamProtocolError)
    assert "max_event_mb" in exc.message
    assert sent(out) == b'data: {"a":1}\n\n' + CHAT.error_event(exc, exc.message).raw


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
    spy = Spy(CHAT)
    out = await relayed(upstream_events(chunks, raise_after=raise_after), spy)
    assert spy.errors == []
    whole = b"".join(chunks)
    assert sent(out) == (whole if whole.endswith(b"\n\n") else whole + b"\n\n")


@pytest.mark.parametrize("raise_after", [None, UpstreamTimeout("openrouter", "no data")])
async def test_what_follows_the_end_is_passed_on_without_an_error_event(raise_after: Exception | None) -> None:
    # An upstream's error event after [DONE] is passed on (the egress step masks what it quotes).
    chunks = [b'data: {"a":1}\n\n', b"data: [DONE]\n\n", data({"error": {"message": "late"}})]
    spy = Spy(CHAT)
    out = await relayed(upstream_events(chunks, raise_after=raise_after), spy)
    assert sent(out) == b"".join(chunks)
    assert spy.errors == []


async def test_relay_half_event_after_done_is_dropped_without_an_error_event() -> None:
    spy = Spy(CHAT)
    out = await relayed(upstream_events([b'data: {"a":1}\n\ndata: [DONE]\n\ndata: {"b"']), spy)
    assert sent(out) == b'data: {"a":1}\n\ndata: [DONE]\n\n'
    assert spy.errors == []


# --- an Anthropic stream -------------------------------------------------------------------------------------

START = b'event: message_start\ndata: {"type":"message_start","message":{}}\n\n'
STOP = b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
OVERLOADED = b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'


@pytest.mark.parametrize(
    "batches",
    [
        [[START], [STOP]],
        [[START, STOP]],
        [[START, OVERLOADED]],  # the upstream's own error event ends it
        [[START], [OVERLOADED], [b": after\n\n"]],
        [[START], [STOP], [b"data: [DONE]\n\n"]],
    ],
)
async def test_a_complete_anthropic_stream_is_passed_through(batches: list[list[bytes]]) -> None:
    spy = Spy(MESSAGES)
    out = await relayed(batches_of(*batches), spy)
    assert [[event.raw for event in batch] for batch in out] == batches
    assert spy.errors == []


@pytest.mark.parametrize("batches", [[[START]], [[START], [b"data: [DONE]\n\n"]], []])
async def test_an_anthropic_stream_without_message_stop_ends_with_its_error(batches: list[list[bytes]]) -> None:
    spy = Spy(MESSAGES)
    out = await relayed(batches_of(*batches), spy, "anthropic")
    [exc] = spy.errors
    assert out[-1][0].raw == (
        b'event: error\ndata: {"type":"error","error":{"type":"api_error",'
        b'"message":"anthropic: the stream ended before it was complete"}}\n\n'
    )
    assert exc.status == 502


# --- what the relay leaves to others -----------------------------------------------------------------------


async def test_a_bug_is_not_turned_into_an_upstream_error() -> None:
    # Only upstream failures are reported here; anything else is the egress step's to end.
    async def broken() -> AsyncIterator[list[Event]]:
        yield [Event(b'data: {"a":1}\n\n')]
        raise KeyError("a bug")

    spy = Spy(CHAT)
    out: list[list[Event]] = []
    with pytest.raises(KeyError):
        async for batch in relay(broken(), spy, "openrouter"):  # type: ignore[arg-type]
            out.append(batch)
    assert sent(out) == b'data: {"a":1}\n\n'
    assert spy.errors == []


async def test_a_consumer_that_stops_early_closes_the_upstream_events() -> None:
    closed: list[str] = []

    async def endless() -> AsyncIterator[list[Event]]:
        try:
            while True:
                yield [Event(b'data: {"a":1}\n\n')]
        finally:
            closed.append("upstream")

    stream = relay(endless(), Spy(CHAT), "openrouter")  # type: ignore[arg-type]
    assert sent([await anext(stream)]) == b'data: {"a":1}\n\n'
    await stream.aclose()  # type: ignore[attr-defined]
    assert closed == ["upstream"]
