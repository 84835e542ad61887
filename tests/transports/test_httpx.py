"""HttpxTransport: every httpx failure becomes UpstreamUnreachable or UpstreamTimeout."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
import pytest
import respx

from src.transports.base import UpstreamRequest
from src.wire.errors import UpstreamError, UpstreamTimeout, UpstreamUnreachable
from tests.fakes.httpx_transport import HttpxTransport

URL = "https://upstream.test/v1/chat/completions"
BACKEND = "edge-backend"

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def router():
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as mock:
        yield mock


def request(**overrides: Any) -> UpstreamRequest:
    base = UpstreamRequest(
        method="POST",
        url=URL,
        headers={"Content-Type": "application/json", "X-Custom": "abc"},
        backend=BACKEND,
        body=b'{"model":"m"}',
        timeout=3.0,
        connect_timeout=2.0,
    )
    return replace(base, **overrides)


async def send_expecting(router, side_effect, expected: type[UpstreamError]) -> UpstreamError:
    router.post(URL).mock(side_effect=side_effect)
    transport = HttpxTransport(httpx.AsyncClient())
    try:
        with pytest.raises(expected) as info:
            await transport.send(request())
    finally:
        await transport.aclose()
    return info.value


async def test_connect_error_is_unreachable(router) -> None:
    error = await send_expecting(router, httpx.ConnectError("connection refused"), UpstreamUnreachable)
    assert type(error) is UpstreamUnreachable
    assert error.status == 502
    assert error.backend == BACKEND
    assert error.message.startswith(BACKEND)


async def test_connect_timeout_is_timeout(router) -> None:
    error = await send_expecting(router, httpx.ConnectTimeout("slow connect"), UpstreamTimeout)
    assert type(error) is UpstreamTimeout
    assert error.status == 504
    assert error.message.startswith(BACKEND)


async def test_read_timeout_is_timeout(router) -> None:
    error = await send_expecting(router, httpx.ReadTimeout("slow read"), UpstreamTimeout)
    assert type(error) is UpstreamTimeout
    assert error.status == 504
    assert error.message.startswith(BACKEND)


async def test_pool_timeout_is_timeout(router) -> None:
    error = await send_expecting(router, httpx.PoolTimeout("pool"), UpstreamTimeout)
    assert error.status == 504
    assert error.message.startswith(BACKEND)


async def test_remote_protocol_error_is_unreachable(router) -> None:
    error = await send_expecting(router, httpx.RemoteProtocolError("peer closed"), UpstreamUnreachable)
    assert type(error) is UpstreamUnreachable
    assert error.status == 502
    assert error.message.startswith(BACKEND)


async def test_read_error_is_unreachable(router) -> None:
    error = await send_expecting(router, httpx.ReadError("reset"), UpstreamUnreachable)
    assert error.status == 502
    assert error.message.startswith(BACKEND)


async def test_exception_class_side_effect(router) -> None:
    # respx instantiates an exception class with the request.
    error = await send_expecting(router, httpx.ConnectError, UpstreamUnreachable)
    assert error.status == 502
    assert error.message.startswith(BACKEND)


async def test_successful_response(router) -> None:
    route = router.post(URL).respond(201, content=b"hello body", headers={"X-Upstream": "yes"})
    transport = HttpxTransport(httpx.AsyncClient())
    try:
        response = await transport.send(request())
        assert response.status == 201
        assert response.headers["x-upstream"] == "yes"
        assert response.headers["X-UPSTREAM"] == "yes"
        assert await response.read() == b"hello body"
    finally:
        await transport.aclose()
    sent = route.calls.last.request
    assert sent.content == b'{"model":"m"}'
    assert sent.headers["x-custom"] == "abc"


async def test_redirect_is_not_followed(router) -> None:
    router.post(URL).respond(302, headers={"Location": "https://elsewhere.test/"})
    elsewhere = router.route(host="elsewhere.test").respond(200)
    transport = HttpxTransport(httpx.AsyncClient())
    try:
        response = await transport.send(request())
        assert response.status == 302
        await response.aclose()
    finally:
        await transport.aclose()
    assert elsewhere.call_count == 0


class _FailingStream(httpx.AsyncByteStream):
    def __init__(self, exc: Exception) -> None:
        self._exc = exc

    async def __aiter__(self):
        yield b"first"
        raise self._exc


@pytest.mark.parametrize(
    ("exc", "expected", "status"),
    [
        (httpx.ReadTimeout("stalled"), UpstreamTimeout, 504),
        (httpx.RemoteProtocolError("incomplete chunked read"), UpstreamUnreachable, 502),
        (httpx.ReadError("reset"), UpstreamUnreachable, 502),
    ],
)
async def test_errors_mid_stream_are_translated(router, exc, expected, status) -> None:
    router.post(URL).mock(return_value=httpx.Response(200, stream=_FailingStream(exc)))
    transport = HttpxTransport(httpx.AsyncClient())
    received: list[bytes] = []
    try:
        response = await transport.send(request())
        assert response.status == 200
        with pytest.raises(expected) as info:
            async for chunk in response.iter_chunks():
                received.append(chunk)
        await response.aclose()
    finally:
        await transport.aclose()
    assert received == [b"first"]
    assert info.value.status == status
    assert info.value.message.startswith(BACKEND)


async def test_error_during_read_is_translated(router) -> None:
    router.post(URL).mock(return_value=httpx.Response(200, stream=_FailingStream(httpx.ReadTimeout("x"))))
    transport = HttpxTransport(httpx.AsyncClient())
    try:
        response = await transport.send(request())
        with pytest.raises(UpstreamTimeout) as info:
            await response.read()
    finally:
        await transport.aclose()
    assert info.value.status == 504
    assert info.value.message.startswith(BACKEND)


async def test_non_httpx_exceptions_pass_unchanged(router) -> None:
    router.post(URL).mock(side_effect=ValueError("not a transport problem"))
    transport = HttpxTransport(httpx.AsyncClient())
    try:
        with pytest.raises(ValueError, match="not a transport problem"):
            await transport.send(request())
    finally:
        await transport.aclose()
