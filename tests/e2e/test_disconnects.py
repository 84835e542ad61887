"""Clients that leave early: the proxy stops the upstream request it was waiting on, and a client that
leaves in the middle of sending its body is no error of the proxy's."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable

import httpx
import pytest

from tests.fakes.proxy import PROXY_KEY, RunningProxy
from tests.fakes.upstream import FakeUpstream

MESSAGES = [{"role": "user", "content": "hi"}]
AUTH = {"Authorization": f"Bearer {PROXY_KEY}"}
# The fake upstream's own aiohttp server logs; every other record comes from the proxy.
UPSTREAM_LOGGERS = ("aiohttp.server", "aiohttp.web", "aiohttp.access")


def wait_for(condition: Callable[[], bool], seconds: float = 3.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def proxy_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR and not r.name.startswith(UPSTREAM_LOGGERS)]


# --- a non-streaming client that gives up ------------------------------------------------------------------


def test_a_client_that_gives_up_on_a_non_streaming_request_stops_the_upstream_request(
    proxy: RunningProxy, upstream: FakeUpstream
) -> None:
    body = {"model": "x/slow-answer", "messages": MESSAGES}
    with pytest.raises(httpx.TimeoutException):
        httpx.post(f"{proxy.url}/v1/chat/completions", json=body, headers=AUTH, timeout=0.3)

    # The fake would answer after 3 s; it notices the proxy hang up on it well before that.
    assert wait_for(lambda: "x/slow-answer" in upstream.aborted, 3.0), "the upstream request was left running"
    assert upstream.aborted == ["x/slow-answer"]
    assert [r.body["model"] for r in upstream.requests] == ["x/slow-answer"]


def test_the_proxy_serves_on_after_a_client_gave_up(proxy: RunningProxy, upstream: FakeUpstream) -> None:
    body = {"model": "x/slow-answer", "messages": MESSAGES}
    with pytest.raises(httpx.TimeoutException):
        httpx.post(f"{proxy.url}/v1/chat/completions", json=body, headers=AUTH, timeout=0.3)
    assert wait_for(lambda: "x/slow-answer" in upstream.aborted, 3.0)

    response = httpx.post(f"{proxy.url}/v1/chat/completions", json={"model": "x/a", "messages": MESSAGES}, headers=AUTH)
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "Hello from x/a"


def test_a_patient_client_still_gets_the_slow_answer(proxy: RunningProxy, upstream: FakeUpstream) -> None:
    # The counterpart: without a disconnect the proxy waits for the upstream and nothing is aborted.
    body = {"model": "x/slow-answer", "messages": MESSAGES}
    response = httpx.post(f"{proxy.url}/v1/chat/completions", json=body, headers=AUTH, timeout=10)
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "Hello from x/slow-answer"
    assert upstream.aborted == []


# --- a client that leaves in the middle of its request body ---------------------------------------------------


def _leave_mid_body(proxy: RunningProxy) -> None:
    """Announce a 1000-byte body, send 10 bytes of it, and close the connection."""
    request = (
        b"POST /v1/chat/completions HTTP/1.1\r\n"
        b"Host: 127.0.0.1\r\n"
        b"Authorization: Bearer " + PROXY_KEY.encode() + b"\r\n"
        b"Content-Type: application/json\r\n"
        b"Content-Length: 1000\r\n\r\n"
        b'{"model": '  # 10 bytes of the 1000 announced
    )
    assert len(request.rsplit(b"\r\n\r\n", 1)[1]) == 10
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock:
        sock.sendall(request)
        time.sleep(0.05)  # let the proxy start reading the body before the connection goes
    # the socket is closed here


def test_a_client_that_leaves_mid_body_is_not_logged_as_an_error(
    proxy: RunningProxy, upstream: FakeUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    assert httpx.get(f"{proxy.url}/health").status_code == 200

    _leave_mid_body(proxy)

    # Wait until the proxy has dealt with the request, one way or the other.
    assert wait_for(
        lambda: bool(proxy_errors(caplog)) or any("client disconnected" in r.getMessage() for r in caplog.records), 3.0
    ), "the proxy never finished the abandoned request"
    response = httpx.get(f"{proxy.url}/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert proxy_errors(caplog) == []
    assert upstream.requests == []  # nothing half-read was sent on


def test_several_clients_leaving_mid_body_leave_the_proxy_serving(
    proxy: RunningProxy, upstream: FakeUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for _ in range(5):
        _leave_mid_body(proxy)
    assert wait_for(lambda: sum("client disconnected" in r.getMessage() for r in caplog.records) >= 5 or bool(proxy_errors(caplog)))

    response = httpx.post(f"{proxy.url}/v1/chat/completions", json={"model": "x/a", "messages": MESSAGES}, headers=AUTH)
    assert response.status_code == 200
    assert proxy_errors(caplog) == []
    assert [r.body["model"] for r in upstream.requests] == ["x/a"]
