"""Ordered regex model aliases: the first rule whose pattern matches rewrites the model."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cached_property

from pydantic import BaseModel, ConfigDict, field_validator


class AliasRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    pattern: str
    replacement: str

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"invalid regex {pattern!r}: {exc}") from None
        return pattern

    @cached_property
    def compiled(self) -> re.Pattern[str]:
        return re.compile(self.pattern)


def check_replacement(pattern: re.Pattern[str], replacement: str) -> str | None:
    """Why `replacement` cannot be expanded for matches of `pattern`, or None if it can."""
    try:
        pattern.sub(replacement, "")  # compiles the whole template (escapes, group names and numbers)
    except (re.error, IndexError) as exc:  # an unknown group name is an IndexError
        return f"invalid replacement {replacement!r}: {exc}"
    return None


def apply_aliases(model: str, rules: Sequence[AliasRule]) -> str:
    """Rewrite `model` with the first matching rule; applied once, never recursively."""
    for rule in rules:
        match = rule.compiled.match(model)
        if match:
            return match.expand(rule.replacement)
    return model
