"""Property-based fuzzing of the proxied endpoints against a running proxy and a well-behaved fake
upstream: bodies shaped like each endpoint's (valid-ish, and broken: wrong types, deep nesting,
odd unicode, huge numbers, not JSON at all). The proxy never answers a 5xx, every 4xx is in the
endpoint's own envelope, no stream carries an internal error, nothing logs an error, and the proxy
stays up. Runs are derandomized (and keep no example database), so CI sees the same examples."""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from tests.fakes.hostile import HostileUpstream
from tests.fakes.proxy import PROXY_KEY, RunningProxy
from tests.fakes.proxy_setup import proxy_config

CHAT, MESSAGES, COUNT, RESPONSES = "/v1/chat/completions", "/v1/messages", "/v1/messages/count_tokens", "/v1/responses"
FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))  # fmt: skip
INTERNAL = b"internal error in Switchyard"
# Hypothesis caches what it learns (unicode tables, the constants of the source) in ./.hypothesis, from
# collection on: in a temporary folder instead, removed after this module's tests.
HYPOTHESIS_HOME = Path(tempfile.mkdtemp(prefix="switchyard-hypothesis-"))
set_hypothesis_home_dir(HYPOTHESIS_HOME)

# --- values -------------------------------------------------------------------------------------------

ODD_TEXT = st.text(st.characters(codec="utf-8"), max_size=12) | st.sampled_from(  # utf-8: no lone surrogates
    ["", " ", "\x00", "\u202e", "\ufeff", "e\u0301", "\U0001f600" * 3, "\u2028", "\uffff", "</think>", "[DONE]"]
)
# Lone surrogates (JSON "\ud800"), which orjson refuses to read or write, are fuzzed on their own.
SURROGATE_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=12) | st.sampled_from(
    ["\ud800", "\udfff", "a\udc00b", "\ud83d"]
)
NUMBERS = st.integers() | st.integers(-(10**40), 10**40) | st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from(
    [0, -1, 2**63, -(2**63) - 1, 2**64, 1e308, -0.0, 5e-324]
)
MODELS = st.sampled_from(["m", "m|n", "openrouter:m", "m?temperature=0.5&top_k=3", "hybrid:[m,n]", "anthropic/claude-x",
                          "~anthropic/claude-x"])  # fmt: skip
ODD_MODELS = st.sampled_from(["m?temperature=9", "m?bogus=1", "openrouter:", "nope:m", "m|" * 20, "", " ", "a" * 1100])


class Shapes:
    """Each endpoint's body, as a strategy. `broken`: fields often of the wrong type, unknown fields
    added and any model; otherwise every value has the right type (odd text and numbers still)."""

    def __init__(self, broken: bool, odd_text: st.SearchStrategy[str] = ODD_TEXT) -> None:
        self.broken = broken
        self.odd_text = odd_text
        scalars = st.none() | st.booleans() | NUMBERS | odd_text
        self.junk = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(odd_text, inner, max_size=3),
                                 max_leaves=12)  # fmt: skip
        text, schema = odd_text | st.just("hi"), st.just({"type": "object", "properties": {"q": {"type": "string"}}})
        roles = st.sampled_from(["user", "assistant", "system", "tool", "developer"])
        model = MODELS | ODD_MODELS | odd_text if broken else MODELS
        count = NUMBERS if broken else st.integers(1, 2**31 - 1)
        parts = st.lists(self.obj(type=st.just("text"), text=text), max_size=2)
        chat_message = self.obj(role=roles, content=text | parts, tool_call_id=text)
        function = self.obj(type=st.just("function"), function=self.obj(name=text, parameters=schema))
        self.chat = self.shaped({
            "model": model, "messages": st.lists(chat_message, min_size=1, max_size=3), "stream": st.booleans(),
            "tools": st.lists(function, max_size=2), "tool_choice": st.sampled_from(["auto", "none", "required"]),
            "temperature": NUMBERS, "max_tokens": count, "stream_options": self.obj(include_usage=st.booleans()),
            "stop": text | st.lists(text, max_size=2),
        }, required=("model", "messages"))  # fmt: skip
        block = st.one_of(
            self.obj(type=st.just("text"), text=text),
            self.obj(type=st.just("image"), source=self.obj(type=st.sampled_from(["base64", "url"]), data=st.just("iVBORw0KGgo="),
                                                            media_type=st.just("image/png"), url=text)),
            self.obj(type=st.just("tool_use"), id=text, name=text, input=self.obj(q=text)),
            self.obj(type=st.just("tool_result"), tool_use_id=text, content=text | parts, is_error=st.booleans()),
            self.obj(type=st.just("thinking"), thinking=text, signature=text),
        )  # fmt: skip
        message = self.obj(role=st.sampled_from(["user", "assistant"]), content=text | st.lists(block, max_size=3))
        anthropic = {
            "model": model, "messages": st.lists(message, min_size=1, max_size=3),
            "system": text | parts, "tools": st.lists(self.obj(name=text, description=text, input_schema=schema), max_size=2),
            "tool_choice": self.obj(type=st.sampled_from(["auto", "any", "tool", "none"]), name=text),
            "stop_sequences": st.lists(text, max_size=2), "temperature": NUMBERS, "top_k": NUMBERS,
            "metadata": self.obj(user_id=text), "thinking": self.obj(type=st.just("enabled"), budget_tokens=count),
        }  # fmt: skip
        self.messages = self.shaped({**anthropic, "max_tokens": st.integers(1, 64), "stream": st.booleans()},
                                    required=("model", "messages", "max_tokens"))  # fmt: skip
        self.count_tokens = self.shaped(anthropic, required=("model", "messages"))
        item = st.one_of(
            self.obj(role=roles, content=text | st.lists(self.obj(type=st.sampled_from(["input_text", "output_text"]), text=text))),
            self.obj(type=st.just("function_call"), call_id=text, name=text, arguments=text),
            self.obj(type=st.just("function_call_output"), call_id=text, output=text),
            self.obj(type=st.sampled_from(["reasoning", "compaction_trigger"]), id=text, summary=st.just([])),
        )  # fmt: skip
        self.responses = self.shaped({
            "model": model, "input": text | st.lists(item, min_size=1, max_size=3), "instructions": text,
            "stream": st.booleans(), "tools": st.lists(self.obj(type=st.just("function"), name=text, parameters=schema), max_size=2),
            "tool_choice": st.sampled_from(["auto", "none", "required"]) | self.obj(type=st.just("function"), name=text),
            "store": st.booleans(), "reasoning": self.obj(effort=st.sampled_from(["low", "high"])), "max_output_tokens": count,
            "text": self.obj(format=self.obj(type=st.sampled_from(["text", "json_schema"]))),
            **({"previous_response_id": text} if broken else {}),
        }, required=("model", "input"))  # fmt: skip

    def shaped(self, fields: dict[str, st.SearchStrategy[Any]], required: tuple[str, ...]) -> st.SearchStrategy[dict[str, Any]]:
        """An object with the given fields: each required one (nearly) always there, each other one 4 times in 10."""
        extra = st.dictionaries(self.odd_text, self.junk, max_size=2) if self.broken else st.just({})
        odds = 9 if self.broken else 10  # of 10: a broken body may lack a required field; a clean one never does
        present = [st.integers(0, 9).map((odds if name in required else 4).__gt__) for name in fields]
        values = [st.one_of(proper, proper, self.junk) if self.broken else proper for proper in fields.values()]
        names = tuple(fields)

        def build(drawn: tuple[dict[str, Any], tuple[bool, ...], tuple[Any, ...]]) -> dict[str, Any]:
            extra, keep, value = drawn
            return {**extra, **{name: v for name, k, v in zip(names, keep, value, strict=True) if k}}

        return st.tuples(extra, st.tuples(*present), st.tuples(*values)).map(build)

    def obj(self, **fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
        return self.shaped(fields, tuple(fields))


SHAPES = {"plain": (Shapes(broken=False), Shapes(broken=True)),
          "surrogates": (Shapes(broken=False, odd_text=SURROGATE_TEXT), Shapes(broken=True, odd_text=SURROGATE_TEXT))}

# --- broken bodies ------------------------------------------------------------------------------------

DEEP = st.integers(900, 150_000).flatmap(lambda n: st.sampled_from([
    "[" * n + "]" * n, '{"a":' * n + "1" + "}" * n, '{"model": "m", "messages": ' + "[" * n + "]" * n + "}",
    '{"model": "m", "max_tokens": 8, "messages": [{"role": "user", "content": ' + "[" * n + "]" * n + "}]}",
]))  # fmt: skip
HUGE = st.sampled_from([
    '{"model": "m", "messages": [], "max_tokens": ' + "9" * 5000 + "}", '{"model": "m", "max_tokens": 1e999999}',
    '{"model": "m", "messages": [], "temperature": NaN}', '{"model": "m", "input": "hi", "max_output_tokens": -Infinity}',
])  # fmt: skip


@st.composite
def truncated(draw: st.DrawFn, bodies: st.SearchStrategy[dict[str, Any]]) -> bytes:
    raw = encode(draw(bodies))
    return raw[: draw(st.integers(0, max(len(raw) - 1, 0)))]


def encode(body: object) -> bytes:
    return json.dumps(body).encode()


def bodies(kind: str, text: str = "plain") -> st.SearchStrategy[bytes]:
    """Bodies for one endpoint: well-typed ones, ill-typed ones, and ones that are not even right JSON."""
    clean, broken = (getattr(shapes, kind) for shapes in SHAPES[text])
    unreadable = st.one_of(DEEP.map(str.encode), HUGE.map(str.encode), truncated(clean), st.binary(max_size=64),
                           st.sampled_from([b"", b"null", b"[]", b"\xef\xbb\xbf{}", b'{"model": "\xc0\xaf"}']))  # fmt: skip
    return st.one_of(clean.map(encode), clean.map(encode), broken.map(encode), unreadable)


# --- the proxy under fuzz -----------------------------------------------------------------------------


class Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append(f"{record.name}: {record.getMessage()}")


@pytest.fixture(scope="module", autouse=True)
def _hypothesis_home() -> Iterator[None]:
    yield
    set_hypothesis_home_dir(None)
    shutil.rmtree(HYPOTHESIS_HOME, ignore_errors=True)


@pytest.fixture(scope="module")
def fuzzed() -> Iterator[tuple[httpx.Client, Errors]]:
    upstream = HostileUpstream(plain=True).start()
    proxy = RunningProxy(proxy_config(upstream.base_url, "sk-fuzz-0001", failover={"cooldown": 0})).start()
    errors = Errors()
    logging.getLogger("switchyard").addHandler(errors)
    headers = {"Authorization": f"Bearer {PROXY_KEY}", "Content-Type": "application/json"}
    with httpx.Client(base_url=proxy.url, headers=headers, timeout=30) as client:
        yield client, errors
    logging.getLogger("switchyard").removeHandler(errors)
    proxy.stop()
    upstream.stop()


def check(client: httpx.Client, errors: Errors, path: str, raw: bytes) -> None:
    errors.seen.clear()
    response = client.post(path, content=raw)
    status = response.status_code
    event(f"status {status}")  # --hypothesis-show-statistics shows how deep the examples got
    assert status == 200 or 400 <= status < 500, (status, response.text[:300])
    if status >= 400:
        body = response.json()
        if path in (MESSAGES, COUNT):
            assert body["type"] == "error" and isinstance(body["error"]["message"], str), body
            assert set(body["error"]) == {"type", "message"}, body
        else:
            assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}, body
    elif response.headers["content-type"].startswith("text/event-stream"):
        assert INTERNAL not in response.content
    else:
        response.json()
    assert errors.seen == []
    assert client.get("/health").status_code == 200  # still up


@FUZZ
@given(raw=bodies("chat"))
def test_fuzz_chat_completions(fuzzed: tuple[httpx.Client, Errors], raw: bytes) -> None:
    check(*fuzzed, CHAT, raw)


@FUZZ
@given(raw=bodies("messages"))
def test_fuzz_messages(fuzzed: tuple[httpx.Client, Errors], raw: bytes) -> None:
    check(*fuzzed, MESSAGES, raw)


@FUZZ
@given(raw=bodies("count_tokens"))
def test_fuzz_count_tokens(fuzzed: tuple[httpx.Client, Errors], raw: bytes) -> None:
    check(*fuzzed, COUNT, raw)


@FUZZ
@given(raw=bodies("responses"))
def test_fuzz_responses(fuzzed: tuple[httpx.Client, Errors], raw: bytes) -> None:
    check(*fuzzed, RESPONSES, raw)


@pytest.mark.parametrize("path", [CHAT, MESSAGES, RESPONSES])
def test_fuzz_with_lone_surrogates(fuzzed: tuple[httpx.Client, Errors], path: str) -> None:
    kind = {CHAT: "chat", MESSAGES: "messages", RESPONSES: "responses"}[path]

    @FUZZ
    @given(raw=bodies(kind, "surrogates"))
    def fuzz(raw: bytes) -> None:
        check(*fuzzed, path, raw)

    fuzz()


@FUZZ
@given(raw=bodies("count_tokens", "surrogates"))
def test_fuzz_count_tokens_with_lone_surrogates(fuzzed: tuple[httpx.Client, Errors], raw: bytes) -> None:
    check(*fuzzed, COUNT, raw)
