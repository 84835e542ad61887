""""Did you mean": the closest model ids from a backend's catalog, when it says a model does not exist.

The proxy never refuses a model on its own: catalogs lag, and OpenRouter accepts variants
(`:nitro`, `:floor`, `:online`, presets) it does not list. Suggestions only follow the
backend's own "no such model".
"""

from __future__ import annotations

import re

from src.core.catalog import ModelCatalog
from src.core.errors import UpstreamStatusError
from src.usage.models_listing import did_you_mean

_UNKNOWN_MODEL = re.compile(
    r"not a valid model|model[^.]{0,80}(not found|does not exist|not exist|unknown|not available|invalid)"
    r"|(unknown|invalid|no such) model|no endpoints found|model_not_found",
    re.IGNORECASE,
)


def is_unknown_model(error: UpstreamStatusError) -> bool:
    if error.status not in (400, 404):
        return False
    return error.code == "model_not_found" or bool(_UNKNOWN_MODEL.search(error.message))


async def add_suggestions(error: UpstreamStatusError, catalog: ModelCatalog) -> None:
    """Appends the closest catalog ids to the error's message, keeping its status."""
    if not error.route or not is_unknown_model(error):
        return
    backend, _, model = error.route.partition(":")
    if not catalog.lists(backend):
        return
    # The catalog's ids are what a client sends back: `backend:id` on all but the default backend.
    ids = [entry["id"] for entry in await catalog.backend_models(backend)]
    prefix = catalog.public_id(backend, "")
    suggestions = did_you_mean(model, [i.removeprefix(prefix) for i in ids])
    if suggestions:
        error.message = f"{error.message} (did you mean {', '.join(repr(prefix + s) for s in suggestions)}?)"
        error.args = (error.message,)
