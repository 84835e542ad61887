"""dial, interleave and race: Happy Eyeballs, on fake attempts and on real sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket

import pytest

from src.transports.dial import attempt, dial, interleave, race
from src.transports.http1 import Http1Transport
from src.wire.errors import UpstreamUnreachable
from tests.transports.helpers import BACKEND, GUARD, closed_port, fetch, ok, request, scripted

pytestmark = pytest.mark.anyio
V4, V6 = socket.AF_INET, socket.AF_INET6


def resolving(names: dict[str, list[tuple]], asked: list[tuple[str, int]] | None = None):
    """The loop's resolver with made-up names; IP literals still resolve for real, since uvloop's
    sock_connect looks its address up again through the same method."""
    original = asyncio.get_running_loop().getaddrinfo

    async def resolver(host: str, port: int, **kwargs) -> list[tuple]:
        if host not in names:
            return await original(host, port, **kwargs)
        if asked is not None:
            asked.append((host, port))
        return names[host]

    return resolver


def info(family: int, name: str) -> tuple:
    return (family, socket.SOCK_STREAM, 6, "", (name, 443))


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ([(V6, "a")], ["a"]),
        ([(V6, "a"), (V6, "b")], ["a", "b"]),
        ([(V6, "a"), (V6, "b"), (V4, "c"), (V4, "d")], ["a", "c", "b", "d"]),
        ([(V4, "a"), (V6, "b"), (V6, "c")], ["a", "b", "c"]),
        ([(V6, "a"), (V4, "b"), (V4, "c"), (V4, "d")], ["a", "b", "c", "d"]),
        ([(V4, "a"), (V4, "b"), (V4, "c"), (V6, "d")], ["a", "d", "b", "c"]),
    ],
)
def test_families_alternate_from_the_first(given: list[tuple[int, str]], expected: list[str]) -> None:
    assert [entry[4][0] for entry in interleave([info(*pair) for pair in given])] == expected


class Attempts:
    """Fake connection attempts: each hangs, fails or succeeds after a delay; records what happened."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.cancelled: list[str] = []
        self.sockets: dict[str, socket.socket] = {}

    def hangs(self, name: str):
        async def run() -> socket.socket:
            self.started.append(name)
            try:
                await asyncio.sleep(GUARD)
            except asyncio.CancelledError:
                self.cancelled.append(name)
                raise
            raise AssertionError("a hanging attempt was never cancelled")

        return run

    def fails(self, name: str, reason: str = "Connection refused", after: float = 0.0):
        async def run() -> socket.socket:
            self.started.append(name)
            await asyncio.sleep(after)
            raise ConnectionRefusedError(111, reason)

        return run

    def succeeds(self, name: str, after: float = 0.0):
        async def run() -> socket.socket:
            self.started.append(name)
            await asyncio.sleep(after)
            self.sockets[name] = socket.socket()
            return self.sockets[name]

        return run


async def test_a_hanging_address_gives_way_to_the_next_after_the_delay() -> None:
    attempts = Attempts()
    loop = asyncio.get_running_loop()
    began = loop.time()  # the loop's own clock: uvloop's is libuv's, read once per turn of the loop
    sock = await asyncio.wait_for(race([attempts.hangs("v6"), attempts.succeeds("v4")], delay=0.05), GUARD)
    assert sock is attempts.sockets["v4"]
    assert loop.time() - began >= 0.05 - 1e-9  # uvloop's clock counts whole ms: 2620.506 - 2620.456 < 0.05
    await asyncio.sleep(0)  # the loser learns of its cancellation on the next turn of the loop
    assert attempts.cancelled == ["v6"]
    sock.close()


async def test_a_failed_attempt_starts_the_next_at_once() -> None:
    attempts = Attempts()
    sock = await asyncio.wait_for(race([attempts.fails("v6"), attempts.succeeds("v4")], delay=GUARD * 2), GUARD)
    assert sock is attempts.sockets["v4"]
    assert attempts.started == ["v6", "v4"]
    sock.close()


async def test_the_first_address_that_answers_in_time_is_the_only_one_tried() -> None:
    attempts = Attempts()
    sock = await asyncio.wait_for(race([attempts.succeeds("v6"), attempts.succeeds("v4")], delay=0.5), GUARD)
    assert sock is attempts.sockets["v6"]
    assert attempts.started == ["v6"]
    sock.close()


async def test_the_losers_are_cancelled() -> None:
    attempts = Attempts()
    contenders = [attempts.hangs("first"), attempts.hangs("second"), attempts.succeeds("third")]
    sock = await asyncio.wait_for(race(contenders, delay=0.01), GUARD)
    assert sock is attempts.sockets["third"]
    await asyncio.sleep(0)
    assert sorted(attempts.cancelled) == ["first", "second"]
    sock.close()


async def test_of_two_that_connect_together_one_wins_and_the_other_is_closed() -> None:
    together = asyncio.Event()
    made: list[socket.socket] = []

    def at_once():
        async def run() -> socket.socket:
            await together.wait()
            made.append(socket.socket())
            return made[-1]

        return run

    racing = asyncio.ensure_future(race([at_once(), at_once()], delay=0.01))
    await asyncio.sleep(0.05)  # both attempts under way
    together.set()
    sock = await asyncio.wait_for(racing, GUARD)
    assert len(made) == 2
    assert [s.fileno() == -1 for s in made if s is not sock] == [True]
    sock.close()


async def test_an_attempt_that_connects_after_losing_is_closed() -> None:
    late: list[socket.socket] = []

    async def deaf_to_cancellation() -> socket.socket:
        try:
            await asyncio.sleep(GUARD)
        except asyncio.CancelledError:
            await asyncio.sleep(0.01)  # as a connect that completes while being cancelled
            late.append(socket.socket())
            return late[0]
        raise AssertionError("never cancelled")

    attempts = Attempts()
    sock = await asyncio.wait_for(race([deaf_to_cancellation, attempts.succeeds("winner")], delay=0.01), GUARD)
    await asyncio.sleep(0.05)
    assert sock is attempts.sockets["winner"]
    assert len(late) == 1 and late[0].fileno() == -1
    sock.close()


async def test_when_every_address_fails_the_reasons_are_given_once_each() -> None:
    attempts = Attempts()
    contenders = [attempts.fails("a", "Network is unreachable"), attempts.fails("b"), attempts.fails("c")]
    with pytest.raises(OSError) as caught:
        await asyncio.wait_for(race(contenders, delay=0.01), GUARD)
    assert caught.value.strerror == "Network is unreachable; Connection refused"


async def test_a_single_failure_is_raised_as_it_is() -> None:
    attempts = Attempts()
    with pytest.raises(ConnectionRefusedError):
        await asyncio.wait_for(race([attempts.fails("only")], delay=0.01), GUARD)


async def test_cancelling_the_race_cancels_every_attempt() -> None:
    attempts = Attempts()
    racing = asyncio.ensure_future(race([attempts.hangs("a"), attempts.hangs("b")], delay=0.01))
    await asyncio.sleep(0.05)
    racing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await racing
    assert sorted(attempts.cancelled) == ["a", "b"]


async def test_a_real_refused_address_falls_through_to_a_listening_one() -> None:
    loop = asyncio.get_running_loop()
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    refused = (V4, socket.SOCK_STREAM, 6, "", ("127.0.0.1", closed_port()))
    listening = (V4, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))
    try:
        sock = await asyncio.wait_for(race([attempt(loop, refused), attempt(loop, listening)]), GUARD)
        assert sock.getpeername() == ("127.0.0.1", port)
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        sock.close()
    finally:
        server.close()


async def test_dial_resolves_once_and_connects(monkeypatch: pytest.MonkeyPatch) -> None:
    loop = asyncio.get_running_loop()
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    asked: list[tuple[str, int]] = []
    two = [(V4, socket.SOCK_STREAM, 6, "", ("127.0.0.1", closed_port())), (V4, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
    monkeypatch.setattr(loop, "getaddrinfo", resolving({"upstream.example": two}, asked))
    try:
        sock = await asyncio.wait_for(dial("upstream.example", 8443), GUARD)
        assert sock.getpeername() == ("127.0.0.1", port)
        sock.close()
    finally:
        server.close()
    assert asked == [("upstream.example", 8443)]


async def test_a_name_without_addresses_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    async def resolver(host: str, port: int, **kwargs) -> list[tuple]:
        return []

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", resolver)
    with pytest.raises(OSError, match="no address for nowhere.example"):
        await dial("nowhere.example", 80)


async def test_the_transport_reaches_a_host_whose_first_address_is_dead(
    transport: Http1Transport, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop = asyncio.get_running_loop()
    async with scripted([ok(b"answered")]) as server:
        port = int(server.url.rsplit(":", 1)[1])

        two = [(V4, socket.SOCK_STREAM, 6, "", ("127.0.0.1", closed_port())), (V4, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        asked: list[tuple[str, int]] = []
        monkeypatch.setattr(loop, "getaddrinfo", resolving({"dual.example": two}, asked))
        assert await fetch(transport, "http://dual.example:8080/v1/models") == b"answered"
    assert server.heads[0].splitlines()[1] == b"Host: dual.example:8080"
    assert asked == [("dual.example", 8080)]


async def test_the_transport_reports_every_dead_address_as_unreachable(
    transport: Http1Transport, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = [(V4, socket.SOCK_STREAM, 6, "", ("127.0.0.1", closed_port())) for _ in range(2)]
    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", resolving({"dead.example": dead}))
    with pytest.raises(UpstreamUnreachable) as info:
        await asyncio.wait_for(transport.send(request("http://dead.example/v1")), GUARD)
    assert info.value.message == f"{BACKEND}: cannot connect to http://dead.example: Connection refused"
