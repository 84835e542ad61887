"""The last step of every stream: a failure never looks like an end.

Events are passed on as they come. A stream that breaks, or ends without the client
protocol's last event, is ended with that protocol's error event, exactly once.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from src.wire.errors import UpstreamError, UpstreamUnreachable
from src.wire.protocol import WireProtocol, error_in
from src.wire.sse import Event


async def relay(batches: AsyncIterator[list[Event]], protocol: WireProtocol, origin: str) -> AsyncIterator[list[Event]]:
    finished = False
    try:
        async with contextlib.aclosing(batches):  # type: ignore[type-var]
            async for batch in batches:
                if not finished:
                    finished = any(protocol.is_last(event) or error_in(event, protocol) for event in batch)
                yield batch
    except UpstreamError as exc:
        if not finished:
            yield [protocol.error_event(exc, exc.message)]
        return
    if not finished:
        failure = UpstreamUnreachable(origin, "the stream ended before it was complete")
        yield [protocol.error_event(failure, failure.message)]
