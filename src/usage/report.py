"""The `usage` command's table, from a UsageStore.summary() (or `GET /v1/usage`) dict."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from src.usage.pricing import format_usd

RIGHT = {1, 2, 3, 4, 5}  # numeric columns line up on the right


def format_summary(summary: Mapping[str, Any]) -> str:
    """An aligned table: group, requests, input and output tokens, cost, error rate; then the totals."""
    group_by = str(summary.get("group_by") or "group")
    since = summary.get("since")
    title = f"usage since {since}" if since else "usage, all time"
    rows = summary.get("rows") or []
    if not rows:
        return f"{title}: no requests"
    header = (group_by.upper(), "REQUESTS", "IN TOKENS", "OUT TOKENS", "COST", "ERRORS")
    body = [_cells("-" if row.get("group") is None else str(row["group"]), row) for row in rows]
    totals = _cells("total", summary.get("totals") or {})
    widths = [max(len(cells[i]) for cells in (header, *body, totals)) for i in range(len(header))]
    rule = "  ".join("-" * width for width in widths)
    lines = [title, "", _line(header, widths), *(_line(cells, widths) for cells in body), rule, _line(totals, widths)]
    return "\n".join(lines)


def error_rate(requests: int, errors: int) -> str:
    """Errors as a percentage of requests, `2.5%`; `-` without requests."""
    return "-" if not requests else f"{100 * errors / requests:.1f}%"


def _cells(group: str, fields: Mapping[str, Any]) -> tuple[str, ...]:
    requests = int(fields.get("requests") or 0)
    return (
        group,
        f"{requests:,}",
        f"{int(fields.get('prompt_tokens') or 0):,}",
        f"{int(fields.get('completion_tokens') or 0):,}",
        format_usd(fields.get("cost_usd")),
        error_rate(requests, int(fields.get("errors") or 0)),
    )


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    parts = (c.rjust(w) if i in RIGHT else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))
    return "  ".join(parts).rstrip()
