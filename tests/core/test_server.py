"""Slow or huge requests cannot hold the server (src/core/server.py, GuardedProtocol), shown with
raw sockets against the app served exactly as the CLI serves it: a head must be whole within
request_header_timeout and 64 KiB, and a body may not stall for request_body_timeout."""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from src.core.server import MAX_HEAD
from tests.fakes.proxy import PROXY_KEY, RunningProxy
from tests.fakes.proxy_setup import proxy_config, usage_rows

GUARD = 10.0  # seconds: the most any of these waits may take, far above every timeout configured here
PARTIAL_HEAD = b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
StartProxy = Callable[..., RunningProxy]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[StartProxy]:
    """Starts a proxy with these settings (its usage database in tmp_path/usage.db); stops it after the test."""
    running: list[RunningProxy] = []

    def start(**settings: Any) -> RunningProxy:
        config = proxy_config("http://127.0.0.1:9/v1", "sk-srv-0001", database=tmp_path / "usage.db", **settings)
        running.append(RunningProxy(config).start())
        return running[-1]

    yield start
    for proxy in running:
        proxy.stop()


def connect(proxy: RunningProxy) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=GUARD)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection; fails if it is still open after GUARD."""
    sock.settimeout(GUARD)
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass  # closed too: a reset, as when the server drops a request under way
    except TimeoutError:
        pytest.fail(f"the connection was still open after {GUARD}s; got {received[:200]!r}")
    return received


def untouched(sock: socket.socket) -> bool:
    """Whether the server has neither answered nor closed the connection so far."""
    return not select.select([sock], [], [], 0)[0]


# --- the head ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("sent", [b"", PARTIAL_HEAD, b"GET /health HTTP/1.1\r\nHost: x"], ids=["nothing", "headers", "half a line"])
def test_a_head_that_never_completes_gets_a_408_and_is_closed(serve: StartProxy, sent: bytes) -> None:
    proxy = serve(request_header_timeout=0.5)
    with connect(proxy) as sock:
        sock.sendall(sent)

        answer = until_closed(sock)

    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert b"connection: close" in answer.lower()
    assert b'"code":"request_timeout"' in answer


def test_a_head_trickled_a_byte_at_a_time_is_still_cut_at_the_timeout(serve: StartProxy) -> None:
    proxy = serve(request_header_timeout=0.5)
    with connect(proxy) as sock:
        sock.sendall(PARTIAL_HEAD)
        deadline = time.monotonic() + GUARD
        try:
            while untouched(sock) and time.monotonic() < deadline:  # a header byte every 50 ms, never the blank line
                sock.sendall(b"x")
                time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):
            pass

        answer = until_closed(sock)

    assert answer.startswith(b"HTTP/1.1 408 "), answer


def test_a_head_over_64_kib_gets_a_431_before_it_is_read_whole(serve: StartProxy) -> None:
    proxy = serve(request_header_timeout=5)
    sock = connect(proxy)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
    answers: list[bytes] = []
    reader = threading.Thread(target=lambda: answers.append(until_closed(sock)))
    reader.start()
    sent, line = 0, b"x-filler: " + b"a" * 65_000 + b"\r\n"
    try:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        while sent < 32 * 1024 * 1024:  # 32 MiB of one never-ending head, unless the server hangs up
            sent += sock.send(line)
    except (BrokenPipeError, ConnectionResetError):
        pass
    reader.join(GUARD)
    sock.close()

    assert answers and answers[0].startswith(b"HTTP/1.1 431 "), answers
    assert b'"code":"request_header_fields_too_large"' in answers[0]
    assert sent < 8 * 1024 * 1024, f"the server took {sent} bytes of head before it hung up"


def test_a_head_just_under_64_kib_is_served(serve: StartProxy) -> None:
    proxy = serve()
    filler = "a" * (MAX_HEAD - 1024)

    response = httpx.get(f"{proxy.url}/health", headers={"x-filler": filler}, timeout=GUARD)

    assert response.status_code == 200


def test_many_half_sent_requests_are_all_closed(serve: StartProxy) -> None:
    proxy = serve(request_header_timeout=0.5)
    socks = [connect(proxy) for _ in range(50)]
    for sock in socks:
        sock.sendall(PARTIAL_HEAD)

    answers = [until_closed(sock) for sock in socks]
    for sock in socks:
        sock.close()

    assert [a[:13] for a in answers] == [b"HTTP/1.1 408 "] * 50


def test_health_answers_while_200_connections_hang_half_open(serve: StartProxy) -> None:
    proxy = serve(request_header_timeout=60)
    socks = [connect(proxy) for _ in range(200)]
    try:
        for sock in socks:
            sock.sendall(PARTIAL_HEAD)

        response = httpx.get(f"{proxy.url}/health", timeout=GUARD)

        assert response.status_code == 200
        assert response.json()["status"] == "ok"
        assert all(untouched(sock) for sock in socks)  # they did hang there all along
    finally:
        for sock in socks:
            sock.close()


# --- the body ---------------------------------------------------------------------------------------


def post_head(path: str, length: int) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {PROXY_KEY}\r\n"
            f"Content-Type: application/json\r\nUser-Agent: stalled-body/1\r\nContent-Length: {length}\r\n\r\n").encode()  # fmt: skip


def test_a_stalled_body_is_dropped_and_recorded_as_499(serve: StartProxy, tmp_path: Path) -> None:
    proxy = serve(request_body_timeout=0.5)
    with connect(proxy) as sock:
        sock.sendall(post_head("/v1/chat/completions", 1000) + b'{"model": "m", "mess')

        answer = until_closed(sock)

    assert answer == b""  # dropped, not answered: the request was under way
    [row] = usage_rows(proxy, tmp_path / "usage.db", "stalled-body/1", GUARD)
    assert (row["status"], row["requested_model"]) == (499, "")
    assert httpx.get(f"{proxy.url}/health", timeout=GUARD).status_code == 200


def test_a_body_gets_its_own_time_when_it_is_longer_than_the_heads(serve: StartProxy) -> None:
    proxy = serve(request_header_timeout=0.3, request_body_timeout=0.8)
    with connect(proxy) as sock:
        started = time.monotonic()
        sock.sendall(post_head("/v1/messages/count_tokens", 500) + b"{")

        assert until_closed(sock) == b""
        waited = time.monotonic() - started

    assert 0.7 < waited < GUARD  # the head's 0.3 s passed, and the body still had its 0.8 s


def test_a_stalled_body_on_an_unmetered_endpoint_is_dropped(serve: StartProxy) -> None:
    proxy = serve(request_body_timeout=0.5)
    with connect(proxy) as sock:
        sock.sendall(post_head("/v1/messages/count_tokens", 500) + b"{")

        assert until_closed(sock) == b""


def test_a_slow_but_steady_body_is_not_dropped(serve: StartProxy) -> None:
    proxy = serve(request_body_timeout=2)
    body = b'{"model": "m", "messages": [{"role": "user", "content": "' + b"x" * 40 + b'"}]}'
    with connect(proxy) as sock:
        sock.sendall(post_head("/v1/messages/count_tokens", len(body)))
        for start in range(0, len(body), 4):  # 4 bytes every 50 ms: 3 s in all, but never 2 s of silence
            sock.sendall(body[start : start + 4])
            time.sleep(0.05)
        sock.settimeout(GUARD)
        answer = sock.recv(65536)

    assert answer.startswith(b"HTTP/1.1 200 "), answer
    assert b'"input_tokens"' in answer


def test_the_next_head_on_a_connection_gets_the_heads_time_after_a_slow_body(serve: StartProxy) -> None:
    """A connection keeps one timer. After a body slow enough to set it for the body's longer time,
    the next head on that connection still has only the head's time."""
    proxy = serve(request_header_timeout=0.3, request_body_timeout=3)
    body = b'{"model": "m", "messages": [{"role": "user", "content": "hi"}]}'
    with connect(proxy) as sock:
        sock.sendall(post_head("/v1/messages/count_tokens", len(body)) + body[:10])
        time.sleep(0.5)  # past the head's time: the timer is now set for the body's 3 s
        sock.sendall(body[10:])
        sock.settimeout(GUARD)
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
        started = time.monotonic()
        sock.sendall(PARTIAL_HEAD)

        answer = until_closed(sock)
        waited = time.monotonic() - started

    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert waited < 1.5  # the head's 0.3 s (and one check of the timer), not what was left of the body's 3 s
