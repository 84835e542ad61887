"""TimeLimit: asyncio.timeout's rule for a block of one task, checked case by case."""

from __future__ import annotations

import asyncio

import pytest

from src.failover.deadline import TimeLimit

pytestmark = pytest.mark.anyio


async def test_a_block_past_its_limit_raises_timeout_and_takes_its_cancellation_back() -> None:
    with pytest.raises(TimeoutError), TimeLimit(0.01):
        await asyncio.sleep(5)
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0
    await asyncio.sleep(0)  # the task goes on: nothing is left cancelled


async def test_a_block_within_its_limit_is_left_alone() -> None:
    with TimeLimit(0.05):
        await asyncio.sleep(0)
    await asyncio.sleep(0.1)  # the timer is gone: nothing cancels the task later


async def limited_task(limit: TimeLimit) -> asyncio.Task[None]:
    """A task waiting in a block under `limit`, started."""

    async def limited() -> None:
        with limit:
            await asyncio.sleep(5)

    task = asyncio.ensure_future(limited())
    await asyncio.sleep(0)
    return task


async def test_a_cancellation_from_elsewhere_stays_a_cancellation() -> None:
    task = await limited_task(TimeLimit(5))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_cancellation_from_elsewhere_at_the_limit_wins() -> None:
    """Both at once: the other canceller asked for the task's end, which a TimeoutError would swallow."""
    limit = TimeLimit(5)
    task = await limited_task(limit)
    limit._expire()  # the limit is up, and before the task runs again, someone else cancels it too
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()


async def test_other_errors_pass_through() -> None:
    with pytest.raises(ValueError, match="own"), TimeLimit(5):
        raise ValueError("its own")


async def test_a_limit_entered_again_starts_afresh() -> None:
    """Its earlier expiry is not the new block's: a cancellation from elsewhere stays one."""
    limit = TimeLimit(0.01)
    with pytest.raises(TimeoutError), limit:
        await asyncio.sleep(5)
    task = await limited_task(limit)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
