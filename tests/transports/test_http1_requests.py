"""Http1Transport: the bytes of the request it writes, and the headers it refuses to write."""

from __future__ import annotations

import asyncio

import pytest

from src.transports.http1 import Http1Transport
from src.wire.errors import UpstreamUnreachable
from tests.transports.helpers import BACKEND, fetch, ok, scripted

pytestmark = pytest.mark.anyio


def lines(head: bytes) -> list[bytes]:
    assert head.endswith(b"\r\n\r\n")
    return head[:-4].split(b"\r\n")


def header_lines(head: bytes) -> dict[bytes, list[bytes]]:
    found: dict[bytes, list[bytes]] = {}
    for line in lines(head)[1:]:
        name, _, value = line.partition(b": ")
        found.setdefault(name.lower(), []).append(value)
    return found


async def test_the_request_line_and_headers_are_written_as_given(transport: Http1Transport) -> None:
    async with scripted([ok()]) as seen:
        port = seen.url.rsplit(":", 1)[1]
        headers = {"Authorization": "Bearer sk-1", "X-Title": "Zürich", "Accept": "text/event-stream"}
        assert await fetch(transport, f"{seen.url}/v1/chat/completions?api-version=2024-10&x=%20y", method="PATCH",
                           headers=headers, body=b'{"model":"m"}') == b"ok"
    head = seen.heads[0]
    assert lines(head)[0] == b"PATCH /v1/chat/completions?api-version=2024-10&x=%20y HTTP/1.1"
    found = header_lines(head)
    assert found[b"host"] == [f"127.0.0.1:{port}".encode()]
    assert found[b"authorization"] == [b"Bearer sk-1"]
    assert found[b"x-title"] == ["Zürich".encode()]
    assert found[b"accept"] == [b"text/event-stream"]
    assert found[b"content-length"] == [b"13"]
    assert found[b"accept-encoding"] == [b"gzip, deflate"]  # what the transport decodes
    assert set(found) == {b"host", b"authorization", b"x-title", b"accept", b"accept-encoding", b"content-length"}
    assert seen.bodies == [b'{"model":"m"}']


@pytest.mark.parametrize("url_path", ["", "/", "?q=1"])
async def test_an_empty_path_is_sent_as_slash(transport: Http1Transport, url_path: str) -> None:
    async with scripted([ok()]) as seen:
        await fetch(transport, seen.url + url_path)
    assert lines(seen.heads[0])[0] == b"GET /" + (b"?q=1" if "q" in url_path else b"") + b" HTTP/1.1"


@pytest.mark.parametrize(
    "body",
    [None, b"", b"x", bytes(range(256)) * 255, bytes(range(256)) * 256, b"\x00\xff" * 600_000],
    ids=["none", "empty", "one", "under-64k", "64k", "over-1m"],
)
async def test_the_body_arrives_exactly_with_its_length(transport: Http1Transport, body: bytes | None) -> None:
    # From 64 KiB on, the body is written apart from the head: both paths must frame it alike.
    async with scripted([ok(), ok()]) as seen:
        assert await fetch(transport, f"{seen.url}/upload", method="POST", body=body) == b"ok"
        assert await fetch(transport, f"{seen.url}/after") == b"ok"  # nothing left over on the wire
    found = header_lines(seen.heads[0])
    if body is None:
        assert b"content-length" not in found
    else:
        assert found[b"content-length"] == [str(len(body)).encode()]
    assert b"transfer-encoding" not in found
    assert seen.bodies == [body or b"", b""]
    assert len(seen.connections) == 1
    assert lines(seen.heads[1])[0] == b"GET /after HTTP/1.1"


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Title": "a\r\nX-Injected: 1"},
        {"X-Title": "a\nX-Injected: 1"},
        {"X-Title": "a\rX-Injected: 1"},
        {"X-Title": "a\0X-Injected: 1"},
        {"X-Injected: 1\r\nX-Title": "a"},
        {"X-Injected\nX-Title": "a"},
        {"X-Injected\rX-Title": "a"},
        {"X-Injected\0X-Title": "a"},
        {"X-Injected X-Title": "a"},
        {"X-Injected:": "a"},
    ],
    ids=["value-crlf", "value-lf", "value-cr", "value-nul", "name-crlf", "name-lf", "name-cr", "name-nul",
         "name-space", "name-colon"],
)
async def test_a_header_that_would_break_the_framing_is_refused_unsent(
    transport: Http1Transport, headers: dict[str, str]
) -> None:
    async with scripted([ok(b"first"), ok(b"second")]) as seen:
        with pytest.raises(UpstreamUnreachable) as info:
            await fetch(transport, f"{seen.url}/v1/chat", method="POST", headers=headers, body=b"{}")
        assert await fetch(transport, f"{seen.url}/clean") == b"first"
        await asyncio.sleep(0.1)  # time for stray bytes of the refused request to show up
    assert info.value.status == 502
    assert info.value.message.startswith(f"{BACKEND}: header ")
    assert info.value.message.endswith(f"is not a valid HTTP header: not sent to {seen.url}")
    assert len(seen.heads) == 1
    assert lines(seen.heads[0])[0] == b"GET /clean HTTP/1.1"
    assert b"injected" not in seen.heads[0].lower()


async def test_the_host_header_of_an_ipv6_literal_is_bracketed(
    transport: Http1Transport, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The connection itself goes to 127.0.0.1: only the Host header is under test.
    loop = asyncio.get_running_loop()
    original = loop.getaddrinfo

    async def to_ipv4(host, port, **kwargs):
        return await original("127.0.0.1" if host == "::1" else host, port, **kwargs)

    monkeypatch.setattr(loop, "getaddrinfo", to_ipv4)
    async with scripted([ok()]) as seen:
        port = seen.url.rsplit(":", 1)[1]
        assert await fetch(transport, f"http://[::1]:{port}/v1/models") == b"ok"
    assert header_lines(seen.heads[0])[b"host"] == [f"[::1]:{port}".encode()]
