"""Http1Transport's keep-alive pool: which connections are reused, and which never are.

Raw servers on 127.0.0.1 count the connections they accept; they keep every connection open
unless told otherwise, so whether one is reused is the client's decision alone.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncGenerator

import pytest

from src.transports import http1
from src.transports.connection import HIGH_WATER
from src.transports.http1 import Http1Transport
from src.wire.errors import UpstreamUnreachable
from tests.transports.helpers import (
    BACKEND,
    GUARD,
    fetch,
    ok,
    raw_server,
    read_request,
    request,
    scripted,
    then_close,
)

pytestmark = pytest.mark.anyio


async def test_sequential_requests_share_one_connection(transport: Http1Transport) -> None:
    async with scripted([ok(b"one"), ok(b"two"), ok(b"three")]) as seen:
        assert await fetch(transport, f"{seen.url}/1") == b"one"
        # Released by reading to the end through iter_chunks, and by aclose() after read().
        response = await asyncio.wait_for(transport.send(request(f"{seen.url}/2")), GUARD)
        assert [chunk async for chunk in response.iter_chunks()] == [b"two"]
        response = await asyncio.wait_for(transport.send(request(f"{seen.url}/3")), GUARD)
        assert await asyncio.wait_for(response.read(), GUARD) == b"three"
        await response.aclose()
    assert len(seen.connections) == 1
    assert [head.split(b" ")[1] for head in seen.connections[0]] == [b"/1", b"/2", b"/3"]


@pytest.mark.parametrize(
    ("version", "extra", "connections"),
    [
        ("HTTP/1.1", (), 1),
        ("HTTP/1.1", ("Connection: close",), 2),
        ("HTTP/1.0", (), 2),
        ("HTTP/1.0", ("Connection: keep-alive",), 1),
    ],
    ids=["1.1", "1.1-close", "1.0", "1.0-keep-alive"],
)
async def test_reuse_follows_the_responses_keep_alive(
    transport: Http1Transport, version: str, extra: tuple[str, ...], connections: int
) -> None:
    first = ok(b"one", *extra).replace(b"HTTP/1.1", version.encode(), 1)
    async with scripted([first, ok(b"two")]) as seen:
        assert await fetch(transport, f"{seen.url}/") == b"one"
        assert await fetch(transport, f"{seen.url}/") == b"two"
    assert len(seen.connections) == connections
    assert len(seen.heads) == 2


async def test_concurrent_requests_open_connections_that_are_all_pooled(transport: Http1Transport) -> None:
    # No pool limit: a connection busy with an unread response is never waited for.
    async with scripted([ok(b"a"), ok(b"b"), ok(b"c"), ok(b"d")]) as seen:
        first = await asyncio.wait_for(transport.send(request(f"{seen.url}/")), GUARD)
        second = await asyncio.wait_for(transport.send(request(f"{seen.url}/")), GUARD)
        assert len(seen.connections) == 2
        assert await asyncio.wait_for(first.read(), GUARD) == b"a"
        assert await asyncio.wait_for(second.read(), GUARD) == b"b"
        assert {await fetch(transport, f"{seen.url}/"), await fetch(transport, f"{seen.url}/")} == {b"c", b"d"}
    assert len(seen.connections) == 2


async def test_a_connection_the_server_closed_while_idle_is_not_reused(transport: Http1Transport) -> None:
    # The close comes once the connection is back in the pool, as a server's idle timeout would.
    async with scripted([then_close(ok(b"one"), linger=0.1), ok(b"two")]) as seen:
        assert await fetch(transport, f"{seen.url}/") == b"one"
        await asyncio.sleep(0.3)
        assert await fetch(transport, f"{seen.url}/") == b"two"
    assert [len(heads) for heads in seen.connections] == [1, 1]


async def test_a_connection_idle_past_the_limit_is_not_reused(
    transport: Http1Transport, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http1, "IDLE_LIMIT", 0.5)
    async with scripted([ok(b"one"), ok(b"two"), ok(b"three")]) as seen:
        assert await fetch(transport, f"{seen.url}/") == b"one"
        assert await fetch(transport, f"{seen.url}/") == b"two"  # at once: still trusted
        await asyncio.sleep(0.7)  # the server might drop it any moment now
        assert await fetch(transport, f"{seen.url}/") == b"three"
    assert [len(heads) for heads in seen.connections] == [2, 1]


async def test_a_pooled_connection_dropped_as_it_is_reused_fails_and_is_not_resent(
    transport: Http1Transport,
) -> None:
    # The server reads the second request, then drops the connection without answering. A POST
    # may already be generating (and billing): resending is the failover's decision, not ours.
    async with scripted([ok(b"one"), None, ok(b"never")]) as seen:
        assert await fetch(transport, f"{seen.url}/") == b"one"
        with pytest.raises(UpstreamUnreachable) as info:
            await fetch(transport, f"{seen.url}/v1/chat", method="POST", body=b"{}")
        await asyncio.sleep(0.2)  # long enough for a resent copy to arrive
    assert len(seen.connections) == 1
    assert len(seen.heads) == 2
    assert info.value.status == 502
    assert info.value.message == f"{BACKEND}: {seen.url} closed the connection before answering"


@pytest.mark.parametrize("stop", ["aclose", "abandon"])
async def test_a_reader_stopping_late_leaves_a_reused_connection_alone(transport: Http1Transport, stop: str) -> None:
    # Regression: the body iterator's cleanup closed its connection, which by then could already
    # be carrying the next request.
    go = asyncio.Event()
    accepted = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal accepted
        accepted += 1
        while (received := await read_request(reader)) is not None:
            path = received[0].split(b" ")[1]
            if path == b"/first":  # the whole response in one write
                writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n0\r\n\r\n")
            elif path == b"/second":  # the head, and the body only once the first reader is gone
                writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                await writer.drain()
                await asyncio.wait_for(go.wait(), GUARD)
                writer.write(b"6\r\nsecond\r\n0\r\n\r\n")
            else:
                writer.write(ok(b"third"))
            await writer.drain()

    async with raw_server(handle) as base:
        first = await asyncio.wait_for(transport.send(request(f"{base}/first")), GUARD)
        chunks = first.iter_chunks()
        assert isinstance(chunks, AsyncGenerator)  # closed below as a generator is
        assert await asyncio.wait_for(chunks.__anext__(), GUARD) == b"first"
        await asyncio.sleep(0.05)  # the end of the body is in; the reader does not look for it
        await first.aclose()
        second = await asyncio.wait_for(transport.send(request(f"{base}/second")), GUARD)
        assert accepted == 1  # the first response's connection, reused
        if stop == "aclose":
            await asyncio.wait_for(chunks.aclose(), GUARD)
        else:
            del chunks
            gc.collect()
            await asyncio.sleep(0.05)  # the event loop's finalizer closes the generator
        go.set()
        assert await asyncio.wait_for(second.read(), GUARD) == b"second"
        assert await fetch(transport, f"{base}/third") == b"third"
    assert accepted == 1


async def test_a_connection_parked_while_paused_still_notices_the_server_close_it(
    transport: Http1Transport,
) -> None:
    # One byte past HIGH_WATER: the read that pauses the socket is the one that completes the body,
    # so the connection is reusable and paused when it is released unread.
    first = ok(b"a" * (HIGH_WATER + 1))
    async with scripted([then_close(first, linger=0.3), ok(b"second")]) as seen:
        response = await asyncio.wait_for(transport.send(request(f"{seen.url}/1")), GUARD)
        await asyncio.sleep(0.1)  # the whole body has arrived
        await response.aclose()
        await asyncio.sleep(0.5)  # the server has closed the idle connection meanwhile
        assert await fetch(transport, f"{seen.url}/2") == b"second"
    assert len(seen.connections) == 2


async def test_a_connection_released_with_a_large_unread_body_serves_the_next_request(
    transport: Http1Transport,
) -> None:
    # The last bytes of the body tip the unread buffer over HIGH_WATER: reading pauses in the same
    # socket read that completes the response, so the connection still goes back to the pool.
    head, tail = HIGH_WATER - 500, 1000

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        first = True
        while await read_request(reader) is not None:
            if first:
                first = False
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (head + tail) + b"a" * head)
                await writer.drain()
                await asyncio.sleep(0.2)
                writer.write(b"b" * tail)
            else:
                writer.write(ok(b"next"))
            await writer.drain()

    async with raw_server(handle) as base:
        response = await asyncio.wait_for(transport.send(request(f"{base}/big")), GUARD)
        await asyncio.sleep(0.4)  # the whole body arrives; nobody reads it (the client went away)
        await response.aclose()
        assert await fetch(transport, f"{base}/next", timeout=1.0) == b"next"
