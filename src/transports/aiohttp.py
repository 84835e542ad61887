"""The production transport, on aiohttp: the fastest Python HTTP client for this load."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Mapping

import aiohttp

from src.core.errors import UpstreamError, UpstreamTimeout, UpstreamUnreachable
from src.transports.base import UpstreamRequest


class AiohttpTransport:
    def __init__(self, *, max_connections: int = 0) -> None:
        # One pool for the app's lifetime; created lazily because aiohttp binds to the running loop.
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._max_connections, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(
                connector=connector,
                skip_auto_headers=("User-Agent",),
                timeout=aiohttp.ClientTimeout(total=None),
            )
        return self._session

    async def send(self, request: UpstreamRequest) -> _AiohttpResponse:
        timeout = _timeout(request.connect_timeout, request.timeout)
        try:
            response = await self._client().request(
                request.method,
                request.url,
                headers=request.headers,
                data=request.body,
                timeout=timeout,
                allow_redirects=False,
            )
        except BaseException as exc:
            raise _translate(exc, request) from None
        return _AiohttpResponse(response, request)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class _AiohttpResponse:
    __slots__ = ("_response", "_request", "status", "headers")

    def __init__(self, response: aiohttp.ClientResponse, request: UpstreamRequest) -> None:
        self._response = response
        self._request = request
        self.status = response.status
        self.headers: Mapping[str, str] = response.headers

    async def read(self) -> bytes:
        try:
            return await self._response.read()
        except BaseException as exc:
            raise _translate(exc, self._request) from None
        finally:
            self._response.release()

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        content = self._response.content
        try:
            while True:
                chunk = await content.readany()
                if not chunk:
                    return
                yield chunk
        except BaseException as exc:
            raise _translate(exc, self._request) from None

    async def aclose(self) -> None:
        if self._response.content.at_eof():
            self._response.release()
        else:
            self._response.close()


@functools.lru_cache(maxsize=64)
def _timeout(connect: float, read: float) -> aiohttp.ClientTimeout:
    """One immutable timeout object per backend setting, not one per request.
    `connect` also bounds the DNS lookup and the wait for a pooled connection."""
    return aiohttp.ClientTimeout(total=None, connect=connect, sock_read=read)


def _translate(exc: BaseException, request: UpstreamRequest) -> BaseException:
    """The one place aiohttp's exceptions become ours. Others (cancellation) pass unchanged."""
    if isinstance(exc, UpstreamError):
        return exc
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return UpstreamTimeout(request.backend, f"no connection within {request.connect_timeout:g}s to {_origin(request)}")
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return UpstreamTimeout(request.backend, f"no response within {request.timeout:g}s from {_origin(request)}")
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return UpstreamUnreachable(request.backend, f"cannot resolve host of {_origin(request)}")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return UpstreamUnreachable(request.backend, f"cannot connect to {_origin(request)}: {exc.strerror or exc}")
    if isinstance(exc, (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError)):
        return UpstreamUnreachable(request.backend, f"{_origin(request)} closed the connection mid-response")
    if isinstance(exc, aiohttp.ClientError):
        return UpstreamUnreachable(request.backend, f"connection to {_origin(request)} failed: {type(exc).__name__}")
    return exc


def _origin(request: UpstreamRequest) -> str:
    scheme, _, rest = request.url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"
