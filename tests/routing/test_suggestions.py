""" "Did you mean": the closest catalog ids to a model a backend does not know, and telling its "no such model"."""

from __future__ import annotations

import pytest

from src.routing.suggestions import did_you_mean, is_unknown_model

IDS = [
    "openai/gpt-4o", "openai/gpt-4o-mini", "openai/gpt-4o-2024-05-13", "openai/gpt-4", "openai/o1",
    "anthropic/claude-sonnet-4", "anthropic/claude-sonnet-4.5", "anthropic/claude-3.5-sonnet",
    "anthropic/claude-opus-4", "google/gemini-2.5-pro", "google/gemini-2.5-flash",
    "meta-llama/llama-3.1-8b-instruct", "qwen/qwen3-coder:free", "qwen/qwen3-coder", "~anthropic/claude-haiku-latest",
]  # fmt: skip


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-4o", ["openai/gpt-4o", "openai/gpt-4o-mini", "openai/gpt-4o-2024-05-13"]),
        ("claude-sonnet-4", ["anthropic/claude-sonnet-4", "anthropic/claude-sonnet-4.5",
                             "anthropic/claude-3.5-sonnet"]),
        ("GPT-4O", ["openai/gpt-4o", "openai/gpt-4o-mini", "openai/gpt-4o-2024-05-13"]),
        ("openai/claude-sonnet-4", ["anthropic/claude-sonnet-4", "anthropic/claude-sonnet-4.5",
                                    "anthropic/claude-3.5-sonnet"]),  # a wrong vendor prefix
        ("gemini-2.5-pro", ["google/gemini-2.5-pro", "google/gemini-2.5-flash"]),
        ("qwen3-coder", ["qwen/qwen3-coder", "qwen/qwen3-coder:free"]),
        ("qwen3-coder:free", ["qwen/qwen3-coder:free", "qwen/qwen3-coder"]),
        ("claude-3-5-sonnet", ["anthropic/claude-3.5-sonnet"]),  # a typo: by similarity
        ("gpt4o", ["openai/gpt-4o", "openai/gpt-4"]),
        ("claude-haiku-latest", ["~anthropic/claude-haiku-latest"]),
        ("llama-3.1-8b", ["meta-llama/llama-3.1-8b-instruct"]),
        ("openai/gpt-4o", ["openai/gpt-4o-mini", "openai/gpt-4o-2024-05-13", "openai/gpt-4"]),  # never itself
        ("something-else-entirely", []),
        ("", []),
        ("  ", []),
    ],
)  # fmt: skip
def test_did_you_mean(model: str, expected: list[str]) -> None:
    assert did_you_mean(model, IDS, limit=len(expected) or 3)[: len(expected)] == expected
    if not expected:
        assert did_you_mean(model, IDS) == []


def test_did_you_mean_limit_and_duplicates() -> None:
    assert did_you_mean("gpt-4o", IDS, limit=1) == ["openai/gpt-4o"]
    assert did_you_mean("gpt-4o", ["openai/gpt-4o", "openai/gpt-4o"]) == ["openai/gpt-4o"]
    assert did_you_mean("gpt-4o", []) == []


def test_did_you_mean_finds_the_model_in_a_large_catalog() -> None:
    catalog = [f"vendor{i % 40}/model-{i}-{'abcdefghij'[i % 10] * (i % 13)}-instruct" for i in range(5000)] + IDS
    assert did_you_mean("claude-sonnet-4", catalog)[0] == "anthropic/claude-sonnet-4"


@pytest.mark.parametrize(
    ("status", "code", "message", "expected"),
    [
        (404, None, "model not found", True),
        (400, "model_not_found", "anything at all", True),
        (404, "model_not_found", "", True),
        (400, None, "openai/gpt-5 is not a valid model ID", True),
        (404, None, "The model `gpt-5` does not exist or you do not have access to it.", True),
        (400, None, "No endpoints found for qwen/qwen9.", True),
        (400, None, "Unknown model: claude-9", True),
        (400, None, "Invalid model specified", True),
        (400, None, "no such model", True),
        (400, None, "model 'x' is not available on this server", True),
        (400, None, "Model 'x' is unknown", True),
        (400, None, "error: MODEL_NOT_FOUND", True),
        (400, None, "model" + "x" * 79 + " not found", True),  # up to 80 characters between
        (400, None, "model" + "x" * 80 + " not found", False),
        (400, None, "model ok. Tool not found", False),  # a sentence ends between them
        (400, None, "messages: field required", False),
        (404, None, "", False),
        (404, None, "route not found", False),
        # only a 400 or a 404 can say so: other statuses are another kind of failure
        (429, "model_not_found", "model not found", False),
        (401, None, "invalid model", False),
        (500, None, "model not found", False),
        (502, "model_not_found", "no endpoints found", False),
    ],
)
def test_is_unknown_model(status: int, code: str | None, message: str, expected: bool) -> None:
    assert is_unknown_model(status, code, message) is expected
