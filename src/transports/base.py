"""The upstream transport: one method, a request in and a response out.

Implementations translate every exception of their HTTP library into
UpstreamUnreachable or UpstreamTimeout (UpstreamProtocolError for an answer they will not
pass on: too large, or in a coding they cannot decode), here and nowhere else.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Protocol


@dataclass(slots=True)  # not frozen: made for every attempt, where frozen costs twice as much
class UpstreamRequest:
    method: str
    url: str
    headers: Mapping[str, str]
    backend: str  # named in error messages
    body: bytes | None = None
    timeout: float = 600.0  # longest wait for the next bytes from upstream
    connect_timeout: float = 10.0
    max_body: int = 64 * 1024 * 1024  # bytes a whole read may return, after decoding (max_response_mb)
    proxy: str | None = None  # http://[user:password@]host:port of a forward proxy to go through
    ca_bundle: str | None = None  # PEM file of certificate authorities trusted beside the system's


class UpstreamResponse(Protocol):
    @property
    def status(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]:
        """Looked up by lower-case name."""

    async def read(self) -> bytes:
        """The whole body, decoded; releases the connection. Past the request's max_body, UpstreamProtocolError."""

    def iter_chunks(self) -> AsyncIterator[bytes]:
        """Body bytes as they arrive, decoded, without waiting to fill a buffer; not capped in total."""

    async def aclose(self) -> None:
        """Release the connection; abort it if the body was not read to the end."""


class Transport(Protocol):
    async def send(self, request: UpstreamRequest) -> UpstreamResponse:
        """Send the request and return once the status line and headers have arrived."""

    async def aclose(self) -> None: ...
