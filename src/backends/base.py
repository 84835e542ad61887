"""What every backend is: a named upstream that serves a request's routes.

A backend is handed the client's request (`Call`) and the route to serve it on, and answers
with an `Answer` in the protocol it speaks. HTTP backends (`src.backends.http`) post it to
their upstream; the hybrid backend (`src.backends.hybrid`) combines two other backends.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from src.backends.answer import Answer
from src.routing.plan import Route
from src.wire.json_body import rewrite


@dataclass(slots=True)  # not frozen: made for every request, where frozen costs twice as much
class Call:
    """A client request, as the backends of its plan receive it: the body as sent and parsed once."""

    raw: bytes
    body: dict[str, Any]
    headers: Mapping[str, str]  # the client's, lower-case names
    upstream_key: str | None = None  # the client's own key for backends that take one (byok)
    key_fallback: bool = False  # with it, the backend's own keys may follow the client's (byok_fallback)

    def body_for(self, route: Route) -> bytes:
        """The body to send on `route`: its model and URI parameters in, all else untouched."""
        if self.body.get("model") == route.model and not route.params:
            return self.raw  # nothing to rewrite: forward the client's bytes as they came
        return rewrite(self.raw, self.body, {"model": route.model, **route.params})

    def rewritten(self, changes: dict[str, Any]) -> Call:
        """The same request with top-level `changes`, as a new call."""
        raw = rewrite(self.raw, self.body, changes)
        return Call(raw, {**self.body, **changes}, self.headers, self.upstream_key, self.key_fallback)


class Backend:
    """A named upstream. Subclasses say how a request reaches it."""

    lists_models: ClassVar[bool] = False  # whether `list_models` asks the upstream (the catalog's source)
    takes_client_keys: ClassVar[bool] = False  # whether a client's own upstream key works here (byok)

    def __init__(self, name: str) -> None:
        self.name = name
        self._turn = itertools.count()

    @property
    def key_count(self) -> int:
        return 0

    def next_key_turn(self) -> int:
        """Where this request starts in the key rotation."""
        return next(self._turn)

    async def chat(self, call: Call, route: Route, key: int | None = None) -> Answer:
        """A chat completion on `route`, with key number `key` (else the next in the rotation)."""
        raise NotImplementedError

    def serves_messages(self, model: str) -> bool:
        """Whether Messages requests for `model` go to the backend's own Messages endpoint untranslated."""
        return False

    async def messages(self, call: Call, route: Route, key: int | None = None) -> Answer:
        """An Anthropic Messages request on `route`, as it came; only where `serves_messages`."""
        raise NotImplementedError

    def serves_responses(self, model: str) -> bool:
        """Whether Responses API requests for `model` go to the backend's own /responses untranslated."""
        return False

    async def responses(self, call: Call, route: Route, key: int | None = None) -> Answer:
        """A Responses API request on `route`, as it came; only where `serves_responses`."""
        raise NotImplementedError

    async def list_models(self) -> list[dict[str, Any]]:
        return []
