"""Outbound proxies in the configuration: the environment's variables (src/config/proxies.py) and a
backend's `proxy:` and `ca_bundle:` as load_config applies them."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from src.config import ConfigError
from src.config.loading import load_config
from src.config.proxies import environment_proxy, masked, proxy_problem, proxy_secrets, with_scheme
from tests.config.config_helpers import openai_backend
from tests.config.loading_helpers import config_file

pytestmark = pytest.mark.usefixtures("cwd")  # no ./config.yaml of the checkout's can change an outcome

HTTPS_UP = "https://api.example.com/v1"
HTTP_UP = "http://127.0.0.1:8080/v1"
A, B = "http://proxy-a:3128", "http://proxy-b:3128"

ENVIRONMENT_CASES = [
    # upstream, environ, (variable, url) or None
    ("https wants HTTPS_PROXY", HTTPS_UP, {"HTTPS_PROXY": A}, ("HTTPS_PROXY", A)),
    ("https ignores HTTP_PROXY", HTTPS_UP, {"HTTP_PROXY": A}, None),
    ("http wants HTTP_PROXY", HTTP_UP, {"HTTP_PROXY": A}, ("HTTP_PROXY", A)),
    ("http ignores HTTPS_PROXY", HTTP_UP, {"HTTPS_PROXY": A}, None),
    ("ALL_PROXY serves https", HTTPS_UP, {"ALL_PROXY": A}, ("ALL_PROXY", A)),
    ("ALL_PROXY serves http", HTTP_UP, {"all_proxy": A}, ("all_proxy", A)),
    ("the scheme's own beats ALL_PROXY", HTTPS_UP, {"ALL_PROXY": A, "HTTPS_PROXY": B}, ("HTTPS_PROXY", B)),
    ("lower case wins", HTTPS_UP, {"HTTPS_PROXY": A, "https_proxy": B}, ("https_proxy", B)),
    ("lower case wins for http", HTTP_UP, {"http_proxy": B, "HTTP_PROXY": A}, ("http_proxy", B)),
    ("an empty lower case is ignored", HTTPS_UP, {"https_proxy": "", "HTTPS_PROXY": A}, ("HTTPS_PROXY", A)),
    ("a blank one is ignored", HTTPS_UP, {"HTTPS_PROXY": "  ", "ALL_PROXY": A}, ("ALL_PROXY", A)),
    ("only blanks: direct", HTTPS_UP, {"HTTPS_PROXY": "", "ALL_PROXY": " "}, None),
    ("nothing set: direct", HTTPS_UP, {}, None),
    ("the value is stripped", HTTPS_UP, {"HTTPS_PROXY": f" {A} "}, ("HTTPS_PROXY", A)),
    ("NO_PROXY exact host", HTTPS_UP, {"HTTPS_PROXY": A, "NO_PROXY": "api.example.com"}, None),
    ("NO_PROXY other host", HTTPS_UP, {"HTTPS_PROXY": A, "NO_PROXY": "other.example.com"}, ("HTTPS_PROXY", A)),
    ("NO_PROXY in a list", HTTPS_UP, {"HTTPS_PROXY": A, "NO_PROXY": "localhost, api.example.com"}, None),
    ("NO_PROXY dotted suffix", HTTPS_UP, {"HTTPS_PROXY": A, "NO_PROXY": ".example.com"}, None),
    ("NO_PROXY bare suffix", HTTPS_UP, {"HTTPS_PROXY": A, "NO_PROXY": "example.com"}, None),
    ("NO_PROXY suffix is per label", "https://notexample.com/v1", {"HTTPS_PROXY": A, "NO_PROXY": "example.com"},
     ("HTTPS_PROXY", A)),
    ("NO_PROXY any case", HTTPS_UP, {"HTTPS_PROXY": A, "NO_PROXY": "API.Example.COM"}, None),
    ("NO_PROXY host:port", HTTP_UP, {"HTTP_PROXY": A, "NO_PROXY": "127.0.0.1:8080"}, None),
    ("NO_PROXY host:other port", HTTP_UP, {"HTTP_PROXY": A, "NO_PROXY": "127.0.0.1:9090"}, ("HTTP_PROXY", A)),
    ("NO_PROXY star", HTTPS_UP, {"HTTPS_PROXY": A, "NO_PROXY": "*"}, None),
    ("lower no_proxy wins", HTTPS_UP, {"HTTPS_PROXY": A, "no_proxy": "x.org", "NO_PROXY": "*"}, ("HTTPS_PROXY", A)),
    ("an empty NO_PROXY bypasses nothing", HTTPS_UP, {"HTTPS_PROXY": A, "NO_PROXY": ""}, ("HTTPS_PROXY", A)),
]


@pytest.mark.parametrize(("upstream", "environ", "expected"), [c[1:] for c in ENVIRONMENT_CASES],
                         ids=[c[0] for c in ENVIRONMENT_CASES])
def test_environment_proxy(upstream: str, environ: dict[str, str], expected: tuple[str, str] | None) -> None:
    assert environment_proxy(upstream, environ) == expected


PROBLEM_CASES = [
    ("socks5://user:hunter2-0001@proxy:1080", "socks5:// proxies are not supported"),
    ("socks5h://proxy:1080", "socks5h:// proxies are not supported"),
    ("https://user:hunter2-0001@proxy:3128", "https:// proxies are not supported"),
    ("http://user:hunter2-0001@proxy:3128/path", "without a path"),
    ("http://proxy:3128?x=1", "without a path"),
    ("http://user:hunter2-0001@proxy:99999", "invalid port"),
    ("http://proxy:port", "invalid port"),
    ("http://", "must be http://[user:password@]host:port"),
    ("http://prox y:3128", "must be http://[user:password@]host:port"),
]


@pytest.mark.parametrize(("url", "expected"), PROBLEM_CASES)
def test_proxy_problem(url: str, expected: str) -> None:
    problem = proxy_problem(url)
    assert problem is not None and expected in problem
    assert "hunter2" not in problem and "proxy:" not in problem  # never quotes the URL


@pytest.mark.parametrize("url", ["proxy:3128", "http://proxy:3128", "http://proxy:3128/", "http://u:p@proxy",
                                 "10.0.0.1:8080", "http://[::1]:3128", "http://u%40corp:p%3Ass@proxy:3128"])
def test_proxy_problem_accepts(url: str) -> None:
    assert proxy_problem(url) is None


def test_with_scheme() -> None:
    assert with_scheme("proxy:3128") == "http://proxy:3128"
    assert with_scheme("http://proxy:3128") == "http://proxy:3128"


@pytest.mark.parametrize(("url", "expected"), [
    ("http://u:pw-0001@proxy:3128", "http://u:***@proxy:3128"),
    ("u:pw-0001@proxy:3128", "http://u:***@proxy:3128"),
    (SecretStr("http://u:pw-0001@proxy:3128"), "http://u:***@proxy:3128"),
    ("http://u:p%40w-0001@proxy:3128", "http://u:***@proxy:3128"),
    ("http://u@proxy:3128", "http://u@proxy:3128"),
    ("http://proxy:3128", "http://proxy:3128"),
    (None, None),
])
def test_masked(url: SecretStr | str | None, expected: str | None) -> None:
    assert masked(url) == expected


def basic(pair: str) -> str:
    return base64.b64encode(pair.encode()).decode()


def test_proxy_secrets() -> None:
    found = proxy_secrets("http://us%40er:p%40ss-0001@proxy:3128")
    assert set(found) == {"p%40ss-0001", "p@ss-0001", basic("us@er:p@ss-0001")}
    assert proxy_secrets("http://proxy:3128") == ()
    assert set(proxy_secrets("u:pw-0001@proxy:3128")) == {"pw-0001", basic("u:pw-0001")}  # without a scheme too
    assert proxy_secrets("http://u@proxy:3128") == (basic("u:"),)


# --- load_config --------------------------------------------------------------------------------------------


def backends(**extra: Any) -> dict[str, Any]:
    """`up` (https) and `local` (http) openai backends, `extra` merged into `up`."""
    return {
        "default_backend": "up",
        "backends": {
            "up": {"type": "openai", "base_url": HTTPS_UP, **extra},
            "local": {"type": "openai", "base_url": HTTP_UP},
        },
    }


def proxy_of(config: Any, name: str) -> str | None:
    proxy = config.backends[name].proxy
    return proxy.get_secret_value() if proxy is not None else None


def test_a_backend_without_proxy_follows_the_environment(tmp_path: Path) -> None:
    path = config_file(tmp_path, backends())
    config = load_config({"config": str(path)}, {"HTTPS_PROXY": "corp:3128"})
    assert proxy_of(config, "up") == "http://corp:3128"  # the scheme added
    assert proxy_of(config, "local") is None  # an http upstream: HTTP_PROXY would be its
    config = load_config({"config": str(path)}, {"HTTP_PROXY": A})
    assert (proxy_of(config, "up"), proxy_of(config, "local")) == (None, A)


def test_without_proxy_variables_every_backend_goes_direct(tmp_path: Path) -> None:
    config = load_config({"config": str(config_file(tmp_path, backends()))}, {})
    assert (proxy_of(config, "up"), proxy_of(config, "local")) == (None, None)


def test_proxy_null_stays_direct_despite_the_environment(tmp_path: Path) -> None:
    path = config_file(tmp_path, backends(proxy=None))
    config = load_config({"config": str(path)}, {"HTTPS_PROXY": A, "ALL_PROXY": B})
    assert proxy_of(config, "up") is None
    assert proxy_of(config, "local") == B  # the others still follow it


def test_an_explicit_proxy_wins_over_the_environment(tmp_path: Path) -> None:
    path = config_file(tmp_path, backends(proxy="own-proxy:8888"))
    config = load_config({"config": str(path)}, {"HTTPS_PROXY": A, "NO_PROXY": "api.example.com"})
    assert proxy_of(config, "up") == "http://own-proxy:8888"


def test_no_proxy_bypasses_the_environments_proxy(tmp_path: Path) -> None:
    path = config_file(tmp_path, backends())
    config = load_config({"config": str(path)}, {"HTTPS_PROXY": A, "HTTP_PROXY": B, "NO_PROXY": ".example.com"})
    assert (proxy_of(config, "up"), proxy_of(config, "local")) == (None, B)


@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "HTTP_PROXY"])
def test_an_unusable_proxy_variable_is_blamed_on_itself(tmp_path: Path, variable: str) -> None:
    path = config_file(tmp_path, backends())
    with pytest.raises(ConfigError) as caught:
        load_config({"config": str(path)}, {variable: "socks5://u:hunter2-0001@corp:1080"})
    assert [(where, key) for where, key, _ in caught.value.problems] == [(variable, "proxy")]
    assert "socks5:// proxies are not supported" in str(caught.value)
    assert "hunter2" not in str(caught.value) and "corp" not in str(caught.value)


def test_a_bad_backend_proxy_is_blamed_on_the_file_without_its_password(tmp_path: Path) -> None:
    path = config_file(tmp_path, backends(proxy="https://u:hunter2-0001@corp:3128"))
    with pytest.raises(ConfigError) as caught:
        load_config({"config": str(path)}, {})
    assert [(where, key) for where, key, _ in caught.value.problems] == [(str(path), "backends.up.proxy")]
    assert "https:// proxies are not supported" in str(caught.value)
    assert "hunter2" not in str(caught.value) and "hunter2" not in repr(caught.value.problems)


def test_a_relative_ca_bundle_lies_beside_the_config_file(tmp_path: Path, cwd: Path) -> None:
    folder = tmp_path / "conf"
    (folder / "certs").mkdir(parents=True)
    (folder / "certs" / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    path = config_file(folder, backends(ca_bundle="certs/ca.pem"), name="config.yaml")
    assert not (cwd / "certs").exists()
    config = load_config({"config": str(path)}, {})
    bundle = openai_backend(config, "up").ca_bundle
    assert bundle is not None and Path(bundle) == (folder / "certs" / "ca.pem").resolve()
    assert openai_backend(config, "local").ca_bundle is None


def test_a_missing_ca_bundle_is_reported(tmp_path: Path, cwd: Path) -> None:
    (cwd / "ca.pem").write_text("in the working directory, not beside the file", encoding="utf-8")
    path = config_file(tmp_path, backends(ca_bundle="ca.pem"))
    with pytest.raises(ConfigError) as caught:
        load_config({"config": str(path)}, {})
    assert [(where, key) for where, key, _ in caught.value.problems] == [(str(path), "backends.up.ca_bundle")]


def test_secrets_hold_proxy_passwords_from_the_file_and_the_environment(tmp_path: Path) -> None:
    path = config_file(tmp_path, backends(proxy="http://u:file-pass-0001@corp:3128"))
    config = load_config({"config": str(path)}, {"HTTP_PROXY": "http://v:env%40pass-0001@corp:3128"})
    secrets = config.secrets()
    assert "file-pass-0001" in secrets and basic("u:file-pass-0001") in secrets
    assert "env@pass-0001" in secrets and "env%40pass-0001" in secrets and basic("v:env@pass-0001") in secrets
