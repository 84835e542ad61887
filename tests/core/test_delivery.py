"""deliver, the one egress step: every byte and header sent passes the Redactor; a stream goes out as its
events come, a bug or a shutdown ends it with the protocol's error event, and `close` is called however
it ends, with the failure that ended it when the proxy did."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from src.core.asgi import Message
from src.core.delivery import deliver
from src.core.disconnect import Watchers
from src.frontends.relay import relay
from src.frontends.reply import BodyReply, StreamReply, json_reply
from src.wire.anthropic import MESSAGES
from src.wire.errors import InternalError, ProxyError
from src.wire.openai_chat import CHAT
from src.wire.protocol import WireProtocol
from src.wire.redaction import MASK, Redactor
from src.wire.sse import Event
from tests.wire.sse_helpers import batches_of, data, upstream_events

pytestmark = pytest.mark.anyio

SECRET = "sk-or-v1-relay-secret-0123456789"
SLASHED = "client/key-0123456789"  # a client's own upstream key
FIRST = b'data: {"choices":[{"delta":{"content":"Hel"}}]}\n\n'
SECOND = b'data: {"choices":[{"delta":{"content":"lo"}}]}\n\n'
THIRD = b"data: [DONE]\n\n"


class Client:
    """The ASGI server side: records what is sent; disconnects once `gone` is set."""

    def __init__(self) -> None:
        self.sent: list[Message] = []
        self.gone = asyncio.Event()

    async def receive(self) -> dict[str, Any]:
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    def bodies(self) -> list[bytes]:
        return [m["body"] for m in self.sent if m["type"] == "http.response.body"]

    def headers(self) -> dict[bytes, bytes]:
        return dict(self.sent[0]["headers"])


class SpyRedactor(Redactor):
    """A Redactor for SECRET and SLASHED that remembers what it was given."""

    def __init__(self) -> None:
        super().__init__([SECRET, SLASHED])
        self.texts: list[str] = []
        self.data: list[bytes] = []

    def __call__(self, text: str) -> str:
        self.texts.append(text)
        return super().__call__(text)

    def bytes(self, data: bytes) -> bytes:
        self.data.append(data)
        return super().bytes(data)


class Upstream:
    def __init__(self) -> None:
        self.closed: list[ProxyError | None] = []  # the failure each close was given

    async def close(self, failure: ProxyError | None) -> None:
        self.closed.append(failure)


async def serve(
    events: AsyncIterator[list[Event]], client: Client | None = None, protocol: WireProtocol = CHAT,
    headers: dict[str, str] | None = None, redact: Redactor | None = None,
) -> tuple[Client, Upstream]:
    client, upstream = client or Client(), Upstream()
    reply = StreamReply(events, upstream.close, protocol, {"x-generation-id": "gen-1"} if headers is None else headers)
    await asyncio.wait_for(deliver(reply, client.receive, client.send, redact or SpyRedactor(), Watchers()), 5)
    return client, upstream


async def failing(*batches: list[bytes]) -> AsyncIterator[list[Event]]:
    async for batch in batches_of(*batches):
        yield batch
    raise RuntimeError("KeyError deep inside: secret internals")


def assert_ended(client: Client) -> None:
    last = client.sent[-1]
    assert last == {"type": "http.response.body", "body": b"", "more_body": False}
    assert all(m.get("more_body") is True for m in client.sent[1:-1])


async def test_a_complete_stream_is_sent_one_message_a_batch_and_the_upstream_closed() -> None:
    client, upstream = await serve(batches_of([FIRST], [SECOND, THIRD]))
    start = client.sent[0]
    assert start["type"] == "http.response.start"
    assert start["status"] == 200
    headers = client.headers()
    assert headers[b"content-type"].startswith(b"text/event-stream")
    assert headers[b"cache-control"] == b"no-cache"
    assert headers[b"x-accel-buffering"] == b"no"
    assert headers[b"x-generation-id"] == b"gen-1"
    assert client.bodies() == [FIRST, SECOND + THIRD, b""]
    assert_ended(client)
    assert upstream.closed == [None]


# The error event is the reply's protocol's, whichever it is: deliver builds none of its own.
@pytest.mark.parametrize("protocol", [CHAT, MESSAGES], ids=["openai", "anthropic"])
@pytest.mark.parametrize("batches", [([FIRST], [SECOND]), ([FIRST],), ()], ids=["two", "one", "none"])
async def test_an_unexpected_exception_mid_stream_ends_it_with_the_protocols_error_event(
    protocol: WireProtocol, batches: tuple[list[bytes], ...], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client, upstream = await serve(failing(*batches), protocol=protocol)

    assert client.sent[0]["type"] == "http.response.start"
    assert client.sent[0]["status"] == 200
    error_event = protocol.error_event(InternalError(), InternalError().message).raw
    assert client.bodies() == [*(b"".join(batch) for batch in batches), error_event, b""]
    assert_ended(client)
    assert b"internal error" in error_event
    # The client learns only that it failed; the details go to the log.
    assert all(b"secret internals" not in body for body in client.bodies())
    [failure] = upstream.closed
    assert isinstance(failure, InternalError)
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert failures and failures[0].exc_info is not None
    assert "secret internals" in str(failures[0].exc_info[1])


async def test_a_client_that_leaves_stops_the_events_and_closes_the_upstream() -> None:
    client = Client()
    closed = asyncio.Event()

    async def endless() -> AsyncIterator[list[Event]]:
        try:
            while True:
                yield [Event(FIRST)]
                client.gone.set()
                await asyncio.sleep(0.01)
        finally:
            closed.set()

    client, upstream = await serve(endless(), client)
    assert closed.is_set()
    assert upstream.closed == [None]  # the client left: no failure of the proxy's
    assert FIRST in client.bodies()
    assert all(b"error" not in body for body in client.bodies())  # no error event either
    assert client.sent[-1].get("more_body") is True  # no normal end was sent to nobody


async def test_a_failed_send_still_lets_the_upstream_go() -> None:
    closed: list[bool] = []

    async def events() -> AsyncIterator[list[Event]]:
        try:
            yield [Event(FIRST)]
            yield [Event(SECOND)]
        finally:
            closed.append(True)

    class Broken(Client):
        async def send(self, message: Message) -> None:
            if message["type"] == "http.response.body":
                raise OSError("connection lost")

    client, upstream = Broken(), Upstream()
    with pytest.raises(OSError):
        await deliver(StreamReply(events(), upstream.close, CHAT), client.receive, client.send, Redactor([]), Watchers())
    assert closed == [True]
    assert len(upstream.closed) == 1


async def test_a_shutdown_mid_stream_ends_it_with_a_503_error_event() -> None:
    client, upstream = Client(), Upstream()
    started = asyncio.Event()

    async def endless() -> AsyncIterator[list[Event]]:
        yield [Event(FIRST)]
        started.set()
        await asyncio.sleep(60)
        yield [Event(SECOND)]  # pragma: no cover - never reached

    reply = StreamReply(endless(), upstream.close, CHAT)
    task = asyncio.ensure_future(deliver(reply, client.receive, client.send, Redactor([]), Watchers()))
    await asyncio.wait_for(started.wait(), 5)
    task.cancel()  # the server's shutdown_grace is over; the client is still there
    with pytest.raises(asyncio.CancelledError):
        await task
    [failure] = upstream.closed
    assert failure is not None and failure.status == 503
    assert client.bodies() == [FIRST, CHAT.error_event(failure, failure.message).raw, b""]
    assert b"shutting down" in client.bodies()[-2]
    assert_ended(client)  # the chunked response still ends whole


# --- every byte and every header passes the Redactor -----------------------------------------------------------


async def test_every_batch_and_every_header_passes_the_redactor() -> None:
    batches = [[FIRST], [data({"error": {"message": f"bad key {SECRET}"}})], [data({"content": SECRET}), THIRD]]
    batches[0].append(b'data: {"error":{"message":"bad key client\\/key-0123456789"}}\n\n')  # as JSON may write it
    redact = SpyRedactor()
    client, _ = await serve(batches_of(*batches), headers={"x-echo": f"key={SECRET}", "x-route": "or/m"}, redact=redact)
    assert redact.data == [b"".join(batch) for batch in batches]
    assert set(redact.texts) >= {f"key={SECRET}", "or/m"}
    sent = b"".join(client.bodies())
    assert SECRET.encode() not in sent and b"key-0123456789" not in sent
    assert sent.count(MASK.encode()) == 3
    assert client.headers()[b"x-echo"] == f"key={MASK}".encode()
    assert client.headers()[b"x-route"] == b"or/m"


UPSTREAM_ERROR = data({"error": {"message": f"Invalid API key {SECRET} for this account", "code": 401}})


@pytest.mark.parametrize(
    "chunks",
    [
        [b'data: {"a":1}\n\n', UPSTREAM_ERROR],
        [b'data: {"a":1}\n\n' + UPSTREAM_ERROR],
        [b'data: {"a":1}\n\n' + UPSTREAM_ERROR[:30], UPSTREAM_ERROR[30:]],
        [bytes([b]) for b in b'data: {"a":1}\n\n' + UPSTREAM_ERROR],
        [b'data: {"a":1}\n\n' + UPSTREAM_ERROR.rstrip(b"\n")],  # in the tail
        [UPSTREAM_ERROR.replace(b"\n", b"\r\n")],
    ],
    ids=["own chunk", "same chunk", "split", "bytewise", "tail", "crlf"],
)
async def test_an_upstream_error_event_quoting_a_secret_is_masked(chunks: list[bytes]) -> None:
    # The whole path of a stream: split where it arrives, relayed, delivered.
    client, _ = await serve(relay(upstream_events(chunks), CHAT, "openrouter"))
    out = b"".join(client.bodies())
    assert SECRET.encode() not in out
    assert b"Invalid API key [redacted] for this account" in out
    whole = b"".join(chunks).replace(b"\r\n", b"\n").rstrip(b"\n") + b"\n\n"
    assert out == whole.replace(SECRET.encode(), MASK.encode())  # the upstream's own error ends the stream


async def test_error_events_after_done_are_masked_too() -> None:
    chunks = [b'data: {"a":1}\n\n', b"data: [DONE]\n\n", data({"error": {"message": f"key {SECRET}"}})]
    client, _ = await serve(relay(upstream_events(chunks), CHAT, "openrouter"))
    masked = data({"error": {"message": f"key {MASK}"}})
    assert b"".join(client.bodies()) == b'data: {"a":1}\n\ndata: [DONE]\n\n' + masked


async def test_content_without_a_secret_is_sent_byte_identical() -> None:
    content = [b'data: {"content":"caf\xc3\xa9"}\n\n', b'data: {"content":"not UTF-8: \xff\xfe \xc3"}\n\n', b": c\n\n"]
    client, _ = await serve(batches_of(content))
    assert client.bodies() == [b"".join(content), b""]


# --- a whole body ----------------------------------------------------------------------------------------------


async def test_a_body_reply_is_sent_redacted_with_its_length_and_then_its_after_step() -> None:
    client = Client()
    order: list[str] = []

    async def after() -> None:
        order.append(f"after {len(client.sent)} messages")

    body = b'{"error":{"message":"bad key ' + SECRET.encode() + b'"}}'
    reply = BodyReply(401, body, {"x-echo": SECRET, "retry-after": "7"}, after=after)
    redact = SpyRedactor()
    await deliver(reply, client.receive, client.send, redact, Watchers())

    masked = b'{"error":{"message":"bad key ' + MASK.encode() + b'"}}'
    assert client.sent[0]["status"] == 401
    assert client.sent[0]["headers"] == [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(masked)).encode()),  # the length of what is sent
        (b"x-echo", MASK.encode()),
        (b"retry-after", b"7"),
    ]
    assert client.sent[1:] == [{"type": "http.response.body", "body": masked, "more_body": False}]
    assert redact.data == [body]
    assert order == ["after 2 messages"]


@pytest.mark.parametrize(
    ("reply", "media_type"),
    [(json_reply({"ok": True}), b"application/json"), (BodyReply(200, b"#\n", media_type="text/plain"), b"text/plain")],
)
async def test_a_body_reply_keeps_its_media_type(reply: BodyReply, media_type: bytes) -> None:
    client = Client()
    await deliver(reply, client.receive, client.send, Redactor([]), Watchers())
    assert client.headers()[b"content-type"] == media_type
    assert client.bodies() == [reply.body]
