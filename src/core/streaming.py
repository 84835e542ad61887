"""Server-sent events: relay an upstream stream event by event, and never let a failure look like an end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import orjson
from starlette.types import Receive, Scope, Send

from src.core.errors import ProxyError, UpstreamError, UpstreamUnreachable
from src.transports.base import UpstreamResponse

ErrorEvent = Callable[[ProxyError], bytes]
SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


class EventSplitter:
    """Cuts a byte stream into whole SSE events, each ending in a blank line."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        buffer = self._buffer + chunk
        if b"\r" in buffer:
            buffer = buffer.replace(b"\r\n", b"\n")
        events = []
        start = 0
        while (end := buffer.find(b"\n\n", start)) != -1:
            events.append(buffer[start : end + 2])
            start = end + 2
        self._buffer = buffer[start:]
        return events

    def flush(self) -> bytes:
        """What is left after the stream ended, completed into an event."""
        tail, self._buffer = self._buffer.strip(b"\n"), b""
        return tail + b"\n\n" if tail else b""


def ends_stream(event: bytes) -> bool:
    """True for `data: [DONE]` and for an event carrying an error (OpenRouter's mid-stream form)."""
    if b"[DONE]" in event and _data(event).strip() == b"[DONE]":
        return True
    return b'"error"' in event and _has_error(event)


def _data(event: bytes) -> bytes:
    return b"\n".join(line[5:].lstrip() for line in event.split(b"\n") if line.startswith(b"data:"))


def _has_error(event: bytes) -> bool:
    try:
        payload = orjson.loads(_data(event))
    except orjson.JSONDecodeError:
        return False
    return isinstance(payload, dict) and bool(payload.get("error"))


async def relay_events(upstream: UpstreamResponse, backend: str, error_event: ErrorEvent) -> AsyncIterator[bytes]:
    """Forward whole events as they arrive; end a broken or truncated stream with an error event."""
    splitter = EventSplitter()
    finished = False
    try:
        async for chunk in upstream.iter_chunks():
            events = splitter.feed(chunk)
            if events:
                finished = finished or any(map(ends_stream, events))
                yield b"".join(events)
        tail = splitter.flush()
        if tail:
            finished = finished or ends_stream(tail)
            yield tail
    except UpstreamError as exc:
        if not finished:
            yield error_event(exc)
        return
    if not finished:
        yield error_event(UpstreamUnreachable(backend, "the stream ended before it was complete"))


class EventStreamResponse:
    """Streams events to the client; stops the upstream as soon as the client goes away."""

    def __init__(self, events: AsyncIterator[bytes], on_close: Callable[[], Awaitable[None]], headers: dict[str, str]):
        self._events = events
        self._on_close = on_close
        self._headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in {**SSE_HEADERS, **headers}.items()]
        self._complete = False
        self._client_gone = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"text/event-stream; charset=utf-8"), *self._headers]
        task = asyncio.current_task()
        watcher = asyncio.ensure_future(self._cancel_on_disconnect(receive, task))
        try:
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            async for chunk in self._events:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            self._complete = True
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except asyncio.CancelledError:
            if not self._client_gone:
                raise
            task.uncancel()  # type: ignore[union-attr]
        finally:
            watcher.cancel()
            await self._close()

    async def _close(self) -> None:
        close = getattr(self._events, "aclose", None)
        if close is not None:
            await close()
        await self._on_close()

    async def _cancel_on_disconnect(self, receive: Receive, task: asyncio.Task | None) -> None:
        # uvicorn drops writes to a closed connection silently, so without this the upstream
        # would keep generating (and billing) until the stream ended on its own.
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                if not self._complete and task is not None:
                    self._client_gone = True
                    task.cancel()
                return
