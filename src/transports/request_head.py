"""The bytes of a request's head, and the origin and target of its URL.

Every header is checked here: a value with CR, LF or NUL, or a name that is not a token,
would let a header value change the request's framing.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from src.transports.decoding import ACCEPT_ENCODING

Origin = tuple[str, str, int]  # scheme, host, port
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # what RFC 9110 allows in a header name
_NAMES = re.compile(rf"(?:{_TOKEN.pattern})(?:\n{_TOKEN.pattern})*")  # names joined by line feeds


class RefusedHeader(Exception):
    """A header that would change the request's framing: a value with CR, LF or NUL, or a name that is not a token."""


@functools.lru_cache(maxsize=256)
def split_url(url: str) -> tuple[Origin, str, str]:
    """The URL's origin, request target and Host header line."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url}")
    default_port = 443 if parts.scheme == "https" else 80
    port = parts.port or default_port
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname  # IPv6, unbracketed by urlsplit
    return (
        (parts.scheme, parts.hostname, port),
        target,
        f"Host: {host}" if port == default_port else f"Host: {host}:{port}",
    )


def request_head(
    method: str, target: str, host: str, headers: Mapping[str, str], body: bytes | None, extra: str | None = None
) -> bytes:
    """The head; `extra` is one more header line of the proxy's own (Proxy-Authorization)."""
    lines = [f"{method} {target} HTTP/1.1", host] if extra is None else [f"{method} {target} HTTP/1.1", host, extra]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    # The backends write header names in one of these spellings. Without the header any coding is
    # acceptable (RFC 9110 12.5.3), br and zstd included, which we refuse.
    if "Accept-Encoding" not in headers and "accept-encoding" not in headers:
        lines.append(ACCEPT_ENCODING)
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    lines.append("\r\n")
    head = "\r\n".join(lines)
    # One look at the whole head rather than at each header: CR and LF only where lines end, no
    # NUL, and every name a token (a name holding a line break also breaks the count).
    lines_ok = head.count("\n") == len(lines) and head.count("\r") == len(lines) and "\0" not in head
    if not lines_ok or (headers and not _are_names("\n".join(headers))):
        raise RefusedHeader(_culprit(headers))
    return head.encode("utf-8")


@functools.lru_cache(maxsize=256)  # a backend sends the same few sets of names: its own and its config's
def _are_names(names: str) -> bool:
    return _NAMES.fullmatch(names) is not None


def _culprit(headers: Mapping[str, str]) -> str:
    """The name of the first header that breaks the framing (only asked once one does)."""
    for name, value in headers.items():
        if "\r" in value or "\n" in value or "\0" in value or not _TOKEN.fullmatch(name):
            return repr(name)
    return "the request line"


