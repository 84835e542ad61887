"""cancelled_on_disconnect: a block is cancelled, and ClientDisconnected raised, when the client leaves;
otherwise the block runs to its end and the watcher is stopped. Other cancellations pass unchanged.
A block shorter than the watchers' delay never starts a watcher."""

from __future__ import annotations

import asyncio
import contextvars

import pytest

from src.core.disconnect import ClientDisconnected, Watchers, cancelled_on_disconnect

pytestmark = pytest.mark.anyio

REQUEST = {"type": "http.request", "body": b"", "more_body": False}
DISCONNECT = {"type": "http.disconnect"}
LONG = 5.0  # how long a block would run if nothing cancelled it; a passing test never waits this long


class FakeReceive:
    """An ASGI `receive`: `first` messages, then a disconnect once `gone` is set (or never)."""

    def __init__(self, *first: dict) -> None:
        self.first = list(first)
        self.gone = asyncio.Event()
        self.calls = 0
        self.cancelled = False

    async def __call__(self) -> dict:
        self.calls += 1
        if self.first:
            return self.first.pop(0)
        try:
            await self.gone.wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        return DISCONNECT


async def until(condition, seconds: float = 3.0) -> bool:
    """Let the loop run until `condition()` holds, for at most `seconds`."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.001)
    return True


@pytest.mark.parametrize("first", [(), (REQUEST,), (REQUEST, REQUEST)], ids=["none", "one request", "two requests"])
async def test_disconnect_cancels_the_block_and_raises_client_disconnected(first: tuple[dict, ...]) -> None:
    receive = FakeReceive(*first)
    reached = []
    with pytest.raises(ClientDisconnected), cancelled_on_disconnect(receive, Watchers(0)):
        reached.append("start")
        receive.gone.set()
        await asyncio.sleep(LONG)
        reached.append("end")
    assert reached == ["start"]
    assert receive.calls == len(first) + 1  # the http.request messages were read past
    # The cancellation was taken back: this task can go on awaiting.
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]
    await asyncio.sleep(0)


async def test_disconnect_while_the_block_waits_on_something_else() -> None:
    receive = FakeReceive(REQUEST)
    never = asyncio.Event()

    async def leave_soon() -> None:
        await asyncio.sleep(0.01)
        receive.gone.set()

    helper = asyncio.ensure_future(leave_soon())
    with pytest.raises(ClientDisconnected), cancelled_on_disconnect(receive, Watchers(0)):
        await asyncio.wait_for(never.wait(), LONG)
    await helper


async def test_without_a_disconnect_the_block_completes_and_the_watcher_is_cancelled() -> None:
    receive = FakeReceive(REQUEST)
    result = []
    with cancelled_on_disconnect(receive, Watchers(0)):
        await asyncio.sleep(0.01)
        result.append(42)
    assert result == [42]
    assert receive.calls == 2  # it did watch: past the http.request, waiting for the next message
    assert await until(lambda: receive.cancelled), "the watcher was left running"
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


async def test_a_block_that_never_awaits_completes_too() -> None:
    receive = FakeReceive()
    with cancelled_on_disconnect(receive, Watchers(0)):
        value = 1 + 1
    assert value == 2
    # The watcher may not even have started; either way nothing is left waiting on `receive`.
    await asyncio.sleep(0.01)
    receive.gone.set()
    await asyncio.sleep(0.01)
    assert receive.calls <= 1


async def test_an_exception_in_the_block_propagates_and_stops_the_watcher() -> None:
    receive = FakeReceive(REQUEST)
    with pytest.raises(ValueError, match="boom"), cancelled_on_disconnect(receive, Watchers(0)):
        await asyncio.sleep(0.01)
        raise ValueError("boom")
    assert await until(lambda: receive.cancelled)


async def test_cancellation_from_elsewhere_stays_a_cancelled_error() -> None:
    receive = FakeReceive(REQUEST)
    entered = asyncio.Event()
    outcome: list[str] = []

    async def work() -> None:
        try:
            with cancelled_on_disconnect(receive, Watchers(0)):
                entered.set()
                await asyncio.sleep(LONG)
        except ClientDisconnected:
            outcome.append("client disconnected")
            raise
        outcome.append("completed")

    task = asyncio.ensure_future(work())
    await entered.wait()
    assert await until(lambda: receive.calls == 2)  # the watcher is waiting for the next message
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()
    assert outcome == []
    assert await until(lambda: receive.cancelled)


async def test_cancelled_error_raised_in_the_block_is_not_turned_into_a_disconnect() -> None:
    receive = FakeReceive(REQUEST)
    with pytest.raises(asyncio.CancelledError), cancelled_on_disconnect(receive, Watchers(0)):
        await asyncio.sleep(0.01)
        raise asyncio.CancelledError
    assert await until(lambda: receive.cancelled)


async def test_a_block_shorter_than_watch_after_starts_no_watcher() -> None:
    receive = FakeReceive(REQUEST)
    with cancelled_on_disconnect(receive, Watchers(0.05)):
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.06)
    assert receive.calls == 0


async def test_a_longer_block_is_watched_from_watch_after_on() -> None:
    receive = FakeReceive(REQUEST)
    receive.gone.set()  # the client left at once; it is noticed when the watch begins
    started = asyncio.get_running_loop().time()
    with pytest.raises(ClientDisconnected), cancelled_on_disconnect(receive, Watchers(0.05)):
        await asyncio.sleep(LONG)
    assert 0.04 <= asyncio.get_running_loop().time() - started < 1.0
    assert receive.calls == 2


async def test_one_timer_watches_each_block_that_outlives_the_delay_and_no_other() -> None:
    """Blocks share the watchers' one timer: one that ended in time is never watched, one begun
    later is watched once its own delay is over."""
    watchers = Watchers(0.05)
    short, long_ = FakeReceive(REQUEST), FakeReceive(REQUEST)

    async def block(receive: FakeReceive, delay: float, seconds: float) -> None:
        await asyncio.sleep(delay)
        with cancelled_on_disconnect(receive, watchers):
            await asyncio.sleep(seconds)

    started = asyncio.get_running_loop().time()
    await asyncio.gather(block(short, 0, 0.04), block(long_, 0.03, 0.15))
    assert short.calls == 0
    assert long_.calls >= 1 and asyncio.get_running_loop().time() - started >= 0.18


def test_watchers_outlive_an_event_loop() -> None:
    """An app may be served by one loop and then another (tests do it): a timer left on the
    closed loop must not keep the next loop's blocks from being watched."""
    watchers = Watchers(0.05)

    async def short() -> None:
        with cancelled_on_disconnect(FakeReceive(REQUEST), watchers):
            await asyncio.sleep(0)  # over before its watch is due; the timer stays on this loop

    async def long_() -> int:
        receive = FakeReceive(REQUEST)
        receive.gone.set()
        with pytest.raises(ClientDisconnected), cancelled_on_disconnect(receive, watchers):
            await asyncio.sleep(LONG)
        return receive.calls

    asyncio.run(short())
    assert asyncio.run(asyncio.wait_for(long_(), 2)) == 2


async def test_each_watch_runs_in_its_own_requests_context() -> None:
    """The watchers' one timer is set by whichever request comes first: no watch may run in that
    request's context (a logging context would name the wrong request)."""
    request = contextvars.ContextVar("request", default="none")
    watchers = Watchers(0.01)
    seen: dict[str, str] = {}

    class NamingReceive(FakeReceive):
        async def __call__(self) -> dict:
            seen.setdefault(request.get(), request.get())
            return await super().__call__()

    async def block(name: str, delay: float) -> None:
        request.set(name)
        await asyncio.sleep(delay)
        with cancelled_on_disconnect(NamingReceive(), watchers):
            await asyncio.sleep(0.1)

    await asyncio.gather(asyncio.create_task(block("first", 0)), asyncio.create_task(block("second", 0.005)))
    assert sorted(seen) == ["first", "second"]
