"""A chat-completions stream translated, event by event, into Anthropic's Messages stream."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import orjson

from src.core.completion_stream import completion_as_events
from src.core.envelopes import anthropic_stream_error
from src.core.errors import UpstreamError, UpstreamProtocolError, UpstreamUnreachable
from src.core.streaming import EventSplitter, event_data, is_done, is_whole
from src.transports.base import UpstreamResponse
from src.translation.anthropic_stream import StreamTranslator

PING_INTERVAL = 10.0  # seconds of upstream silence before a `ping` keeps the client's connection warm


async def translated_events(
    upstream: UpstreamResponse,
    translator: StreamTranslator,
    backend: str,
    redact: Callable[[str], str],
    ping_interval: float = PING_INTERVAL,
) -> AsyncIterator[bytes]:
    splitter = EventSplitter()
    complete = False
    try:
        async for chunk in _with_pings(_chunks(upstream, backend), ping_interval):
            if chunk is None:
                yield translator.ping()
                continue
            out: list[bytes] = []
            for event in splitter.feed(chunk):
                complete = _translate(event, translator, out) or complete
            if out:
                yield b"".join(out)
        tail = splitter.flush()
        if tail and is_whole(tail):
            out = []
            complete = _translate(tail, translator, out) or complete
            yield b"".join(out)
    except UpstreamError as exc:
        yield anthropic_stream_error(exc, redact(exc.message))
        return
    if complete:
        yield b"".join(translator.finish())
    else:
        failure = UpstreamUnreachable(backend, "the stream ended before it was complete")
        yield anthropic_stream_error(failure, failure.message)


def _translate(event: bytes, translator: StreamTranslator, out: list[bytes]) -> bool:
    """Feeds one upstream event; True once the upstream said it is done."""
    if is_done(event):
        return True
    data = event_data(event)
    if not data:
        return False  # a comment: OpenRouter's keep-alive
    try:
        chunk = orjson.loads(data)
    except orjson.JSONDecodeError:
        return False
    out.extend(translator.feed(chunk))
    return False


async def _chunks(upstream: UpstreamResponse, backend: str) -> AsyncIterator[bytes]:
    """The upstream's bytes; a JSON answer to a streaming request is replayed as chunk events."""
    if upstream.headers.get("content-type", "").startswith("text/event-stream"):
        async for chunk in upstream.iter_chunks():
            yield chunk
        return
    payload = await upstream.read()
    try:
        replayed = completion_as_events(orjson.loads(payload))
    except orjson.JSONDecodeError:
        replayed = None
    if replayed is None:
        raise UpstreamProtocolError(backend, "answered a streaming request with neither a stream nor a chat completion")
    yield replayed


async def _with_pings(chunks: AsyncIterator[bytes], interval: float) -> AsyncIterator[bytes | None]:
    """The chunks, with a None after each `interval` of silence. The pending read is never
    cancelled by a ping, so no upstream bytes are lost."""
    iterator = aiter(chunks)
    pending: asyncio.Task[bytes] | None = None
    try:
        while True:
            pending = pending or asyncio.ensure_future(anext(iterator))
            done, _ = await asyncio.wait({pending}, timeout=interval)
            if not done:
                yield None
                continue
            try:
                chunk = pending.result()
            except StopAsyncIteration:
                return
            pending = None
            yield chunk
    finally:
        if pending is not None and not pending.done():
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
