"""Http1Transport: answers, streams and broken bodies, against real sockets on 127.0.0.1 only."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from starlette.datastructures import Headers

from src.backends.openai import OpenAIBackend
from src.backends.openrouter import OpenRouterBackend
from src.config import Identity, OpenAIBackendConfig, OpenRouterBackendConfig
from src.transports.http1 import Http1Transport
from src.wire.errors import UpstreamStatusError, UpstreamTimeout, UpstreamUnreachable
from tests.backends.calls import send
from tests.transports.helpers import (
    BACKEND,
    GUARD,
    collect,
    raw_server,
    read_request_head,
    request,
    serve,
    wait_for_release,
)

pytestmark = pytest.mark.anyio


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

    transport = Http1Transport()
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
            # A plain dict keyed by lower-case names: the proxy looks headers up in lower case.
            assert type(response.headers) is dict
            assert response.headers["x-request-id"] == "req-123"
            assert response.headers["content-type"].startswith("application/json")
            assert await response.read() == b'{"ok": true}'
    finally:
        await transport.aclose()
    assert seen["method"] == "POST"
    assert seen["path"] == "/v1/chat/completions"
    assert seen["body"] == b'{"model":"m"}'
    headers = {k.lower(): v for k, v in seen["headers"].items()}
    assert headers["authorization"] == "Bearer up"
    assert headers["x-title"] == "T"
    # The transport adds no User-Agent of its own: identity headers are the backend's business.
    assert "user-agent" not in headers


async def test_error_status_is_returned_not_raised() -> None:
    async def fail(req: web.Request) -> web.Response:
        return web.Response(status=429, text="slow down", headers={"Retry-After": "3"})

    transport = Http1Transport()
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

    transport = Http1Transport()
    try:
        async with serve(redirect) as base:
            response = await transport.send(request(f"{base}/v1/models"))
            assert response.status == 302
            await response.aclose()
            config = OpenAIBackendConfig(type="openai", base_url=f"{base}/v1")
            backend = OpenAIBackend("redir", config, transport, Identity())
            with pytest.raises(UpstreamStatusError) as info:
                await send(backend, b'{"model":"m"}')
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

    transport = Http1Transport()
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

    transport = Http1Transport()
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
    assert info.value.message == f"{BACKEND}: {base} closed the connection mid-response"


async def test_connection_closed_before_content_length_is_unreachable() -> None:
    async def short(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b")
        await writer.drain()
        writer.close()

    transport = Http1Transport()
    try:
        async with raw_server(short) as base:
            response = await transport.send(request(f"{base}/x"))
            with pytest.raises(UpstreamUnreachable) as info:
                await asyncio.wait_for(response.read(), GUARD)
    finally:
        await transport.aclose()
    assert info.value.status == 502
    assert info.value.message == f"{BACKEND}: {base} closed the connection mid-response"


async def test_stream_stalling_mid_body_is_timeout(release: asyncio.Event) -> None:
    async def stall(req: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(req)
        await resp.write(b"data: first\n\n")
        await wait_for_release(release)  # then nothing, far longer than the timeout
        return resp

    transport = Http1Transport()
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
    assert info.value.message == f"{BACKEND}: no response within 0.3s from {base}"


async def test_utf8_client_headers_reach_the_upstream_as_the_client_sent_them() -> None:
    heads: list[bytes] = []

    async def record(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        heads.append(await read_request_head(reader))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
        await writer.drain()
        writer.close()

    # As the proxy's server hands them over: raw bytes, decoded as latin-1.
    client = Headers(
        raw=[
            (b"user-agent", "Agent (Zürich)".encode()),
            (b"x-title", "Café ☕".encode()),
            (b"x-session-id", "sitzung-ä".encode()),
        ]
    )
    transport = Http1Transport()
    try:
        async with raw_server(record) as base:
            config = OpenRouterBackendConfig(type="openrouter", base_url=f"{base}/v1", api_key="sk-or-1")
            backend = OpenRouterBackend("or", config, transport, Identity())
            response = await asyncio.wait_for(send(backend, b'{"model":"m"}', client), GUARD)
            assert await asyncio.wait_for(response.read(), GUARD) == b"{}"
    finally:
        await transport.aclose()
    head = heads[0].lower()
    assert "user-agent: agent (zürich)\r\n".encode() in head
    assert "x-title: café ☕\r\n".encode() in head
    assert "x-openrouter-title: café ☕\r\n".encode() in head
    assert "x-session-id: sitzung-ä\r\n".encode() in head


async def test_a_shorter_timeout_on_a_pooled_connection_still_holds(release: asyncio.Event) -> None:
    """The connection keeps one read timer: a wait with a nearer deadline than the timer's sets it sooner."""
    calls = 0

    async def first_fast_then_stall(req: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        if calls > 1:
            await wait_for_release(release)
        return web.json_response({"ok": True})

    transport = Http1Transport()
    try:
        async with serve(first_fast_then_stall, release) as base:
            first = await transport.send(request(f"{base}/v1/models", timeout=60.0))
            assert await first.read() == b'{"ok": true}'
            started = asyncio.get_running_loop().time()
            with pytest.raises(UpstreamTimeout):  # on the same connection, its timer set for 60 s
                await asyncio.wait_for(transport.send(request(f"{base}/v1/models", timeout=0.3)), GUARD)
            assert asyncio.get_running_loop().time() - started < 5
    finally:
        await transport.aclose()
    assert calls == 2
