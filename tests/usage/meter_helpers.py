"""Shared by the meter tests: fake accounting and metrics, and an upstream's events as batches."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from src.usage.limits import Reservation
from src.usage.meter import Meter
from src.usage.record import Tokens, UsageRecord
from src.wire.openai_chat import CHAT
from src.wire.protocol import WireProtocol
from src.wire.sse import Event, EventSplitter, joined


class FakeMetrics:
    def __init__(self) -> None:
        self.in_flight = 0
        self.broken: list[tuple[str, int]] = []  # streams that failed after they began

    def broke_midstream(self, backend: str, status: int) -> None:
        self.broken.append((backend, status))

    def stream_started(self) -> None:
        self.in_flight += 1

    def stream_ended(self) -> None:
        self.in_flight -= 1


class FakeAccounting:
    def __init__(self, cost: float | None = 0.5, fails: bool = False) -> None:
        self.metrics = FakeMetrics()
        self.records: list[tuple[UsageRecord, Reservation | None]] = []
        self.priced: list[tuple[str | None, Tokens]] = []
        self._cost, self._fails = cost, fails

    async def cost(self, route: str | None, tokens: Tokens) -> float | None:
        self.priced.append((route, tokens))
        if self._fails:
            raise RuntimeError("catalog down")
        return self._cost

    def record(self, record: UsageRecord, reservation: Reservation | None) -> None:
        self.records.append((record, reservation))


class Source:
    """An upstream's batches of events, split from `chunks`; then `error` is raised, or it hangs."""

    def __init__(self, chunks: list[bytes], error: Exception | None = None, hang: bool = False) -> None:
        self.chunks, self.error, self.hang, self.closed = chunks, error, hang, False

    async def batches(self) -> AsyncIterator[list[Event]]:
        splitter = EventSplitter()
        try:
            for chunk in self.chunks:
                if events := splitter.feed(chunk):
                    yield events
            if self.error is not None:
                raise self.error
            if self.hang:
                await asyncio.Event().wait()
        finally:
            self.closed = True


def meter(accounting: FakeAccounting, stream: bool = True) -> Meter:
    reservation = Reservation("alice", 0.0, None)
    return Meter(accounting, "alice", "ua/1", "openai", "m", stream, reservation)  # type: ignore[arg-type]


def event(payload: dict[str, Any], name: str | None = None) -> bytes:
    return (f"event: {name}\n" if name else "").encode() + f"data: {json.dumps(payload)}\n\n".encode()


CONTENT = event({"choices": [{"index": 0, "delta": {"content": "hi"}}]})
USAGE = event(
    {
        "choices": [],
        "usage": {
            "prompt_tokens": 7,
            "completion_tokens": 3,
            "cost": 0.01,
            "completion_tokens_details": {"reasoning_tokens": 2},
        },
    }
)
DONE = b"data: [DONE]\n\n"


async def observed(m: Meter, source: Source, protocol: WireProtocol = CHAT) -> bytes:
    """Everything the step passes on, then the record written."""
    out = joined([e async for batch in m.observe(source.batches(), protocol) for e in batch])
    await m.finish()
    return out
