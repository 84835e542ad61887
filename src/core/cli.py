"""The command line: `python -m src.core.cli [options]` (or `switchyard`) starts the proxy;
`... usage` and `... models` report (src/core/commands.py)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from src import __version__
from src.config import LOG_LEVELS, Config, ConfigError, HybridBackendConfig, config_source, is_loopback, load_config
from src.config.backends import BackendConfig
from src.config.proxies import masked as masked_proxy
from src.core import commands
from src.core.commands import COMMANDS
from src.core.log import configure_logging
from src.core.server import server_options
from src.usage.store import display_name
from src.wire.redaction import Redactor

log = logging.getLogger("switchyard")


SUBCOMMANDS = """commands:
  (none)                start the proxy, with the options above
  usage                 requests, tokens, cost and errors from the usage database (switchyard usage --help)
  models                the configured backends' models, prices and tool support (switchyard models --help)"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="switchyard",
        description="Switchyard: one local endpoint for every model.",
        usage="switchyard [usage | models] [options]",
        epilog=SUBCOMMANDS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", metavar="PATH", help="config file (default: ./config.yaml if it exists; env SWITCHYARD_CONFIG)")
    parser.add_argument("--host", metavar="H", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", metavar="N", type=int, help="port to listen on (default 8000)")
    parser.add_argument("--default-backend", metavar="NAME", help="backend for model ids that name none")
    parser.add_argument("--force-model", metavar="MODEL", help="replace every request's model with MODEL")
    parser.add_argument("--disable-auth", action="store_true", default=None,
                        help="accept requests without a proxy key (loopback hosts only)")
    parser.add_argument("--log-level", metavar="LEVEL", type=str.lower, choices=LOG_LEVELS,
                        help="one of: " + ", ".join(LOG_LEVELS))
    parser.add_argument("--identity-user-agent", metavar="TEXT", help="the User-Agent sent upstream (identity.user_agent)")
    parser.add_argument("--identity-referer", metavar="URL", help="the HTTP-Referer sent upstream (identity.referer)")
    parser.add_argument("--identity-title", metavar="TEXT", help="the X-Title sent upstream (identity.title)")
    parser.add_argument("--workers", metavar="N", type=int, default=1,
                        help="worker processes (default 1), which share limits, cooldowns and /metrics")
    parser.add_argument("--version", action="version", version=f"switchyard {__version__}")
    return parser


def serving_problem(config: Config) -> tuple[str, str] | None:
    """Why this configuration must not serve, as (key, message), or None."""
    if config.disable_auth and not is_loopback(config.host):
        return "disable_auth", f"auth can be disabled (--disable-auth) only on a loopback host, not on {config.host!r}"
    if not config.disable_auth and not config.proxy_keys():
        return "auth.api_keys", (
            "no proxy key is configured: set SWITCHYARD_API_KEY, add keys under auth.api_keys in the config file, "
            "or pass --disable-auth (loopback hosts only)"
        )
    return None


WORKER_ARGV = "SWITCHYARD_WORKER_ARGV"  # how worker processes get the command line the proxy was started with
WORKER_METRICS = "SWITCHYARD_WORKER_METRICS"  # the folder worker processes share their metrics through


def load_serving_config(argv: Sequence[str] | None = None) -> Config:
    args = vars(build_parser().parse_args(argv))
    if args.pop("workers") < 1:
        raise ConfigError("--workers", "workers", "must be at least 1")
    return load_config(args, os.environ, check=serving_problem)


def worker_app() -> object:
    """The app of one worker process (uvicorn's factory): the same configuration, loaded again."""
    from src.core.app import create_app

    config = load_serving_config(json.loads(os.environ[WORKER_ARGV]))
    configure_logging(config.log_level, Redactor(config.secrets()))
    shared = os.environ.get(WORKER_METRICS)
    return create_app(config, metrics_dir=Path(shared) if shared else None)


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in COMMANDS:
        return commands.run(argv)
    try:
        config = load_serving_config(argv)
    except ConfigError as exc:
        report(exc)
        return 2
    configure_logging(config.log_level, Redactor(config.secrets()))
    args = build_parser().parse_args(argv)
    source = config_source(args.config, os.environ)
    serve(config, args.workers, argv, str(source) if source else "built-in defaults")
    return 0


def report(exc: ConfigError) -> None:
    for line in str(exc).splitlines():
        print(f"switchyard: config error: {line}", file=sys.stderr)


def banner(config: Config, workers: int, source: str) -> str:
    """What an operator needs to know first: where it listens, and what it was started with."""
    keys = len(config.proxy_keys())
    auth = "off (--disable-auth)" if config.disable_auth else f"{keys} proxy key{'s' if keys != 1 else ''}"
    backends = ", ".join(f"{name} ({b.type}{', default' if name == config.default_backend else ''}{_via(b)})"
                         for name, b in config.backends.items())  # fmt: skip
    return (
        f"Switchyard {__version__} on http://{config.host}:{config.port} | config: {source} | "
        f"usage database: {display_name(config.usage.database)} | backends: {backends} | auth: {auth} | "
        f"forced model: {config.force_model or 'none'} | workers: {workers}"
    )


def _via(backend: BackendConfig) -> str:
    """The forward proxy a backend goes through, its password masked (the logger masks it again)."""
    if isinstance(backend, HybridBackendConfig) or backend.proxy is None:
        return ""
    return f", via {masked_proxy(backend.proxy)}"


def serve(config: Config, workers: int = 1, argv: Sequence[str] = (), source: str = "built-in defaults") -> None:
    import uvicorn

    from src.core.app import create_app

    log.info("%s", banner(config, workers, source))
    options = server_options(config)
    if workers == 1:
        uvicorn.run(create_app(config), **options)
        return
    os.environ[WORKER_ARGV] = json.dumps(list(argv))
    with tempfile.TemporaryDirectory(prefix="switchyard-metrics-") as shared:
        os.environ[WORKER_METRICS] = shared
        uvicorn.run("src.core.cli:worker_app", factory=True, workers=workers, **options)


if __name__ == "__main__":
    sys.exit(main())
