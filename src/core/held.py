"""Upstream responses held back until they can no longer fail over.

A non-streaming answer is read whole before the client sees a byte. A stream is read
up to its first data event: until then the proxy may still quietly try another route,
and the client receives one clean stream from whichever route served it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field

import orjson

from src.backends.base import Backend
from src.core.envelopes import ANTHROPIC_STATUSES
from src.core.errors import UpstreamUnreachable
from src.core.streaming import EventSplitter, event_data, has_error, is_whole
from src.transports.base import UpstreamResponse

@dataclass
class BufferedResponse:
    """A whole upstream answer, read and checked."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    async def read(self) -> bytes:
        return self.body

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        yield self.body

    async def aclose(self) -> None:
        return None


@dataclass
class PrimedStream:
    """A stream whose first data event has arrived; replays what was read, then goes on."""

    upstream: UpstreamResponse
    read_so_far: list[bytes]
    rest: AsyncIterator[bytes]
    status: int = field(init=False)
    headers: Mapping[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.status, self.headers = self.upstream.status, self.upstream.headers

    async def read(self) -> bytes:
        return b"".join([*self.read_so_far, *[chunk async for chunk in self.rest]])

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        for chunk in self.read_so_far:
            yield chunk
        self.read_so_far = []
        async for chunk in self.rest:
            yield chunk

    async def aclose(self) -> None:
        close = getattr(self.rest, "aclose", None)
        if close is not None:
            await close()
        await self.upstream.aclose()


async def read_whole(upstream: UpstreamResponse, backend: Backend) -> BufferedResponse:
    """The whole answer; a 200 that carries only an error is that error."""
    body = await upstream.read()
    if b'"error"' in body:
        _raise_if_error(body, backend, upstream.headers)
    return BufferedResponse(upstream.status, upstream.headers, body)


async def first_event(upstream: UpstreamResponse, backend: Backend) -> UpstreamResponse:
    """The stream, once its first data event is in; an error or an end before it is raised."""
    if not upstream.headers.get("content-type", "").startswith("text/event-stream"):
        return upstream  # an upstream that ignored `stream`: its JSON is replayed later
    chunks = upstream.iter_chunks()
    splitter = EventSplitter()
    read: list[bytes] = []
    saw_data = False
    async for chunk in chunks:
        read.append(chunk)
        for event in splitter.feed(chunk):
            if _is_data(event):
                if has_error(event):
                    _raise_if_error(event_data(event), backend, upstream.headers)
                if carries_content(event):
                    return PrimedStream(upstream, read, chunks)
                saw_data = True
    tail = splitter.flush()
    if tail and is_whole(tail) and _is_data(tail):
        if has_error(tail):
            _raise_if_error(event_data(tail), backend, upstream.headers)
        return PrimedStream(upstream, read, chunks)
    if saw_data:
        return PrimedStream(upstream, read, chunks)  # a whole stream without content is still an answer
    raise UpstreamUnreachable(backend.name, "the stream ended before its first event")


# Keys of a chunk that say nothing yet: a role announcement or an empty delta is not content.
_NO_CONTENT = (None, "", [], {})
_PREAMBLE_EVENTS = (b"event: message_start", b"event: ping")


def carries_content(event: bytes) -> bool:
    """Whether passing `event` on would show the client something: text, reasoning, a tool call,
    a finish or usage. Until then failover stays invisible."""
    if event.startswith(_PREAMBLE_EVENTS):
        return False  # Anthropic's stream opens with these before any content block
    try:
        chunk = orjson.loads(event_data(event))
    except orjson.JSONDecodeError:
        return True  # [DONE], or something only the client can judge
    if not isinstance(chunk, dict) or "choices" not in chunk:
        return True
    if chunk.get("usage"):
        return True
    choices = chunk["choices"]
    if not isinstance(choices, list):
        return True
    for choice in choices:
        if not isinstance(choice, dict) or choice.get("finish_reason") is not None:
            return True
        delta = choice.get("delta")
        if not isinstance(delta, dict) or any(v not in _NO_CONTENT for k, v in delta.items() if k != "role"):
            return True
    return False


def _is_data(event: bytes) -> bool:
    return event.startswith(b"data:") or b"\ndata:" in event


def _raise_if_error(payload: bytes, backend: Backend, headers: Mapping[str, str]) -> None:
    """OpenRouter reports some failures inside a 200: a body or first event with a truthy `error`."""
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return
    if not isinstance(data, dict) or not data.get("error") or data.get("choices") and not _finished_by_error(data):
        return
    error = data["error"]
    code = error.get("code") if isinstance(error, dict) else None
    if code is None and isinstance(error, dict):
        code = ANTHROPIC_STATUSES.get(error.get("type"))  # type: ignore[arg-type]
    status = int(code) if isinstance(code, int) or (isinstance(code, str) and code.isdigit()) else 502
    raise backend.status_error(status if 400 <= status <= 599 else 502, payload, headers)


def _finished_by_error(data: dict) -> bool:  # type: ignore[type-arg]
    choices = data.get("choices")
    return isinstance(choices, list) and any(isinstance(c, dict) and c.get("finish_reason") == "error" for c in choices)
