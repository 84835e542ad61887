"""Image dimensions from file headers, for the image part of the token estimate."""

from __future__ import annotations

import pytest

from src.translation.image_size import base64_image_dimensions, image_dimensions
from tests.translation.image_helpers import b64, gif, jpeg, png, webp_extended, webp_lossless, webp_lossy


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (png(1024, 768), (1024, 768)),
        (gif(320, 200), (320, 200)),
        (jpeg(1920, 1080), (1920, 1080)),
        (jpeg(640, 480, exif_bytes=30_000), (640, 480)),
        (webp_lossy(800, 600), (800, 600)),
        (webp_lossless(300, 150), (300, 150)),
        (webp_extended(4000, 3000), (4000, 3000)),
        (b"not an image at all", None),
        (b"\x89PNG\r\n\x1a\n", None),  # truncated
        (b"\xff\xd8\x00\x00garbage", None),
    ],
)
def test_image_dimensions(data: bytes, expected: tuple | None) -> None:
    assert image_dimensions(data) == expected


def test_base64_jpeg_with_a_frame_header_beyond_the_prefix() -> None:
    assert base64_image_dimensions(b64(jpeg(1234, 567, exif_bytes=60_000))) == (1234, 567)


@pytest.mark.parametrize("data", ["!!!not base64!!!", "", "QUJD"])
def test_base64_that_is_not_an_image(data: str) -> None:
    assert base64_image_dimensions(data) is None
