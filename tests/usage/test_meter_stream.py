"""Meter.observe, the stream step: first token, usage, how the stream ended (200, an error, 502, 499)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

import pytest

from src.backends.answer import BufferedAnswer
from src.wire.anthropic import MESSAGES
from src.wire.errors import UpstreamError, UpstreamStatusError, UpstreamTimeout, UpstreamUnreachable
from src.wire.openai_chat import CHAT
from src.wire.protocol import WireProtocol
from src.wire.sse import joined
from tests.usage.meter_helpers import CONTENT, DONE, USAGE, FakeAccounting, Source, event, meter, observed

pytestmark = pytest.mark.anyio


async def test_anthropic_usage_in_two_events_is_merged_into_openai_counts() -> None:
    m = meter(FakeAccounting())
    usage = {"input_tokens": 12, "output_tokens": 1, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 5}
    start = event({"type": "message_start", "message": {"usage": usage}}, "message_start")
    delta = event({"type": "message_delta", "usage": {"output_tokens": 6}}, "message_delta")
    await observed(m, Source([start, delta, event({"type": "message_stop"}, "message_stop")]), MESSAGES)
    assert m.usage == {"prompt_tokens": 117, "prompt_tokens_details": {"cached_tokens": 100}, "completion_tokens": 6}
    assert m.status == 200


async def test_a_complete_stream_is_passed_on_and_recorded_with_its_usage_and_first_token() -> None:
    books = FakeAccounting()
    m = meter(books)
    source = Source([CONTENT, USAGE[:20], USAGE[20:], DONE])
    steps = m.observe(source.batches(), CHAT)
    assert m.first_token is None
    first = await anext(steps)
    assert joined(first) == CONTENT and m.first_token is not None
    assert books.metrics.in_flight == 1
    rest = [e async for batch in steps for e in batch]
    assert joined(rest) == USAGE + DONE  # passed on untouched
    assert books.metrics.in_flight == 0 and source.closed
    await m.finish()
    ((record, _),) = books.records
    assert (record.status, record.prompt_tokens, record.completion_tokens, record.reasoning_tokens) == (200, 7, 3, 2)
    assert record.ttft_ms is not None and record.stream is True
    assert books.priced[0][1].cost == 0.01


@pytest.mark.parametrize(
    ("error", "status"),
    [
        ({"code": 429, "message": "x"}, 429),
        ({"code": "429", "message": "x"}, 429),
        ({"code": "overloaded", "message": "x"}, 502),
        ({"code": 200, "message": "x"}, 502),
        ({"type": "overloaded_error", "message": "x"}, 529),
        ({"code": None, "message": ""}, 200),  # not an error: the stream goes on to its end
        ({}, 200),
    ],
)
async def test_an_error_event_sets_the_status(error: dict[str, Any], status: int) -> None:
    books = FakeAccounting()
    await observed(meter(books), Source([CONTENT, event({"error": error}), DONE]))
    assert books.records[0][0].status == status


@pytest.mark.parametrize(
    ("protocol", "chunks", "status"),
    [
        (CHAT, [CONTENT], 502),
        (CHAT, [], 502),
        (CHAT, [CONTENT, DONE], 200),
        (MESSAGES, [event({"type": "message_start"}, "message_start")], 502),
        (MESSAGES, [event({"type": "message_stop"}, "message_stop")], 200),
        (MESSAGES, [event({"type": "error", "error": {"type": "overloaded_error", "message": "x"}}, "error")], 529),
    ],
)
async def test_a_stream_without_its_last_event_is_a_502(
    protocol: WireProtocol, chunks: list[bytes], status: int
) -> None:
    books = FakeAccounting()
    await observed(meter(books), Source(chunks), protocol)
    assert books.records[0][0].status == status
    assert books.metrics.broken == ([] if status == 200 else [("none", status)])  # each failure counted once


@pytest.mark.parametrize(
    "error",
    [
        UpstreamUnreachable("openrouter", "dropped"),
        UpstreamTimeout("openrouter", "quiet"),
        UpstreamStatusError("o", 429, "x"),
    ],
)
async def test_a_broken_upstream_stream_is_recorded_with_its_error_status(error: UpstreamError) -> None:
    books = FakeAccounting()
    m, source = meter(books), Source([CONTENT], error=error)
    with pytest.raises(type(error)):
        await observed(m, source)
    await m.finish()
    assert books.records[0][0].status == error.status
    assert source.closed and books.metrics.in_flight == 0
    assert books.metrics.broken == [("none", error.status)]  # counted as an upstream error (no route tried here)


async def test_a_stream_closed_by_the_client_before_its_end_is_recorded_as_499() -> None:
    books = FakeAccounting()
    m, source = meter(books), Source([CONTENT, CONTENT, USAGE, DONE])
    steps = m.observe(source.batches(), CHAT)
    assert isinstance(steps, AsyncGenerator)  # closed below as a generator is
    await anext(steps)
    await steps.aclose()
    await m.finish()
    assert books.records[0][0].status == 499 and source.closed and books.metrics.in_flight == 0


async def test_a_stream_closed_after_an_error_event_keeps_the_errors_status() -> None:
    books = FakeAccounting()
    m = meter(books)
    steps = m.observe(Source([event({"error": {"code": 503, "message": "x"}}), CONTENT]).batches(), CHAT)
    assert isinstance(steps, AsyncGenerator)  # closed below as a generator is
    await anext(steps)
    await steps.aclose()
    await m.finish()
    assert books.records[0][0].status == 503


async def test_a_stream_cancelled_while_waiting_for_the_upstream_is_recorded_as_499() -> None:
    books = FakeAccounting()
    m, source = meter(books), Source([CONTENT], hang=True)

    async def relay() -> None:
        async for _ in m.observe(source.batches(), CHAT):
            pass

    task = asyncio.ensure_future(relay())
    await asyncio.sleep(0.01)
    assert books.metrics.in_flight == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await m.finish()
    assert books.records[0][0].status == 499 and source.closed and books.metrics.in_flight == 0


async def test_a_whole_answer_replayed_to_a_streaming_request_is_recorded_as_served() -> None:
    books = FakeAccounting()
    m = meter(books)
    body = b'{"choices": [{"message": {"content": "hi"}}], "usage": {"prompt_tokens": 3, "completion_tokens": 1}}'
    answer = BufferedAnswer(200, {"content-type": "application/json"}, body, CHAT, "o")
    [batch async for batch in m.observe(answer.events(), CHAT)]
    await m.finish()
    ((record, _),) = books.records
    assert (record.status, record.prompt_tokens, record.completion_tokens) == (200, 3, 1)
