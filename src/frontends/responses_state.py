"""What the Responses front-end keeps between requests: recent conversations for
`previous_response_id`, bounded in count, age and bytes, and the carrier's signing key.

Kept in this worker's memory only: with `--workers N`, a `previous_response_id` is found only
by the worker that answered it (clients such as Codex send the whole conversation instead).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from src.translation.reasoning_carrier import Carrier
from src.wire.json_body import dumps

MAX_COUNT = 1000  # conversations kept
MAX_AGE = 3600.0  # seconds one is kept
MAX_BYTES = 64 * 1024 * 1024  # of all of them, as JSON


@dataclass
class Conversations:
    max_count: int = MAX_COUNT
    max_age: float = MAX_AGE
    max_bytes: int = MAX_BYTES
    clock: Callable[[], float] = time.monotonic
    _entries: OrderedDict[str, tuple[float, int, list[dict[str, Any]]]] = field(default_factory=OrderedDict)
    _bytes: int = 0

    def keep(self, response_id: str, messages: list[dict[str, Any]]) -> None:
        size = len(dumps(messages))
        if size > self.max_bytes:
            return
        self._entries[response_id] = (self.clock() + self.max_age, size, messages)
        self._bytes += size
        while len(self._entries) > self.max_count or self._bytes > self.max_bytes:
            self._drop_oldest()

    def get(self, response_id: str) -> list[dict[str, Any]] | None:
        while self._entries and next(iter(self._entries.values()))[0] <= self.clock():
            self._drop_oldest()  # expired ones are the oldest: each is kept for the same time
        entry = self._entries.get(response_id)
        return None if entry is None else entry[2]

    def _drop_oldest(self) -> None:
        _, (_, size, _) = self._entries.popitem(last=False)
        self._bytes -= size


@dataclass
class ResponsesState:
    carrier: Carrier
    conversations: Conversations = field(default_factory=Conversations)
