"""Tool names and tool-call ids that every upstream accepts, and the way back to the client's names."""

from __future__ import annotations

import hashlib
import re

# OpenAI's limit for function names; Anthropic ids and names use the same alphabet (D2, D7.5-6).
MAX_LENGTH = 64
_VALID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_INVALID_CHAR = re.compile(r"[^A-Za-z0-9_-]")
_HASH_LENGTH = 8


def safe_identifier(value: str) -> str:
    """`value` itself when upstreams accept it, else a readable prefix plus a hash of all of it.

    The hash keeps distinct inputs distinct (`a.b` and `a:b` would otherwise collide), and
    the result is always valid, so the function is idempotent: an id rewritten in a response
    comes back unchanged when the client replays it in the next request.
    """
    if _VALID.fullmatch(value):
        return value
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_LENGTH]
    prefix = _INVALID_CHAR.sub("_", value)[: MAX_LENGTH - _HASH_LENGTH - 1]
    return f"{prefix}_{digest}"


class ToolNames:
    """The tool names of one request as sent upstream, mapped back to the client's spelling.

    Built while translating the request (tool definitions, tool_choice and tool_use history),
    then used by the response and stream translators. Names that needed no rewriting are not
    stored: they map to themselves.
    """

    __slots__ = ("_to_client",)

    def __init__(self) -> None:
        self._to_client: dict[str, str] = {}

    def upstream(self, name: str) -> str:
        """The name to send upstream for the client's `name`, remembered for the way back."""
        safe = safe_identifier(name)
        if safe != name:
            self._to_client.setdefault(safe, name)
        return safe

    def client(self, name: str) -> str:
        """The client's name for a name the upstream used."""
        return self._to_client.get(name, name)

    def __len__(self) -> int:
        return len(self._to_client)

    def __repr__(self) -> str:
        return f"ToolNames({self._to_client!r})"
