"""The `usage` command's table."""

from __future__ import annotations

import pytest

from src.usage.report import error_rate, format_summary

ZERO = {"requests": 0, "errors": 0, "prompt_tokens": 0, "completion_tokens": 0, "reasoning_tokens": 0,
        "cached_tokens": 0, "cost_usd": None}  # fmt: skip


def row(group: object, requests: int, errors: int, tokens_in: int, tokens_out: int, cost: float | None) -> dict:
    return {**ZERO, "group": group, "requests": requests, "errors": errors, "prompt_tokens": tokens_in,
            "completion_tokens": tokens_out, "cost_usd": cost}  # fmt: skip


def test_format_summary() -> None:
    summary = {
        "since": "2024-05-01T00:00:00Z",
        "group_by": "model",
        "totals": {**ZERO, "requests": 1203, "errors": 3, "prompt_tokens": 1234567, "completion_tokens": 8910,
                   "cost_usd": 12.3456},
        "rows": [
            row("anthropic/claude-sonnet-4", 1200, 0, 1234000, 8900, 12.3333),
            row("gpt-4o", 2, 2, 567, 10, 0.0123),
            row(None, 1, 1, 0, 0, None),
        ],
    }  # fmt: skip
    assert format_summary(summary).splitlines() == [
        "usage since 2024-05-01T00:00:00Z",
        "",
        "MODEL                      REQUESTS  IN TOKENS  OUT TOKENS      COST  ERRORS",
        "anthropic/claude-sonnet-4     1,200  1,234,000       8,900  $12.3333    0.0%",
        "gpt-4o                            2        567          10   $0.0123  100.0%",
        "-                                 1          0           0         -  100.0%",
        "-------------------------  --------  ---------  ----------  --------  ------",
        "total                         1,203  1,234,567       8,910  $12.3456    0.2%",
    ]


@pytest.mark.parametrize(
    ("summary", "first_line"),
    [
        ({"since": None, "group_by": "key", "totals": ZERO, "rows": []}, "usage, all time: no requests"),
        ({"since": "2024-05-01T00:00:00Z", "group_by": "day", "totals": ZERO, "rows": []},
         "usage since 2024-05-01T00:00:00Z: no requests"),
        ({"since": None, "group_by": "day", "totals": {**ZERO, "requests": 1},
          "rows": [row("2024-05-01", 1, 0, 5, 5, 0.0)]}, "usage, all time"),
    ],
)  # fmt: skip
def test_format_summary_titles(summary: dict, first_line: str) -> None:
    assert format_summary(summary).splitlines()[0] == first_line


def test_group_header_is_the_grouping() -> None:
    summary = {"since": None, "group_by": "day", "totals": {**ZERO, "requests": 1},
               "rows": [row("2024-05-01", 1, 0, 5, 5, 0.0)]}  # fmt: skip
    lines = format_summary(summary).splitlines()
    assert lines[2].split() == ["DAY", "REQUESTS", "IN", "TOKENS", "OUT", "TOKENS", "COST", "ERRORS"]
    assert lines[3].split() == ["2024-05-01", "1", "5", "5", "$0.00", "0.0%"]


@pytest.mark.parametrize(("requests", "errors", "text"), [(0, 0, "-"), (4, 1, "25.0%"), (3, 3, "100.0%"), (7, 0, "0.0%")])
def test_error_rate(requests: int, errors: int, text: str) -> None:
    assert error_rate(requests, errors) == text
