"""carries_content: the point where a stream is committed to the client and failover ends, as each
protocol states it."""

from __future__ import annotations

import pytest

from src.wire.anthropic import MESSAGES
from src.wire.openai_chat import CHAT
from src.wire.sse import Event


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (b'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\n', False),
        (b'data: {"choices":[{"index":0,"delta":{"role":"assistant"},"finish_reason":null}]}\n\n', False),
        (b'data: {"choices":[{"index":0,"delta":{}}]}\n\n', False),
        (b'data: {"choices":[{"index":0,"delta":{"content":null,"tool_calls":[]}}]}\n\n', False),
        (b'data: {"choices":[]}\n\n', False),
        (b": OPENROUTER PROCESSING\n\n", False),  # a keep-alive shows nothing
        (b'data: {"choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n', True),
        (b'data: {"choices":[{"index":0,"delta":{"reasoning":"hmm"}}]}\n\n', True),
        (b'data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0}]}}]}\n\n', True),
        (b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n', True),
        (b'data: {"choices":[],"usage":{"prompt_tokens":1}}\n\n', True),
        (b"data: [DONE]\n\n", True),
        (b'data: {"ok":true}\n\n', True),  # not a chunk: only the client can judge it
        (b'data: {"choices":"x"}\n\n', True),
        (b'data: {"choices":[{"index":0,"delta":"x"}]}\n\n', True),
        (b'data: {"choices":[7]}\n\n', True),
        (b"data: [1,2]\n\n", True),
        (b"data: not json\n\n", True),
        # an Anthropic event is no chat chunk: a chat client would be shown it
        (b'event: message_start\ndata: {"type":"message_start"}\n\n', True),
    ],
)
def test_chat_only_what_shows_the_client_something_commits_a_stream(event: bytes, expected: bool) -> None:
    assert CHAT.carries_content(Event(event)) is expected


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (b'event: message_start\ndata: {"type":"message_start"}\n\n', False),
        (b'event: ping\ndata: {"type":"ping"}\n\n', False),
        (b'data: {"type":"message_start","message":{}}\n\n', False),  # no event name: its type says it
        (b'data: {"type":"ping"}\n\n', False),
        (b": keep-alive\n\n", False),
        (b"event: ping\n\n", False),
        (b'event: content_block_start\ndata: {"type":"content_block_start","index":0}\n\n', True),
        (b'data: {"type":"content_block_delta","index":0}\n\n', True),
        (b'event: message_delta\ndata: {"type":"message_delta"}\n\n', True),
        (b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error"}}\n\n', True),
        (b"data: not json\n\n", True),
        (b'data: {"type":7}\n\n', True),
    ],
)
def test_messages_only_what_shows_the_client_something_commits_a_stream(event: bytes, expected: bool) -> None:
    assert MESSAGES.carries_content(Event(event)) is expected
