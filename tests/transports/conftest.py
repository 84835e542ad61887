from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest


@pytest.fixture
async def release() -> AsyncIterator[asyncio.Event]:
    """Set at teardown so that stalling handlers finish at once."""
    event = asyncio.Event()
    yield event
    event.set()
