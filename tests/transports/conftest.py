from __future__ import annotations

import asyncio
import importlib.util
import shutil
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from src.transports.http1 import Http1Transport
from tests.transports.certs import certs_with_cryptography, certs_with_openssl
from tests.transports.helpers import GUARD


@pytest.fixture(
    params=[
        pytest.param(("asyncio", {}), id="asyncio"),
        pytest.param(
            ("asyncio", {"use_uvloop": True}),
            id="uvloop",
            marks=pytest.mark.skipif(importlib.util.find_spec("uvloop") is None, reason="uvloop not installed"),
        ),
    ]
)
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, object]]:
    """Both loops: the proxy runs on uvloop, whose sockets, TLS and timers are its own code."""
    return request.param


@pytest.fixture
async def release() -> AsyncIterator[asyncio.Event]:
    """Set at teardown so that stalling handlers finish at once."""
    event = asyncio.Event()
    yield event
    event.set()


@pytest.fixture
async def transport() -> AsyncIterator[Http1Transport]:
    """A fresh transport, its idle connections closed at teardown."""
    transport = Http1Transport()
    yield transport
    await asyncio.wait_for(transport.aclose(), GUARD)


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ca.pem signed leaf.pem (for 127.0.0.1 and localhost); other-ca.pem signed nothing here.

    So are the keys of ca.pem and leaf.pem, for servers to present them."""
    directory = tmp_path_factory.mktemp("tls")
    if importlib.util.find_spec("cryptography") is not None:
        certs_with_cryptography(directory)
    elif shutil.which("openssl"):
        certs_with_openssl(directory)
    else:
        pytest.skip("making test certificates needs the cryptography package or the openssl command")
    return directory


@pytest.fixture
def server_tls(certs: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certs / "leaf.pem", certs / "leaf.key")
    return context


@pytest.fixture
def self_signed_tls(certs: Path) -> ssl.SSLContext:
    """A server presenting the CA's own certificate: self-signed, and not for 127.0.0.1."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certs / "ca.pem", certs / "ca.key")
    return context
