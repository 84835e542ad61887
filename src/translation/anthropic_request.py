"""An Anthropic Messages request body as an OpenAI chat-completions body (wire-protocols D1, D7).

Top-level fields with no chat-completions equivalent are dropped: `service_tier` (Anthropic's
`auto`/`standard_only` are not OpenAI's tiers), `container`, `inference_geo`, `mcp_servers`,
`context_management`, `output_config`, `speed`, `betas`, every other `metadata` key than
`user_id`, and any field this module does not know. OpenRouter's own routing fields, which
have the same meaning on its chat endpoint (A2, A11), pass through: see `_PASS_THROUGH`.
"""

from __future__ import annotations

from src.translation.anthropic_content import (
    assistant_turn,
    block_type,
    blocks_of,
    fail,
    joined,
    text_part,
    user_turn,
)
from src.translation.tool_names import ToolNames
from src.wire.errors import InvalidRequest

_SAMPLING = ("max_tokens", "temperature", "top_p", "top_k")
_PASS_THROUGH = ("models", "provider", "plugins", "session_id", "user")
_TOOL_CHOICES = {"auto": "auto", "any": "required", "none": "none"}


def messages_to_chat(body: dict, *, keep_cache_control: bool | None = None) -> tuple[dict, ToolNames]:
    """The chat-completions body for `body`, and the tool names to map the reply back with.

    `keep_cache_control`: keep Anthropic `cache_control` marks on text parts, tool results
    and the top level (D1: only Claude models understand them). None decides by the model
    id, as claude-code-router does: kept when it contains "claude".
    Raises InvalidRequest, with `param` naming the field, for a malformed body.
    """
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object")
    model = body.get("model")
    if keep_cache_control is None:
        keep_cache_control = isinstance(model, str) and "claude" in model.lower()
    names = ToolNames()
    chat: dict = {}
    if model is not None:
        chat["model"] = model
    chat["messages"] = _system(body.get("system"), keep_cache_control) + _messages(
        body.get("messages"), names, keep_cache_control
    )
    for key in _SAMPLING:
        if body.get(key) is not None:
            chat[key] = body[key]
    for key in _PASS_THROUGH:
        if body.get(key) is not None:
            chat[key] = body[key]
    if keep_cache_control and isinstance(body.get("cache_control"), dict):
        chat["cache_control"] = body["cache_control"]  # OpenRouter's automatic caching (A2)
    _stop(body.get("stop_sequences"), chat)
    _metadata(body.get("metadata"), chat)
    _thinking(body.get("thinking"), chat)
    _tools(body.get("tools"), body.get("tool_choice"), names, chat)
    _stream(body.get("stream"), chat)
    return chat, names


def _system(system: object, keep_cache_control: bool, where: str = "system") -> list[dict]:
    if system is None:
        return []
    if isinstance(system, str):
        return [{"role": "system", "content": system}] if system.strip() else []
    if not isinstance(system, list):
        fail("must be a string or an array of text blocks", where)
    parts = []
    for i, block in enumerate(system):
        at = f"{where}.{i}"
        if block_type(block, at) != "text":
            fail("system blocks must be text blocks", f"{at}.type")
        if part := text_part(block, at, keep_cache_control):
            parts.append(part)
    return [{"role": "system", "content": joined(parts)}] if parts else []


def _messages(messages: object, names: ToolNames, keep_cache_control: bool) -> list[dict]:
    if not isinstance(messages, list):
        fail("must be an array of messages", "messages")
    out: list[dict] = []
    for i, message in enumerate(messages):
        at = f"messages.{i}"
        if not isinstance(message, dict):
            fail("each message must be an object", at)
        role = message.get("role")
        if "content" not in message:
            fail("a message needs `content`", f"{at}.content")
        if role == "system":
            # Claude Code's mid-conversation system messages (beta mid-conversation-system-2026-04-07).
            out.extend(_system(message["content"], keep_cache_control, f"{at}.content"))
            continue
        blocks = blocks_of(message["content"], f"{at}.content")
        if role == "user":
            out.extend(user_turn(blocks, f"{at}.content", keep_cache_control))
        elif role == "assistant":
            out.extend(assistant_turn(blocks, f"{at}.content", names, keep_cache_control))
        else:
            fail("must be 'user', 'assistant' or 'system'", f"{at}.role")
    return out


def _stop(stop_sequences: object, chat: dict) -> None:
    if stop_sequences is None:
        return
    if not isinstance(stop_sequences, list) or not all(isinstance(s, str) for s in stop_sequences):
        fail("must be an array of strings", "stop_sequences")
    if stop_sequences:
        chat["stop"] = stop_sequences  # OpenRouter allows 4; more is the upstream's to refuse


def _metadata(metadata: object, chat: dict) -> None:
    if metadata is None:
        return
    if not isinstance(metadata, dict):
        fail("must be an object", "metadata")
    user_id = metadata.get("user_id")
    if isinstance(user_id, str) and user_id:
        chat["user"] = user_id


def _thinking(thinking: object, chat: dict) -> None:
    """D1: an enabled budget becomes OpenRouter's `reasoning.max_tokens`."""
    if thinking is None:
        return
    if not isinstance(thinking, dict):
        fail("must be an object", "thinking")
    kind = thinking.get("type")
    if kind == "enabled":
        budget = thinking.get("budget_tokens")
        if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
            fail("must be a positive integer", "thinking.budget_tokens")
        chat["reasoning"] = {"max_tokens": budget}
    elif kind == "adaptive":
        chat["reasoning"] = {"enabled": True}  # the model picks its own effort
    elif kind != "disabled":  # disabled: send nothing, the upstream's default is no reasoning for Claude
        fail("must be 'enabled', 'adaptive' or 'disabled'", "thinking.type")


def _tools(tools: object, tool_choice: object, names: ToolNames, chat: dict) -> None:
    if tools is not None:
        if not isinstance(tools, list):
            fail("must be an array of tools", "tools")
        converted = [_tool(tool, f"tools.{i}", names) for i, tool in enumerate(tools)]
        if converted:
            chat["tools"] = converted
    if tool_choice is None:
        return
    if not isinstance(tool_choice, dict):
        fail("must be an object", "tool_choice")
    kind = tool_choice.get("type")
    if kind == "tool":
        name = tool_choice.get("name")
        if not isinstance(name, str) or not name:
            fail("a tool choice of type 'tool' needs a `name`", "tool_choice.name")
        choice: object = {"type": "function", "function": {"name": names.upstream(name)}}
    elif isinstance(kind, str) and kind in _TOOL_CHOICES:
        choice = _TOOL_CHOICES[kind]
    else:
        fail("must be 'auto', 'any', 'tool' or 'none'", "tool_choice.type")
    # OpenAI refuses tool_choice and parallel_tool_calls without tools; Anthropic allows them.
    if "tools" not in chat:
        return
    chat["tool_choice"] = choice
    if tool_choice.get("disable_parallel_tool_use") is True and kind != "none":
        chat["parallel_tool_calls"] = False


def _tool(tool: object, at: str, names: ToolNames) -> dict:
    if not isinstance(tool, dict):
        fail("each tool must be an object", at)
    kind = tool.get("type")
    if kind not in (None, "custom"):
        # Server tools (web_search_..., code_execution_..., bash_...) run on Anthropic's side;
        # a chat-completions upstream would never call them, so silence would be a lie.
        fail(f"tool type {kind!r} is an Anthropic server tool, which this endpoint cannot run", f"{at}.type")
    name = tool.get("name")
    if not isinstance(name, str) or not name:
        fail("a tool needs a non-empty `name`", f"{at}.name")
    schema = tool.get("input_schema")
    if not isinstance(schema, dict):
        fail("must be a JSON Schema object", f"{at}.input_schema")
    # `type: "custom"` stays out of `parameters` (D1, LiteLLM #30557); cache_control is dropped
    # because OpenRouter documents it on content parts only.
    function: dict = {"name": names.upstream(name)}
    description = tool.get("description")
    if isinstance(description, str) and description:
        function["description"] = description
    function["parameters"] = schema
    if isinstance(tool.get("strict"), bool):
        function["strict"] = tool["strict"]
    return {"type": "function", "function": function}


def _stream(stream: object, chat: dict) -> None:
    if stream is None:
        return
    if not isinstance(stream, bool):
        fail("must be true or false", "stream")
    chat["stream"] = stream
    if stream:
        # OpenRouter sends usage anyway; other OpenAI-compatible servers only when asked (D1).
        chat["stream_options"] = {"include_usage": True}
