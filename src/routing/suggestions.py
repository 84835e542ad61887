""""Did you mean": the closest model ids from a backend's catalog, when it says a model does not exist.

The proxy never refuses a model on its own: catalogs lag, and OpenRouter accepts variants
(`:nitro`, `:floor`, `:online`, presets) it does not list. Suggestions only follow the
backend's own "no such model".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from difflib import SequenceMatcher

SIMILAR = 0.6  # difflib ratio below which an id is not suggested
_UNKNOWN_MODEL = re.compile(
    r"not a valid model|model[^.]{0,80}(not found|does not exist|not exist|unknown|not available|invalid)"
    r"|(unknown|invalid|no such) model|no endpoints found|model_not_found",
    re.IGNORECASE,
)


def is_unknown_model(status: int, code: str | None, message: str) -> bool:
    """Whether an upstream error says the model does not exist."""
    if status not in (400, 404):
        return False
    return code == "model_not_found" or bool(_UNKNOWN_MODEL.search(message))


def did_you_mean(model: str, catalog_ids: Sequence[str], limit: int = 3) -> list[str]:
    """Up to `limit` ids of the catalog closest to `model`, best first.

    First the ids whose name after the vendor prefix is `model` (without any vendor prefix it
    carries), then those whose name starts with it, shortest first (`gpt-4o` ->
    `openai/gpt-4o`, then `openai/gpt-4o-mini`), then the closest by difflib's ratio.
    """
    wanted = model.strip().lower()
    bare = _name(wanted)
    if not bare:
        return []
    exact: list[str] = []
    prefixed: list[str] = []
    scored: list[tuple[float, str]] = []
    matcher = SequenceMatcher(autojunk=False)
    matcher.set_seq2(wanted)  # difflib caches what it learns about the second sequence
    bare_matcher = SequenceMatcher(autojunk=False)
    bare_matcher.set_seq2(bare)
    for candidate in dict.fromkeys(catalog_ids):
        lowered = candidate.lower()
        if lowered == wanted:
            continue
        name = _name(lowered)
        if name == bare:
            exact.append(candidate)
        elif name.startswith(bare):
            prefixed.append(candidate)
        else:
            score = max(_ratio(matcher, lowered), _ratio(bare_matcher, name))
            if score >= SIMILAR:
                scored.append((score, candidate))
    prefixed.sort(key=lambda c: (len(c), c))
    scored.sort(key=lambda item: (-item[0], item[1]))
    return (exact + prefixed + [candidate for _, candidate in scored])[:limit]


def _ratio(matcher: SequenceMatcher[str], candidate: str) -> float:
    matcher.set_seq1(candidate)
    if matcher.real_quick_ratio() < SIMILAR or matcher.quick_ratio() < SIMILAR:
        return 0.0
    return matcher.ratio()


def _name(model_id: str) -> str:
    """An id without its vendor prefix: `openai/gpt-4o` -> `gpt-4o`."""
    return model_id.lstrip("~").rpartition("/")[2]
