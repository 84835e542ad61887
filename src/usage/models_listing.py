"""The `models` command's listing: rows, filters and the table."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

import orjson

from src.usage.pricing import format_usd, price_per_token
from src.wire.fields import object_at

MILLION = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class ModelRow:
    backend: str
    id: str
    context_length: int | None
    prompt_per_million: float | None  # USD per million input tokens; None when unknown
    completion_per_million: float | None  # USD per million output tokens
    tools: bool  # "tools" is in the model's supported_parameters
    free: bool  # a `:free` id, or zero prompt and completion prices
    name: str | None = None

    @property
    def provider(self) -> str:
        """The vendor prefix of the id (`openai/gpt-4o` -> openai), else the backend's name."""
        vendor, slash, _ = self.id.lstrip("~").partition("/")
        return vendor if slash and vendor else self.backend


def rows_from_catalog(models: Iterable[Mapping[str, Any]], backend: str) -> list[ModelRow]:
    """A row per entry of a backend's `GET /models` list; entries without a string id are skipped."""
    rows = []
    for model in models:
        if not isinstance(model, Mapping) or not isinstance(model.get("id"), str) or not model["id"]:
            continue
        pricing = object_at(model, "pricing")
        prompt = _per_million(pricing.get("prompt"))
        completion = _per_million(pricing.get("completion"))
        parameters = model.get("supported_parameters")
        name = model.get("name")
        rows.append(
            ModelRow(
                backend=backend,
                id=model["id"],
                context_length=_context_length(model),
                prompt_per_million=prompt,
                completion_per_million=completion,
                tools=isinstance(parameters, list) and "tools" in parameters,
                free=model["id"].endswith(":free") or (prompt == 0 and completion == 0),
                name=name if isinstance(name, str) else None,
            )
        )
    return rows


def filter_rows(
    rows: Iterable[ModelRow],
    free: bool = False,
    tools: bool = False,
    provider: str | None = None,
    search: str | None = None,
) -> list[ModelRow]:
    """The rows that are free (if asked), support tools (if asked), are from `provider` and
    contain `search` in their id or name; provider and search ignore case."""
    wanted = provider.lower() if provider else None
    text = search.lower() if search else None
    return [
        row
        for row in rows
        if (row.free or not free)
        and (row.tools or not tools)
        and (wanted is None or row.provider.lower() == wanted)
        and (text is None or text in row.id.lower() or text in (row.name or "").lower())
    ]


def format_table(rows: Sequence[ModelRow]) -> str:
    """An aligned table: backend, model, context, input and output price per million tokens, tools."""
    header = ("BACKEND", "MODEL", "CONTEXT", "INPUT $/M", "OUTPUT $/M", "TOOLS")
    body = [
        (
            row.backend,
            row.id,
            "-" if row.context_length is None else f"{row.context_length:,}",
            _price(row.prompt_per_million),
            _price(row.completion_per_million),
            "yes" if row.tools else "no",
        )
        for row in rows
    ]
    widths = [max(len(cells[i]) for cells in (header, *body)) for i in range(len(header))]
    right = {2, 3, 4}  # numbers line up on the right

    def line(cells: Sequence[str]) -> str:
        parts = (c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))
        return "  ".join(parts).rstrip()

    return "\n".join([line(header), *(line(cells) for cells in body)])


def rows_json(rows: Sequence[ModelRow]) -> str:
    """The rows as a JSON array of objects (with `provider`), for `models --json`."""
    return orjson.dumps([{**asdict(row), "provider": row.provider} for row in rows], option=orjson.OPT_INDENT_2).decode()


def _per_million(value: object) -> float | None:
    price = price_per_token(value)
    return None if price is None else float(price * MILLION)


def _context_length(model: Mapping[str, Any]) -> int | None:
    top = model.get("top_provider")
    for value in (model.get("context_length"), top.get("context_length") if isinstance(top, Mapping) else None):
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def _price(per_million: float | None) -> str:
    if per_million is None:
        return "-"
    return "free" if per_million == 0 else format_usd(per_million)
