"""Stop working for a client that has gone away.

uvicorn drops writes to a closed connection silently, and nothing else tells a
handler that waits on an upstream; without this, an abandoned request would keep
its upstream generating (and billing) to the end.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.types import Receive


class ClientDisconnected(Exception):
    """The client closed the connection; nobody is left to answer."""


@asynccontextmanager
async def cancelled_on_disconnect(receive: Receive) -> AsyncIterator[None]:
    """Cancel the block when the client disconnects. Use only once the request body has been read,
    since every later message from `receive` is the disconnect."""
    task = asyncio.current_task()
    gone = asyncio.Event()

    async def watch() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        gone.set()
        if task is not None:
            task.cancel()

    watcher = asyncio.ensure_future(watch())
    try:
        yield
    except asyncio.CancelledError:
        if not gone.is_set() or task is None:
            raise
        task.uncancel()
        raise ClientDisconnected from None
    finally:
        watcher.cancel()
