"""Meter and MeteredStream: one request's usage, attempts, status and timings, recorded exactly once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from src.failover.dispatcher import Attempt, Served
from src.wire.errors import InvalidRequest, UpstreamStatusError, UpstreamUnreachable
from src.usage.meter import Meter, MeteredStream
from src.routing.plan import Route
from src.usage.limits import Reservation
from src.usage.metrics import ProxyMetrics
from src.usage.record import Attempt as AttemptRecord
from src.usage.record import Tokens, UsageRecord

pytestmark = pytest.mark.anyio


class FakeAccounting:
    def __init__(self, cost: float | None = 0.5, fails: bool = False) -> None:
        self.metrics = ProxyMetrics()
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

    def in_flight(self) -> float:
        return self.metrics.streams_in_flight.values[()]


class FakeUpstream:
    """An upstream response whose body is `chunks`; `hang` waits forever after them (an upstream gone quiet)."""

    status = 200
    headers = {"content-type": "text/event-stream"}

    def __init__(self, chunks: list[bytes], error: Exception | None = None, hang: bool = False) -> None:
        self.chunks, self.error, self.hang, self.closed = chunks, error, hang, False

    async def read(self) -> bytes:
        return b"".join(self.chunks)

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk
        if self.error is not None:
            raise self.error
        if self.hang:
            await asyncio.Event().wait()

    async def aclose(self) -> None:
        self.closed = True


def meter(accounting: FakeAccounting, stream: bool = True) -> Meter:
    return Meter(accounting, "alice", "ua/1", "openai", "m", stream, Reservation("alice", 0.0, None))  # type: ignore[arg-type]


def event(payload: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(payload)}\n\n".encode()


CONTENT = event({"choices": [{"index": 0, "delta": {"content": "hi"}}]})
USAGE = event({"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 3, "cost": 0.01,
                                        "completion_tokens_details": {"reasoning_tokens": 2}}})


def served(m: Meter, *attempts: Attempt) -> None:
    m.served(Served(FakeUpstream([]), Route("openrouter", "m"), list(attempts)))  # type: ignore[arg-type]


async def test_a_finished_request_is_priced_and_recorded_once() -> None:
    books = FakeAccounting(cost=0.25)
    m = meter(books, stream=False)
    served(m, Attempt("openrouter:x", None, 503, "busy", 0.5, "status"), Attempt("openrouter:m", None, None, "ok", 0.2))
    m.saw_completion(b'{"usage": {"prompt_tokens": 10, "completion_tokens": 4}}')
    await m.finish()
    await m.finish()
    (record, reservation), = books.records
    assert books.priced == [("openrouter:m", Tokens(10, 4))]
    assert (record.status, record.route, record.cost_usd, record.prompt_tokens, record.ttft_ms) == (
        200, "openrouter:m", 0.25, 10, None)
    assert record.attempts[0] == AttemptRecord("openrouter:x", 503, "status_503", 500.0)
    assert (record.attempts[1].route, record.attempts[1].outcome) == ("openrouter:m", "ok")
    assert reservation is m.reservation and record.key_name == "alice" and record.user_agent == "ua/1"


async def test_a_price_look_up_that_fails_still_records_with_an_unknown_cost() -> None:
    books = FakeAccounting(fails=True)
    m = meter(books, stream=False)
    m.saw_usage({"prompt_tokens": 1, "completion_tokens": 1})
    await m.finish()
    assert [r.cost_usd for r, _ in books.records] == [None]


def test_anthropic_usage_in_two_events_is_merged_into_openai_counts() -> None:
    m = meter(FakeAccounting())
    m.saw_usage({"input_tokens": 12, "output_tokens": 1, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 5})
    m.saw_usage({"output_tokens": 6})
    assert m.usage == {"prompt_tokens": 117, "prompt_tokens_details": {"cached_tokens": 100}, "completion_tokens": 6}


@pytest.mark.parametrize("body", [b"not json", b'["usage"]', b'{"id": "x"}', b'{"usage": "lots"}'])
def test_a_completion_without_a_usable_usage_adds_nothing(body: bytes) -> None:
    m = meter(FakeAccounting())
    m.saw_completion(body)
    assert m.usage == {}


def test_a_request_that_failed_upstream_keeps_its_route_and_attempts() -> None:
    books = FakeAccounting()
    m = meter(books, stream=False)
    error = UpstreamStatusError("local", 502, "bad gateway")
    error.route = "local:m"
    error.attempts = (Attempt("openrouter:m", 0, 502, "refused", 0.1, "connect"), Attempt("local:m", None, 502, "x", 0.2, "status"))
    m.failed(error)
    m.failed(error)
    (record, _), = books.records
    assert (record.status, record.route, record.cost_usd) == (502, "local:m", None)
    assert record.attempts == (AttemptRecord("openrouter:m", None, "connect", 100.0), AttemptRecord("local:m", 502, "status_502", 200.0))


def test_a_request_refused_before_any_upstream_has_no_route() -> None:
    books = FakeAccounting()
    meter(books).failed(InvalidRequest("bad"))
    (record, _), = books.records
    assert (record.status, record.route, record.attempts) == (400, None, ())


async def test_a_complete_stream_is_recorded_with_its_usage_and_first_token() -> None:
    books = FakeAccounting()
    m = meter(books)
    stream = MeteredStream(FakeUpstream([CONTENT, USAGE[:20], USAGE[20:], b"data: [DONE]\n\n"]), m)  # type: ignore[arg-type]
    assert books.in_flight() == 1
    assert [c async for c in stream.iter_chunks()][0] == CONTENT
    await stream.aclose()
    (record, _), = books.records
    assert (record.status, record.prompt_tokens, record.completion_tokens, record.reasoning_tokens) == (200, 7, 3, 2)
    assert record.ttft_ms is not None and record.stream is True
    assert books.priced[0][1].cost == 0.01 and books.in_flight() == 0


@pytest.mark.parametrize(("code", "status"), [(429, 429), ("overloaded", 502), (200, 502)])
async def test_an_error_event_sets_the_status(code: object, status: int) -> None:
    books = FakeAccounting()
    stream = MeteredStream(FakeUpstream([CONTENT, event({"error": {"code": code, "message": "x"}})]), meter(books))  # type: ignore[arg-type]
    [c async for c in stream.iter_chunks()]
    await stream.aclose()
    assert books.records[0][0].status == status


async def test_a_broken_upstream_stream_is_recorded_with_its_error_status() -> None:
    books = FakeAccounting()
    upstream = FakeUpstream([CONTENT], error=UpstreamUnreachable("openrouter", "dropped"))
    stream = MeteredStream(upstream, meter(books))  # type: ignore[arg-type]
    with pytest.raises(UpstreamUnreachable):
        [c async for c in stream.iter_chunks()]
    await stream.aclose()
    assert books.records[0][0].status == 502 and upstream.closed


async def test_a_stream_closed_before_its_end_is_recorded_as_499() -> None:
    books = FakeAccounting()
    upstream = FakeUpstream([CONTENT, CONTENT, USAGE])
    stream = MeteredStream(upstream, meter(books))  # type: ignore[arg-type]
    chunks = stream.iter_chunks()
    await anext(chunks)
    await stream.aclose()
    await chunks.aclose()
    assert books.records[0][0].status == 499 and upstream.closed and books.in_flight() == 0


async def test_a_stream_cancelled_while_waiting_for_the_upstream_is_recorded_as_499() -> None:
    books = FakeAccounting()
    stream = MeteredStream(FakeUpstream([CONTENT], hang=True), meter(books))  # type: ignore[arg-type]

    async def relay() -> None:
        async for _ in stream.iter_chunks():
            pass

    task = asyncio.ensure_future(relay())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await stream.aclose()
    assert books.records[0][0].status == 499


async def test_a_stream_read_whole_is_recorded_as_served() -> None:
    books = FakeAccounting()
    stream = MeteredStream(FakeUpstream([b'{"usage": {"prompt_tokens": 3, "completion_tokens": 1}}']), meter(books))  # type: ignore[arg-type]
    await stream.read()
    await stream.aclose()
    (record, _), = books.records
    assert record.prompt_tokens == 3
    assert record.status == 200
