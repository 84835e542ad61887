"""Shared by the Http1Transport tests: servers on 127.0.0.1 (any free port) and request helpers."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field, replace
from typing import Any

from aiohttp import web

from src.transports.base import UpstreamRequest

BACKEND = "local-h1"
GUARD = 10.0  # seconds: a hung test fails instead of blocking the suite

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
RawHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def serve(handler: Handler, release: asyncio.Event | None = None) -> AsyncIterator[str]:
    """An aiohttp server on 127.0.0.1 (any port) in this loop; yields its base URL."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    assert host == "127.0.0.1"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        if release is not None:
            release.set()
        await runner.cleanup()


@asynccontextmanager
async def raw_server(handle: RawHandler, *, ssl=None) -> AsyncIterator[str]:
    """A bare TCP server on 127.0.0.1, for responses aiohttp's server would not send."""
    writers: list[asyncio.StreamWriter] = []

    async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        try:
            await handle(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(tracked, "127.0.0.1", 0, ssl=ssl)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"{'https' if ssl else 'http'}://127.0.0.1:{port}"
    finally:
        server.close()
        # Since Python 3.12 wait_closed() also waits for open connections: a client's pooled one
        # would hold it until the transport closes, so the server ends them itself.
        for writer in writers:
            writer.close()
        await asyncio.wait_for(server.wait_closed(), GUARD)


async def read_request_head(reader: asyncio.StreamReader) -> bytes:
    return await reader.readuntil(b"\r\n\r\n")


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes] | None:
    """One request's head and Content-Length body; None once the client has closed."""
    try:
        head = await read_request_head(reader)
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return head, await reader.readexactly(length)


@dataclass
class Reply:
    data: bytes
    close: bool = False  # the server closes the connection once this is written...
    linger: float = 0.0  # ...and this many seconds later


@dataclass
class Scripted:
    """What a scripted server saw: the request heads, one list per accepted connection."""

    url: str = ""
    connections: list[list[bytes]] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)

    @property
    def heads(self) -> list[bytes]:
        return [head for heads in self.connections for head in heads]


def then_close(data: bytes, linger: float = 0.0) -> Reply:
    return Reply(data, close=True, linger=linger)


@asynccontextmanager
async def scripted(replies: Iterable[bytes | Reply | None], *, ssl=None) -> AsyncIterator[Scripted]:
    """A raw server answering successive requests, on whatever connection, with the next reply.

    None drops the connection without answering; past the last reply every connection is dropped.
    Connections are otherwise kept open, so only the client decides whether to reuse one.
    """
    script = iter(replies)
    seen = Scripted()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        heads: list[bytes] = []
        seen.connections.append(heads)
        while (received := await read_request(reader)) is not None:
            heads.append(received[0])
            seen.bodies.append(received[1])
            reply = next(script, None)
            if reply is None:
                return
            reply = reply if isinstance(reply, Reply) else Reply(reply)
            writer.write(reply.data)
            await writer.drain()
            if reply.close:
                await asyncio.sleep(reply.linger)
                return

    async with raw_server(handle, ssl=ssl) as url:
        seen.url = url
        yield seen


def ok(body: bytes = b"ok", *extra: str) -> bytes:
    """A keep-alive HTTP/1.1 200 with a Content-Length body."""
    lines = ["HTTP/1.1 200 OK", f"Content-Length: {len(body)}", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def request(url: str, **overrides: Any) -> UpstreamRequest:
    base = UpstreamRequest(method="GET", url=url, headers={}, backend=BACKEND, timeout=3.0, connect_timeout=3.0)
    return replace(base, **overrides)


async def fetch(transport, url: str, **overrides) -> bytes:
    """Send a request and read its whole body, each step bounded by GUARD."""
    response = await asyncio.wait_for(transport.send(request(url, **overrides)), GUARD)
    return await asyncio.wait_for(response.read(), GUARD)


async def wait_for_release(release: asyncio.Event) -> None:
    with suppress(TimeoutError):
        await asyncio.wait_for(release.wait(), GUARD)


def first_chunk_then_hold(release: asyncio.Event) -> Handler:
    """A handler that sends one body chunk, then holds the response open until `release`."""

    async def endless(req: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        await resp.prepare(req)
        await resp.write(b"first")
        await wait_for_release(release)
        return resp

    return endless


async def collect(response) -> list[bytes]:
    return [chunk async for chunk in response.iter_chunks()]


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port
