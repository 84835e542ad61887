"""Server-sent events: relay an upstream stream event by event, and never let a failure look like an end."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import orjson
from starlette.types import Receive, Scope, Send

from src.core.disconnect import ClientDisconnected, cancelled_on_disconnect
from src.core.errors import InternalError, ProxyError, UpstreamError, UpstreamUnreachable
from src.transports.base import UpstreamResponse

log = logging.getLogger("switchyard.stream")
ErrorEvent = Callable[[ProxyError], bytes]
SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


class EventSplitter:
    """Cuts a byte stream into whole SSE events, each ending in a blank line.

    Line endings are normalised to LF (SSE allows CR, LF and CRLF). Each chunk is
    scanned once, so a huge event arriving in many small chunks costs linear time.
    """

    __slots__ = ("_buffer", "_after_cr")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._after_cr = False

    def feed(self, chunk: bytes) -> list[bytes]:
        if not chunk:
            return []
        if self._after_cr or b"\r" in chunk:
            chunk = self._normalise(chunk)
        if self._buffer:
            scan = len(self._buffer) - 1  # a boundary may straddle the old tail and the new chunk
            self._buffer += chunk
            data: bytes | bytearray = self._buffer
        else:
            scan, data = 0, chunk
        events = []
        start = 0
        while (end := data.find(b"\n\n", scan)) != -1:
            events.append(bytes(data[start : end + 2]))
            start = scan = end + 2
        if data is self._buffer:
            del self._buffer[:start]
        elif start < len(data):
            self._buffer = bytearray(data[start:])
        return events

    def _normalise(self, chunk: bytes) -> bytes:
        if self._after_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]  # the LF of a CRLF whose CR ended the previous chunk
        self._after_cr = chunk.endswith(b"\r")
        return chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")

    def flush(self) -> bytes:
        """What is left after the stream ended, completed into an event."""
        tail = bytes(self._buffer).strip(b"\n")
        self._buffer = bytearray()
        return tail + b"\n\n" if tail else b""


def ends_stream(event: bytes) -> bool:
    """True for `data: [DONE]` and for an event carrying an error (OpenRouter's mid-stream form)."""
    return is_done(event) or has_error(event)


def is_done(event: bytes) -> bool:
    return b"[DONE]" in event and event_data(event).strip() == b"[DONE]"


def has_error(event: bytes) -> bool:
    return b'"error"' in event and _has_error(event)


def event_data(event: bytes) -> bytes:
    return b"\n".join(line[5:].lstrip() for line in event.split(b"\n") if line.startswith(b"data:"))


_NOT_JSON = object()


def _payload(data: bytes) -> object:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return _NOT_JSON


def _has_error(event: bytes) -> bool:
    payload = _payload(event_data(event))
    return isinstance(payload, dict) and bool(payload.get("error"))


def is_whole(event: bytes) -> bool:
    """Whether an event left over at the end of a stream is complete, not the first half of one."""
    data = event_data(event).strip()
    if not data:
        return event.startswith(b":")
    return data == b"[DONE]" or _payload(data) is not _NOT_JSON


async def relay_events(
    upstream: UpstreamResponse,
    backend: str,
    error_event: ErrorEvent,
    redact: Callable[[str], str],
    is_last: Callable[[bytes], bool] = is_done,
) -> AsyncIterator[bytes]:
    """Forward whole events as they arrive; end a broken or truncated stream with an error event.

    `redact` masks the upstream's keys in the error events it sends, which can quote them.
    `is_last` recognises the event a complete stream ends with (`data: [DONE]` by default).
    """
    splitter = EventSplitter()
    finished = False
    try:
        async for chunk in upstream.iter_chunks():
            events = splitter.feed(chunk)
            if events:
                batch = b"".join(events)
                if any(map(has_error, events)):
                    finished = True
                    batch = _redacted(batch, redact)
                finished = finished or any(map(is_last, events))
                yield batch
        tail = splitter.flush()
        if tail and is_whole(tail):
            errored = has_error(tail)
            finished = finished or errored or is_last(tail)
            yield _redacted(tail, redact) if errored else tail
    except UpstreamError as exc:
        if not finished:
            yield error_event(exc)
        return
    if not finished:
        yield error_event(UpstreamUnreachable(backend, "the stream ended before it was complete"))


def is_message_stop(event: bytes) -> bool:
    """The end of an Anthropic Messages stream."""
    if b"message_stop" not in event:
        return False  # the usual case, decided without copying the event
    return event.startswith(b"event: message_stop") or b'"type":"message_stop"' in event.replace(b" ", b"")


def _redacted(batch: bytes, redact: Callable[[str], str]) -> bytes:
    return redact(batch.decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape")


class EventStreamResponse:
    """Streams events to the client; stops the upstream as soon as the client goes away."""

    def __init__(
        self,
        events: AsyncIterator[bytes],
        on_close: Callable[[], Awaitable[None]],
        headers: dict[str, str],
        error_event: ErrorEvent,
    ) -> None:
        self._events = events
        self._on_close = on_close
        self._headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in {**SSE_HEADERS, **headers}.items()]
        self._error_event = error_event

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"text/event-stream; charset=utf-8"), *self._headers]
        try:
            async with cancelled_on_disconnect(receive):
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                await self._send_events(send)
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except ClientDisconnected:
            log.debug("client disconnected mid-stream; upstream closed")
        finally:
            await self._close()

    async def _send_events(self, send: Send) -> None:
        try:
            async for chunk in self._events:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except Exception:
            # The status line is gone already: a bug here can only end the stream, as an error event.
            log.exception("stream failed")
            await send({"type": "http.response.body", "body": self._error_event(InternalError()), "more_body": True})

    async def _close(self) -> None:
        close = getattr(self._events, "aclose", None)
        if close is not None:
            await close()
        await self._on_close()
