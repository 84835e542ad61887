"""One keep-alive HTTP/1.1 client connection: an asyncio protocol fed to httptools (llhttp).

It carries one exchange at a time. The response's head resolves a future; body chunks queue
up until the reader takes them, and past HIGH_WATER bytes the socket stops being read, so a
slow client slows its upstream instead of filling memory. Failures are recorded as the
private exceptions below and raised to the reader; `src.transports.http1` turns them into
the proxy's errors.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

import httptools

from src.transports.alarm import Alarm

HIGH_WATER = 256 * 1024  # buffered body bytes past which the socket is paused
MAX_HEAD = 64 * 1024  # bytes of a response's head (interim ones included); no LLM API comes near it


class Closed(Exception):
    """The connection closed before the response ended (`mid_response`: after some of it arrived)."""

    def __init__(self, mid_response: bool) -> None:
        super().__init__()
        self.mid_response = mid_response


class Malformed(Exception):
    """The upstream's bytes are not HTTP/1.1."""


class ReadTimeout(Exception):
    """Nothing arrived for the read timeout."""


class _Surplus(Exception):
    """Bytes after the complete response: nothing was asked, so the connection cannot be trusted."""


class Connection(asyncio.Protocol):
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        # The TCP transport, also under TLS: the TLS layer may have handed bytes still unsent down to
        # it, so only the two together know whether the request is still being written.
        self._tcp: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._parser = httptools.HttpResponseParser(self)
        # One read timer for the connection's life rather than one per wait: a wait notes its deadline.
        self._alarm = Alarm(loop, self._pending_deadline, self._time_out)
        self._deadline = 0.0  # of the wait under way
        self._begin()

    def _begin(self) -> None:
        self.status = 0
        self.headers: dict[str, str] = {}
        self._fields: list[tuple[str, str]] = []
        self._head_size = 0  # bytes of the heads so far, interim ones included
        self.complete = False
        self._keep_alive = False
        self.received = False  # any byte of this exchange's response
        self._head: asyncio.Future[None] | None = None
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._waiter: asyncio.Future[None] | None = None
        self._error: Exception | None = None
        self._paused = False
        self._sized = False  # Content-Length or chunked: the body's end is marked, not the close

    # --- driven by the reader -------------------------------------------------------------

    async def exchange(self, head: bytes, body: bytes | None, timeout: float) -> None:
        """Write one request and wait up to `timeout` for the response's status line and headers."""
        self._begin()
        self._head = self.loop.create_future()
        assert self.transport is not None
        self.transport.write(head + body if body and len(body) < 65536 else head)
        if body and len(body) >= 65536:
            self.transport.write(body)  # no copy of a large body just to join it
        self._watch(timeout)
        await self._head

    async def next_chunk(self, timeout: float) -> bytes:
        """The body bytes that have arrived (waiting up to `timeout` for some); b"" at the end."""
        while not self._chunks:
            if self._error is not None:
                raise self._error
            if self.complete:
                return b""
            self._waiter = self.loop.create_future()
            self._watch(timeout)
            try:
                await self._waiter
            finally:
                self._waiter = None
        chunk = b"".join(self._chunks)  # a single chunk comes back as it is, uncopied
        self._chunks.clear()
        self._buffered -= len(chunk)
        if self._paused and self._buffered < HIGH_WATER // 4 and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        return chunk

    def secured_by(self, transport: asyncio.Transport) -> None:
        """From now on, read and write through the TLS transport that wraps the TCP one."""
        self.transport = transport

    @property
    def reusable(self) -> bool:
        """The response ended cleanly, the server keeps the connection, and the request is fully written."""
        return self.complete and self._keep_alive and self._error is None and self.open and self._written

    def park(self) -> bool:
        """Ready a reusable connection to wait for its next request; False if it is not reusable."""
        if not self.reusable:
            return False
        self._chunks.clear()  # what its last reader left unread
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()  # or what the server sends next (a 408, its close) goes unseen
        return True

    @property
    def open(self) -> bool:
        return not self.closed and self.transport is not None and not self.transport.is_closing()

    @property
    def _written(self) -> bool:
        if self._tcp is None or self._tcp.get_write_buffer_size():
            return False
        return self.transport is self._tcp or not self.transport.get_write_buffer_size()  # type: ignore[union-attr]

    def close(self) -> None:
        self.closed = True
        self._alarm.stop()
        if self.transport is None:
            return
        if self.complete and self._written:
            self.transport.close()
        else:
            self.transport.abort()  # close() would first flush a request body the server no longer reads

    def _watch(self, timeout: float) -> None:
        self._deadline = self.loop.time() + timeout
        self._alarm.by(self._deadline)

    def _pending_deadline(self) -> float | None:
        """The deadline of the wait under way (a head, else the body), or None when nothing is waited for."""
        waiter = self._waiter or self._head
        return None if waiter is None or waiter.done() or self.closed else self._deadline

    def _time_out(self) -> None:
        waiter = self._waiter or self._head
        assert waiter is not None
        waiter.set_exception(ReadTimeout())

    def _fail(self, error: Exception) -> None:
        self._error = error
        for future in (self._head, self._waiter):
            if future is not None and not future.done():
                future.set_exception(error)

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    # --- asyncio protocol -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = self._tcp = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.received = True
        try:
            if self.complete:
                raise _Surplus()
            if not self.status:
                self._head_size += len(data)  # httptools buffers a header line until it ends
            self._parser.feed_data(data)
            if not self.status and self._head_size > MAX_HEAD:
                raise ValueError(f"response head larger than {MAX_HEAD // 1024} KiB")
        except _Surplus:
            self._surplus()
        except httptools.HttpParserUpgrade:
            self._fail(Malformed("the server switched protocols"))
            self.close()
        except (httptools.HttpParserError, ValueError) as exc:
            # After a complete response, llhttp rejects further bytes itself when the server said
            # it would close; our own callback rejects them otherwise (re-raised wrapped).
            if self.complete or isinstance(exc.__context__, _Surplus):
                self._surplus()
                return
            self._fail(Malformed(str(exc.__context__ or exc) or type(exc).__name__))
            self.close()

    def _surplus(self) -> None:
        self._keep_alive = False
        self.close()  # the complete response is already queued for its reader, and stays readable

    def eof_received(self) -> bool:
        return False  # close our side too: a half-closed upstream will send nothing more

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._alarm.stop()
        if self.complete or self._error is not None:
            return
        if exc is None and self._head is not None and self._head.done() and not self._sized:
            self.on_message_complete()  # a body delimited by the close itself (a reset is no end)
        else:
            self._fail(Closed(self.received))

    # --- httptools parser callbacks -------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.complete:
            raise _Surplus()

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.status:  # else a chunked body's trailer: not part of the head already handed over
            self._fields.append((name.decode("latin-1").lower(), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        fields, self._fields = self._fields, []
        if self._head_size > MAX_HEAD and sum(len(k) + len(v) for k, v in fields) > MAX_HEAD:
            raise ValueError(f"response head larger than {MAX_HEAD // 1024} KiB")  # ended within this read
        if status < 200:  # 100 Continue and friends: the real answer follows
            return
        self.status = status
        self.headers = dict(fields)
        if len(self.headers) < len(fields):  # a repeated name: its values joined, in order
            grouped: dict[str, list[str]] = {}
            for key, text in fields:
                grouped.setdefault(key, []).append(text)
            self.headers = {key: ", ".join(texts) for key, texts in grouped.items()}
        # Codings are case-insensitive (llhttp frames "Chunked" as chunked): else a cut would pass for an end.
        self._sized = "content-length" in self.headers or "chunked" in self.headers.get("transfer-encoding", "").lower()
        if self._head is not None and not self._head.done():
            self._head.set_result(None)

    def on_body(self, body: bytes) -> None:
        self._chunks.append(body)
        self._buffered += len(body)
        if self._buffered > HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self.status == 0:
            return  # the end of an informational response
        self.complete = True
        self._keep_alive = self._parser.should_keep_alive()  # llhttp forgets it once the next message starts
        self.idle_since = time.monotonic()
        self._wake()
