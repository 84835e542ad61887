"""Fakes served on 127.0.0.1 from a thread of their own: the upstreams (and the forward proxy) that
tests driving the proxy with synchronous SDKs start once and share.

`shared(name, make)` gives a test module two fixtures: `<name>_server`, started once for the module,
and `<name>`, the same server reset for each test:

    hostile_server, hostile = shared("hostile", HostileUpstream)
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Any, Literal, Protocol, Self, TypeVar

import pytest
from aiohttp import web


class InThread:
    """Serves from a thread of its own: `start` returns once `__aenter__` has run in that thread's
    loop, `stop` ends the loop after `__aexit__`."""

    async def __aenter__(self) -> Self:
        raise NotImplementedError

    async def __aexit__(self, *_: object) -> None:
        raise NotImplementedError

    def start(self) -> Self:
        ready = threading.Event()
        # asyncio.run cancels the handlers still sleeping (stalls) before it closes the loop.
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve(ready)), daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError(f"{type(self).__name__} did not start")
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    async def _serve(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with self:
            ready.set()
            await self._stop.wait()


class ThreadedServer(InThread):
    """A base for the fakes: `routes` adds the handlers; `port` (0: any free one) is set once started."""

    host = "127.0.0.1"
    port: int

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        app = web.Application()
        self.routes(app)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._runner.cleanup()


class Resettable(Protocol):
    def start(self) -> object: ...

    def stop(self) -> None: ...

    def reset(self) -> None: ...


S = TypeVar("S", bound=Resettable)


def shared(name: str, make: Callable[[], S], scope: Literal["module", "session"] = "module") -> tuple[Any, Any]:
    """The fixtures `<name>_server` (`make()` started, for the whole `scope`) and `<name>` (it, reset)."""

    @pytest.fixture(scope=scope, name=f"{name}_server")
    def server() -> Iterator[S]:
        running = make()
        running.start()
        yield running
        running.stop()

    @pytest.fixture(name=name)
    def fresh(request: pytest.FixtureRequest) -> S:
        running: S = request.getfixturevalue(f"{name}_server")
        running.reset()
        return running

    return server, fresh
