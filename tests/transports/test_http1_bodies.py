"""Http1Transport: how a response's body is framed, decoded and paced, against raw servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import gzip
import zlib

import pytest

from src.transports.connection import HIGH_WATER
from src.transports.http1 import Http1Transport
from src.wire.errors import UpstreamUnreachable
from tests.transports.helpers import (
    BACKEND,
    GUARD,
    collect,
    fetch,
    ok,
    raw_server,
    read_request,
    request,
    scripted,
    then_close,
)

pytestmark = pytest.mark.anyio

TEXT = b"".join(b'data: {"n":%d,"text":"lorem ipsum"}\n\n' % n for n in range(3000))  # ~100 KB


def chunked(body: bytes, *extra: str, piece: int = 4096) -> bytes:
    head = "\r\n".join(["HTTP/1.1 200 OK", "Transfer-Encoding: chunked", *extra]) + "\r\n\r\n"
    pieces = [body[i : i + piece] for i in range(0, len(body), piece)]
    return head.encode() + b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


async def read_by(response, how: str) -> bytes:
    if how == "read":
        return await asyncio.wait_for(response.read(), GUARD)
    return b"".join(await asyncio.wait_for(collect(response), GUARD))


# --- framing -------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["read", "iter_chunks"])
@pytest.mark.parametrize(
    "reply",
    [
        chunked(TEXT),
        ok(TEXT),
        then_close(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + TEXT),
    ],
    ids=["chunked", "content-length", "close-delimited"],
)
async def test_every_framing_is_read_to_the_end(transport: Http1Transport, reply, how: str) -> None:
    async with scripted([reply]) as seen:
        response = await asyncio.wait_for(transport.send(request(f"{seen.url}/")), GUARD)
        assert response.status == 200
        assert await read_by(response, how) == TEXT


@pytest.mark.parametrize(
    "cut",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7\r\ndata: 1\r\n20\r\ndata: 2",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7\r\ndata: 1\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n",
    ],
    ids=["content-length-short", "chunk-cut", "no-last-chunk", "no-body"],
)
async def test_a_body_cut_short_is_unreachable_mid_response(transport: Http1Transport, cut: bytes) -> None:
    async with scripted([then_close(cut)]) as seen:
        response = await asyncio.wait_for(transport.send(request(f"{seen.url}/")), GUARD)
        with pytest.raises(UpstreamUnreachable) as info:
            await asyncio.wait_for(response.read(), GUARD)
    assert info.value.message == f"{BACKEND}: {seen.url} closed the connection mid-response"


async def test_a_close_before_any_answer_is_unreachable_before_answering(transport: Http1Transport) -> None:
    async with scripted([None]) as seen:
        with pytest.raises(UpstreamUnreachable) as info:
            await fetch(transport, f"{seen.url}/")
    assert info.value.message == f"{BACKEND}: {seen.url} closed the connection before answering"


async def test_interim_responses_are_skipped(transport: Http1Transport) -> None:
    reply = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
        b"HTTP/1.1 201 Created\r\nContent-Length: 4\r\nX-Real: yes\r\n\r\ndone"
    )
    async with scripted([reply, ok(b"again")]) as seen:
        response = await asyncio.wait_for(transport.send(request(f"{seen.url}/", method="POST", body=b"x")), GUARD)
        assert response.status == 201
        assert response.headers == {"content-length": "4", "x-real": "yes"}
        assert await asyncio.wait_for(response.read(), GUARD) == b"done"
        assert await fetch(transport, f"{seen.url}/") == b"again"
    assert len(seen.connections) == 1


@pytest.mark.parametrize(
    "garbage",
    [
        b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
        b"HTTP/1.1 abc OK\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",  # a TLS record: https spoken to http
    ],
    ids=["banner", "status", "header", "tls"],
)
async def test_a_malformed_response_is_unreachable(transport: Http1Transport, garbage: bytes) -> None:
    async with scripted([garbage]) as seen:  # the connection stays open: the parser alone must give up
        with pytest.raises(UpstreamUnreachable) as info:
            await fetch(transport, f"{seen.url}/")
    assert info.value.message.startswith(f"{BACKEND}: {seen.url} sent a malformed HTTP response")


async def test_a_malformed_chunk_mid_body_is_unreachable(transport: Http1Transport) -> None:
    reply = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\nzz\r\nsecond\r\n0\r\n\r\n"
    async with scripted([reply]) as seen:
        response = await asyncio.wait_for(transport.send(request(f"{seen.url}/")), GUARD)
        with pytest.raises(UpstreamUnreachable) as info:
            await asyncio.wait_for(response.read(), GUARD)
    assert "malformed" in info.value.message


# --- content encodings ---------------------------------------------------------------------


@pytest.mark.parametrize("how", ["read", "iter_chunks"])
@pytest.mark.parametrize(
    ("encoding", "compress"),
    [("gzip", gzip.compress), ("x-gzip", gzip.compress), ("deflate", zlib.compress)],
)
async def test_compressed_bodies_are_decoded(transport: Http1Transport, encoding: str, compress, how: str) -> None:
    packed = compress(TEXT)
    assert len(packed) < len(TEXT) // 4
    reply = chunked(packed, f"Content-Encoding: {encoding}", piece=512)  # decoded piece by piece
    async with scripted([reply]) as seen:
        response = await asyncio.wait_for(transport.send(request(f"{seen.url}/")), GUARD)
        assert await read_by(response, how) == TEXT


def no_magic(packed: bytes) -> bytes:
    return b"\x00\x00" + packed[2:]


def cut_short(packed: bytes) -> bytes:
    return packed[:-30]  # the HTTP framing is whole; the gzip stream inside it is not


@pytest.mark.parametrize(
    "damage",
    [
        no_magic,
        cut_short,
    ],
)
async def test_a_corrupt_gzip_body_is_unreachable(transport: Http1Transport, damage) -> None:
    packed = damage(gzip.compress(TEXT))
    async with scripted([ok(packed, "Content-Encoding: gzip")]) as seen:
        with pytest.raises(UpstreamUnreachable) as info:
            await fetch(transport, f"{seen.url}/")
    assert info.value.message == f"{BACKEND}: {seen.url} sent a body that does not decompress"


# --- pacing --------------------------------------------------------------------------------


async def test_a_slow_reader_slows_the_upstream_and_gets_every_byte_in_order(transport: Http1Transport) -> None:
    piece = 64 * 1024
    count = 512  # 32 MiB: several times what the kernel's socket buffers hold between the two ends
    finished = asyncio.Event()

    def nth(i: int) -> bytes:
        return i.to_bytes(4, "big") * (piece // 4)

    async def stream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (piece * count))
        for i in range(count):
            writer.write(nth(i))
            await writer.drain()
        finished.set()

    async with raw_server(stream) as base:
        response = await asyncio.wait_for(transport.send(request(f"{base}/")), GUARD)
        await asyncio.sleep(0.5)
        assert not finished.is_set()  # the unread body holds the upstream back
        received: list[bytes] = []

        async def consume() -> None:
            async for chunk in response.iter_chunks():
                received.append(chunk)
                await asyncio.sleep(0.002)

        await asyncio.wait_for(consume(), GUARD * 3)
        assert finished.is_set()
    body = memoryview(b"".join(received))
    assert len(body) == piece * count
    assert all(body[i * piece : (i + 1) * piece] == nth(i) for i in range(count))
    # Each chunk is what was buffered: no more than the high-water mark and one socket read.
    assert max(map(len, received)) <= HIGH_WATER + 256 * 1024
