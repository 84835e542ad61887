"""The translation step of a Messages stream served by chat completions: chat events in, Anthropic events out,
with a `ping` after each interval of upstream silence.

The batches come from a real HttpAnswer over a fake upstream response that pauses between chunks, so an
event cut by a silence is split where streams are split (src.backends.answer), as in the proxy.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from src.backends.answer import HttpAnswer
from src.frontends import anthropic_stream
from src.frontends.anthropic_stream import translated
from src.translation.anthropic_stream import StreamTranslator
from src.translation.tool_names import ToolNames
from src.wire.openai_chat import CHAT
from src.wire.sse import Event
from tests.fakes.scripted import answer_events, error_event

INTERVAL = 0.05
Seen = list[tuple[str | None, object]]


def _sse(events: list) -> list[bytes]:
    return [(e if isinstance(e, str) else f"data: {json.dumps(e)}").encode() + b"\n\n" for e in events]


@dataclass
class PausingUpstream:
    """An upstream stream that sends `chunks`, pausing `pauses[i]` seconds before chunk i."""

    chunks: list[bytes]
    pauses: dict[int, float] = field(default_factory=dict)
    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: {"content-type": "text/event-stream"})
    closed: bool = False

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        for number, data in enumerate(self.chunks):
            await asyncio.sleep(self.pauses.get(number, 0))
            yield data

    async def read(self) -> bytes:
        return b"".join(self.chunks)

    async def aclose(self) -> None:
        self.closed = True


def _not_called(*_: object) -> object:
    raise AssertionError("the answer's failure is not asked for here")


def _batches(upstream: PausingUpstream) -> AsyncIterator[list[Event]]:
    return HttpAnswer(upstream, CHAT, "local", _not_called, 1 << 20).events()  # type: ignore[arg-type]


def _seen(events: list[Event]) -> Seen:
    return [(event.name.decode() if event.name else None, event.payload) for event in events]


def _run_batches(upstream: PausingUpstream, interval: float = INTERVAL) -> list[list[Event]]:
    async def collect() -> list[list[Event]]:
        translator = StreamTranslator("m", ToolNames())
        return [batch async for batch in translated(_batches(upstream), translator, interval)]

    return asyncio.run(collect())


def _run(upstream: PausingUpstream, interval: float = INTERVAL) -> Seen:
    return _seen([event for batch in _run_batches(upstream, interval) for event in batch])


def _without_pings(events: Seen) -> Seen:
    return [event for event in events if event[0] != "ping"]


def test_a_silence_longer_than_the_interval_sends_pings_in_between() -> None:
    chunks = _sse(answer_events("m"))
    quiet = _run(PausingUpstream(chunks))
    paused = _run(PausingUpstream(chunks, pauses={3: 0.3}))  # after "Hello", before " from"

    names = [name for name, _ in paused]
    assert 2 <= names.count("ping") <= 7  # about one per 50 ms of a 300 ms silence
    first_ping = names.index("ping")
    assert names[first_ping - 1] == "content_block_delta"  # the text before the pause was already out
    assert "ping" not in [name for name, _ in quiet]
    assert _without_pings(paused) == quiet  # nothing lost, nothing reordered
    assert all(data == {"type": "ping"} for name, data in paused if name == "ping")


def test_each_ping_is_a_batch_of_its_own() -> None:
    batches = _run_batches(PausingUpstream(_sse(answer_events("m")), pauses={3: 0.2}))
    pings = [batch for batch in batches if any(event.name == b"ping" for event in batch)]
    assert pings
    assert all(len(batch) == 1 and batch[0].raw == b'event: ping\ndata: {"type":"ping"}\n\n' for batch in pings)


def test_an_event_split_across_a_silence_is_not_lost() -> None:
    whole = b"".join(_sse(answer_events("m")))
    cut = whole.index(b'" from"') + 3  # mid-event
    paused = _run(PausingUpstream([whole[:cut], whole[cut:]], pauses={1: 0.2}))

    assert [name for name, _ in paused].count("ping") >= 2
    text = "".join(d["delta"]["text"] for n, d in paused if n == "content_block_delta")  # type: ignore[index]
    assert text == "Hello from m"
    assert paused[-1][0] == "message_stop"


def test_no_pings_when_the_upstream_keeps_talking() -> None:
    chunks = _sse(answer_events("m"))
    events = _run(PausingUpstream(chunks, pauses={i: INTERVAL / 5 for i in range(len(chunks))}))

    assert "ping" not in [name for name, _ in events]


def test_the_default_interval_is_ten_seconds() -> None:
    assert anthropic_stream.PING_INTERVAL == 10.0
    assert translated.__defaults__ == (anthropic_stream.PING_INTERVAL,)


# --- how a stream ends: the relay, not this step, ends a broken one ---------------------------------------


def test_done_ends_the_message() -> None:
    names = [name for name, _ in _run(PausingUpstream(_sse(answer_events("m"))))]
    assert names[0] == "message_start"
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert "error" not in names


def test_a_stream_cut_before_its_end_ends_with_nothing_added() -> None:
    cut = answer_events("m")[:-3]  # without the finish_reason chunk, the usage chunk and [DONE]
    names = [name for name, _ in _run(PausingUpstream(_sse(cut)))]
    assert names[0] == "message_start"
    assert names[-1] == "content_block_delta"
    assert "message_stop" not in names
    assert "error" not in names


def test_a_finished_message_ends_without_waiting_for_done() -> None:
    names = [name for name, _ in _run(PausingUpstream(_sse(answer_events("m")[:-1])))]
    assert names[-1] == "message_stop"


@pytest.mark.parametrize(
    ("code", "error_type"), [(502, "api_error"), (429, "rate_limit_error"), ("429", "rate_limit_error")]
)
def test_an_in_band_failure_becomes_one_error_event_and_nothing_after_it(code: int | str, error_type: str) -> None:
    events = answer_events("m")
    chunks = _sse([*events[:3], error_event("m", code, "provider failed"), *events[3:]])
    seen = _run(PausingUpstream(chunks))
    names = [name for name, _ in seen]
    assert names.count("error") == 1
    assert names[-1] == "error"
    assert seen[-1][1] == {"type": "error", "error": {"type": error_type, "message": "provider failed"}}


# --- closing -------------------------------------------------------------------------------------------------


async def _source(closed: list[str], pause: float) -> AsyncIterator[list[Event]]:
    try:
        yield [Event(raw) for raw in _sse(answer_events("m")[1:3])]
        await asyncio.sleep(pause)
        yield [Event(raw) for raw in _sse(answer_events("m")[3:])]
    finally:
        closed.append("source")


@pytest.mark.parametrize(
    "wait_for_a_ping",
    [
        pytest.param(False, id="after a batch"),
        pytest.param(True, id="during a silence"),  # the read in flight is cancelled before the source closes
    ],
)
def test_closing_the_step_closes_its_source(wait_for_a_ping: bool) -> None:
    closed: list[str] = []

    async def run() -> list[bytes | None]:
        steps = translated(_source(closed, 10.0), StreamTranslator("m", ToolNames()), INTERVAL)
        names: list[bytes | None] = []
        async with contextlib.aclosing(steps):  # type: ignore[type-var]
            async for batch in steps:
                names.extend(event.name for event in batch)
                if not wait_for_a_ping or b"ping" in names:
                    break
        return names

    names = asyncio.run(asyncio.wait_for(run(), 5))
    assert names[0] == b"message_start"
    assert (b"ping" in names) is wait_for_a_ping
    assert closed == ["source"]
