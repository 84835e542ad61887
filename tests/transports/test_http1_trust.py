"""Http1Transport: what a connection must not be trusted with.

Bytes nobody asked for, heads too large to be real, a request still being written, and a reset
that only looks like the end of a body (connections let go of: test_http1_letting_go.py).
"""

from __future__ import annotations

import asyncio
import gzip
import socket
import ssl
import struct

import pytest

from src.transports.connection import MAX_HEAD
from src.transports.http1 import Http1Transport
from src.wire.errors import UpstreamTimeout, UpstreamUnreachable
from tests.transports.helpers import (
    BACKEND,
    GUARD,
    collect,
    fetch,
    ok,
    raw_server,
    read_request,
    read_request_head,
    request,
    scripted,
)

pytestmark = pytest.mark.anyio
SECOND = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Surplus: yes\r\n\r\nextra"


# --- bytes nobody asked for ----------------------------------------------------------------


async def test_a_second_response_in_the_same_write_is_ignored_and_the_connection_dropped(
    transport: Http1Transport,
) -> None:
    async with scripted([ok(b"one") + SECOND, ok(b"two")]) as seen:
        response = await asyncio.wait_for(transport.send(request(f"{seen.url}/1")), GUARD)
        assert await asyncio.wait_for(response.read(), GUARD) == b"one"
        assert "x-surplus" not in response.headers
        assert await fetch(transport, f"{seen.url}/2") == b"two"
    assert len(seen.connections) == 2


async def test_bytes_sent_to_an_idle_connection_keep_it_out_of_the_pool(transport: Http1Transport) -> None:
    unsolicited = b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n"
    connections = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        while await read_request(reader) is not None:
            writer.write(ok(b"fine"))
            await writer.drain()
            await asyncio.sleep(0.05)
            writer.write(unsolicited)  # as some servers do before timing a connection out
            await writer.drain()

    async with raw_server(handle) as url:
        assert await fetch(transport, f"{url}/1") == b"fine"
        await asyncio.sleep(0.2)
        assert await fetch(transport, f"{url}/2") == b"fine"
    assert connections == 2


async def test_a_chunked_bodys_trailer_is_not_merged_into_the_head(transport: Http1Transport) -> None:
    reply = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Head: h\r\n\r\n"
        b"4\r\nbody\r\n0\r\nX-Trailer: t\r\nX-Head: late\r\n\r\n"
    )
    async with scripted([reply, ok(b"next")]) as seen:
        response = await asyncio.wait_for(transport.send(request(f"{seen.url}/")), GUARD)
        assert await asyncio.wait_for(response.read(), GUARD) == b"body"
        assert response.headers["x-head"] == "h"
        assert "x-trailer" not in response.headers
        assert await fetch(transport, f"{seen.url}/") == b"next"
    assert len(seen.connections) == 1  # a trailer is normal framing: the connection stays good


async def test_bytes_after_a_response_that_closes_the_connection_leave_it_intact(transport: Http1Transport) -> None:
    closing = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\ndone"
    async with scripted([closing + b"junk after the end", ok(b"next")]) as seen:
        response = await asyncio.wait_for(transport.send(request(f"{seen.url}/")), GUARD)
        assert await asyncio.wait_for(response.read(), GUARD) == b"done"
        assert await fetch(transport, f"{seen.url}/") == b"next"
    assert len(seen.connections) == 2


async def test_an_upgrade_response_is_unreachable_not_a_hang(transport: Http1Transport) -> None:
    upgrade = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
    async with scripted([upgrade]) as seen:
        with pytest.raises(UpstreamUnreachable) as info:
            await asyncio.wait_for(transport.send(request(f"{seen.url}/", timeout=GUARD)), GUARD / 2)
    assert info.value.message == f"{BACKEND}: {seen.url} sent a malformed HTTP response: the server switched protocols"


# --- heads ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [
        ["X-Big: " + "a" * (MAX_HEAD + 1)],
        [f"X-Many-{n}: {'b' * 100}" for n in range(MAX_HEAD // 100)],
    ],
    ids=["one-large", "many"],
)
async def test_a_head_past_the_cap_is_unreachable(transport: Http1Transport, extra: list[str]) -> None:
    async with scripted([ok(b"x", *extra)]) as seen:
        with pytest.raises(UpstreamUnreachable) as info:
            await fetch(transport, f"{seen.url}/")
    assert info.value.message.endswith(f"sent a malformed HTTP response: response head larger than {MAX_HEAD // 1024} KiB")


async def test_a_header_line_that_never_ends_is_refused_at_the_cap(transport: Http1Transport) -> None:
    sent = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal sent
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nX-Endless: ")
        while sent < 4 * MAX_HEAD and not writer.is_closing():  # pieces the client reads one by one
            writer.write(b"z" * 4096)
            sent += 4096
            await writer.drain()
            await asyncio.sleep(0.001)

    async with raw_server(handle) as url:
        with pytest.raises(UpstreamUnreachable) as info:
            await asyncio.wait_for(transport.send(request(f"{url}/", timeout=GUARD)), GUARD / 2)
    assert info.value.message.endswith(f"response head larger than {MAX_HEAD // 1024} KiB")


async def test_a_head_just_under_the_cap_is_read(transport: Http1Transport) -> None:
    value = "c" * (MAX_HEAD - 200)
    async with scripted([ok(b"x", f"X-Big: {value}")]) as seen:
        response = await asyncio.wait_for(transport.send(request(f"{seen.url}/")), GUARD)
        assert await asyncio.wait_for(response.read(), GUARD) == b"x"
    assert response.headers["x-big"] == value


async def test_repeated_header_values_are_joined_in_order(transport: Http1Transport) -> None:
    repeated = [f"Vary: v{n}" for n in range(2000)]
    async with scripted([ok(b"x", "X-One: 1", *repeated, "x-one: 2")]) as seen:
        response = await asyncio.wait_for(transport.send(request(f"{seen.url}/")), GUARD)
        await asyncio.wait_for(response.read(), GUARD)
    assert response.headers["x-one"] == "1, 2"
    assert response.headers["vary"] == ", ".join(f"v{n}" for n in range(2000))
    assert response.headers["content-length"] == "1"


# --- bodies --------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_an_empty_compressed_body_is_empty(transport: Http1Transport, encoding: str) -> None:
    async with scripted([ok(b"", f"Content-Encoding: {encoding}"), ok(b"next")]) as seen:
        assert await fetch(transport, f"{seen.url}/") == b""
        assert await fetch(transport, f"{seen.url}/") == b"next"
    assert len(seen.connections) == 1


async def test_a_compressed_body_is_still_checked_for_its_end(transport: Http1Transport) -> None:
    packed = gzip.compress(b"long enough to be cut " * 50)[:-8]
    async with scripted([ok(packed, "Content-Encoding: gzip")]) as seen:
        with pytest.raises(UpstreamUnreachable, match="does not decompress"):
            await fetch(transport, f"{seen.url}/")


async def test_a_reset_during_a_close_delimited_body_is_not_its_end(transport: Http1Transport) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\npartial")
        await writer.drain()
        await asyncio.sleep(0.2)  # the head and the first bytes reach the client first
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()  # with SO_LINGER 0: a reset, not a FIN

    async with raw_server(handle) as url:
        response = await asyncio.wait_for(transport.send(request(f"{url}/")), GUARD)
        with pytest.raises(UpstreamUnreachable) as info:
            await asyncio.wait_for(collect(response), GUARD)
    assert info.value.message == f"{BACKEND}: {url} closed the connection mid-response"


async def test_a_clean_close_still_ends_a_close_delimited_body(transport: Http1Transport) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nwhole body")
        await writer.drain()

    async with raw_server(handle) as url:
        assert await fetch(transport, f"{url}/") == b"whole body"


# --- a request still being written -----------------------------------------------------------

BIG = 32 * 1024 * 1024  # far more than the kernel buffers between the two ends


@pytest.fixture(params=["http", "https"])
def server_ssl(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> ssl.SSLContext | None:
    """None for plain HTTP; for HTTPS, the server's context, with its CA the only one the client trusts.
    Under TLS the bytes still to write sit in the TCP transport beneath, not in the TLS one."""
    if request.param == "http":
        return None
    certs = request.getfixturevalue("certs")
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    monkeypatch.setenv("SSL_CERT_FILE", str(certs / "ca.pem"))
    return request.getfixturevalue("server_tls")


async def test_a_connection_still_writing_its_request_is_not_reused(
    transport: Http1Transport, server_ssl: ssl.SSLContext | None, release: asyncio.Event
) -> None:
    connections = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        if connections == 1:
            await read_request_head(reader)
            writer.write(ok(b"early"))  # answers before reading the body, and keeps the connection
            await writer.drain()
            await release.wait()
        else:
            while await read_request(reader) is not None:
                writer.write(ok(b"second"))
                await writer.drain()

    async with raw_server(handle, ssl=server_ssl) as url:
        response = await asyncio.wait_for(transport.send(request(f"{url}/", method="POST", body=b"x" * BIG)), GUARD)
        assert await asyncio.wait_for(response.read(), GUARD) == b"early"
        assert await fetch(transport, f"{url}/") == b"second"
    assert connections == 2


async def test_a_stalled_upload_is_dropped_at_once_not_flushed(
    transport: Http1Transport, server_ssl: ssl.SSLContext | None
) -> None:
    timed_out = asyncio.Event()
    received = asyncio.get_running_loop().create_future()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request_head(reader)
        await timed_out.wait()  # nothing read until the client has given up
        total = 0
        try:
            while chunk := await reader.read(1 << 20):
                total += len(chunk)
        except (ConnectionError, ssl.SSLError):
            pass
        received.set_result(total)

    async with raw_server(handle, ssl=server_ssl) as url:
        with pytest.raises(UpstreamTimeout):
            await transport.send(request(f"{url}/", method="POST", body=b"y" * BIG, timeout=0.3))
        timed_out.set()
        total = await asyncio.wait_for(received, GUARD)
    assert total < BIG  # a graceful close would have flushed the whole body into a dead request
