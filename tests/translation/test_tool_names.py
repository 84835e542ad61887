"""safe_identifier and ToolNames: upstream limits on tool names and ids, and the way back (D7.5-6)."""

from __future__ import annotations

import re

import pytest

from src.translation.tool_names import ToolNames, safe_identifier

VALID = re.compile(r"[A-Za-z0-9_-]{1,64}")


@pytest.mark.parametrize(
    "value",
    [
        "get_weather",
        "toolu_01A09q90qw90lq917835lq9",
        "call-abc_123",
        "x" * 64,
    ],
)
def test_valid_identifiers_are_kept(value: str) -> None:
    assert safe_identifier(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "x" * 65,
        "mcp__github__" + "create_pull_request_review_comment_" * 3,
        "call_abc|thought_signature=XYZ==",
        "tool.with.dots",
        "名前",
        "",
    ],
)
def test_invalid_identifiers_become_valid_and_stable(value: str) -> None:
    safe = safe_identifier(value)
    assert VALID.fullmatch(safe), safe
    assert safe != value
    assert safe_identifier(value) == safe  # deterministic
    assert safe_identifier(safe) == safe  # idempotent: a replayed id is not rewritten again


def test_distinct_names_that_sanitise_alike_stay_distinct() -> None:
    assert safe_identifier("a.b") != safe_identifier("a:b")
    assert safe_identifier("x" * 70 + "1") != safe_identifier("x" * 70 + "2")


def test_readable_prefix_is_kept() -> None:
    assert safe_identifier("tool.with.dots").startswith("tool_with_dots_")


def test_tool_names_map_back_only_rewritten_names() -> None:
    names = ToolNames()
    long_name = "mcp__server__" + "y" * 80
    upstream = names.upstream(long_name)
    assert len(upstream) == 64
    assert names.upstream("plain") == "plain"
    assert names.client(upstream) == long_name
    assert names.client("plain") == "plain"
    assert names.client("never_seen") == "never_seen"
    assert len(names) == 1
