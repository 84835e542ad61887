"""A minimal HTTP/1.1 keep-alive client on a raw asyncio Protocol, for the load generator.

Much cheaper per request than aiohttp's client, so the driver disturbs the measured processes
less. It knows Content-Length, chunked and read-until-close bodies; a streamed body is cut into
SSE events (`data:` ones, and named ones: `event: ...` then `data:`; comments are left out), each
stamped with the time of the read that completed it, and a read that completes more than one
event is counted (`coalesced`): chunks that did not arrive separately.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from time import perf_counter

LENGTH, CHUNKED, UNTIL_CLOSE = 1, 2, 3


def request_bytes(port: int, body: bytes, key: str | None, path: str = "/v1/chat/completions") -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Content-Type: application/json",
             f"Content-Length: {len(body)}"]
    if key:
        lines.append(f"Authorization: Bearer {key}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Response:
    """One answer as it arrives: status, body (or SSE events with arrival times) and its framing state."""

    __slots__ = ("status", "head", "body", "events", "coalesced", "mode", "left", "buffer", "pending", "on_first",
                 "done", "ended")

    def __init__(self, stream: bool, on_first: Callable[[], None] | None = None) -> None:
        self.status = 0
        self.head = b""  # the status line and header fields, as received
        self.body = bytearray()
        self.events: list[tuple[float, bytes]] | None = [] if stream else None
        self.coalesced = 0
        self.mode = 0
        self.left = -1  # bytes left in the current chunk / body; -1: at a chunk-size line
        self.buffer = bytearray()
        self.pending = bytearray()
        self.on_first = on_first
        self.done = False
        self.ended = 0.0  # perf_counter() of the read that completed it

    def feed(self, data: bytes, now: float) -> bool:
        """Take one read; True once the response is complete."""
        events = self.events
        before = len(events) if events is not None else 0
        self._feed(data, now)
        if events is not None and len(events) - before > 1:
            self.coalesced += 1
        return self.done

    def _feed(self, data: bytes, now: float) -> None:
        if not self.mode:
            self.buffer += data
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            self.head = bytes(self.buffer[:end])
            head = self.head.lower()
            data = bytes(self.buffer[end + 4 :])
            self.buffer = bytearray()
            self.status = int(head[9:12])
            at = head.find(b"\r\ncontent-length:")
            if b"\r\ntransfer-encoding: chunked" in head:
                self.mode = CHUNKED
            elif at >= 0:
                stop = head.find(b"\r\n", at + 2)
                self.mode, self.left = LENGTH, int(head[at + 17 : stop if stop >= 0 else len(head)])
            else:
                self.mode = UNTIL_CLOSE
        if self.mode == LENGTH:
            self._payload(data[: self.left], now)
            self.left -= len(data)
            self.done = self.left <= 0
        elif self.mode == CHUNKED:
            self.done = self._chunked(data, now)
        else:
            self._payload(data, now)

    def _chunked(self, data: bytes, now: float) -> bool:
        buffer = self.buffer
        buffer += data
        while True:
            if self.left == -1:  # a chunk-size line
                line_end = buffer.find(b"\r\n")
                if line_end < 0:
                    return False
                size = int(bytes(buffer[:line_end]).split(b";")[0], 16)
                del buffer[: line_end + 2]
                self.left = size if size else -2
            if self.left == -2:  # the last chunk: an empty trailer section ends the body
                return buffer.find(b"\r\n") >= 0
            take = min(self.left, len(buffer))
            if take:
                self._payload(bytes(buffer[:take]), now)
                del buffer[:take]
                self.left -= take
            if self.left or len(buffer) < 2:  # left == 0: waiting for that chunk's CRLF
                return False
            del buffer[:2]  # the CRLF after the chunk data
            self.left = -1

    def _payload(self, data: bytes, now: float) -> None:
        if self.events is None:
            self.body += data
            return
        pending = self.pending
        pending += data.replace(b"\r\n", b"\n") if b"\r" in data else data
        while (end := pending.find(b"\n\n")) >= 0:
            event = bytes(pending[: end + 2])
            del pending[: end + 2]
            if event.startswith((b"data:", b"event:")):  # not a comment
                if not self.events and self.on_first is not None:
                    self.on_first()
                self.events.append((now, event))


class Connection(asyncio.Protocol):
    """One keep-alive connection; `send` writes a request and resolves with its Response."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.response: Response | None = None
        self.waiter: asyncio.Future[Response] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self.transport = transport
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, request: bytes, stream: bool = False, on_first: Callable[[], None] | None = None
             ) -> asyncio.Future[Response]:
        self.response = Response(stream, on_first)
        self.waiter = asyncio.get_running_loop().create_future()
        if self.closed:
            self.waiter.set_exception(ConnectionError("connection closed"))
        else:
            self.transport.write(request)  # type: ignore[union-attr]
        return self.waiter

    def data_received(self, data: bytes) -> None:
        response = self.response
        now = perf_counter()
        if response is not None and response.feed(data, now):
            response.ended = now
            self.response = None
            self.waiter.set_result(response)  # type: ignore[union-attr]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        waiter, response = self.waiter, self.response
        if waiter is not None and not waiter.done():
            if response is not None and response.mode == UNTIL_CLOSE:
                response.ended = perf_counter()
                waiter.set_result(response)
            else:
                waiter.set_exception(ConnectionError("connection closed mid-response"))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def connect(port: int) -> Connection:
    _, protocol = await asyncio.get_running_loop().create_connection(Connection, "127.0.0.1", port)
    return protocol
