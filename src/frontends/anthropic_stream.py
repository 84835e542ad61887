"""The translation step of a Messages stream served by a chat-completions route: chat chunk
events in, Anthropic events out, with a `ping` after each PING_INTERVAL of upstream silence."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from src.translation.anthropic_stream import StreamTranslator
from src.wire.openai_chat import is_done
from src.wire.sse import Event

PING_INTERVAL = 10.0  # seconds of upstream silence before a `ping` keeps the client's connection warm


async def translated(
    batches: AsyncIterator[list[Event]], translator: StreamTranslator, ping_interval: float = PING_INTERVAL
) -> AsyncIterator[list[Event]]:
    """Ends with message_stop once the upstream said [DONE], with one error event if it reported a
    failure, and with nothing otherwise: the relay then ends the stream with an error event."""
    # Closed inner first: the pinging reader cancels its read in flight before its source is closed.
    async with contextlib.aclosing(batches), contextlib.aclosing(_with_pings(batches, ping_interval)) as pinged:  # type: ignore[type-var]
        async for batch in pinged:
            if batch is None:
                yield [Event(translator.ping())]
                continue
            out: list[bytes] = []
            for event in batch:
                if is_done(event):
                    out.extend(translator.finish())
                elif isinstance(payload := event.payload, dict):
                    out.extend(translator.feed(payload))
            if out:
                yield [Event(raw) for raw in out]


async def _with_pings(batches: AsyncIterator[list[Event]], interval: float) -> AsyncIterator[list[Event] | None]:
    """The batches, with a None after each `interval` of silence. The pending read is never
    cancelled by a ping, so no upstream bytes are lost."""
    iterator = aiter(batches)
    pending: asyncio.Task[list[Event]] | None = None
    try:
        while True:
            pending = pending or asyncio.ensure_future(anext(iterator))
            done, _ = await asyncio.wait({pending}, timeout=interval)
            if not done:
                yield None
                continue
            try:
                batch = pending.result()
            except StopAsyncIteration:
                return
            pending = None
            yield batch
    finally:
        if pending is not None and not pending.done():
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
