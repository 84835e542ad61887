"""A transport on httpx, so that tests can fake upstreams with respx (or any httpx transport)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from src.transports.base import UpstreamRequest
from src.wire.errors import UpstreamError, UpstreamTimeout, UpstreamUnreachable


class HttpxTransport:
    def __init__(self, client: httpx.AsyncClient | None = None) -> None:
        self._client = client or httpx.AsyncClient()

    async def send(self, request: UpstreamRequest) -> _HttpxResponse:
        timeout = httpx.Timeout(request.timeout, connect=request.connect_timeout)
        outgoing = self._client.build_request(
            request.method, request.url, headers=request.headers, content=request.body, timeout=timeout
        )
        try:
            response = await self._client.send(outgoing, stream=True)
        except BaseException as exc:
            raise _translate(exc, request) from None
        return _HttpxResponse(response, request)

    async def aclose(self) -> None:
        await self._client.aclose()


class _HttpxResponse:
    __slots__ = ("_response", "_request", "status", "headers")

    def __init__(self, response: httpx.Response, request: UpstreamRequest) -> None:
        self._response = response
        self._request = request
        self.status = response.status_code
        self.headers = response.headers

    async def read(self) -> bytes:
        try:
            return await self._response.aread()
        except BaseException as exc:
            raise _translate(exc, self._request) from None
        finally:
            await self._response.aclose()

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.aiter_bytes():
                yield chunk
        except BaseException as exc:
            raise _translate(exc, self._request) from None

    async def aclose(self) -> None:
        await self._response.aclose()


def _translate(exc: BaseException, request: UpstreamRequest) -> BaseException:
    """The one place httpx's exceptions become ours. Others (cancellation) pass unchanged."""
    if isinstance(exc, UpstreamError):
        return exc
    if isinstance(exc, httpx.ConnectTimeout):
        return UpstreamTimeout(request.backend, f"no connection within {request.connect_timeout:g}s")
    if isinstance(exc, httpx.TimeoutException):
        return UpstreamTimeout(request.backend, f"no response within {request.timeout:g}s")
    if isinstance(exc, httpx.ConnectError):
        return UpstreamUnreachable(request.backend, f"cannot connect: {exc}")
    if isinstance(exc, httpx.TransportError):
        return UpstreamUnreachable(request.backend, f"connection failed: {type(exc).__name__}")
    return exc
