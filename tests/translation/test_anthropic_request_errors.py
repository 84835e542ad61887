"""messages_to_chat refuses malformed bodies with InvalidRequest naming the field, never a crash."""

from __future__ import annotations

import pytest

from src.translation.anthropic_request import messages_to_chat
from src.wire.errors import InvalidRequest


def body_with(**fields: object) -> dict:
    return {"model": "m", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}], **fields}


def one_message(role: str, content: object) -> dict:
    return body_with(messages=[{"role": role, "content": content}])


@pytest.mark.parametrize(
    ("body", "param"),
    [
        pytest.param(body_with(messages="hi"), "messages", id="messages-not-a-list"),
        pytest.param(body_with(messages=None), "messages", id="messages-missing"),
        pytest.param(body_with(messages=["hi"]), "messages.0", id="message-not-object"),
        pytest.param(body_with(messages=[{"role": "tool", "content": "x"}]), "messages.0.role", id="bad-role"),
        pytest.param(body_with(messages=[{"role": "user"}]), "messages.0.content", id="no-content"),
        pytest.param(one_message("user", 42), "messages.0.content", id="content-not-string-or-list"),
        pytest.param(one_message("user", [{"text": "x"}]), "messages.0.content.0.type", id="block-without-type"),
        pytest.param(one_message("user", ["x"]), "messages.0.content.0", id="block-not-object"),
        pytest.param(one_message("user", [{"type": "video"}]), "messages.0.content.0.type", id="unknown-block"),
        pytest.param(
            one_message("user", [{"type": "server_tool_use"}]), "messages.0.content.0.type", id="server-block"
        ),
        pytest.param(
            one_message("user", [{"type": "text", "text": 5}]), "messages.0.content.0.text", id="text-not-string"
        ),
        pytest.param(
            one_message("assistant", [{"type": "tool_use", "id": "t", "name": "f", "input": "{}"}]),
            "messages.0.content.0.input",
            id="tool-use-input-not-object",
        ),
        pytest.param(
            one_message("assistant", [{"type": "tool_use", "name": "f", "input": {}}]),
            "messages.0.content.0.id",
            id="tool-use-without-id",
        ),
        pytest.param(
            one_message("assistant", [{"type": "tool_use", "id": "t", "name": "", "input": {}}]),
            "messages.0.content.0.name",
            id="tool-use-empty-name",
        ),
        pytest.param(
            one_message("user", [{"type": "tool_result", "content": "x"}]),
            "messages.0.content.0.tool_use_id",
            id="tool-result-without-id",
        ),
        pytest.param(
            one_message("user", [{"type": "tool_result", "tool_use_id": "t", "content": 3}]),
            "messages.0.content.0.content",
            id="tool-result-content-bad",
        ),
        pytest.param(
            one_message("user", [{"type": "tool_result", "tool_use_id": "t", "content": [{"type": "tool_use"}]}]),
            "messages.0.content.0.content.0.type",
            id="tool-result-holding-tool-use",
        ),
        pytest.param(
            one_message("user", [{"type": "tool_use", "id": "t", "name": "f", "input": {}}]),
            "messages.0.content.0.type",
            id="user-tool-use",
        ),
        pytest.param(
            one_message("assistant", [{"type": "tool_result", "tool_use_id": "t"}]),
            "messages.0.content.0.type",
            id="assistant-tool-result",
        ),
        pytest.param(
            one_message("user", [{"type": "image"}]), "messages.0.content.0.source", id="image-without-source"
        ),
        pytest.param(
            one_message("user", [{"type": "image", "source": {"type": "file", "file_id": "f"}}]),
            "messages.0.content.0.source.type",
            id="image-file-source",
        ),
        pytest.param(
            one_message("user", [{"type": "image", "source": {"type": "base64", "media_type": "image/png"}}]),
            "messages.0.content.0.source.data",
            id="image-without-data",
        ),
        pytest.param(
            one_message("assistant", [{"type": "redacted_thinking"}]),
            "messages.0.content.0.data",
            id="redacted-without-data",
        ),
        pytest.param(body_with(system=5), "system", id="system-not-string-or-list"),
        pytest.param(body_with(system=[{"type": "image"}]), "system.0.type", id="system-non-text"),
        pytest.param(body_with(tools={"name": "x"}), "tools", id="tools-not-list"),
        pytest.param(body_with(tools=[{"input_schema": {}}]), "tools.0.name", id="tool-without-name"),
        pytest.param(body_with(tools=[{"name": "x"}]), "tools.0.input_schema", id="tool-without-schema"),
        pytest.param(
            body_with(tools=[{"type": "web_search_20250305", "name": "web_search"}]), "tools.0.type", id="server-tool"
        ),
        pytest.param(body_with(tool_choice="auto"), "tool_choice", id="tool-choice-string"),
        pytest.param(body_with(tool_choice={"type": "maybe"}), "tool_choice.type", id="tool-choice-unknown"),
        pytest.param(body_with(tool_choice={"type": "tool"}), "tool_choice.name", id="tool-choice-without-name"),
        pytest.param(body_with(thinking={"type": "enabled"}), "thinking.budget_tokens", id="thinking-without-budget"),
        pytest.param(
            body_with(thinking={"type": "enabled", "budget_tokens": "1k"}),
            "thinking.budget_tokens",
            id="thinking-budget-string",
        ),
        pytest.param(body_with(thinking={"type": "sometimes"}), "thinking.type", id="thinking-type"),
        pytest.param(body_with(stop_sequences="END"), "stop_sequences", id="stop-not-list"),
        pytest.param(body_with(stop_sequences=["a", 1]), "stop_sequences", id="stop-not-strings"),
        pytest.param(body_with(metadata="u"), "metadata", id="metadata-not-object"),
        pytest.param(body_with(stream="yes"), "stream", id="stream-not-bool"),
    ],
)
def test_malformed_bodies(body: dict, param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        messages_to_chat(body)
    assert caught.value.param == param
    assert caught.value.status == 400
    assert caught.value.message.startswith(param)


def test_body_not_an_object() -> None:
    with pytest.raises(InvalidRequest):
        messages_to_chat(["not", "a", "dict"])  # type: ignore[arg-type]


def test_tool_input_that_cannot_be_json_encoded() -> None:
    body = one_message("assistant", [{"type": "tool_use", "id": "t", "name": "f", "input": {"n": 2**70}}])
    with pytest.raises(InvalidRequest) as caught:
        messages_to_chat(body)
    assert caught.value.param == "messages.0.content.0.input"
