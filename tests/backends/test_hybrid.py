"""The hybrid backend's prompt: the reasoning block added to the execution model's messages."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from src.backends.hybrid import REASONING_BLOCK, with_reasoning

# --- with_reasoning -----------------------------------------------------------------------------------------

THOUGHT = "The user wants a haiku.\nCount syllables."
BLOCK = REASONING_BLOCK.format(reasoning=THOUGHT)
USER = {"role": "user", "content": "Write a haiku"}


def test_reasoning_block_is_clearly_delimited() -> None:
    assert BLOCK.startswith(f"<reasoning>\n{THOUGHT}\n</reasoning>\n")
    assert BLOCK.count("<reasoning>") == BLOCK.count("</reasoning>") == 1


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        (
            [{"role": "system", "content": "Be brief."}, USER],
            [{"role": "system", "content": f"Be brief.\n\n{BLOCK}"}, USER],
        ),
        ([{"role": "system", "content": ""}, USER], [{"role": "system", "content": BLOCK}, USER]),
        (
            [{"role": "system", "content": [{"type": "text", "text": "Be brief."}], "name": "rules"}, USER],
            [
                {
                    "role": "system",
                    "content": [{"type": "text", "text": "Be brief."}, {"type": "text", "text": BLOCK}],
                    "name": "rules",
                },
                USER,
            ],
        ),
        ([USER], [{"role": "system", "content": BLOCK}, USER]),
        ([], [{"role": "system", "content": BLOCK}]),
        (
            [USER, {"role": "system", "content": "late"}, {"role": "system", "content": "second"}],
            [USER, {"role": "system", "content": f"late\n\n{BLOCK}"}, {"role": "system", "content": "second"}],
        ),
        (["not a message", USER], [{"role": "system", "content": BLOCK}, "not a message", USER]),
    ],
)
def test_with_reasoning(messages: list[Any], expected: list[Any]) -> None:
    before = orjson.dumps(messages)
    assert with_reasoning(messages, THOUGHT) == expected
    assert orjson.dumps(messages) == before  # the client's messages are not changed in place


@pytest.mark.parametrize("messages", [None, "hi", {"role": "system"}, 42])
def test_with_reasoning_leaves_non_lists_alone(messages: object) -> None:
    assert with_reasoning(messages, THOUGHT) is messages
