"""Responses tools as chat-completions tools, and the way back from a chat tool call.

`function` tools pass as they are. A `custom` (freeform) tool such as Codex's `apply_patch` is
declared as a function taking one string, `input`, and its calls come back as
`custom_tool_call`s. The tools of a `namespace` group are flattened to `namespace__name` and
come back with their `namespace`. Hosted tools (web search, file search, code interpreter...)
run on OpenAI's side only: a chat route cannot run them, so they are left out, with a warning.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from src.translation.tool_names import safe_identifier
from src.wire.errors import InvalidRequest
from src.wire.fields import text_at

log = logging.getLogger("switchyard.responses")
MAX_GRAMMAR = 8192  # characters of a custom tool's grammar repeated in its description
_CHOICES = ("auto", "none", "required")


@dataclass(frozen=True, slots=True)
class Tool:
    kind: str  # "function" or "custom"
    name: str  # the client's
    namespace: str | None = None


@dataclass
class ToolMap:
    """One request's tools by the name they have upstream."""

    by_upstream: dict[str, Tool] = field(default_factory=dict)

    def declare(self, tool: Tool) -> str:
        wanted = f"{tool.namespace}__{tool.name}" if tool.namespace else tool.name
        name, suffix = safe_identifier(wanted), 2
        while name in self.by_upstream and self.by_upstream[name] != tool:
            name, suffix = safe_identifier(f"{wanted}_{suffix}"), suffix + 1
        self.by_upstream[name] = tool
        return name

    def upstream(self, name: str, namespace: str | None = None) -> str:
        """The upstream name of a tool the client names (in a tool call it sends back, or tool_choice)."""
        for upstream, tool in self.by_upstream.items():
            if tool.name == name and tool.namespace == namespace:
                return upstream
        return safe_identifier(f"{namespace}__{name}" if namespace else name)

    def back(self, upstream: str) -> Tool:
        return self.by_upstream.get(upstream) or Tool("function", upstream)


def chat_tools(tools: object, names: ToolMap) -> list[dict[str, Any]]:
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise InvalidRequest("tools: must be an array of tools", param="tools")
    converted: list[dict[str, Any]] = []
    for index, tool in enumerate(tools):
        converted.extend(_tool(tool, f"tools.{index}", names, None))
    return converted


def _tool(tool: object, at: str, names: ToolMap, namespace: str | None) -> list[dict[str, Any]]:
    if not isinstance(tool, dict):
        raise InvalidRequest(f"{at}: each tool must be an object", param=at)
    kind = tool.get("type")
    if kind == "namespace" and namespace is None:
        group = _name(tool, at)
        inner = tool.get("tools")
        if not isinstance(inner, list):
            raise InvalidRequest(f"{at}.tools: a namespace needs an array of tools", param=f"{at}.tools")
        return [t for i, item in enumerate(inner) for t in _tool(item, f"{at}.tools.{i}", names, group)]
    if kind == "function":
        return [_function(names.declare(Tool("function", _name(tool, at), namespace)), tool)]
    if kind == "custom":
        return [_custom(names.declare(Tool("custom", _name(tool, at), namespace)), tool)]
    if not isinstance(kind, str):
        raise InvalidRequest(f"{at}.type: a tool needs a type", param=f"{at}.type")
    log.warning("responses: tool type %r runs on OpenAI's side only; it is left out for a chat route", kind[:64])
    return []


def _name(tool: dict[str, Any], at: str) -> str:
    name = tool.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidRequest(f"{at}.name: a tool needs a non-empty name", param=f"{at}.name")
    return name


def _function(name: str, tool: dict[str, Any]) -> dict[str, Any]:
    function: dict[str, Any] = {"name": name, "parameters": tool.get("parameters") or {"type": "object", "properties": {}}}
    if isinstance(tool.get("description"), str) and tool["description"]:
        function["description"] = tool["description"]
    if isinstance(tool.get("strict"), bool):
        function["strict"] = tool["strict"]
    return {"type": "function", "function": function}


def _custom(name: str, tool: dict[str, Any]) -> dict[str, Any]:
    description = text_at(tool, "description") or ""
    grammar = tool.get("format")
    if isinstance(grammar, dict) and isinstance(grammar.get("definition"), str):
        syntax = text_at(grammar, "syntax") or "grammar"
        description += f"\n\nThe input must follow this {syntax} grammar:\n{grammar['definition'][:MAX_GRAMMAR]}"
    parameters = {
        "type": "object",
        "properties": {"input": {"type": "string", "description": "The tool's whole input, as free text."}},
        "required": ["input"],
        "additionalProperties": False,
    }
    function = {"name": name, "description": description.strip() or f"The {name} tool.", "parameters": parameters}
    return {"type": "function", "function": function}


def chat_tool_choice(choice: object, names: ToolMap) -> object:
    """The chat `tool_choice` for a Responses one; None to leave it out."""
    if choice is None or choice in _CHOICES:
        return choice
    if not isinstance(choice, dict):
        raise InvalidRequest("tool_choice: must be auto, none, required or an object", param="tool_choice")
    kind, name = choice.get("type"), choice.get("name")
    if kind in ("function", "custom") and isinstance(name, str) and name:
        namespace = choice.get("namespace") if isinstance(choice.get("namespace"), str) else None
        return {"type": "function", "function": {"name": names.upstream(name, namespace)}}
    if kind == "allowed_tools":
        return "required" if choice.get("mode") == "required" else "auto"
    return "auto"  # a hosted tool, which a chat route does not have
