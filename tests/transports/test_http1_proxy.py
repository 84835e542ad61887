"""Http1Transport through a forward proxy: CONNECT tunnels for https, absolute form for http,
Proxy-Authorization, pooling, and every way a proxy can fail, named by its host and port only.

SSL_CERT_FILE and SSL_CERT_DIR are unset here: only a request's ca_bundle makes the test CA trusted.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
from pathlib import Path

import pytest

from src.transports.http1 import Http1Transport
from src.wire.errors import UpstreamUnreachable
from tests.fakes.forward_proxy import ForwardProxy
from tests.transports.helpers import BACKEND, GUARD, closed_port, fetch, ok, raw_server, read_request_head, scripted

pytestmark = pytest.mark.anyio

USER, PASSWORD = "us@er", "p:ss w%rd-0001"  # percent-encoded in the proxy URL
BASIC = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


@pytest.fixture
async def transport(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    transport = Http1Transport()
    yield transport
    await asyncio.wait_for(transport.aclose(), GUARD)


@pytest.fixture(params=["http", "https"])
def scheme(request: pytest.FixtureRequest) -> str:
    return request.param


def tls_for(scheme: str, server_tls: ssl.SSLContext) -> ssl.SSLContext | None:
    return server_tls if scheme == "https" else None


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


async def test_an_https_upstream_is_tunnelled_through_connect(
    transport: Http1Transport, certs: Path, server_tls: ssl.SSLContext
) -> None:
    async with ForwardProxy() as proxy, scripted([ok(b"secret")], ssl=server_tls) as seen:
        body = await fetch(transport, f"{seen.url}/v1/models", proxy=proxy.url(), ca_bundle=str(certs / "ca.pem"))
    assert body == b"secret"
    port = port_of(seen.url)
    assert proxy.lines == [f"CONNECT 127.0.0.1:{port} HTTP/1.1"]
    assert proxy.authorizations == [None]
    assert seen.heads[0].startswith(f"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode())


async def test_an_http_upstream_is_asked_for_in_absolute_form(transport: Http1Transport) -> None:
    async with ForwardProxy() as proxy, scripted([ok(b"plain")]) as seen:
        url = f"{seen.url}/v1/chat/completions?x=1"
        assert await fetch(transport, url, method="POST", body=b"{}", proxy=proxy.url()) == b"plain"
    assert proxy.lines == [f"POST {url} HTTP/1.1"]
    assert proxy.authorizations == [None]
    # The proxy rewrote it to origin form; the Host header is the upstream's, not the proxy's.
    assert seen.heads[0].startswith(f"POST /v1/chat/completions?x=1 HTTP/1.1\r\nHost: 127.0.0.1:{port_of(seen.url)}\r\n".encode())
    assert seen.bodies == [b"{}"]


async def test_a_ca_bundle_is_trusted_without_ssl_cert_file(
    transport: Http1Transport, certs: Path, server_tls: ssl.SSLContext
) -> None:
    async with scripted([ok(b"direct")], ssl=server_tls) as seen:
        with pytest.raises(UpstreamUnreachable, match="certificate verify failed"):
            await fetch(transport, f"{seen.url}/v1/models")  # the system's authorities alone do not know the CA
        assert await fetch(transport, f"{seen.url}/v1/models", ca_bundle=str(certs / "ca.pem")) == b"direct"
    assert len(seen.heads) == 1


@pytest.mark.parametrize("proxied", [False, True], ids=["direct", "proxied"])
async def test_a_ca_bundle_of_another_ca_is_refused(
    transport: Http1Transport, certs: Path, server_tls: ssl.SSLContext, proxied: bool
) -> None:
    async with ForwardProxy() as proxy, scripted([ok(b"secret")], ssl=server_tls) as seen:
        with pytest.raises(UpstreamUnreachable) as info:
            await fetch(
                transport, f"{seen.url}/v1/models", ca_bundle=str(certs / "other-ca.pem"),
                proxy=proxy.url() if proxied else None,
            )
    assert info.value.status == 502
    assert info.value.message.startswith(f"{BACKEND}: TLS with {seen.url} failed: certificate verify failed")
    assert seen.heads == []
    assert len(proxy.lines) == int(proxied)


async def test_credentials_go_in_proxy_authorization_percent_decoded(
    transport: Http1Transport, certs: Path, server_tls: ssl.SSLContext, scheme: str
) -> None:
    async with (
        ForwardProxy(credentials=(USER, PASSWORD)) as proxy,
        scripted([ok(b"granted")], ssl=tls_for(scheme, server_tls)) as seen,
    ):
        assert "%40" in proxy.url(USER, PASSWORD) and "%3A" in proxy.url(USER, PASSWORD)
        body = await fetch(
            transport, f"{seen.url}/v1/models", proxy=proxy.url(USER, PASSWORD), ca_bundle=str(certs / "ca.pem")
        )
    assert body == b"granted"
    assert proxy.authorizations == [BASIC]
    assert b"proxy-authorization" not in seen.heads[0].lower()  # never inside the tunnel, nor past the proxy


async def test_sequential_requests_reuse_one_proxy_connection(
    transport: Http1Transport, certs: Path, server_tls: ssl.SSLContext, scheme: str
) -> None:
    async with ForwardProxy() as proxy, scripted([ok(b"one"), ok(b"two")], ssl=tls_for(scheme, server_tls)) as seen:
        bundle = str(certs / "ca.pem")
        assert await fetch(transport, f"{seen.url}/a", proxy=proxy.url(), ca_bundle=bundle) == b"one"
        assert await fetch(transport, f"{seen.url}/b", proxy=proxy.url(), ca_bundle=bundle) == b"two"
    assert len(proxy.connections) == 1
    assert len(seen.connections) == 1 and len(seen.heads) == 2
    if scheme == "https":
        assert proxy.lines == [f"CONNECT 127.0.0.1:{port_of(seen.url)} HTTP/1.1"]
    else:
        assert proxy.lines == [f"GET {seen.url}/a HTTP/1.1", f"GET {seen.url}/b HTTP/1.1"]


async def test_direct_and_proxied_requests_to_one_origin_keep_separate_pools(transport: Http1Transport) -> None:
    async with ForwardProxy() as proxy, scripted([ok(b"via"), ok(b"direct"), ok(b"via again")]) as seen:
        assert await fetch(transport, f"{seen.url}/a", proxy=proxy.url()) == b"via"
        assert await fetch(transport, f"{seen.url}/b") == b"direct"
        assert await fetch(transport, f"{seen.url}/c", proxy=proxy.url()) == b"via again"
    assert len(seen.connections) == 2  # one through the proxy (reused), one direct
    assert len(proxy.connections) == 1
    assert proxy.lines == [f"GET {seen.url}/a HTTP/1.1", f"GET {seen.url}/c HTTP/1.1"]


async def test_a_407_to_connect_is_unreachable_naming_the_proxy_not_the_password(transport: Http1Transport) -> None:
    async with ForwardProxy(credentials=(USER, PASSWORD)) as proxy, scripted([ok()]) as seen:
        upstream = f"https://127.0.0.1:{port_of(seen.url)}"
        with pytest.raises(UpstreamUnreachable) as info:
            await fetch(transport, f"{upstream}/v1/models", proxy=proxy.url(USER, "wrong-secret-0001"))
    message = info.value.message
    assert message == (
        f"{BACKEND}: cannot reach {upstream}: proxy 127.0.0.1:{proxy.port} refused the tunnel: "
        "407 Proxy Authentication Required"
    )
    wrong = base64.b64encode(f"{USER}:wrong-secret-0001".encode()).decode()
    assert proxy.authorizations == [f"Basic {wrong}"]
    assert "wrong-secret" not in repr(info.value) and wrong not in repr(info.value)
    assert seen.connections == []  # the proxy went no further


async def test_a_407_to_an_absolute_form_request_is_unreachable_naming_the_proxy(transport: Http1Transport) -> None:
    async with ForwardProxy(credentials=(USER, PASSWORD)) as proxy, scripted([ok()]) as seen:
        with pytest.raises(UpstreamUnreachable) as info:
            response = await fetch(transport, f"{seen.url}/v1/models", proxy=proxy.url(USER, "wrong-secret-0001"))
            pytest.fail(f"the proxy's 407 came back as the upstream's answer: {response!r}")
    assert f"proxy 127.0.0.1:{proxy.port}" in info.value.message and "407" in info.value.message
    assert "wrong-secret" not in info.value.message


async def test_a_proxy_not_listening_is_unreachable_naming_it(transport: Http1Transport, scheme: str) -> None:
    port = closed_port()
    with pytest.raises(UpstreamUnreachable) as info:
        await fetch(transport, f"{scheme}://127.0.0.1:9/v1/models", proxy=f"http://u:hidden-0001@127.0.0.1:{port}")
    assert info.value.status == 502
    assert info.value.message.startswith(
        f"{BACKEND}: cannot reach {scheme}://127.0.0.1:9: proxy 127.0.0.1:{port} cannot be reached: "
    )
    assert "hidden-0001" not in info.value.message


async def _closes(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request_head(reader)


def _answers(data: bytes):
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request_head(reader)
        writer.write(data)
        await writer.drain()
        await reader.read()  # open until the client lets go: it decides from the answer alone

    return handle


@pytest.mark.parametrize(
    ("handle", "why"),
    [
        pytest.param(_closes, "closed the connection instead of opening the tunnel", id="closes"),
        pytest.param(_answers(b"SSH-2.0-OpenSSH_9.6\r\n\r\n"), "did not answer CONNECT in HTTP/1.1", id="garbage"),
        pytest.param(_answers(b"HTTP/1.1 200 OK\r\n\r\n\x16\x03"), "sent bytes of its own into the tunnel", id="early"),
        pytest.param(_answers(b"HTTP/1.1 200 " + b"x" * 70000), "answered CONNECT with more than 64 KiB of head", id="endless-head"),
        pytest.param(_answers(b"HTTP/1.1 502 Bad Gateway\r\n\r\n"), "refused the tunnel: 502 Bad Gateway", id="502"),
    ],
)
async def test_a_proxy_that_will_not_tunnel_is_unreachable(transport: Http1Transport, handle, why: str) -> None:
    async with raw_server(handle) as proxy_url:
        with pytest.raises(UpstreamUnreachable) as info:
            await fetch(transport, "https://127.0.0.1:9/v1/models", proxy=proxy_url)
    assert info.value.message == f"{BACKEND}: cannot reach https://127.0.0.1:9: proxy {proxy_url[7:]} {why}"
