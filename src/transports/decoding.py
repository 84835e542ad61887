"""Undoing a response body's content and transfer codings, one bounded piece at a time.

Why pieces: deflate expands up to a thousandfold (1 MiB of gzip can hold 1 GiB), so no
network chunk is ever decoded at once. Each step yields at most PIECE bytes, and the reader
can stop (at max_response_mb) before the next one is made: a bomb costs a few pieces of memory.

What ACCEPT_ENCODING offers is decoded: gzip and deflate (zlib-wrapped, or raw as some servers
send it), stacked in any order. Any other coding (br, zstd, compress...) is refused: passed on,
it would reach the client as undecodable bytes labelled JSON.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Mapping

PIECE = 256 * 1024  # most bytes one decoding step makes
ACCEPT_ENCODING = "Accept-Encoding: gzip, deflate"  # what the proxy decodes, offered on every request
_GZIP = ("gzip", "x-gzip")
_DEFLATE = ("deflate",)


class UnsupportedCoding(Exception):
    """A coding this module does not decode; the message names it (when it looks like a coding name)."""

    def __init__(self, header: str, coding: str) -> None:
        # The value comes from the upstream: named only if it has a coding name's shape.
        plain = len(coding) <= 32 and coding.isascii() and coding.replace("-", "").replace(".", "").isalnum()
        super().__init__(f"{header} {coding if plain else 'of an unknown form'} is not supported")


def decoder_for(headers: Mapping[str, str]) -> BodyDecoder | None:
    """The decoder a response's headers call for, None for a body sent as it is.

    Raises UnsupportedCoding. The codings were applied content first, then transfer, each list
    in order; they are undone in reverse.
    """
    content = headers.get("content-encoding")
    transfer = headers.get("transfer-encoding")
    if content is None and (transfer is None or transfer == "chunked"):
        return None  # the common case, settled without parsing
    codings = _codings("content-encoding", content) + _codings("transfer-encoding", transfer)
    return BodyDecoder(codings) if codings else None


def _codings(header: str, value: str | None) -> list[str]:
    codings = [coding.strip().lower() for coding in (value or "").split(",")]
    codings = [coding for coding in codings if coding and coding != "identity"]
    if header == "transfer-encoding" and codings and codings[-1] == "chunked":
        codings.pop()  # the framing, which the HTTP parser has already undone
    for coding in codings:
        if coding not in _GZIP and coding not in _DEFLATE:
            raise UnsupportedCoding(header, coding)
    return codings


class BodyDecoder:
    """Undoes a list of gzip and deflate codings; each stage's output feeds the next in PIECEs."""

    __slots__ = ("_stages",)

    def __init__(self, codings: list[str]) -> None:
        self._stages = [_Inflater(coding in _GZIP) for coding in reversed(codings)]

    def decode(self, data: bytes) -> Iterator[bytes]:
        """The decoded pieces of the next bytes of the body; raises zlib.error."""
        return self._through(0, data)

    def finish(self) -> Iterator[bytes]:
        """What the stages still hold once the body has ended; raises zlib.error if it ended early."""
        for index, stage in enumerate(self._stages):
            if not stage.fed:
                continue  # an empty body (a 204's, a HEAD's) is not a broken one
            for piece in stage.drain():
                yield from self._through(index + 1, piece)
            if not stage.eof:
                raise zlib.error("the compressed body ends early")

    def _through(self, index: int, data: bytes) -> Iterator[bytes]:
        if index == len(self._stages):
            yield data
            return
        for piece in self._stages[index].decode(data):
            yield from self._through(index + 1, piece)


class _Inflater:
    """One gzip or deflate stream. A deflate one is zlib-wrapped or raw: its first two bytes tell."""

    __slots__ = ("_zlib", "_start", "fed")

    def __init__(self, gzip: bool) -> None:
        self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzip else None  # deflate: made once told which
        self._start = b""  # a deflate body's first byte, until the second arrives
        self.fed = False

    @property
    def eof(self) -> bool:
        return self._zlib is not None and self._zlib.eof

    def decode(self, data: bytes) -> Iterator[bytes]:
        if not data:
            return
        self.fed = True
        if self._zlib is None:
            data, self._start = self._start + data, b""
            if len(data) < 2:
                self._start = data
                return
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS if _zlib_wrapped(data) else -zlib.MAX_WBITS)
        if self._zlib.eof:
            return  # bytes after the end of the stream are ignored (not kept: they could be endless)
        yield from self._steps(data)

    def drain(self) -> Iterator[bytes]:
        if self._zlib is not None:
            yield from self._steps(b"")

    def _steps(self, data: bytes) -> Iterator[bytes]:
        inflater = self._zlib
        assert inflater is not None
        while True:
            piece = inflater.decompress(data, PIECE)
            if piece:
                yield piece
            data = inflater.unconsumed_tail
            # A full piece may leave output pending inside zlib even with no input left: ask again.
            if not data and len(piece) < PIECE:
                return


def _zlib_wrapped(start: bytes) -> bool:
    """RFC 1950's header: method 8, a window of at most 32 KiB, and a check that divides by 31.

    Raw deflate from any real encoder fails it: a stored block's padding bits are zero."""
    cmf, flg = start[0], start[1]
    return cmf & 0x0F == 8 and cmf >> 4 <= 7 and (cmf << 8 | flg) % 31 == 0
