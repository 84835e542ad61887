"""read_body: the raw request body, bounded in size (declared or actually sent), and a client that
leaves while sending it."""

from __future__ import annotations

from typing import Any

import pytest

from src.core.body import read_body
from src.core.disconnect import ClientDisconnected
from src.wire.errors import RequestTooLarge

pytestmark = pytest.mark.anyio

LIMIT = 10


class Receive:
    """An ASGI `receive` giving the messages in order; counts what was read."""

    def __init__(self, *messages: dict[str, Any]) -> None:
        self.messages = list(messages)
        self.read = 0

    async def __call__(self) -> dict[str, Any]:
        if self.read == len(self.messages):
            raise AssertionError("read past the end of the body")
        self.read += 1
        return self.messages[self.read - 1]


def body(chunk: bytes, more: bool = False) -> dict[str, Any]:
    return {"type": "http.request", "body": chunk, "more_body": more}


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        ([body(b'{"a":1}')], b'{"a":1}'),
        ([body(b"")], b""),
        ([{"type": "http.request"}], b""),  # no body key, no more_body: an empty body
        ([body(b"12345", True), body(b"67890")], b"1234567890"),  # exactly the limit
        ([body(b"ab", True), body(b"", True), body(b"cd")], b"abcd"),
        ([body(b"ab", True), {"type": "http.request", "body": b"cd"}], b"abcd"),
    ],
)
async def test_the_body_is_read_whole(messages: list[dict[str, Any]], expected: bytes) -> None:
    receive = Receive(*messages)
    assert await read_body(receive, {}, LIMIT) == expected
    assert receive.read == len(messages)


@pytest.mark.parametrize("declared", ["11", "1000000000000000000000"])
async def test_a_declared_length_past_the_limit_is_refused_before_reading(declared: str) -> None:
    receive = Receive(body(b"x"))
    with pytest.raises(RequestTooLarge) as caught:
        await read_body(receive, {"content-length": declared}, LIMIT)
    assert caught.value.status == 413
    assert receive.read == 0


@pytest.mark.parametrize(
    ("messages", "read"),
    [
        ([body(b"x" * 11)], 1),
        ([body(b"12345", True), body(b"678901")], 2),
        # reading stops at the message that passes the limit
        ([body(b"12345", True), body(b"67890", True), body(b"1", True), body(b"never read")], 3),
        ([body(b"x" * 20, True), body(b"never read")], 1),
    ],
)
@pytest.mark.parametrize("declared", [None, "3", "10", "abc", "-1", "١٢", ""])
async def test_a_body_past_the_limit_is_refused_whatever_it_declared(
    messages: list[dict[str, Any]], read: int, declared: str | None
) -> None:
    receive = Receive(*messages)
    headers = {} if declared is None else {"content-length": declared}
    with pytest.raises(RequestTooLarge) as caught:
        await read_body(receive, headers, LIMIT)
    assert caught.value.status == 413
    assert receive.read == read


@pytest.mark.parametrize(("limit", "shown"), [(10 * 1048576, "10 MiB"), (1572864, "1.5 MiB")])
async def test_the_refusal_names_the_limit_and_its_setting(limit: int, shown: str) -> None:
    with pytest.raises(RequestTooLarge) as caught:
        await read_body(Receive(), {"content-length": str(limit + 1)}, limit)
    assert caught.value.message == f"the request body is larger than {shown} (max_request_mb)"


@pytest.mark.parametrize(
    "messages",
    [
        [{"type": "http.disconnect"}],
        [body(b"123", True), {"type": "http.disconnect"}],
    ],
)
async def test_a_client_that_leaves_while_sending_is_disconnected(messages: list[dict[str, Any]]) -> None:
    with pytest.raises(ClientDisconnected):
        await read_body(Receive(*messages), {"content-length": "5"}, LIMIT)
