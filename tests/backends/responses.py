"""Shared by the backend and failover tests: a transport response whose body arrives in given chunks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

SSE = {"content-type": "text/event-stream; charset=utf-8"}
JSON = {"content-type": "application/json"}


class FakeResponse:
    """What a transport returns: status, headers, read(), iter_chunks(), aclose()."""

    def __init__(self, chunks: list[bytes], headers: Mapping[str, str] = SSE, status: int = 200) -> None:
        self.status = status
        self.headers = dict(headers)
        self.chunks = chunks
        self.served = 0  # chunks handed out so far
        self.closed = False

    async def read(self) -> bytes:
        return b"".join(self.chunks)

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            self.served += 1
            yield chunk

    async def aclose(self) -> None:
        self.closed = True
