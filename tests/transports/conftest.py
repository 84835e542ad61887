from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from src.transports.http1 import Http1Transport
from tests.transports.helpers import GUARD


@pytest.fixture
async def release() -> AsyncIterator[asyncio.Event]:
    """Set at teardown so that stalling handlers finish at once."""
    event = asyncio.Event()
    yield event
    event.set()


@pytest.fixture
async def transport() -> AsyncIterator[Http1Transport]:
    """A fresh transport, its idle connections closed at teardown."""
    transport = Http1Transport()
    yield transport
    await asyncio.wait_for(transport.aclose(), GUARD)
