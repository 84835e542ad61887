"""Result rows, the markdown table and the JSON file.

A row: {key, measure, target, conditions, value, unit, goal, met, skipped}. `target` is the
process measured (direct, baseline, switchyard, litellm...); `goal` is the issue's target for
that figure ("≤ 0.6 ms"), and `met` whether the value reaches it (null where there is no goal).
A figure that could not be measured has `value: null` and says why in `skipped`. `rounds` holds
the per-round values a median was taken of.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable
from pathlib import Path

COLUMNS = ("measure", "target", "conditions", "value", "unit", "goal", "met?")


def row(key: str, measure: str, target: str, conditions: str, value: float | None, unit: str,
        goal: str | None = None, met: bool | None = None, skipped: str | None = None,
        rounds: list[float] | None = None) -> dict[str, object]:
    if value is None and skipped is None:
        skipped = "not measured"
    return {"key": key, "measure": measure, "target": target, "conditions": conditions,
            "value": None if value is None else round(float(value), 4), "unit": unit, "goal": goal,
            "met": None if value is None or goal is None else bool(met), "skipped": skipped,
            "rounds": [round(float(v), 4) for v in rounds or ()] if value is not None else []}


def median(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _number(value: float, unit: str) -> str:
    if unit in ("req/s", "µs"):
        return f"{value:,.0f}"
    if unit in ("MB", "%"):
        return f"{value:,.1f}"
    if unit == "×":
        return f"{value:.2f}"
    if unit == "ms":
        return f"{value:.3f}" if abs(value) < 10 else f"{value:,.1f}"
    return f"{value:g}"


def _cells(entry: dict[str, object]) -> list[str]:
    if entry["value"] is None:
        value, met = f"skipped: {entry['skipped']}", ""
    else:
        value = _number(entry["value"], str(entry["unit"]))  # type: ignore[arg-type]
        met = "" if entry["met"] is None else ("yes" if entry["met"] else "**no**")
    return [str(entry["measure"]), str(entry["target"]), str(entry["conditions"]), value,
            "" if entry["value"] is None else str(entry["unit"]), str(entry["goal"] or ""), met]


def markdown(rows: list[dict[str, object]]) -> str:
    """The table; a run of skipped rows of one target, for one reason, is folded into one line."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    index = 0
    while index < len(rows):
        entry, end = rows[index], index + 1
        if entry["value"] is None:
            while (end < len(rows) and rows[end]["value"] is None and rows[end]["target"] == entry["target"]
                   and rows[end]["skipped"] == entry["skipped"]):
                end += 1
        if end - index > 1:
            measures = list(dict.fromkeys(str(r["measure"]) for r in rows[index:end]))
            entry = {**entry, "measure": "; ".join(measures), "conditions": "all conditions"}
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in _cells(entry)) + " |")
        index = end
    return "\n".join(lines)


def header(machine: dict[str, object], mode: str, notes: list[str]) -> str:
    lines = [
        f"# Switchyard benchmark ({mode})", "",
        f"- machine: {machine['cpu']}, {machine['cores']} cores ({machine['usable_cores']} usable), "
        f"{machine['memory_gb']} GB, {machine['os']}",
        f"- Python {machine['python']}; uvloop {machine['uvloop']}, aiohttp {machine['aiohttp']}, "
        f"uvicorn {machine['uvicorn']}; commit {machine['commit']}",
    ]
    lines += [f"- {note}" for note in notes]
    return "\n".join(lines)


def write_json(path: Path, machine: dict[str, object], mode: str, notes: list[str], seconds: float,
               rows: list[dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"mode": mode, "machine": machine, "notes": notes, "seconds": round(seconds, 1), "rows": rows}
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
