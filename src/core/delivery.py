"""Sending a reply to the client: the one place every byte passes the redaction step, headers
included, and where a stream stops its upstream as soon as the client goes away."""

from __future__ import annotations

import asyncio
import logging

from src.core.asgi import Receive, Send
from src.core.disconnect import ClientDisconnected, Watchers, cancelled_on_disconnect
from src.frontends.reply import Reply, StreamReply
from src.wire.errors import InternalError, ProxyError
from src.wire.redaction import Redactor
from src.wire.sse import SSE_HEADERS, Sent, joined

log = logging.getLogger("switchyard.stream")
SHUTTING_DOWN = ProxyError("the proxy is shutting down and its shutdown_grace is over", status=503)
_SSE = [(b"content-type", b"text/event-stream; charset=utf-8"), *((k.encode(), v.encode()) for k, v in SSE_HEADERS.items())]


async def deliver(reply: Reply, receive: Receive, send: Send, redact: Redactor, watchers: Watchers) -> None:
    if isinstance(reply, StreamReply):
        await _stream(reply, receive, send, redact, watchers)
        return
    body = redact.bytes(reply.body)
    headers = [
        (b"content-type", reply.media_type.encode("latin-1")),
        (b"content-length", str(len(body)).encode()),
        *_encoded(reply.headers, redact),
    ]
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
    if reply.after is not None:
        await reply.after()


async def _stream(reply: StreamReply, receive: Receive, send: Send, redact: Redactor, watchers: Watchers) -> None:
    failure: ProxyError | None = None  # what ended the stream, when the proxy ended it
    watch, sent, ended = cancelled_on_disconnect(receive, watchers), Sent(), False
    try:
        with watch:
            await send({"type": "http.response.start", "status": 200, "headers": [*_SSE, *_encoded(reply.headers, redact)]})
            try:
                async for batch in reply.events:
                    await send({"type": "http.response.body", "body": redact.bytes(joined(batch)), "more_body": True})
                    sent.add(batch)
            except Exception:
                # The status line is gone already: a bug here can only end the stream, as an error event.
                log.exception("stream failed")
                failure = InternalError()
            except asyncio.CancelledError:
                if not watch.gone:
                    failure = SHUTTING_DOWN  # not the client that left: the server's shutdown_grace is over
                raise
            finally:
                if failure is not None:  # and the last chunk: also when cancelled, the response must end whole
                    event = reply.protocol.error_event(failure, failure.message, sent)
                    await send({"type": "http.response.body", "body": event.raw, "more_body": True})
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                    ended = True
            if not ended:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
    except ClientDisconnected:
        log.debug("client disconnected mid-stream; upstream closed")
    finally:
        close = getattr(reply.events, "aclose", None)
        try:
            if close is not None:
                await close()
        finally:
            await reply.close(failure)


def _encoded(headers: dict[str, str], redact: Redactor) -> list[tuple[bytes, bytes]]:
    return [(name.encode("latin-1"), redact(value).encode("latin-1")) for name, value in headers.items()]
