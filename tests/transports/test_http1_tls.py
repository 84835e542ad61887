"""Http1Transport over TLS, against a TLS server on 127.0.0.1 with certificates made for the session.

The transport builds its SSL context once, lazily, with ssl.create_default_context(), which reads
SSL_CERT_FILE: each test sets it before a fresh transport's first https request.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import struct
from pathlib import Path

import pytest

from src.transports.http1 import Http1Transport
from src.wire.errors import UpstreamUnreachable
from tests.transports.helpers import BACKEND, GUARD, fetch, ok, raw_server, scripted

pytestmark = pytest.mark.anyio


@pytest.fixture
async def transport(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)  # only SSL_CERT_FILE decides what is trusted
    transport = Http1Transport()
    yield transport
    await asyncio.wait_for(transport.aclose(), GUARD)


async def test_a_server_whose_ca_is_trusted_is_reached_and_its_connection_reused(
    transport: Http1Transport, certs: Path, server_tls: ssl.SSLContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certs / "ca.pem"))
    async with scripted([ok(b"secret"), ok(b"again")], ssl=server_tls) as seen:
        assert seen.url.startswith("https://127.0.0.1:")
        assert await fetch(transport, f"{seen.url}/v1/models") == b"secret"
        assert await fetch(transport, f"{seen.url}/v1/models", method="POST", body=b"{}") == b"again"
    assert len(seen.connections) == 1
    assert seen.bodies == [b"", b"{}"]


async def test_a_server_whose_ca_is_not_trusted_is_unreachable(
    transport: Http1Transport, certs: Path, server_tls: ssl.SSLContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certs / "other-ca.pem"))
    async with scripted([ok(b"secret")], ssl=server_tls) as seen:
        with pytest.raises(UpstreamUnreachable) as info:
            await fetch(transport, f"{seen.url}/v1/models")
    assert info.value.status == 502
    assert info.value.message.startswith(f"{BACKEND}: TLS with {seen.url} failed: ")
    assert info.value.message.endswith("failed: certificate verify failed: unable to get local issuer certificate")
    assert seen.heads == []


async def test_a_connection_reset_during_the_handshake_is_a_tls_failure(
    transport: Http1Transport, certs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certs / "ca.pem"))

    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)  # the ClientHello has begun to arrive
        writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    async with raw_server(reset) as base:
        url = base.replace("http://", "https://")
        with pytest.raises(UpstreamUnreachable) as info:
            await fetch(transport, f"{url}/v1/models")
    assert info.value.message.startswith(f"{BACKEND}: TLS with {url} failed: ")
    assert "reset" in info.value.message.lower()


async def test_a_plain_http_server_behind_an_https_url_is_unreachable(
    transport: Http1Transport, certs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certs / "ca.pem"))

    async def plain(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()

    async with raw_server(plain) as base:
        url = base.replace("http://", "https://")
        with pytest.raises(UpstreamUnreachable) as info:
            await fetch(transport, f"{url}/v1/models")
    assert info.value.message.startswith(f"{BACKEND}: TLS with {url} failed: ")


async def test_a_self_signed_certificate_is_unreachable_with_the_reason(
    transport: Http1Transport, certs: Path, self_signed_tls: ssl.SSLContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certs / "other-ca.pem"))
    async with scripted([ok(b"secret")], ssl=self_signed_tls) as seen:
        with pytest.raises(UpstreamUnreachable) as info:
            await fetch(transport, f"{seen.url}/v1/models")
    # OpenSSL 3 spells it "self-signed", 1.1 "self signed".
    assert info.value.message.replace("self signed", "self-signed") == (
        f"{BACKEND}: TLS with {seen.url} failed: certificate verify failed: self-signed certificate"
    )
    assert seen.heads == []
