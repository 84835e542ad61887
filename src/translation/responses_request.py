"""A Responses API request as a chat-completions request (for routes that speak chat completions).

`instructions`, and system and developer messages, become one leading system message: many
chat backends refuse several or late ones. Sampling and output fields map to their chat
names; `store`, `include`, `previous_response_id`, `truncation` and `background` are the
proxy's to handle or accept, not the upstream's.
"""

from __future__ import annotations

from typing import Any

from src.translation.reasoning_carrier import Carrier
from src.translation.responses_input import Conversation
from src.translation.responses_tools import ToolMap, chat_tool_choice, chat_tools
from src.wire.errors import InvalidRequest

# Fields with the same name and meaning on chat completions (OpenRouter's routing ones included).
PASSED = ("temperature", "top_p", "parallel_tool_calls", "user", "metadata", "service_tier", "prompt_cache_key",
          "safety_identifier", "seed", "top_logprobs", "frequency_penalty", "presence_penalty", "stop", "top_k",
          "provider", "models", "plugins", "session_id")  # fmt: skip


def responses_to_chat(
    body: dict[str, Any], history: list[dict[str, Any]], carrier: Carrier, family: str
) -> tuple[dict[str, Any], ToolMap, list[dict[str, Any]]]:
    """The chat body, the request's tools by upstream name, and its conversation without the system
    message (what a later request's `previous_response_id` continues from). `history` is that of
    the previous response; `family` is the answering model's."""
    names = ToolMap()
    tools = chat_tools(body.get("tools"), names)
    conversation = Conversation(carrier, family, names, messages=[dict(m) for m in history])
    raw_input = body.get("input")
    if isinstance(raw_input, str):
        conversation.messages.append({"role": "user", "content": raw_input})
    elif isinstance(raw_input, list):
        for index, item in enumerate(raw_input):
            conversation.add(item, f"input.{index}")
    elif raw_input is not None:
        raise InvalidRequest("input: must be a string or an array of input items", param="input")
    instructions = body.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise InvalidRequest("instructions: must be a string", param="instructions")
    system = "\n\n".join(text for text in (instructions, *conversation.system_texts) if text)
    chat: dict[str, Any] = {"model": body.get("model"), "messages": conversation.messages}
    if system:
        chat["messages"] = [{"role": "system", "content": system}, *conversation.messages]
    chat.update((key, body[key]) for key in PASSED if body.get(key) is not None)
    if tools:
        chat["tools"] = tools
        choice = chat_tool_choice(body.get("tool_choice"), names)
        if choice is not None:
            chat["tool_choice"] = choice
    else:
        chat.pop("parallel_tool_calls", None)  # OpenAI refuses it without tools
    _output_fields(body, chat)
    return chat, names, conversation.messages


def _output_fields(body: dict[str, Any], chat: dict[str, Any]) -> None:
    limit = body.get("max_output_tokens")
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidRequest("max_output_tokens: must be a positive integer", param="max_output_tokens")
        chat["max_tokens"] = limit
    reasoning = body.get("reasoning")
    if isinstance(reasoning, dict) and isinstance(reasoning.get("effort"), str):
        chat["reasoning"] = {"effort": reasoning["effort"]}  # OpenRouter's form; it maps it per provider
    text = body.get("text")
    if isinstance(text, dict):
        _text_format(text.get("format"), chat)
        if isinstance(text.get("verbosity"), str):
            chat["verbosity"] = text["verbosity"]
    if body.get("stream") is True:
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}  # the usage response.completed needs


def _text_format(form: object, chat: dict[str, Any]) -> None:
    if not isinstance(form, dict) or form.get("type") in (None, "text"):
        return
    if form.get("type") == "json_object":
        chat["response_format"] = {"type": "json_object"}
    elif form.get("type") == "json_schema":
        schema = {key: form[key] for key in ("name", "schema", "strict", "description") if key in form}
        chat["response_format"] = {"type": "json_schema", "json_schema": schema}
    else:
        raise InvalidRequest("text.format.type: must be text, json_object or json_schema", param="text.format.type")
