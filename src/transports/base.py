"""The upstream transport: one method, a request in and a response out.

Implementations translate every exception of their HTTP library into
UpstreamUnreachable or UpstreamTimeout, here and nowhere else.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    method: str
    url: str
    headers: Mapping[str, str]
    backend: str  # named in error messages
    body: bytes | None = None
    timeout: float = 600.0  # longest wait for the next bytes from upstream
    connect_timeout: float = 10.0


class UpstreamResponse(Protocol):
    status: int
    headers: Mapping[str, str]  # looked up by lower-case name

    async def read(self) -> bytes:
        """The whole body; releases the connection."""

    def iter_chunks(self) -> AsyncIterator[bytes]:
        """Body bytes as they arrive, without waiting to fill a buffer."""

    async def aclose(self) -> None:
        """Release the connection; abort it if the body was not read to the end."""


class Transport(Protocol):
    async def send(self, request: UpstreamRequest) -> UpstreamResponse:
        """Send the request and return once the status line and headers have arrived."""

    async def aclose(self) -> None: ...
