"""Reading one field of a parsed JSON object whose shape the client or upstream chose.

Each returns the field when it has the expected type and an empty value of that type
otherwise, so that a malformed body reads as a missing field instead of raising.
"""

from __future__ import annotations

from typing import Any


def object_at(container: object, key: str) -> dict[str, Any]:
    value = container.get(key) if isinstance(container, dict) else None
    return value if isinstance(value, dict) else {}


def list_at(container: object, key: str) -> list[Any]:
    value = container.get(key) if isinstance(container, dict) else None
    return value if isinstance(value, list) else []


def text_at(container: object, key: str) -> str | None:
    value = container.get(key) if isinstance(container, dict) else None
    return value if isinstance(value, str) else None
