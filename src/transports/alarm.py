"""One timer for a run of deadlines, where setting and cancelling a timer for each (2-3 µs on
uvloop) would cost more than the work it guards.

Noting a deadline costs a comparison: the timer is set again only when it would fire too late.
When it fires, it asks its owner for the deadline now pending: none lets it go (the next `by`
sets it again), one still ahead sets it again, one passed rings `expired`.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable

# uvloop's clock counts milliseconds: a timer may fire up to one early, and one set again for
# what is left would then fire at once, over and over, until the clock moves.
CLOCK_STEP = 0.001  # seconds


class Alarm:
    __slots__ = ("loop", "_pending", "_expired", "_timer", "_at")

    def __init__(
        self, loop: asyncio.AbstractEventLoop, pending: Callable[[], float | None], expired: Callable[[], None]
    ) -> None:
        self.loop = loop
        self._pending = pending  # the deadline (loop time) now pending, or None
        self._expired = expired
        self._timer: asyncio.TimerHandle | None = None
        self._at = 0.0

    def by(self, when: float) -> None:
        """Ring no later than `when` (loop time)."""
        if self._timer is None or when < self._at:
            self._set(when)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _set(self, when: float) -> None:
        self.stop()
        # In a context of its own: whichever request notes a deadline first must not lend it its own.
        self._timer, self._at = self.loop.call_at(when, self._fire, context=contextvars.Context()), when

    def _fire(self) -> None:
        self._timer = None
        when = self._pending()
        if when is None:
            return
        if when - self.loop.time() > CLOCK_STEP:
            self._set(when)
        else:
            self._expired()
