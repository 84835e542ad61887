"""Configuration: what a valid configuration is (pydantic models, strict about unknown keys), and
loading it from the CLI, the environment and config.yaml, with every error naming its source."""

from src.config.backends import HeaderRule, HybridBackendConfig, Identity, OpenAIBackendConfig, OpenRouterBackendConfig
from src.config.errors import ConfigError
from src.config.keys import ProxyKey
from src.config.loading import config_source, load_config
from src.config.schema import LOG_LEVELS, Config, FailoverConfig, is_loopback

__all__ = [
    "LOG_LEVELS",
    "Config",
    "ConfigError",
    "FailoverConfig",
    "HeaderRule",
    "HybridBackendConfig",
    "Identity",
    "OpenAIBackendConfig",
    "OpenRouterBackendConfig",
    "ProxyKey",
    "config_source",
    "is_loopback",
    "load_config",
]
