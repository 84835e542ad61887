"""The base of every configuration model: unknown keys are errors, and nothing changes after loading."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def key_text(value: str) -> str:
    """A key as it will be compared and sent: without surrounding space (a file's trailing newline)."""
    value = value.strip()
    if value and not (value.isascii() and value.isprintable() and " " not in value):
        raise ValueError("must be printable ASCII without spaces")
    return value
