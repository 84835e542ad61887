"""What the client sends reaches the upstream exactly: wide integers, unusual JSON, bounded URI
integers, non-ASCII identity headers; and an alias that could never expand is refused at start-up."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam
from pydantic import ValidationError

from src.config import Config, ConfigError
from src.config.loading import load_config
from tests.fakes.proxy import PROXY_KEY, RunningProxy, config_for
from tests.fakes.upstream import FakeUpstream

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]
# The model as sent, and as the upstream must receive it. The first is forwarded byte for byte;
# an alias (`gpt-*`, see conftest) and a URI parameter make the proxy rewrite the body.
ROUTES = [
    pytest.param("openai/gpt-4o", "openai/gpt-4o", {}, id="plain"),
    pytest.param("gpt-4o", "openai/gpt-4o", {}, id="alias"),
    pytest.param("openai/gpt-4o?temperature=0.5", "openai/gpt-4o", {"temperature": 0.5}, id="uri-param"),
]
WIDE = {
    "big": 123456789012345678901234567890,
    "negative": -98765432109876543210987654321,
    "u64_max_plus_one": 18446744073709551616,
    "nested": {"list": [12345678901234567890123, 1.5, -0.0, "12345678901234567890 in a string"]},
}
# Integers orjson would read as floats, though they have fewer than 20 digits.
PAST_INT64 = {"below_int64": -9223372036854775809, "far_below_int64": -9999999999999999999, "above_int64": 9223372036854775808}


def _canonical(value: object) -> str:
    """Tells 1 from 1.0, NaN from null and keeps lone surrogates: equal only if the JSON values are equal."""
    return json.dumps(value, sort_keys=True)


def _post(proxy: RunningProxy, content: bytes) -> httpx.Response:
    headers = {"Authorization": f"Bearer {PROXY_KEY}", "Content-Type": "application/json"}
    return httpx.post(f"{proxy.url}/v1/chat/completions", content=content, headers=headers)


# --- wide integers and unusual JSON -------------------------------------------------------------------------


@pytest.mark.parametrize(("model", "upstream_model", "params"), ROUTES)
def test_wide_integers_reach_the_upstream_exactly(
    client: openai.OpenAI, upstream: FakeUpstream, model: str, upstream_model: str, params: dict
) -> None:
    client.chat.completions.create(model=model, messages=MESSAGES, extra_body=WIDE)

    sent = upstream.last().body
    assert sent["model"] == upstream_model
    assert {k: sent[k] for k in WIDE} == WIDE
    assert _canonical({k: sent[k] for k in WIDE}) == _canonical(WIDE)
    assert {k: sent[k] for k in params} == params


@pytest.mark.parametrize(("model", "upstream_model", "params"), ROUTES)
def test_integers_just_past_64_bits_reach_the_upstream_exactly(
    client: openai.OpenAI, upstream: FakeUpstream, model: str, upstream_model: str, params: dict
) -> None:
    client.chat.completions.create(model=model, messages=MESSAGES, extra_body=PAST_INT64)

    sent = upstream.last().body
    assert sent["model"] == upstream_model
    assert _canonical({k: sent[k] for k in PAST_INT64}) == _canonical(PAST_INT64)


# The OpenAI SDK cannot encode a lone surrogate (UTF-8 refuses it), so these go as raw bytes.
UNUSUAL = (
    b'"lone_high":"\\ud83d","lone_low":"x\\udc00y","pair":"\\ud83d\\ude00","nul":"a\\u0000b",'
    b'"big":123456789012345678901234567890,"float":0.1,"exp":1E2,"neg_zero":-0,"uni":"Caf\xc3\xa9"'
)


@pytest.mark.parametrize(("model", "upstream_model", "params"), ROUTES)
def test_unusual_json_reaches_the_upstream_exactly(
    proxy: RunningProxy, upstream: FakeUpstream, model: str, upstream_model: str, params: dict
) -> None:
    raw = b'{"model":' + json.dumps(model).encode() + b',"messages":[{"role":"user","content":"hi"}],' + UNUSUAL + b"}"
    response = _post(proxy, raw)

    assert response.status_code == 200, response.text
    sent = upstream.last()
    expected = {**json.loads(raw), "model": upstream_model, **params}
    assert _canonical(sent.body) == _canonical(expected)
    assert sent.body["lone_high"] == "\ud83d" and sent.body["lone_low"] == "x\udc00y"
    if model == upstream_model:
        assert sent.raw == raw  # nothing to rewrite: the client's own bytes


@pytest.mark.parametrize(("model", "upstream_model", "params"), ROUTES)
def test_nan_and_infinity_reach_the_upstream_as_sent(
    proxy: RunningProxy, upstream: FakeUpstream, model: str, upstream_model: str, params: dict
) -> None:
    # Not standard JSON, but Python's json reads and writes them; the proxy documents keeping NaN.
    raw = b'{"model":' + json.dumps(model).encode() + b',"messages":[],"nan":NaN,"inf":Infinity,"ninf":-Infinity}'
    response = _post(proxy, raw)

    assert response.status_code == 200, response.text
    sent = upstream.last().body
    assert _canonical([sent["nan"], sent["inf"], sent["ninf"]]) == "[NaN, Infinity, -Infinity]"
    assert sent["model"] == upstream_model


# --- URI integers out of range ------------------------------------------------------------------------------


def test_uri_integers_at_their_limits_are_sent_exactly(client: openai.OpenAI, upstream: FakeUpstream) -> None:
    client.chat.completions.create(
        model="openai/gpt-4o?seed=9223372036854775807&max_tokens=2147483647&top_k=2147483647", messages=MESSAGES
    )
    sent = upstream.last().body
    assert (sent["seed"], sent["max_tokens"], sent["top_k"]) == (2**63 - 1, 2**31 - 1, 2**31 - 1)

    client.chat.completions.create(model="openai/gpt-4o?seed=-9223372036854775808", messages=MESSAGES)
    assert upstream.last().body["seed"] == -(2**63)


# --- non-ASCII identity headers -----------------------------------------------------------------------------


@pytest.mark.parametrize("client_header", [b"X-Title", b"X-OpenRouter-Title"])
def test_non_ascii_title_reaches_the_upstream_unchanged(
    proxy: RunningProxy, upstream: FakeUpstream, client_header: bytes
) -> None:
    headers = [
        (b"Authorization", f"Bearer {PROXY_KEY}".encode()),
        (client_header, "Café ☕".encode()),
        (b"User-Agent", "Bücher/1.0".encode()),
        (b"X-Session-Id", "sitzung-ü".encode()),
    ]
    body = {"model": "openai/gpt-4o", "messages": MESSAGES}
    response = httpx.post(f"{proxy.url}/v1/chat/completions", json=body, headers=headers)

    assert response.status_code == 200, response.text
    sent = upstream.last()
    assert sent.raw_header("X-Title") == "Café ☕".encode()
    assert sent.raw_header("X-OpenRouter-Title") == "Café ☕".encode()
    assert sent.raw_header("User-Agent") == "Bücher/1.0".encode()
    assert sent.raw_header("X-Session-Id") == "sitzung-ü".encode()
    # aiohttp.web decodes header bytes as UTF-8, so the text reads the same too.
    assert sent.headers["X-Title"] == sent.headers["X-OpenRouter-Title"] == "Café ☕"


# --- an alias that can never expand -------------------------------------------------------------------------

BAD_REPLACEMENTS = [r"openrouter:\q\1", r"openrouter:openai/\2", r"openrouter:\g<missing>"]


@pytest.mark.parametrize("replacement", BAD_REPLACEMENTS)
def test_invalid_alias_replacement_is_refused_by_the_config(upstream: FakeUpstream, replacement: str) -> None:
    with pytest.raises(ValidationError) as raised:
        config_for(upstream.base_url, model_aliases=[{"pattern": "^gpt-(.*)", "replacement": replacement}])
    assert "model_aliases.0.replacement" in str(raised.value)


@pytest.mark.parametrize("replacement", BAD_REPLACEMENTS)
def test_invalid_alias_replacement_stops_start_up_with_a_config_error(
    tmp_path: Path, upstream: FakeUpstream, replacement: str
) -> None:
    path = tmp_path / "config.yaml"
    alias = {"pattern": "^gpt-(.*)", "replacement": replacement}
    backend = {"type": "openrouter", "base_url": upstream.base_url, "api_key": "k"}
    path.write_text(json.dumps({"backends": {"openrouter": backend}, "model_aliases": [alias]}))  # JSON is YAML

    with pytest.raises(ConfigError) as raised:
        load_config({"config": str(path)}, {})

    assert raised.value.key == "model_aliases.0.replacement"
    assert raised.value.where == str(path)
    assert "invalid replacement" in str(raised.value)


def test_valid_alias_replacement_is_accepted(upstream: FakeUpstream) -> None:
    config = config_for(upstream.base_url, model_aliases=[{"pattern": r"^(?P<m>gpt-.*)", "replacement": r"x:\g<m>\\1"}])
    assert isinstance(config, Config)
    match = config.model_aliases[0].compiled.match("gpt-4o")
    assert match is not None
    assert match.expand(config.model_aliases[0].replacement) == r"x:gpt-4o\1"
