"""Http1Transport: which content and transfer codings it asks for, undoes, and refuses."""

from __future__ import annotations

import asyncio
import gzip
import zlib

import pytest

from src.transports.http1 import Http1Transport
from src.wire.errors import UpstreamProtocolError, UpstreamUnreachable
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

TEXT = b"".join(b'{"index":%d,"content":"lorem ipsum dolor"}\n' % n for n in range(3000))  # ~130 KB


def raw_deflate(data: bytes) -> bytes:
    deflater = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return deflater.compress(data) + deflater.flush()


def reply(body: bytes, *headers: str, piece: int = 1000) -> bytes:
    """A 200 whose body is sent chunked (unless a header says otherwise), `piece` bytes a chunk."""
    if not any(h.lower().startswith("transfer-encoding:") for h in headers):
        return ok(body, "Content-Type: application/json", *headers)
    head = "\r\n".join(["HTTP/1.1 200 OK", "Content-Type: application/json", *headers]) + "\r\n\r\n"
    pieces = [body[i : i + piece] for i in range(0, len(body), piece)]
    return head.encode() + b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


async def read_by(response, how: str) -> bytes:
    if how == "read":
        return await asyncio.wait_for(response.read(), GUARD)
    return b"".join(await asyncio.wait_for(collect(response), GUARD))


# --- what is asked for ---------------------------------------------------------------------


async def test_the_codings_decoded_are_offered(transport: Http1Transport) -> None:
    async with scripted([ok()]) as seen:
        await fetch(transport, f"{seen.url}/")
    assert b"\r\nAccept-Encoding: gzip, deflate\r\n" in seen.heads[0]


@pytest.mark.parametrize("name", ["Accept-Encoding", "accept-encoding"])
async def test_the_callers_accept_encoding_is_sent_instead(transport: Http1Transport, name: str) -> None:
    async with scripted([ok()]) as seen:
        await fetch(transport, f"{seen.url}/", headers={name: "identity"})
    assert seen.heads[0].lower().count(b"accept-encoding") == 1
    assert f"\r\n{name}: identity\r\n".encode() in seen.heads[0]


# --- what is undone ------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["read", "iter_chunks"])
@pytest.mark.parametrize(
    ("headers", "packed"),
    [
        (["Content-Encoding: gzip, deflate"], zlib.compress(gzip.compress(TEXT))),
        (["Content-Encoding: deflate, gzip"], gzip.compress(zlib.compress(TEXT))),
        (["Content-Encoding: gzip", "Content-Encoding: deflate"], zlib.compress(gzip.compress(TEXT))),
        (["Content-Encoding: identity, GZip, identity"], gzip.compress(TEXT)),
        (["Transfer-Encoding: gzip, chunked"], gzip.compress(TEXT)),
        (["Transfer-Encoding: deflate, Chunked"], zlib.compress(TEXT)),
        (["Content-Encoding: deflate", "Transfer-Encoding: gzip, chunked"], gzip.compress(zlib.compress(TEXT))),
        (["Content-Encoding: deflate"], raw_deflate(TEXT)),
        (["Content-Encoding: deflate", "Transfer-Encoding: chunked"], raw_deflate(TEXT)),
    ],
    ids=[
        "gzip-then-deflate",
        "deflate-then-gzip",
        "repeated-header",
        "identity-and-case",
        "transfer-gzip",
        "transfer-deflate",
        "content-and-transfer",
        "raw-deflate",
        "raw-deflate-chunked",
    ],
)
async def test_codings_are_undone_last_applied_first(
    transport: Http1Transport, headers: list[str], packed: bytes, how: str
) -> None:
    async with scripted([reply(packed, *headers), ok(b"after")]) as seen:
        response = await asyncio.wait_for(transport.send(request(f"{seen.url}/")), GUARD)
        assert await read_by(response, how) == TEXT
        assert await fetch(transport, f"{seen.url}/") == b"after"
    assert len(seen.connections) == 1  # a decoded body leaves its connection reusable


async def test_a_transfer_coding_on_a_close_delimited_body_is_undone(transport: Http1Transport) -> None:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"  # not chunked last: the close ends it
    async with scripted([then_close(head + gzip.compress(TEXT))]) as seen:
        assert await fetch(transport, f"{seen.url}/") == TEXT


@pytest.mark.parametrize("packed", [zlib.compress(TEXT), raw_deflate(TEXT)], ids=["zlib", "raw"])
async def test_deflate_is_told_apart_even_one_byte_at_first(transport: Http1Transport, packed: bytes) -> None:
    async def byte_by_byte(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: %d\r\n\r\n" % len(packed))
        for start, end in ((0, 1), (1, 2), (2, len(packed))):
            writer.write(packed[start:end])
            await writer.drain()
            await asyncio.sleep(0.02)  # each piece read on its own

    async with raw_server(byte_by_byte) as base:
        response = await asyncio.wait_for(transport.send(request(f"{base}/")), GUARD)
        assert await read_by(response, "iter_chunks") == TEXT


@pytest.mark.parametrize(
    "empty",
    [
        ok(b"", "Content-Encoding: gzip"),
        ok(b"", "Content-Encoding: gzip, deflate"),
        reply(b"", "Content-Encoding: deflate", "Transfer-Encoding: chunked"),
        reply(b"", "Transfer-Encoding: gzip, chunked"),
        b"HTTP/1.1 204 No Content\r\nContent-Encoding: gzip\r\n\r\n",
    ],
    ids=["gzip", "stacked", "chunked-deflate", "transfer-gzip", "204"],
)
async def test_an_empty_compressed_body_is_empty(transport: Http1Transport, empty: bytes) -> None:
    async with scripted([empty, ok(b"after")]) as seen:
        assert await fetch(transport, f"{seen.url}/") == b""
        assert await fetch(transport, f"{seen.url}/") == b"after"
    assert len(seen.connections) == 1


async def test_bytes_after_the_end_of_the_compressed_stream_are_ignored(transport: Http1Transport) -> None:
    async with scripted([reply(gzip.compress(TEXT) + b"\0" * 5000, "Content-Encoding: gzip")]) as seen:
        assert await fetch(transport, f"{seen.url}/") == TEXT


@pytest.mark.parametrize("packed", [zlib.compress(TEXT)[:-30], b"\x78"], ids=["deflate-cut", "one-byte"])
async def test_a_deflate_body_cut_short_does_not_decompress(transport: Http1Transport, packed: bytes) -> None:
    async with scripted([ok(packed, "Content-Encoding: deflate")]) as seen:
        with pytest.raises(UpstreamUnreachable) as info:
            await fetch(transport, f"{seen.url}/")
    assert info.value.message == f"{BACKEND}: {seen.url} sent a body that does not decompress"


# --- what is refused -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "refused"),
    [
        ("Content-Encoding: br", "content-encoding br"),
        ("Content-Encoding: zstd", "content-encoding zstd"),
        ("Content-Encoding: compress", "content-encoding compress"),
        ("Content-Encoding: x-snappy-framed", "content-encoding x-snappy-framed"),
        ("Content-Encoding: gzip, BR", "content-encoding br"),
        ("Transfer-Encoding: br, chunked", "transfer-encoding br"),
        ("Transfer-Encoding: chunked, gzip", "transfer-encoding chunked"),  # chunked must come last
        ("Content-Encoding: Bearer sk-live-0123456789", "content-encoding of an unknown form"),
    ],
    ids=["br", "zstd", "compress", "unknown", "in-a-list", "transfer-br", "chunked-not-last", "not-a-coding"],
)
async def test_a_coding_not_offered_is_refused_and_its_connection_dropped(
    transport: Http1Transport, header: str, refused: str
) -> None:
    body = b"\x8b\x7f\x00\x01 compressed somehow"
    async with scripted([reply(body, header), ok(b"after")]) as seen:
        with pytest.raises(UpstreamProtocolError) as info:
            await fetch(transport, f"{seen.url}/")
        assert await fetch(transport, f"{seen.url}/") == b"after"
    assert info.value.status == 502
    assert info.value.message == (
        f"{BACKEND}: {seen.url} sent a body the proxy cannot decode: {refused} is not supported"
    )
    assert "sk-live" not in info.value.message
    assert len(seen.connections) == 2


async def test_a_chunked_body_cut_short_is_not_whole_whatever_the_case(transport: Http1Transport) -> None:
    cut = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n7\r\ndata: 1\r\n"  # no last chunk, then a close
    async with scripted([then_close(cut)]) as seen:
        with pytest.raises(UpstreamUnreachable) as info:
            await fetch(transport, f"{seen.url}/")
    assert info.value.message == f"{BACKEND}: {seen.url} closed the connection mid-response"
