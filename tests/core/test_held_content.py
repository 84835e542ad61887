"""carries_content: the point where a stream is committed to the client and failover ends."""

from __future__ import annotations

import pytest

from src.failover.held import carries_content


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (b'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\n', False),
        (b'data: {"choices":[{"index":0,"delta":{"role":"assistant"},"finish_reason":null}]}\n\n', False),
        (b'data: {"choices":[{"index":0,"delta":{}}]}\n\n', False),
        (b'data: {"choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n', True),
        (b'data: {"choices":[{"index":0,"delta":{"reasoning":"hmm"}}]}\n\n', True),
        (b'data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0}]}}]}\n\n', True),
        (b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n', True),
        (b'data: {"choices":[],"usage":{"prompt_tokens":1}}\n\n', True),
        (b"data: [DONE]\n\n", True),
        (b'data: {"ok":true}\n\n', True),  # not a chunk: only the client can judge it
        (b'event: message_start\ndata: {"type":"message_start"}\n\n', False),
        (b'event: ping\ndata: {"type":"ping"}\n\n', False),
        (b'event: content_block_start\ndata: {"type":"content_block_start","index":0}\n\n', True),
    ],
)
def test_only_what_shows_the_client_something_commits_a_stream(event: bytes, expected: bool) -> None:
    assert carries_content(event) is expected
