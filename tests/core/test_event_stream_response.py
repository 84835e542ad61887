"""EventStreamResponse at the ASGI level: events sent as they come, a failure in the events iterator
ended with the given error event, and the upstream closed however the stream ends."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import orjson
import pytest

from src.wire.errors import ProxyError
from src.wire.sse import EventStreamResponse

pytestmark = pytest.mark.anyio

SCOPE = {"type": "http", "method": "POST", "path": "/v1/chat/completions", "headers": []}
FIRST = b'data: {"choices":[{"delta":{"content":"Hel"}}]}\n\n'
SECOND = b'data: {"choices":[{"delta":{"content":"lo"}}]}\n\n'


class Client:
    """The ASGI server side: records what is sent; disconnects once `gone` is set."""

    def __init__(self) -> None:
        self.sent: list[dict] = []
        self.gone = asyncio.Event()

    async def receive(self) -> dict:
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict) -> None:
        self.sent.append(message)

    def bodies(self) -> list[bytes]:
        return [m["body"] for m in self.sent if m["type"] == "http.response.body"]


class ErrorEvents:
    def __init__(self) -> None:
        self.calls: list[ProxyError] = []

    def __call__(self, error: ProxyError) -> bytes:
        self.calls.append(error)
        return b"data: " + orjson.dumps({"error": {"message": error.message}}) + b"\n\n"


class Upstream:
    def __init__(self) -> None:
        self.closed = 0

    async def aclose(self) -> None:
        self.closed += 1


async def serve(events: AsyncIterator[bytes], client: Client | None = None) -> tuple[Client, ErrorEvents, Upstream]:
    client = client or Client()
    errors, upstream = ErrorEvents(), Upstream()
    response = EventStreamResponse(events, upstream.aclose, {"x-generation-id": "gen-1"}, errors)
    await asyncio.wait_for(response(SCOPE, client.receive, client.send), 5)
    return client, errors, upstream


async def failing(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk
    raise RuntimeError("KeyError deep inside: secret internals")


def assert_ended(client: Client) -> None:
    last = client.sent[-1]
    assert last == {"type": "http.response.body", "body": b"", "more_body": False}
    assert all(m.get("more_body") is True for m in client.sent[1:-1])


async def test_a_complete_stream_is_sent_and_the_upstream_closed() -> None:
    async def events() -> AsyncIterator[bytes]:
        yield FIRST
        yield SECOND

    client, errors, upstream = await serve(events())
    start = client.sent[0]
    assert start["type"] == "http.response.start"
    assert start["status"] == 200
    headers = dict(start["headers"])
    assert headers[b"content-type"].startswith(b"text/event-stream")
    assert headers[b"x-generation-id"] == b"gen-1"
    assert client.bodies() == [FIRST, SECOND, b""]
    assert_ended(client)
    assert errors.calls == []
    assert upstream.closed == 1


@pytest.mark.parametrize("chunks", [(FIRST, SECOND), (FIRST,), ()], ids=["two", "one", "none"])
async def test_an_unexpected_exception_mid_stream_ends_it_with_the_error_event(
    chunks: tuple[bytes, ...], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client, errors, upstream = await serve(failing(*chunks))

    assert client.sent[0]["type"] == "http.response.start"
    assert client.sent[0]["status"] == 200
    assert len(errors.calls) == 1
    error = errors.calls[0]
    assert isinstance(error, ProxyError)
    assert error.status == 500
    assert "internal error" in error.message
    assert client.bodies() == [*chunks, ErrorEvents()(error), b""]
    assert_ended(client)
    # The client learns only that it failed; the details go to the log.
    assert all(b"secret internals" not in body for body in client.bodies())
    assert upstream.closed == 1
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert failures and failures[0].exc_info is not None
    assert "secret internals" in str(failures[0].exc_info[1])


async def test_the_error_event_after_a_failure_is_the_one_given() -> None:
    # The response does not build its own event: it sends whatever error_event returns.
    client = Client()
    upstream = Upstream()

    def error_event(error: ProxyError) -> bytes:
        return b"event: error\ndata: custom " + error.message.encode() + b"\n\n"

    response = EventStreamResponse(failing(FIRST), upstream.aclose, {}, error_event)
    await asyncio.wait_for(response(SCOPE, client.receive, client.send), 5)
    bodies = client.bodies()
    assert bodies[0] == FIRST
    assert bodies[1].startswith(b"event: error\ndata: custom internal error")
    assert bodies[2:] == [b""]


async def test_a_client_that_leaves_stops_the_events_and_closes_the_upstream() -> None:
    client = Client()
    closed = asyncio.Event()

    async def endless() -> AsyncIterator[bytes]:
        try:
            while True:
                yield FIRST
                client.gone.set()
                await asyncio.sleep(0.01)
        finally:
            closed.set()

    client, errors, upstream = await serve(endless(), client)
    assert closed.is_set()
    assert upstream.closed == 1
    assert errors.calls == []
    assert FIRST in client.bodies()
    assert client.sent[-1].get("more_body") is True  # no normal end was sent to nobody
