"""estimate_input_tokens: a real local estimate for /v1/messages/count_tokens (C6)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from src.translation.token_estimate import estimate_input_tokens, estimate_text_tokens
from src.wire.errors import InvalidRequest
from tests.translation.image_helpers import b64, png

# Exact o200k_base counts of these samples, taken offline with the bpe-openai package.
SAMPLES = [
    (
        "The proxy translates each Anthropic Messages request into an OpenAI chat-completions request, sends it "
        "upstream, and translates the answer back. Streaming responses are converted event by event, so a client "
        "sees the first token as soon as the upstream produces it. Tool calls, images and reasoning survive the "
        "round trip; fields that have no equivalent are dropped and listed in the module documentation.",
        76,
    ),
    (
        'def estimate(body: dict) -> int:\n    """Return the estimated number of tokens."""\n    total = 0\n'
        '    for index, message in enumerate(body.get("messages", [])):\n        if not isinstance(message, dict):\n'
        '            continue\n        total += 4 + len(str(message.get("content", ""))) // 4\n    return max(total, 1)\n',
        76,
    ),
    (
        json.dumps(
            {
                "name": "read_file",
                "description": "Read a file from the local filesystem and return its contents with line numbers.",
                "input_schema": {
                    "type": "object",
                    "properties": {
                        "file_path": {"type": "string", "description": "The absolute path to the file to read"},
                        "offset": {"type": "number", "description": "The line number to start reading from"},
                        "limit": {"type": "number", "description": "The number of lines to read"},
                    },
                    "required": ["file_path"],
                    "additionalProperties": False,
                },
            }
        ),
        117,
    ),
    (
        "代理服务器把每个请求翻译成另一种协议，再把回答翻译回来。流式响应逐个事件转换，客户端可以立即看到第一个词。工具调用、图片和推理内容都能完整保留。",
        49,
    ),
    (
        "このプロキシは各リクエストを別のプロトコルに変換し、応答を元の形式に戻します。ストリーミング応答はイベントごとに変換されます。",
        49,
    ),
]


@pytest.mark.parametrize(("sample", "o200k"), SAMPLES, ids=["english", "python", "json", "chinese", "japanese"])
def test_text_estimate_is_within_fifteen_percent_of_o200k(sample: str, o200k: int) -> None:
    assert abs(estimate_text_tokens(sample) - o200k) <= 0.15 * o200k


def test_text_estimate_grows_with_the_text() -> None:
    assert estimate_text_tokens("") == 0
    assert estimate_text_tokens("hi") == 1
    one = estimate_text_tokens("word " * 100)
    assert 90 <= one <= 110
    assert estimate_text_tokens("word " * 1000) > 9 * one


def message_body(content: object, **extra: object) -> dict:
    return {"model": "m", "messages": [{"role": "user", "content": content}], **extra}


def test_hello_world_matches_anthropics_count() -> None:
    assert estimate_input_tokens(message_body("Hello, world")) == 10


def test_system_and_messages_all_count() -> None:
    base = estimate_input_tokens(message_body("question"))
    with_system = estimate_input_tokens(message_body("question", system="You are terse. " * 20))
    with_blocks = estimate_input_tokens(
        message_body("question", system=[{"type": "text", "text": "You are terse. " * 20}])
    )
    assert with_system == with_blocks > base + 50


TOOL = {
    "name": "get_weather",
    "description": "Get the current weather in a given location",
    "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
}


def test_tools_add_the_tool_prompt_and_their_schema() -> None:
    base = estimate_input_tokens(message_body("x"))
    one = estimate_input_tokens(message_body("x", tools=[TOOL]))
    two = estimate_input_tokens(message_body("x", tools=[TOOL, {**TOOL, "name": "get_time"}]))
    forced = estimate_input_tokens(message_body("x", tools=[TOOL], tool_choice={"type": "any"}))
    assert one - base > 346  # the tool-use system prompt plus the definition
    assert two - one == one - base - 346
    assert one - forced == 346 - 313


@pytest.mark.parametrize(
    ("width", "height", "expected"),
    [
        (100, 100, 14),  # ceil(10000 / 750)
        (1000, 500, 667),
        (1092, 1092, 1590),
        (4000, 3000, 1600),  # scaled to a 1568 long edge, then capped
    ],
)
def test_base64_images_cost_by_their_size(width: int, height: int, expected: int) -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": b64(png(width, height))}}
    assert estimate_input_tokens(message_body([image])) - estimate_input_tokens(message_body([])) == expected


def test_url_and_unreadable_images_cost_the_cap() -> None:
    url = {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}
    odd = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "QUJD"}}
    empty = estimate_input_tokens(message_body([]))
    assert estimate_input_tokens(message_body([url])) - empty == 1600
    assert estimate_input_tokens(message_body([odd])) - empty == 1600


def test_images_inside_tool_results_count() -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": b64(png(750, 100))}}
    plain = message_body([{"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text", "text": "shot"}]}])
    with_image = message_body(
        [{"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text", "text": "shot"}, image]}]
    )
    assert estimate_input_tokens(with_image) - estimate_input_tokens(plain) == 100


def test_pdf_pages_are_counted() -> None:
    pdf = b"%PDF-1.4\n1 0 obj << /Type /Pages /Count 3 >>\n" + b"<< /Type /Page >>\n" * 3
    document: dict[str, Any] = {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": base64.b64encode(pdf).decode()},
    }
    single = {
        **document,
        "source": {**document["source"], "data": base64.b64encode(b"%PDF << /Type /Page >>").decode()},
    }
    three = estimate_input_tokens(message_body([document]))
    one = estimate_input_tokens(message_body([single]))
    assert three - one == 2 * 3850


def test_only_the_last_assistant_turns_thinking_counts() -> None:
    thinking = {"type": "thinking", "thinking": "deliberating " * 200, "signature": "s"}
    earlier: dict[str, Any] = {
        "model": "m",
        "messages": [
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": [thinking, {"type": "text", "text": "b"}]},
            {"role": "user", "content": "c"},
            {"role": "assistant", "content": [{"type": "text", "text": "d"}]},
        ],
    }
    latest = {
        **earlier,
        "messages": earlier["messages"][:3]
        + [{"role": "assistant", "content": [thinking, {"type": "text", "text": "d"}]}],
    }
    without = {
        **earlier,
        "messages": earlier["messages"][:1] + [{"role": "assistant", "content": "b"}] + earlier["messages"][2:],
    }
    assert estimate_input_tokens(earlier) == estimate_input_tokens(without)
    assert estimate_input_tokens(latest) > estimate_input_tokens(earlier) + 150


def test_tool_use_and_results_count_their_content() -> None:
    call = {"type": "tool_use", "id": "t", "name": "write_file", "input": {"path": "/a", "content": "line\n" * 100}}
    small = {"type": "tool_use", "id": "t", "name": "write_file", "input": {"path": "/a"}}
    big = estimate_input_tokens({"messages": [{"role": "assistant", "content": [call]}]})
    assert big > estimate_input_tokens({"messages": [{"role": "assistant", "content": [small]}]}) + 100


def test_never_zero_and_tolerant_of_odd_content() -> None:
    assert estimate_input_tokens({"messages": []}) >= 1
    odd = {
        "messages": [
            {"role": "user", "content": [{"type": "mystery", "blob": "x" * 40}, 5, None]},
            "junk",
            {"role": "user"},
        ]
    }
    assert estimate_input_tokens(odd) > estimate_input_tokens({"messages": []})


@pytest.mark.parametrize("body", [[], {"messages": "hi"}, {}])
def test_malformed_bodies_raise_invalid_request(body: object) -> None:
    with pytest.raises(InvalidRequest):
        estimate_input_tokens(body)  # type: ignore[arg-type]
