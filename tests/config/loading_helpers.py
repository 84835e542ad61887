"""Shared by the tests of src/config/loading.py: secrets, backends, a private working directory and config files.

Every test passes its own `environ` mapping and runs in its own working directory (the autouse
`cwd` fixture, used by each loading test module), so neither the real environment nor a
./config.yaml elsewhere can change the outcome.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from src.config import ConfigError
from src.config.loading import load_config

OR_FILE_KEY = "sk-or-file-secret-0001"
OR_ENV_KEY = "sk-or-env-secret-0001"
PROXY_FILE_KEY = "sy-proxy-file-secret-0001"
PROXY_ENV_KEY = "sy-proxy-env-secret-0001"
LOCAL_KEY = "sk-local-secret-0001"
SECRETS = (OR_FILE_KEY, OR_ENV_KEY, PROXY_FILE_KEY, PROXY_ENV_KEY, LOCAL_KEY)

BACKENDS = {
    "openrouter": {"type": "openrouter", "api_key": OR_FILE_KEY},
    "a": {"type": "openai", "base_url": "http://127.0.0.1:9/a"},
    "b": {"type": "openai", "base_url": "http://127.0.0.1:9/b"},
    "c": {"type": "openai", "base_url": "http://127.0.0.1:9/c", "api_key": LOCAL_KEY},
}




def write(path: Path, content: dict[str, Any] | str) -> Path:
    path.write_text(content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False), encoding="utf-8")
    return path


def config_file(tmp_path: Path, content: dict[str, Any] | str, name: str = "switchyard.yaml") -> Path:
    return write(tmp_path / name, content)


def load_error(cli: dict[str, Any] | None = None, environ: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_config(cli or {}, environ or {})
    return caught.value


def assert_clean(error: ConfigError) -> str:
    """The one-line, secret-free contract every ConfigError keeps."""
    text = str(error)
    assert text
    assert "\n" not in text and "\r" not in text
    for secret in SECRETS:
        assert secret not in text
    return text
