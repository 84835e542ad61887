"""How the ASGI app is served: uvicorn on uvloop and httptools, with what uvicorn does not bound.

uvicorn's httptools protocol has no time limit for a request's head or a stalled body and no cap
on the head's size; llhttp also buffers a header line that arrives in pieces by concatenating
them, so a huge head costs quadratic time. `GuardedProtocol` adds those bounds: a head must be
whole within `request_header_timeout` and within MAX_HEAD bytes (431 beyond), and a request
whose body is under way is dropped once its connection sends no byte for `request_body_timeout`.
Past `shutdown_grace`, uvicorn cancels what is still running; `src.core.delivery` then ends each
open stream with an error event.
"""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from src.config import Config
from src.transports.alarm import Alarm

MAX_HEAD = 64 * 1024  # bytes of a request line and headers
_CLOSE = b"connection: close\r\ncontent-type: application/json\r\n"


def _refusal(status: bytes, code: str, message: str) -> bytes:
    body = b'{"error":{"message":"%s","type":"invalid_request_error","param":null,"code":"%s"}}' % (
        message.encode(),
        code.encode(),
    )
    return b"HTTP/1.1 " + status + b"\r\n" + _CLOSE + b"content-length: %d\r\n\r\n" % len(body) + body


HEAD_TOO_LARGE = _refusal(b"431 Request Header Fields Too Large", "request_header_fields_too_large",
                          f"the request head is larger than {MAX_HEAD // 1024} KiB")  # fmt: skip
HEAD_TOO_SLOW = _refusal(b"408 Request Timeout", "request_timeout", "the request head did not arrive in time")
_HEAD, _BODY, _ANSWERING = "head", "body", "answering"  # what a connection is doing, for its timer


class GuardedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a bounded head and a body that may not stall.

    A request only notes times. One timer a connection watches them: when it fires it compares
    the time with what the request in progress is allowed, and sets itself again for what is
    left, or lets itself go while no head or body is arriving (the next head sets it again).
    A timer set and cancelled for each request would cost more than the rest of this class."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        config: Config = self.app.config  # the Switchyard app, which uvicorn loaded
        self._head_timeout = config.request_header_timeout
        self._body_timeout = config.request_body_timeout
        self._phase = _HEAD  # a connection starts by sending a head
        self._head_bytes = 0
        self._since = 0.0  # when the head began, or when the body last sent something
        self._arrived = 0.0  # when the last bytes arrived
        self._alarm = Alarm(self.loop, self._pending_deadline, self._too_late)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._since = self._arrived = self.loop.time()
        self._alarm.by(self._since + self._head_timeout)

    # The parser's callbacks below run for every request: they call the base class by name, as
    # super() would make an object each time, and read the clock once per chunk that arrives.
    def data_received(self, data: bytes) -> None:
        self._arrived = self.loop.time()
        HttpToolsProtocol.data_received(self, data)
        if self._phase is _BODY:
            self._since = self._arrived  # the body is still arriving: a stall counts from here
        elif self._phase is _HEAD and self.parser is not None and not self.transport.is_closing():
            self._head_bytes += len(data)  # counted after feeding: a head that ended in this chunk is done
            if self._head_bytes > MAX_HEAD:
                self._refuse(HEAD_TOO_LARGE)

    def on_message_begin(self) -> None:
        HttpToolsProtocol.on_message_begin(self)
        self._phase, self._head_bytes, self._since = _HEAD, 0, self._arrived
        self._alarm.by(self._since + self._head_timeout)  # it may be set for a body's longer time

    def on_headers_complete(self) -> None:
        self._phase = _BODY
        self._alarm.by(self._arrived + self._body_timeout)  # it may be set for the head's longer time
        HttpToolsProtocol.on_headers_complete(self)

    def on_message_complete(self) -> None:
        self._phase = _ANSWERING
        HttpToolsProtocol.on_message_complete(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._alarm.stop()
        super().connection_lost(exc)

    def _pending_deadline(self) -> float | None:
        if self._phase is _ANSWERING:
            return None  # nothing arriving now: the next head sets the timer again
        return self._since + (self._head_timeout if self._phase is _HEAD else self._body_timeout)

    def _too_late(self) -> None:
        self._refuse(HEAD_TOO_SLOW if self._phase is _HEAD else None)

    def _refuse(self, answer: bytes | None) -> None:
        """Answers (a head's problem) or just drops (a stalled body, whose request is under way) and closes."""
        self._alarm.stop()
        if self.transport.is_closing():
            return
        if answer is not None and (self.cycle is None or self.cycle.response_complete):
            self.transport.write(answer)
            self.transport.close()
        else:
            self.transport.abort()


def server_config(app: Any, config: Config, **options: Any) -> uvicorn.Config:
    """uvicorn's settings for the app, as the CLI and the tests serve it."""
    return uvicorn.Config(app, **server_options(config), **options)


def server_options(config: Config) -> dict[str, Any]:
    return {
        "host": config.host,
        "port": config.port,
        "http": GuardedProtocol,
        "log_config": None,
        "log_level": config.log_level,
        "access_log": False,
        "server_header": False,
        "proxy_headers": False,
        "timeout_graceful_shutdown": config.shutdown_grace,
    }
