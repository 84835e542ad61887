"""A least-recently-used cache bounded by the bytes its entries stand for, not by their count."""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

DEFAULT_BUDGET = 4 * 1024 * 1024  # bytes
Value = TypeVar("Value")


class ByteBoundedCache(Generic[Value]):
    def __init__(self, budget: int = DEFAULT_BUDGET) -> None:
        self._budget = budget
        self._used = 0
        self._entries: OrderedDict[str, tuple[Value, int]] = OrderedDict()

    def get(self, key: str) -> Value | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        self._entries.move_to_end(key)
        return entry[0]

    def put(self, key: str, value: Value, size: int) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self._used -= old[1]
        if size > self._budget:
            return
        self._entries[key] = (value, size)
        self._used += size
        while self._used > self._budget:
            _, (_, dropped) = self._entries.popitem(last=False)
            self._used -= dropped
