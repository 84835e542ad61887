"""Stop working for a client that has gone away.

uvicorn drops writes to a closed connection silently, and nothing else tells a
handler that waits on an upstream; without this, an abandoned request would keep
its upstream generating (and billing) to the end.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import OrderedDict
from types import TracebackType

from src.core.asgi import Receive
from src.transports.alarm import CLOCK_STEP, Alarm

# A watcher is a task, and a task per request is a large share of the proxy's own cost; the
# work that ends sooner than this (most of it on a fast upstream) never needs one.
WATCH_AFTER = 0.05  # seconds


class ClientDisconnected(Exception):
    """The client closed the connection; nobody is left to answer."""


class Watchers:
    """Starts watching the blocks still running `after` seconds after they began, on one timer
    for all of them: a timer set and cancelled for each request cost 2-3 µs. The blocks are
    those of one event loop at a time, as a process serves on one."""

    def __init__(self, after: float = WATCH_AFTER) -> None:
        self._after = after
        # Each block with the time its watch is due; since all wait `after`, in the order they are due.
        self._due: OrderedDict[cancelled_on_disconnect, float] = OrderedDict()
        self._alarm: Alarm | None = None

    def add(self, block: cancelled_on_disconnect, loop: asyncio.AbstractEventLoop) -> None:
        self._due[block] = due = loop.time() + self._after
        if self._alarm is None or self._alarm.loop is not loop:  # a timer left on a closed loop never rings
            self._alarm = Alarm(loop, self._first_due, self._start_due)
        self._alarm.by(due)

    def discard(self, block: cancelled_on_disconnect) -> None:
        self._due.pop(block, None)

    def _first_due(self) -> float | None:
        return next(iter(self._due.values()), None)

    def _start_due(self) -> None:
        assert self._alarm is not None  # it is what rang
        now = self._alarm.loop.time()
        while self._due:
            block, due = next(iter(self._due.items()))
            if due - now > CLOCK_STEP:
                self._alarm.by(due)
                return
            del self._due[block]
            block.start()


class cancelled_on_disconnect:
    """Cancel the block when the client disconnects, noticed from the `watchers`' delay on.
    Use only once the request body has been read: every later message from `receive` is the disconnect.
    A plain `with`: nothing in entering or leaving waits."""

    __slots__ = ("_receive", "_watchers", "_task", "_context", "_watcher", "_gone")

    def __init__(self, receive: Receive, watchers: Watchers) -> None:
        self._receive = receive
        self._watchers = watchers
        self._watcher: asyncio.Future[None] | None = None
        self._gone = False

    def __enter__(self) -> None:
        task = asyncio.current_task()
        assert task is not None, "a request runs in a task"
        self._task, self._context = task, contextvars.copy_context()  # the watch runs in the request's
        self._watchers.add(self, task.get_loop())  # a look-up of the running loop costs a system call (getpid)

    def start(self) -> None:
        self._watcher = self._task.get_loop().create_task(self._watch(), context=self._context)

    async def _watch(self) -> None:
        while (await self._receive())["type"] != "http.disconnect":
            pass
        self._gone = True
        self._task.cancel()

    @property
    def gone(self) -> bool:
        """Whether the client has disconnected."""
        return self._gone

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._watchers.discard(self)
        # Let go of the watcher now: it refers back to this object, which holds the request's
        # task, and that cycle would otherwise wait for the cycle collector.
        if self._watcher is not None:
            self._watcher.cancel()
            self._watcher = None
        if kind is asyncio.CancelledError and self._gone:
            self._task.uncancel()
            raise ClientDisconnected from None
