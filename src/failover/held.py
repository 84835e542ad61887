"""Answers held back until they can no longer fail over.

A whole answer is read before the client sees a byte. A stream is read up to its first event
that shows the client something: until then the proxy may still quietly try another route,
and the client receives one clean stream from whichever route served it. A whole answer to a
streaming request is read, checked and replayed as the stream it stands for.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson

from src.backends.answer import Answer, BufferedAnswer
from src.wire.errors import UpstreamUnreachable
from src.wire.json_body import upstream_json
from src.wire.protocol import error_in
from src.wire.sse import Event


class PrimedAnswer(Answer):
    """A stream whose first events are in: replays what was read, then goes on."""

    def __init__(self, inner: Answer, read: list[list[Event]], rest: AsyncIterator[list[Event]] | None) -> None:
        self._inner, self._read, self._rest = inner, read, rest
        self.status, self.headers = inner.status, inner.headers
        self.protocol, self.origin = inner.protocol, inner.origin

    @property
    def is_stream(self) -> bool:
        return True

    async def events(self) -> AsyncIterator[list[Event]]:
        read, self._read = self._read, []
        for batch in read:
            yield batch
        if self._rest is not None:
            async for batch in self._rest:
                yield batch

    async def aclose(self) -> None:
        if self._rest is not None:
            await _close(self._rest)
        await self._inner.aclose()


async def read_whole(answer: Answer) -> BufferedAnswer:
    """The whole answer; a 200 that carries only an error is that error."""
    body = await answer.read()
    if b'"error"' in body:
        try:
            payload = upstream_json(body)
        except orjson.JSONDecodeError:
            payload = None
        error = answer.protocol.in_band_error(payload)
        if error is not None:
            raise answer.failure(error, body)
    return BufferedAnswer(answer.status, answer.headers, body, answer.protocol, answer.origin)


async def first_event(answer: Answer) -> Answer:
    """The stream, once an event that shows the client something is in; an error or an end before it is raised."""
    if not answer.is_stream:
        whole = await read_whole(answer)  # an upstream that ignored `stream`: checked, then replayed
        return PrimedAnswer(whole, [whole.replayed(whole.body)], None)
    batches = answer.events()
    read: list[list[Event]] = []
    saw_data = False
    try:
        async for batch in batches:
            read.append(batch)
            for event in batch:
                if not event.data:
                    continue  # a comment (a keep-alive), or an event with nothing in it
                error = error_in(event, answer.protocol)
                if error is not None:
                    raise answer.failure(error, event.data)
                if answer.protocol.carries_content(event):
                    return PrimedAnswer(answer, read, batches)
                saw_data = True
    except BaseException:
        await _close(batches)
        raise
    if saw_data:
        return PrimedAnswer(answer, read, batches)  # a whole stream without content is still an answer
    raise UpstreamUnreachable(answer.origin, "the stream ended before its first event")


async def _close(batches: AsyncIterator[list[Event]]) -> None:
    close = getattr(batches, "aclose", None)
    if close is not None:
        await close()
