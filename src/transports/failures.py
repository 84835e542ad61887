"""The one place the transport's failures become the proxy's errors.

Whatever the HTTP machinery raises (the connection's own exceptions, asyncio's, ssl's, zlib's,
the OS's) becomes UpstreamUnreachable, UpstreamTimeout or UpstreamProtocolError, each with a
message naming the upstream's origin (and the forward proxy, when it was the one at fault),
never a credential.
"""

from __future__ import annotations

import socket
import ssl
import zlib

from src.transports.base import UpstreamRequest
from src.transports.connection import Closed, Malformed, ReadTimeout
from src.transports.decoding import UnsupportedCoding
from src.transports.proxy import Proxy
from src.transports.request_head import RefusedHeader
from src.wire.errors import UpstreamError, UpstreamProtocolError, UpstreamTimeout, UpstreamUnreachable


class HandshakeCut(Exception):
    """The connection failed during the TLS handshake without a TLS error (a reset, an early close)."""


class TooLarge(Exception):
    """A whole read passed the request's max_body."""


class ProxyFailed(Exception):
    """The forward proxy could not be reached, or would not carry the request; names the proxy by host only."""

    def __init__(self, proxy: Proxy, why: str) -> None:
        super().__init__(f"proxy {proxy.where} {why}")


def translate(exc: BaseException, request: UpstreamRequest) -> BaseException:
    """The one place the client's failures become ours. Others (cancellation) pass unchanged."""
    if isinstance(exc, UpstreamError) or not isinstance(exc, Exception):
        return exc
    origin = _origin(request)
    if isinstance(exc, ReadTimeout):
        return UpstreamTimeout(request.backend, f"no response within {request.timeout:g}s from {origin}")
    if isinstance(exc, TimeoutError):
        return UpstreamTimeout(request.backend, f"no connection within {request.connect_timeout:g}s to {origin}")
    if isinstance(exc, Closed):
        where = "mid-response" if exc.mid_response else "before answering"
        return UpstreamUnreachable(request.backend, f"{origin} closed the connection {where}")
    if isinstance(exc, Malformed):
        return UpstreamUnreachable(request.backend, f"{origin} sent a malformed HTTP response: {exc}")
    if isinstance(exc, TooLarge):
        limit = f"{request.max_body / (1024 * 1024):g}"
        return UpstreamProtocolError(request.backend, f"{origin} answered more than {limit} MiB (max_response_mb)")
    if isinstance(exc, UnsupportedCoding):
        return UpstreamProtocolError(request.backend, f"{origin} sent a body the proxy cannot decode: {exc}")
    if isinstance(exc, zlib.error):
        return UpstreamUnreachable(request.backend, f"{origin} sent a body that does not decompress")
    if isinstance(exc, RefusedHeader):
        return UpstreamUnreachable(request.backend, f"header {exc} is not a valid HTTP header: not sent to {origin}")
    if isinstance(exc, ssl.SSLCertVerificationError) and exc.verify_message:
        # Its reason is only CERTIFICATE_VERIFY_FAILED: the verify message says which (expired, self-signed...).
        return UpstreamUnreachable(
            request.backend, f"TLS with {origin} failed: certificate verify failed: {exc.verify_message}"
        )
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return UpstreamUnreachable(request.backend, f"TLS with {origin} failed: {exc.reason or exc}")
    if isinstance(exc, ProxyFailed):
        return UpstreamUnreachable(request.backend, f"cannot reach {origin}: {exc}")
    if isinstance(exc, HandshakeCut):
        return UpstreamUnreachable(request.backend, f"TLS with {origin} failed: {exc} during the handshake")
    if isinstance(exc, socket.gaierror):
        return UpstreamUnreachable(request.backend, f"cannot resolve host of {origin}")
    if isinstance(exc, OSError):
        return UpstreamUnreachable(request.backend, f"cannot connect to {origin}: {reason(exc)}")
    if isinstance(exc, ValueError):
        return UpstreamUnreachable(request.backend, f"cannot send to {request.url}: {exc}")
    return exc


def reason(exc: OSError) -> str:
    if exc.strerror or str(exc):
        return exc.strerror or str(exc)
    return "connection reset" if isinstance(exc, ConnectionResetError) else type(exc).__name__


def _origin(request: UpstreamRequest) -> str:
    scheme, _, rest = request.url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"
