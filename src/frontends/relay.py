"""The last step of every stream: a failure never looks like an end.

Events are passed on as they come. A stream that breaks, or ends without the client
protocol's last event, is ended with that protocol's error event, exactly once.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import orjson

from src.wire.errors import UpstreamError, UpstreamStatusError, UpstreamUnreachable
from src.wire.protocol import WireProtocol, error_in, meaningful
from src.wire.sse import Event, Sent


async def relay(batches: AsyncIterator[list[Event]], protocol: WireProtocol, origin: str) -> AsyncIterator[list[Event]]:
    finished, sent = False, Sent()
    try:
        async with contextlib.aclosing(batches):  # type: ignore[type-var]
            async for batch in batches:
                if not finished:
                    finished = any(protocol.is_last(event) or error_in(event, protocol) for event in batch)
                batch = [event if b'"error"' not in event.raw else _readable(event, protocol, origin) for event in batch]
                sent.add(batch)
                yield batch
    except UpstreamError as exc:
        if not finished:
            yield [protocol.error_event(exc, exc.message, sent)]
        return
    if not finished:
        failure = UpstreamUnreachable(origin, "the stream ended before it was complete")
        yield [protocol.error_event(failure, failure.message, sent)]


def _readable(event: Event, protocol: WireProtocol, origin: str) -> Event:
    """An event that mentions `error`, as a client's SDK can read it: without an empty `error` object
    (some routes put `{"code": null, "message": ""}` on successful chunks, and the OpenAI SDK raises
    on any), and an error event a JSON parser cannot read (a number of thousands of digits) as the
    protocol's own error event carrying the same failure."""
    payload = event.payload
    failure = protocol.in_band_error(payload)
    if failure is None:
        if isinstance(payload, dict) and "error" in payload and not meaningful(payload["error"]):
            name = event.name
            return Event.of({k: v for k, v in payload.items() if k != "error"}, name.decode() if name else None)
        return event
    try:
        orjson.loads(event.data)
    except orjson.JSONDecodeError:
        error = UpstreamStatusError(origin, failure.status, failure.message, code=failure.code)
        return protocol.error_event(error, error.message)
    return event
