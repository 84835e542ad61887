"""Alarm: one timer for a run of deadlines; it rings once the deadline its owner has pending has passed."""

from __future__ import annotations

import asyncio

import pytest

from src.transports.alarm import Alarm

pytestmark = pytest.mark.anyio


class Owner:
    def __init__(self) -> None:
        self.deadline: float | None = None
        self.rang: list[float] = []
        self.alarm = Alarm(asyncio.get_running_loop(), lambda: self.deadline, self.ring)

    def ring(self) -> None:
        self.rang.append(self.alarm.loop.time())

    def note(self, seconds: float) -> None:
        self.deadline = self.alarm.loop.time() + seconds
        self.alarm.by(self.deadline)


async def test_it_rings_once_the_pending_deadline_has_passed() -> None:
    owner = Owner()
    owner.note(0.02)
    await asyncio.sleep(0.1)
    assert owner.deadline is not None and len(owner.rang) == 1
    assert owner.rang[0] >= owner.deadline - 0.001  # at most one clock step early


async def test_a_later_deadline_is_waited_for_when_the_timer_fires_early() -> None:
    owner = Owner()
    owner.note(0.02)
    owner.note(0.08)  # the timer stays set for 0.02, and then sets itself again
    await asyncio.sleep(0.05)
    assert owner.rang == []
    await asyncio.sleep(0.1)
    assert len(owner.rang) == 1


async def test_a_nearer_deadline_sets_the_timer_sooner() -> None:
    owner = Owner()
    owner.note(5)
    owner.note(0.02)
    await asyncio.sleep(0.1)
    assert len(owner.rang) == 1


async def test_nothing_pending_lets_it_go_and_stop_silences_it() -> None:
    owner = Owner()
    owner.note(0.02)
    owner.deadline = None  # the wait ended
    await asyncio.sleep(0.05)
    owner.note(0.02)
    owner.alarm.stop()
    await asyncio.sleep(0.05)
    assert owner.rang == []
