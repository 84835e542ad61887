"""messages_to_chat: system prompts, user content, thinking history and message order (D1, D7)."""

from __future__ import annotations

import pytest

from src.translation.anthropic_request import messages_to_chat
from tests.translation.anthropic_request_helpers import (
    CACHE,
    assistant,
    image_b64,
    image_url,
    messages_of,
    text,
    user,
)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param({"system": "Be brief."}, [{"role": "system", "content": "Be brief."}], id="string"),
        pytest.param(
            {"system": [text("You are Claude Code."), text("Be brief.")]},
            [{"role": "system", "content": "You are Claude Code.\nBe brief."}],
            id="blocks-joined",
        ),
        pytest.param(
            {"system": [text("A", cache_control=CACHE), text("B")]},
            [{"role": "system", "content": "A\nB"}],
            id="blocks-cache-control-dropped-for-non-claude",
        ),
        pytest.param(
            {"model": "anthropic/claude-sonnet-4", "system": [text("A", cache_control=CACHE), text("B")]},
            [
                {
                    "role": "system",
                    "content": [{"type": "text", "text": "A", "cache_control": CACHE}, {"type": "text", "text": "B"}],
                }
            ],
            id="blocks-cache-control-kept-for-claude",
        ),
        pytest.param({"system": [text(""), text("  ")]}, [], id="only-empty-blocks"),
        pytest.param({"system": ""}, [], id="empty-string"),
    ],
)
def test_system(body: dict, expected: list) -> None:
    assert messages_of([user("hi")], **body)[:-1] == expected


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param("hello", "hello", id="string"),
        pytest.param([text("a"), text("b")], "a\nb", id="text-blocks-joined"),
        pytest.param([text("a"), text(""), text(" \n"), text("b")], "a\nb", id="empty-text-blocks-dropped"),
        pytest.param(
            [text("what is this?"), image_b64("QUJD", "image/jpeg")],
            [
                {"type": "text", "text": "what is this?"},
                {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,QUJD"}},
            ],
            id="image-base64",
        ),
        pytest.param(
            [image_url("https://example.com/cat.png")],
            [{"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}],
            id="image-url",
        ),
        pytest.param(
            [{"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"}}],
            [{"type": "file", "file": {"filename": "document.pdf", "file_data": "data:application/pdf;base64,JVBE"}}],
            id="document-pdf",
        ),
        pytest.param(
            [{"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "notes"}}],
            "notes",
            id="document-text",
        ),
    ],
)
def test_user_content(content: object, expected: object) -> None:
    assert messages_of([user(content)]) == [{"role": "user", "content": expected}]


def test_message_left_empty_is_dropped() -> None:
    assert messages_of([user([text("")]), user("real")]) == [{"role": "user", "content": "real"}]


def test_user_text_cache_control_kept_for_claude() -> None:
    out = messages_of([user([text("a"), text("b", cache_control=CACHE)])], model="claude-sonnet-4-5")
    assert out == [
        {
            "role": "user",
            "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b", "cache_control": CACHE}],
        }
    ]


def test_keep_cache_control_overrides_the_model_rule() -> None:
    body = {"model": "my-alias", "max_tokens": 8, "messages": [user([text("a", cache_control=CACHE)])]}
    kept, _ = messages_to_chat(body, keep_cache_control=True)
    dropped, _ = messages_to_chat({**body, "model": "claude-x"}, keep_cache_control=False)
    assert kept["messages"][0]["content"] == [{"type": "text", "text": "a", "cache_control": CACHE}]
    assert dropped["messages"][0]["content"] == "a"


def test_thinking_history() -> None:
    out = messages_of(
        [
            user("q"),
            assistant(
                [
                    {"type": "thinking", "thinking": "let me think", "signature": "EqQBCkYIBxgC"},
                    {"type": "redacted_thinking", "data": "EmwKAhgBEgy3"},
                    text("answer"),
                ]
            ),
            assistant([{"type": "thinking", "thinking": "unsigned", "signature": ""}, text("second")]),
            assistant([{"type": "thinking", "thinking": "alone", "signature": "sig"}]),
        ]
    )
    assert out[1] == {
        "role": "assistant",
        "content": "answer",
        "reasoning_details": [
            {
                "type": "reasoning.text",
                "text": "let me think",
                "signature": "EqQBCkYIBxgC",
                "format": "anthropic-claude-v1",
                "index": 0,
            },
            {"type": "reasoning.encrypted", "data": "EmwKAhgBEgy3", "format": "anthropic-claude-v1", "index": 1},
        ],
    }
    assert out[2] == {"role": "assistant", "content": "second"}  # unsigned thinking dropped
    assert len(out) == 3  # a message with nothing but thinking is dropped


def test_mid_conversation_system_messages_keep_their_place() -> None:
    # Claude Code 2.1 sends system messages between turns (beta mid-conversation-system-2026-04-07).
    body = {
        "model": "m",
        "max_tokens": 5,
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "system", "content": "agent types: ..."},
            {"role": "system", "content": [{"type": "text", "text": "skills: ..."}]},
            {"role": "assistant", "content": "hello"},
        ],
    }
    chat, _ = messages_to_chat(body)
    assert [(m["role"], m["content"]) for m in chat["messages"]] == [
        ("user", "hi"),
        ("system", "agent types: ..."),
        ("system", "skills: ..."),
        ("assistant", "hello"),
    ]
