"""`/v1/models` and `/v1/models/{id}`: every backend's models, in the OpenAI list format."""

from __future__ import annotations

from src.frontends.gateway import Gateway
from src.frontends.incoming import Incoming
from src.frontends.reply import Reply, json_reply
from src.wire.errors import NotFound


async def list_models(gateway: Gateway, incoming: Incoming) -> Reply:
    if "client_version" in incoming.query:
        # Codex's own listing, which expects its ModelInfo entries; each must carry the model's whole
        # system prompt, which only Codex has. An empty list makes it use its built-in metadata.
        return json_reply({"models": []})
    return json_reply({"object": "list", "data": await gateway.catalog.models()})


async def retrieve_model(gateway: Gateway, incoming: Incoming) -> Reply:
    for model in await gateway.catalog.models():
        if model["id"] == incoming.tail:
            return json_reply(model)
    raise NotFound(f"model {incoming.tail!r} is not in any backend's model list", param="model", code="model_not_found")
