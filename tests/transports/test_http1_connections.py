"""Http1Transport: connecting, connect timeouts and closing, against real sockets on 127.0.0.1 only."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncGenerator

import pytest
from aiohttp import web

from src.transports.http1 import Http1Transport
from src.wire.errors import UpstreamTimeout, UpstreamUnreachable
from tests.transports.helpers import (
    BACKEND,
    GUARD,
    closed_port,
    collect,
    fetch,
    first_chunk_then_hold,
    raw_server,
    read_request_head,
    request,
    serve,
    wait_for_release,
)

pytestmark = pytest.mark.anyio


# --- connecting ----------------------------------------------------------------------------


async def test_refused_connection_is_unreachable() -> None:
    transport = Http1Transport()
    url = f"http://127.0.0.1:{closed_port()}/v1/models"
    try:
        with pytest.raises(UpstreamUnreachable) as info:
            await asyncio.wait_for(transport.send(request(url, connect_timeout=2.0)), GUARD)
    finally:
        await transport.aclose()
    error = info.value
    assert type(error) is UpstreamUnreachable
    assert error.status == 502
    assert error.backend == BACKEND
    assert error.message.startswith(f"{BACKEND}: cannot connect to ")


async def test_unresolvable_host_is_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    # Resolving a real name would ask the system's DNS server (off this machine), so the loop's
    # resolver is replaced by one that answers NXDOMAIN, as the name service would for .invalid.
    loop = asyncio.get_running_loop()
    original = loop.getaddrinfo
    asked: list[str] = []

    async def fake_getaddrinfo(host, *args, **kwargs):
        asked.append(host)
        if host == "nonexistent.invalid":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return await original(host, *args, **kwargs)

    monkeypatch.setattr(loop, "getaddrinfo", fake_getaddrinfo)
    transport = Http1Transport()
    try:
        with pytest.raises(UpstreamUnreachable) as info:
            await asyncio.wait_for(transport.send(request("http://nonexistent.invalid/v1/models")), GUARD)
    finally:
        await transport.aclose()
    assert asked == ["nonexistent.invalid"]
    assert info.value.status == 502
    assert info.value.message.startswith(BACKEND)
    assert "nonexistent.invalid" in info.value.message


async def test_no_response_within_timeout_is_timeout(release: asyncio.Event) -> None:
    async def slow(req: web.Request) -> web.Response:
        await wait_for_release(release)  # far longer than the request's timeout
        return web.Response(text="too late")

    transport = Http1Transport()
    try:
        async with serve(slow, release) as base:
            with pytest.raises(UpstreamTimeout) as info:
                await asyncio.wait_for(transport.send(request(f"{base}/v1/chat", timeout=0.3)), GUARD)
    finally:
        await transport.aclose()
    error = info.value
    assert type(error) is UpstreamTimeout
    assert error.status == 504
    assert error.message.startswith(f"{BACKEND}: no response within 0.3s from {base}")


async def test_a_dns_lookup_that_hangs_is_bounded_by_connect_timeout(
    monkeypatch: pytest.MonkeyPatch, release: asyncio.Event
) -> None:
    loop = asyncio.get_running_loop()

    async def hanging_getaddrinfo(host, *args, **kwargs):
        await wait_for_release(release)  # a name server that never answers
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(loop, "getaddrinfo", hanging_getaddrinfo)
    transport = Http1Transport()
    try:
        with pytest.raises(UpstreamTimeout) as info:
            await asyncio.wait_for(transport.send(request("http://slow-dns.invalid/v1", connect_timeout=0.3)), GUARD)
    finally:
        await transport.aclose()
    assert info.value.status == 504
    assert info.value.message.startswith(f"{BACKEND}: no connection within 0.3s")
    assert "slow-dns.invalid" in info.value.message


# --- closing -------------------------------------------------------------------------------


async def test_aclose_before_end_of_body_does_not_hang(release: asyncio.Event) -> None:
    endless = first_chunk_then_hold(release)
    async def ok(req: web.Request) -> web.Response:
        return web.Response(text="still works")

    async def route(req: web.Request) -> web.StreamResponse:
        return await (ok(req) if req.path == "/ok" else endless(req))

    transport = Http1Transport()
    try:
        async with serve(route, release) as base:
            # Closed after one chunk.
            response = await transport.send(request(f"{base}/stream"))
            chunks = response.iter_chunks()
            assert isinstance(chunks, AsyncGenerator)  # closed below as a generator is
            assert await asyncio.wait_for(chunks.__anext__(), GUARD) == b"first"
            await asyncio.wait_for(response.aclose(), GUARD)
            await asyncio.wait_for(chunks.aclose(), GUARD)
            # Closed before any of the body was read.
            response = await transport.send(request(f"{base}/stream"))
            assert response.status == 200
            await asyncio.wait_for(response.aclose(), GUARD)
            # The pool still serves requests afterwards.
            response = await transport.send(request(f"{base}/ok"))
            assert response.status == 200
            assert await asyncio.wait_for(response.read(), GUARD) == b"still works"
    finally:
        await asyncio.wait_for(transport.aclose(), GUARD)


async def test_aclose_after_full_read_and_twice() -> None:
    async def ok(req: web.Request) -> web.Response:
        return web.Response(body=b"abc")

    transport = Http1Transport()
    try:
        async with serve(ok) as base:
            response = await transport.send(request(f"{base}/"))
            assert await response.read() == b"abc"
            await asyncio.wait_for(response.aclose(), GUARD)
            assert b"".join(await collect(await transport.send(request(f"{base}/")))) == b"abc"
    finally:
        await transport.aclose()
        await transport.aclose()  # idempotent, and fine with an empty pool


async def test_aclose_without_use_is_idempotent_and_the_transport_still_works_after() -> None:
    async def ok(req: web.Request) -> web.Response:
        return web.Response(body=b"fresh")

    transport = Http1Transport()
    await asyncio.wait_for(transport.aclose(), GUARD)
    await asyncio.wait_for(transport.aclose(), GUARD)
    try:
        async with serve(ok) as base:
            response = await transport.send(request(f"{base}/"))
            assert await asyncio.wait_for(response.read(), GUARD) == b"fresh"
    finally:
        await transport.aclose()


async def test_aclose_closes_pooled_connections() -> None:
    closed = asyncio.Event()
    accepted = 0

    async def keep_alive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal accepted
        accepted += 1
        await read_request_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok")
        await writer.drain()
        if await reader.read() == b"":  # the client closed its end
            closed.set()
        writer.close()

    transport = Http1Transport()
    try:
        async with raw_server(keep_alive) as base:
            response = await transport.send(request(f"{base}/"))
            assert await asyncio.wait_for(response.read(), GUARD) == b"ok"
            await asyncio.sleep(0)
            assert not closed.is_set()  # kept in the pool for the next request
            await asyncio.wait_for(transport.aclose(), GUARD)
            await asyncio.wait_for(closed.wait(), GUARD)
            # The transport stays usable: the next request opens a fresh connection.
            assert await fetch(transport, f"{base}/") == b"ok"
            assert accepted == 2
    finally:
        await transport.aclose()
