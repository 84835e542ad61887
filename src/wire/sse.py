"""Server-sent events: the one event type, and the one splitter that cuts a byte stream into them.

An upstream stream is split where it arrives (`src.backends.answer`); every later step (the
held first event, metering, translation, the hybrid backend, the relay, redaction) works on
these events and never splits or parses the stream again: an event's JSON is parsed at most
once, on first use, and kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import orjson

from src.wire.json_body import dumps, upstream_json

SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
MAX_EVENT = 16 * 1024 * 1024  # bytes of one event; none of an LLM stream's comes near it
NOT_JSON: object = type("NotJson", (), {"__repr__": lambda self: "NOT_JSON", "__bool__": lambda self: False})()
_UNPARSED = object()


class EventTooLarge(Exception):
    """An event grew past the splitter's limit without ending."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"a stream event is larger than {limit / 1048576:g} MiB")
        self.limit = limit


class Event:
    """One SSE event as it travelled (LF line endings, ending in a blank line), parsed on demand."""

    __slots__ = ("raw", "_payload")

    def __init__(self, raw: bytes, payload: object = _UNPARSED) -> None:
        self.raw = raw
        self._payload = payload

    @classmethod
    def of(cls, payload: object, name: str | None = None) -> Event:
        """An event carrying `payload` as JSON, under an `event:` name when the protocol wants one."""
        data = b"data: " + dumps(payload) + b"\n\n"  # a lone surrogate the client sent, too
        return cls(b"event: " + name.encode() + b"\n" + data if name else data, payload)

    @property
    def data(self) -> bytes:
        """The `data:` lines' values, joined by LF."""
        raw = self.raw
        if raw.startswith(b"data:") and raw.find(b"\n") == len(raw) - 2:
            return raw[5:-2].lstrip()  # the usual event: one data line
        return b"\n".join(line[5:].lstrip() for line in raw.split(b"\n") if line.startswith(b"data:"))

    @property
    def payload(self) -> object:
        """The data as JSON, parsed once; NOT_JSON when it is none (a comment, `[DONE]`, a fragment)."""
        if self._payload is _UNPARSED:
            try:
                self._payload = upstream_json(self.data)
            except orjson.JSONDecodeError:
                self._payload = NOT_JSON
        return self._payload

    @property
    def name(self) -> bytes | None:
        """The `event:` field, when the event has one."""
        if not self.raw.startswith(b"event:") and b"\nevent:" not in self.raw:
            return None
        for line in self.raw.split(b"\n"):
            if line.startswith(b"event:"):
                return line[6:].strip()
        return None  # pragma: no cover - found above

    @property
    def is_comment(self) -> bool:
        """A keep-alive such as OpenRouter's `: OPENROUTER PROCESSING`: nothing but comment lines."""
        return self.raw.startswith(b":") and not self.data and self.name is None

    def is_whole(self) -> bool:
        """Whether an event left at the end of a stream is complete, not the first part of one."""
        data = self.data.strip()
        if not data:
            return self.raw.startswith(b":")
        return data == b"[DONE]" or self.payload is not NOT_JSON

    def __repr__(self) -> str:
        return f"Event({self.raw!r})"


@dataclass(slots=True)
class Sent:
    """The first and the last event (not a comment) a client has been sent: what a protocol's closing
    error event may need to continue the stream it ends (the Responses API numbers its events)."""

    first: Event | None = None
    last: Event | None = None

    def add(self, batch: list[Event]) -> None:
        if batch and self.first is None:
            self.first = batch[0]
        for event in reversed(batch):
            if not event.raw.startswith(b":"):
                self.last = event
                return


class EventSplitter:
    """Cuts a byte stream into whole events, each ending in a blank line.

    Line endings are normalised to LF (SSE allows CR, LF and CRLF). Each chunk is scanned
    once, so a huge event arriving in many small chunks costs linear time; an event that
    grows past `limit` bytes without ending raises EventTooLarge.
    """

    __slots__ = ("_buffer", "_after_cr", "_limit")

    def __init__(self, limit: int = MAX_EVENT) -> None:
        self._buffer = bytearray()
        self._after_cr = False
        self._limit = limit

    def feed(self, chunk: bytes) -> list[Event]:
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
            events.append(Event(bytes(data[start : end + 2])))
            start = scan = end + 2
        if data is self._buffer:
            del self._buffer[:start]
        elif start < len(data):
            self._buffer = bytearray(data[start:])
        if len(self._buffer) > self._limit:
            raise EventTooLarge(self._limit)
        return events

    def _normalise(self, chunk: bytes) -> bytes:
        if self._after_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]  # the LF of a CRLF whose CR ended the previous chunk
        self._after_cr = chunk.endswith(b"\r")
        return chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")

    def flush(self) -> Event | None:
        """What is left after the stream ended, completed into an event (whole or not: ask it)."""
        tail = bytes(self._buffer).strip(b"\n")
        self._buffer = bytearray()
        return Event(tail + b"\n\n") if tail else None


def joined(events: Iterable[Event]) -> bytes:
    return b"".join([event.raw for event in events])
