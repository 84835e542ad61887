"""An upstream's accepted answer, in the protocol it speaks.

A stream is split into events here, where its bytes arrive, and only here: every later step
(the held first event, metering, translation, the hybrid backend, the relay) works on these
events. A whole answer to a streaming request is replayed as the events it stands for.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping

from src.transports.base import UpstreamResponse
from src.wire.errors import UpstreamProtocolError, UpstreamStatusError
from src.wire.protocol import InBandError, WireProtocol
from src.wire.sse import Event, EventSplitter, EventTooLarge

Failure = Callable[[InBandError, bytes, Mapping[str, str]], UpstreamStatusError]


class Answer:
    """What every answer offers; `status` is always a success (2xx)."""

    status: int
    headers: Mapping[str, str]  # looked up by lower-case name
    protocol: WireProtocol
    origin: str  # the backend that answered, named in errors

    @property
    def is_stream(self) -> bool:
        return self.headers.get("content-type", "").startswith("text/event-stream")

    async def read(self) -> bytes:
        """The whole body."""
        raise NotImplementedError

    def events(self) -> AsyncIterator[list[Event]]:
        """The stream's events, in batches as they arrived."""
        raise NotImplementedError

    def failure(self, error: InBandError, payload: bytes) -> UpstreamStatusError:
        """The failure an in-band error stands for, as the backend that answered describes it."""
        return UpstreamStatusError(self.origin, error.status, error.message, upstream_type=error.kind, code=error.code)

    def replayed(self, body: bytes) -> list[Event]:
        events = self.protocol.replay(body)
        if events is None:
            raise UpstreamProtocolError(self.origin, "answered a streaming request with neither a stream nor a chat completion")
        return events

    async def aclose(self) -> None:
        """Let the upstream go; a stream not read to its end is cut."""


class HttpAnswer(Answer):
    def __init__(
        self, response: UpstreamResponse, protocol: WireProtocol, origin: str, failure: Failure, max_event: int
    ) -> None:
        self._response = response
        self.status, self.headers = response.status, response.headers
        self.protocol, self.origin = protocol, origin
        self._failure = failure
        self._max_event = max_event

    async def read(self) -> bytes:
        return await self._response.read()

    async def events(self) -> AsyncIterator[list[Event]]:
        if not self.is_stream:
            yield self.replayed(await self.read())
            return
        splitter = EventSplitter(self._max_event)
        try:
            async for chunk in self._response.iter_chunks():
                events = splitter.feed(chunk)
                if events:
                    yield events
        except EventTooLarge as exc:
            raise UpstreamProtocolError(self.origin, f"{exc} (max_event_mb)") from None
        tail = splitter.flush()
        if tail is not None and tail.is_whole():
            yield [tail]  # a last event without its blank line; the first part of one is dropped

    def failure(self, error: InBandError, payload: bytes) -> UpstreamStatusError:
        return self._failure(error, payload, self.headers)

    async def aclose(self) -> None:
        await self._response.aclose()


class BufferedAnswer(Answer):
    """A whole answer, already read (and checked)."""

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes, protocol: WireProtocol, origin: str) -> None:
        self.status, self.headers, self.body = status, headers, body
        self.protocol, self.origin = protocol, origin

    @property
    def is_stream(self) -> bool:
        return False

    async def read(self) -> bytes:
        return self.body

    async def events(self) -> AsyncIterator[list[Event]]:
        yield self.replayed(self.body)
