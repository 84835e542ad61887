"""AiohttpTransport, the production transport, against real sockets on 127.0.0.1 only."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
from aiohttp import web
from starlette.datastructures import Headers

from src.backends.openai import OpenAIBackend
from src.core.config import Identity, OpenAIBackendConfig
from src.core.errors import UpstreamStatusError, UpstreamTimeout, UpstreamUnreachable
from src.transports.aiohttp import AiohttpTransport
from src.transports.base import UpstreamRequest

BACKEND = "local-aio"
GUARD = 10.0  # seconds: a hung test fails instead of blocking the suite

pytestmark = pytest.mark.anyio

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def release() -> AsyncIterator[asyncio.Event]:
    """Set at teardown so that stalling handlers finish at once."""
    event = asyncio.Event()
    yield event
    event.set()


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
    except asyncio.TimeoutError:
        pass


async def collect(response) -> list[bytes]:
    return [chunk async for chunk in response.iter_chunks()]


# --- connecting ----------------------------------------------------------------------------


def closed_port() -> int:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


async def test_refused_connection_is_unreachable() -> None:
    transport = AiohttpTransport()
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
    assert error.message.startswith(BACKEND)
    assert error.message.startswith(f"{BACKEND}: ")


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
    transport = AiohttpTransport()
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

    transport = AiohttpTransport()
    try:
        async with serve(slow, release) as base:
            with pytest.raises(UpstreamTimeout) as info:
                await asyncio.wait_for(transport.send(request(f"{base}/v1/chat", timeout=0.3)), GUARD)
    finally:
        await transport.aclose()
    error = info.value
    assert type(error) is UpstreamTimeout
    assert error.status == 504
    assert error.message.startswith(BACKEND)


# --- answers -------------------------------------------------------------------------------


async def test_normal_response_status_headers_body() -> None:
    seen: dict = {}

    async def ok(req: web.Request) -> web.Response:
        seen["method"] = req.method
        seen["path"] = req.path
        seen["headers"] = dict(req.headers)
        seen["body"] = await req.read()
        return web.Response(status=200, body=b'{"ok": true}', headers={"X-Request-Id": "req-123"},
                            content_type="application/json")

    transport = AiohttpTransport()
    try:
        async with serve(ok) as base:
            response = await transport.send(
                request(
                    f"{base}/v1/chat/completions",
                    method="POST",
                    headers={"Content-Type": "application/json", "Authorization": "Bearer up", "X-Title": "T"},
                    body=b'{"model":"m"}',
                )
            )
            assert response.status == 200
            assert response.headers["x-request-id"] == "req-123"
            assert response.headers["X-REQUEST-ID"] == "req-123"
            assert response.headers.get("Content-Type", "").startswith("application/json")
            assert await response.read() == b'{"ok": true}'
    finally:
        await transport.aclose()
    assert seen["method"] == "POST"
    assert seen["path"] == "/v1/chat/completions"
    assert seen["body"] == b'{"model":"m"}'
    headers = {k.lower(): v for k, v in seen["headers"].items()}
    assert headers["authorization"] == "Bearer up"
    assert headers["x-title"] == "T"
    # aiohttp adds no User-Agent of its own: identity headers are the backend's business.
    assert "user-agent" not in headers


async def test_error_status_is_returned_not_raised() -> None:
    async def fail(req: web.Request) -> web.Response:
        return web.Response(status=429, text="slow down", headers={"Retry-After": "3"})

    transport = AiohttpTransport()
    try:
        async with serve(fail) as base:
            response = await transport.send(request(f"{base}/x"))
            assert response.status == 429
            assert response.headers["retry-after"] == "3"
            assert await response.read() == b"slow down"
    finally:
        await transport.aclose()


async def test_redirect_is_not_followed_and_backend_reports_502() -> None:
    hits: list[str] = []

    async def redirect(req: web.Request) -> web.Response:
        hits.append(req.path)
        if req.path == "/elsewhere":
            return web.Response(text="followed")
        return web.Response(status=302, headers={"Location": "/elsewhere"})

    transport = AiohttpTransport()
    try:
        async with serve(redirect) as base:
            response = await transport.send(request(f"{base}/v1/models"))
            assert response.status == 302
            await response.aclose()
            config = OpenAIBackendConfig(type="openai", base_url=f"{base}/v1")
            backend = OpenAIBackend("redir", config, transport, Identity())
            with pytest.raises(UpstreamStatusError) as info:
                await backend.chat(b"{}", Headers({}))
    finally:
        await transport.aclose()
    assert info.value.status == 502
    assert info.value.message.startswith("redir")
    assert "/elsewhere" not in hits


async def test_streaming_response_arrives_in_several_chunks() -> None:
    parts = [b'data: {"n":1}\n\n', b'data: {"n":2}\n\n', b'data: {"n":3}\n\n', b"data: [DONE]\n\n"]

    async def stream(req: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(req)
        for part in parts:
            await resp.write(part)
            await asyncio.sleep(0.05)
        await resp.write_eof()
        return resp

    transport = AiohttpTransport()
    try:
        async with serve(stream) as base:
            response = await transport.send(request(f"{base}/v1/chat/completions"))
            assert response.status == 200
            assert response.headers["content-type"] == "text/event-stream"
            chunks = await asyncio.wait_for(collect(response), GUARD)
            await response.aclose()
    finally:
        await transport.aclose()
    assert len(chunks) > 1
    assert all(chunks)
    assert b"".join(chunks) == b"".join(parts)


async def test_connection_closed_mid_chunked_body_is_unreachable() -> None:
    async def truncate(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request_head(reader)
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"7\r\ndata: 1\r\n"  # one whole chunk...
            b"20\r\ndata: 2"  # ...then part of the next, and the connection ends
        )
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.close()

    transport = AiohttpTransport()
    received: list[bytes] = []
    try:
        async with raw_server(truncate) as base:
            response = await transport.send(request(f"{base}/v1/chat/completions"))
            assert response.status == 200
            with pytest.raises(UpstreamUnreachable) as info:
                async for chunk in response.iter_chunks():
                    received.append(chunk)
            await response.aclose()
    finally:
        await transport.aclose()
    assert b"".join(received) in (b"", b"data: 1", b"data: 1data: 2")
    assert info.value.status == 502
    assert info.value.message.startswith(BACKEND)


async def test_connection_closed_before_content_length_is_unreachable() -> None:
    async def short(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b")
        await writer.drain()
        writer.close()

    transport = AiohttpTransport()
    try:
        async with raw_server(short) as base:
            response = await transport.send(request(f"{base}/x"))
            with pytest.raises(UpstreamUnreachable) as info:
                await asyncio.wait_for(response.read(), GUARD)
    finally:
        await transport.aclose()
    assert info.value.status == 502
    assert info.value.message.startswith(BACKEND)


async def test_stream_stalling_mid_body_is_timeout(release: asyncio.Event) -> None:
    async def stall(req: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(req)
        await resp.write(b"data: first\n\n")
        await wait_for_release(release)  # then nothing, far longer than the timeout
        return resp

    transport = AiohttpTransport()
    received: list[bytes] = []
    try:
        async with serve(stall, release) as base:
            response = await transport.send(request(f"{base}/v1/chat/completions", timeout=0.3))
            assert response.status == 200

            async def consume() -> None:
                async for chunk in response.iter_chunks():
                    received.append(chunk)

            with pytest.raises(UpstreamTimeout) as info:
                await asyncio.wait_for(consume(), GUARD)
            await response.aclose()
    finally:
        await transport.aclose()
    assert b"".join(received) == b"data: first\n\n"
    assert info.value.status == 504
    assert info.value.message.startswith(BACKEND)


async def test_aclose_before_end_of_body_does_not_hang(release: asyncio.Event) -> None:
    async def endless(req: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        await resp.prepare(req)
        await resp.write(b"first")
        await wait_for_release(release)
        return resp

    async def ok(req: web.Request) -> web.Response:
        return web.Response(text="still works")

    async def route(req: web.Request) -> web.StreamResponse:
        return await (ok(req) if req.path == "/ok" else endless(req))

    transport = AiohttpTransport()
    try:
        async with serve(route, release) as base:
            # Closed after one chunk.
            response = await transport.send(request(f"{base}/stream"))
            chunks = response.iter_chunks()
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

    transport = AiohttpTransport()
    try:
        async with serve(ok) as base:
            response = await transport.send(request(f"{base}/"))
            assert await response.read() == b"abc"
            await asyncio.wait_for(response.aclose(), GUARD)
            assert b"".join(await collect(await transport.send(request(f"{base}/")))) == b"abc"
    finally:
        await transport.aclose()
        await transport.aclose()  # idempotent, and fine with no session


async def test_aclose_without_use() -> None:
    transport = AiohttpTransport()
    await asyncio.wait_for(transport.aclose(), GUARD)
