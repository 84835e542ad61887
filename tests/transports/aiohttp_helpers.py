"""Shared by the AiohttpTransport tests: servers on 127.0.0.1 (any free port) and request helpers."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from aiohttp import web

from src.transports.base import UpstreamRequest

BACKEND = "local-aio"
GUARD = 10.0  # seconds: a hung test fails instead of blocking the suite

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


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
async def raw_server(handle: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]):
    """A bare TCP server on 127.0.0.1, for responses aiohttp's server would not send."""
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


async def read_request_head(reader: asyncio.StreamReader) -> bytes:
    return await reader.readuntil(b"\r\n\r\n")


def request(url: str, **overrides) -> UpstreamRequest:
    fields = dict(method="GET", url=url, headers={}, backend=BACKEND, timeout=3.0, connect_timeout=3.0)
    fields.update(overrides)
    return UpstreamRequest(**fields)


async def wait_for_release(release: asyncio.Event) -> None:
    try:
        await asyncio.wait_for(release.wait(), GUARD)
    except TimeoutError:
        pass


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
