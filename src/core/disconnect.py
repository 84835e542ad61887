"""Stop working for a client that has gone away.

uvicorn drops writes to a closed connection silently, and nothing else tells a
handler that waits on an upstream; without this, an abandoned request would keep
its upstream generating (and billing) to the end.
"""

from __future__ import annotations

import asyncio
from types import TracebackType

from src.core.asgi import Receive

# A watcher is a task, and a task per request is a large share of the proxy's own cost; the
# work that ends sooner than this (most of it on a fast upstream) never needs one.
WATCH_AFTER = 0.05  # seconds


class ClientDisconnected(Exception):
    """The client closed the connection; nobody is left to answer."""


class cancelled_on_disconnect:
    """Cancel the block when the client disconnects, noticed from `watch_after` seconds on.
    Use only once the request body has been read: every later message from `receive` is the disconnect."""

    __slots__ = ("_receive", "_watch_after", "_task", "_timer", "_watcher", "_gone")

    def __init__(self, receive: Receive, watch_after: float = WATCH_AFTER) -> None:
        self._receive = receive
        self._watch_after = watch_after
        self._watcher: asyncio.Future[None] | None = None
        self._gone = False

    async def __aenter__(self) -> None:
        self._task = asyncio.current_task()
        self._timer = asyncio.get_running_loop().call_later(self._watch_after, self._start)

    def _start(self) -> None:
        self._watcher = asyncio.ensure_future(self._watch())

    async def _watch(self) -> None:
        while (await self._receive())["type"] != "http.disconnect":
            pass
        self._gone = True
        if self._task is not None:
            self._task.cancel()

    @property
    def gone(self) -> bool:
        """Whether the client has disconnected."""
        return self._gone

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._timer.cancel()
        # Let go of the timer and the watcher now: each refers back to this object, which holds
        # the request's task, and that cycle would otherwise wait for the cycle collector.
        self._timer = None  # type: ignore[assignment]
        if self._watcher is not None:
            self._watcher.cancel()
            self._watcher = None
        if kind is asyncio.CancelledError and self._gone and self._task is not None:
            self._task.uncancel()
            raise ClientDisconnected from None
