from __future__ import annotations

from collections.abc import Iterator

import pytest
import respx


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    """Every request the test makes must match a mocked route; nothing reaches the network."""
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as mock:
        yield mock
