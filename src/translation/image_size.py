"""Pixel dimensions read from the first bytes of a PNG, GIF, JPEG or WebP file, without decoding it."""

from __future__ import annotations

import base64
import binascii

# Enough base64 for every header but a JPEG whose frame header follows large EXIF/ICC data.
_PREFIX_CHARS = 64 * 1024
# JPEG start-of-frame markers (C0-CF) minus DHT (C4), JPG (C8) and DAC (CC), which are not frames.
_JPEG_FRAMES = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_STANDALONE = frozenset(range(0xD0, 0xDA)) | {0x01}


def base64_image_dimensions(data: str) -> tuple[int, int] | None:
    """(width, height) of a base64-encoded image, or None when it is not one this module reads."""
    try:
        head = base64.b64decode(data[: _PREFIX_CHARS - _PREFIX_CHARS % 4])
        size = image_dimensions(head)
        if size is None and head.startswith(b"\xff\xd8") and len(data) > _PREFIX_CHARS:
            size = image_dimensions(base64.b64decode(data))
    except (binascii.Error, ValueError):
        return None
    return size


def image_dimensions(data: bytes) -> tuple[int, int] | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
    if data.startswith(b"\xff\xd8"):
        return _jpeg(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp(data)
    return None


def _jpeg(data: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 9 <= len(data):
        if data[i] != 0xFF:
            return None  # not at a marker: a corrupt file, stop rather than guess
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte before a marker
            i += 1
            continue
        if marker in _JPEG_STANDALONE:
            i += 2
            continue
        if marker in _JPEG_FRAMES:
            return int.from_bytes(data[i + 7 : i + 9], "big"), int.from_bytes(data[i + 5 : i + 7], "big")
        i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
    return None


def _webp(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8 " and len(data) >= 30:
        width = int.from_bytes(data[26:28], "little") & 0x3FFF
        height = int.from_bytes(data[28:30], "little") & 0x3FFF
        return width, height
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X" and len(data) >= 30:
        return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
    return None
