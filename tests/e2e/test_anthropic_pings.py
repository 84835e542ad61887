"""Pings: while a translated upstream stream is silent, the client gets `event: ping` every interval.

`PING_INTERVAL` (10 s) is bound as `translated_events`' default argument, so the end-to-end
test swaps the function's `__defaults__` (the in-thread server calls the same function object);
the other tests drive `translated_events` directly with a fake upstream and a short interval.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest

from src.config import Config
from src.frontends import anthropic_stream
from src.frontends.anthropic_stream import translated_events
from src.translation.anthropic_stream import StreamTranslator
from src.translation.tool_names import ToolNames
from tests.e2e.anthropic_helpers import (  # noqa: F401 - fixtures
    USER,
    local_config,
    post,
    sdk,
    sse_events,
)
from tests.fakes.proxy import RunningProxy
from tests.fakes.scripted import ScriptedUpstream, Step, answer_events

StartProxy = Callable[[Config], RunningProxy]
INTERVAL = 0.05


def _sse(events: list) -> list[bytes]:  # type: ignore[type-arg]
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


def _run(upstream: PausingUpstream, interval: float = INTERVAL) -> list[tuple[str | None, object]]:
    async def collect() -> bytes:
        translator = StreamTranslator("m", ToolNames())
        return b"".join([part async for part in translated_events(upstream, translator, "local", str, interval)])

    return sse_events(asyncio.run(collect()).decode())


def _without_pings(events: list[tuple[str | None, object]]) -> list[tuple[str | None, object]]:
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
    assert translated_events.__defaults__ == (anthropic_stream.PING_INTERVAL,)


def test_pings_reach_the_client_through_the_proxy_and_the_sdk_ignores_them(
    scripted: ScriptedUpstream, start_proxy: StartProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(translated_events, "__defaults__", (INTERVAL,))
    proxy = start_proxy(local_config(scripted.base_url))
    scripted.script("m", Step(pause_after=3), Step(pause_after=3))  # a 0.3 s silence after "Hello"

    raw = sse_events(post(proxy, {"model": "m", "max_tokens": 8, "messages": USER, "stream": True}).text)
    with sdk(proxy).messages.stream(model="m", max_tokens=8, messages=USER) as stream:
        message = stream.get_final_message()

    names = [name for name, _ in raw]
    assert names.count("ping") >= 2
    assert names[0] == "message_start" and names[-1] == "message_stop"
    assert message.content[0].text == "Hello from m"  # type: ignore[union-attr]
