"""Http1Transport: no upstream answer can fill the proxy's memory, however it is framed or coded.

A whole read stops at the request's max_body (max_response_mb), counted after decoding; a
stream is not capped in total, but a compressed chunk never expands into memory at once.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import struct
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest

from src.transports.decoding import PIECE
from src.transports.http1 import Http1Transport
from src.wire.errors import UpstreamProtocolError
from tests.transports.helpers import BACKEND, GUARD, fetch, ok, raw_server, read_request, request, scripted

pytestmark = pytest.mark.anyio

MiB = 1024 * 1024
BOMB_SIZE = 1024 * MiB  # what the bomb expands to
SMALL_GZIP = gzip.compress(b'{"ok":true}')


@functools.cache
def gzip_bomb() -> bytes:
    """About 1 MiB of gzip that expands to 1 GiB of zeros, made in a second rather than deflating 1 GiB.

    Each segment is 1 MiB of zeros deflated on its own (a full flush ends it on a byte and
    forgets the history), so one segment repeated is a valid stream; 03 00 is an empty final block.
    """
    deflater = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    zeros = bytes(MiB)
    segment = deflater.compress(zeros) + deflater.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(BOMB_SIZE // MiB):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return header + segment * (BOMB_SIZE // MiB) + b"\x03\x00" + struct.pack("<II", crc, BOMB_SIZE % 2**32)


def test_the_bomb_is_one_mib_of_segments_that_chain() -> None:
    bomb = gzip_bomb()
    assert len(bomb) < 1.1 * MiB
    segment = bomb[10 : 10 + (len(bomb) - 20) // (BOMB_SIZE // MiB)]
    # Two segments and the end make 2 MiB of zeros (inflating the whole 1 GiB would take seconds).
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    assert inflater.decompress(segment * 2 + b"\x03\x00") == bytes(2 * MiB)
    assert inflater.eof


@asynccontextmanager
async def traced() -> AsyncIterator[Callable[[], int]]:
    """Python allocations from here on; yields a function returning the peak so far."""
    tracemalloc.start()
    try:
        yield lambda: tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def too_large(url: str, mib: int) -> str:
    return f"{BACKEND}: {url} answered more than {mib} MiB (max_response_mb)"


async def test_a_gzip_bomb_read_whole_stops_at_max_body_in_bounded_memory(transport: Http1Transport) -> None:
    bomb = ok(gzip_bomb(), "Content-Encoding: gzip")
    async with scripted([bomb, ok(b"after")]) as seen:
        async with traced() as peak:
            with pytest.raises(UpstreamProtocolError) as info:
                await fetch(transport, f"{seen.url}/", max_body=4 * MiB)
            assert peak() < 32 * MiB  # 4 MiB read, joined once: a few pieces more, not 1 GiB
        assert await fetch(transport, f"{seen.url}/") == b"after"
    assert info.value.status == 502
    assert info.value.message == too_large(seen.url, 4)
    assert len(seen.connections) == 2  # the bomb's connection was dropped, never pooled


async def test_other_tasks_run_while_a_compressed_body_is_inflated(transport: Http1Transport) -> None:
    turns = 0

    async def ticker() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    async with scripted([ok(gzip_bomb(), "Content-Encoding: gzip")]) as seen:
        response = await asyncio.wait_for(transport.send(request(f"{seen.url}/", max_body=32 * MiB)), GUARD)
        task = asyncio.ensure_future(ticker())
        await asyncio.sleep(0)
        before = turns
        with pytest.raises(UpstreamProtocolError):
            await asyncio.wait_for(response.read(), GUARD)
        task.cancel()
    # 32 MiB arrive as pieces of PIECE bytes; the loop had a turn between any two of them.
    assert turns - before >= 32 * MiB // PIECE


async def test_a_gzip_bomb_streamed_comes_in_bounded_pieces(transport: Http1Transport) -> None:
    async with scripted([ok(gzip_bomb(), "Content-Encoding: gzip"), ok(b"after")]) as seen:
        response = await asyncio.wait_for(transport.send(request(f"{seen.url}/", max_body=MiB)), GUARD)
        sizes: list[int] = []
        async with traced() as peak:
            chunks = response.iter_chunks()
            async for chunk in chunks:  # a stream is not held to max_body: its reader decides
                sizes.append(len(chunk))
                assert not chunk.strip(b"\0")
                if sum(sizes) >= 64 * MiB:
                    break
            await chunks.aclose()  # type: ignore[attr-defined]
            assert peak() < 16 * MiB
        assert await fetch(transport, f"{seen.url}/") == b"after"
    assert sum(sizes) == 64 * MiB
    assert max(sizes) <= PIECE
    assert len(seen.connections) == 2  # left unfinished, so dropped


def endless_head(framing: str) -> bytes:
    head = {
        "chunked": "Transfer-Encoding: chunked",
        "content-length": f"Content-Length: {1 << 40}",
        "close-delimited": "Content-Type: application/json",
        "gzip-then-trailing-bytes": "Content-Encoding: gzip\r\nTransfer-Encoding: chunked",
    }[framing]
    return f"HTTP/1.1 200 OK\r\n{head}\r\n\r\n".encode()


@pytest.mark.parametrize("framing", ["chunked", "content-length", "close-delimited", "gzip-then-trailing-bytes"])
async def test_an_endless_body_read_whole_stops_at_max_body(transport: Http1Transport, framing: str) -> None:
    piece = b"x" * 65536
    connections = 0

    async def endless_then_ok(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await read_request(reader)
        if connections > 1:
            writer.write(ok(b"after"))
            await writer.drain()
            return
        writer.write(endless_head(framing))
        if framing == "gzip-then-trailing-bytes":  # what follows the end decodes to nothing: received bytes count
            writer.write(b"%x\r\n%s\r\n" % (len(SMALL_GZIP), SMALL_GZIP))
        while True:  # until the client hangs up
            writer.write(piece if framing in ("content-length", "close-delimited") else b"10000\r\n%s\r\n" % piece)
            await writer.drain()

    async with raw_server(endless_then_ok) as base:
        async with traced() as peak:
            with pytest.raises(UpstreamProtocolError) as info:
                await fetch(transport, f"{base}/", max_body=2 * MiB)
            assert peak() < 16 * MiB
        assert await fetch(transport, f"{base}/") == b"after"
    assert info.value.message == too_large(base, 2)
    assert connections == 2


async def test_a_body_of_exactly_max_body_is_read(transport: Http1Transport) -> None:
    body = b"y" * 100_000
    async with scripted([ok(body), ok(zlib.compress(body), "Content-Encoding: deflate")]) as seen:
        assert await fetch(transport, f"{seen.url}/", max_body=len(body)) == body
        assert await fetch(transport, f"{seen.url}/", max_body=len(body)) == body
    assert len(seen.connections) == 1


@pytest.mark.parametrize("compressed", [False, True], ids=["identity", "gzip"])
async def test_one_byte_over_max_body_is_too_large(transport: Http1Transport, compressed: bool) -> None:
    body = b"z" * (MiB + 1)
    reply = ok(zlib.compress(body, wbits=31), "Content-Encoding: gzip") if compressed else ok(body)
    async with scripted([reply]) as seen:
        with pytest.raises(UpstreamProtocolError) as info:
            await fetch(transport, f"{seen.url}/", max_body=MiB)
    assert info.value.message == too_large(seen.url, 1)


async def test_a_fractional_limit_is_named_as_it_is(transport: Http1Transport) -> None:
    async with scripted([ok(b"w" * MiB)]) as seen:
        with pytest.raises(UpstreamProtocolError) as info:
            await fetch(transport, f"{seen.url}/", max_body=MiB // 2)
    assert info.value.message == f"{BACKEND}: {seen.url} answered more than 0.5 MiB (max_response_mb)"
