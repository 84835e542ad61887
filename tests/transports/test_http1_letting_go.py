"""Http1Transport: the connections it must let go of, left idle after traffic stops or released after close."""

from __future__ import annotations

import asyncio

import pytest

from src.transports import http1
from src.transports.http1 import Http1Transport
from tests.transports.helpers import GUARD, fetch, ok, raw_server, read_request, request

pytestmark = pytest.mark.anyio


def served_until_closed(closed: asyncio.Event):
    """A server that answers every request, and sets `closed` once the client closes the connection."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await read_request(reader) is not None:
            writer.write(ok(b"fine"))
            await writer.drain()
        closed.set()

    return handle


async def test_connections_left_idle_after_traffic_stops_are_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http1, "IDLE_LIMIT", 0.1)
    closed = asyncio.Event()
    transport = Http1Transport()
    try:
        async with raw_server(served_until_closed(closed)) as url:
            assert await fetch(transport, f"{url}/") == b"fine"
            await asyncio.wait_for(closed.wait(), GUARD)  # no request, no aclose(): only the sweep
    finally:
        await transport.aclose()


async def test_a_connection_released_after_aclose_is_closed_not_pooled() -> None:
    closed = asyncio.Event()
    transport = Http1Transport()
    async with raw_server(served_until_closed(closed)) as url:
        response = await asyncio.wait_for(transport.send(request(f"{url}/")), GUARD)
        await transport.aclose()
        assert await asyncio.wait_for(response.read(), GUARD) == b"fine"
        await asyncio.wait_for(closed.wait(), GUARD)
