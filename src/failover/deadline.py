"""A time limit on a block of one task, as `asyncio.timeout` sets it, at a fraction of its cost.

`asyncio.timeout` is an `async with`: two coroutines, two look-ups of the running loop (each a
system call, getpid) and a rescheduling step on every use, 5 µs on the benchmark's machine, and
the dispatcher uses one per attempt. The rule is the same: the task is cancelled when the time
is up, and the block then raises TimeoutError, unless someone else cancelled the task too (that
cancellation goes on).
"""

from __future__ import annotations

import asyncio
from types import TracebackType


class TimeLimit:
    __slots__ = ("_seconds", "_task", "_timer", "_cancelling", "_expired")

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds

    def __enter__(self) -> None:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("a time limit holds in a task")
        self._task, self._cancelling, self._expired = task, task.cancelling(), False
        self._timer = task.get_loop().call_later(self._seconds, self._expire)

    def _expire(self) -> None:
        self._expired = True
        self._task.cancel()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._timer.cancel()
        # The cancellation this limit made is taken back whatever ended the block; it becomes the
        # TimeoutError only if no other is pending.
        if self._expired and self._task.uncancel() <= self._cancelling and kind is asyncio.CancelledError:
            raise TimeoutError from exc
