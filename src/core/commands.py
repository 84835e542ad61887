"""The CLI's reporting commands: `usage` (from the usage database) and `models` (from the backends)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import sys
import time
from collections.abc import Sequence

from src.backends import build_backends
from src.config import Config, ConfigError, load_config
from src.transports.http1 import Http1Transport
from src.usage.models_listing import ModelRow, filter_rows, format_table, rows_from_catalog, rows_json
from src.usage.report import format_summary
from src.usage.schema import SchemaError
from src.usage.since import parse_since
from src.usage.store import GROUPS, UsageDatabaseError, open_store
from src.wire.errors import UpstreamError
from src.wire.redaction import Redactor

COMMANDS = ("usage", "models")


def run(argv: Sequence[str]) -> int:
    command, rest = argv[0], list(argv[1:])
    parser = _usage_parser() if command == "usage" else _models_parser()
    args = parser.parse_args(rest)
    try:  # local work: the usage database, or model lists (OpenRouter's is public) need no upstream key
        config = load_config({"config": args.config} if args.config else {}, os.environ, keys_required=False)
    except ConfigError as exc:
        for line in str(exc).splitlines():
            print(f"switchyard: config error: {line}", file=sys.stderr)
        return 2
    return _usage(args, config) if command == "usage" else asyncio.run(_models(args, config))


def _usage_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="switchyard usage", description="Requests, tokens, cost and errors.")
    parser.add_argument("--config", metavar="PATH", help="config file (its usage.database is read)")
    parser.add_argument("--since", default="7d", help="7d, 24h, 30m, 2w or an ISO date/time (default 7d)")
    parser.add_argument("--by", choices=tuple(GROUPS), default="model", help="group rows by (default model)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return parser


def _models_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="switchyard models", description="The configured backends' models.")
    parser.add_argument("--config", metavar="PATH", help="config file")
    parser.add_argument("--free", action="store_true", help="only free models (':free', or zero prices)")
    parser.add_argument("--tools", action="store_true", help="only models that support tool calls")
    parser.add_argument("--provider", metavar="NAME", help="only this vendor prefix (openai, anthropic...) or backend")
    parser.add_argument("--search", metavar="TEXT", help="only ids or names containing TEXT")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return parser


def _usage(args: argparse.Namespace, config: Config) -> int:
    database = config.usage.database
    if database is None:
        print("switchyard: usage recording is off (usage.database: null)", file=sys.stderr)
        return 2
    try:
        since = parse_since(args.since, time.time())
    except ValueError as exc:
        print(f"switchyard: --since: {exc}", file=sys.stderr)
        return 2
    store = open_store(database)
    try:
        summary = asyncio.run(store.summary(since, args.by))
    except (SchemaError, sqlite3.DatabaseError, UsageDatabaseError) as exc:
        print(f"switchyard: usage database {store.name}: {exc}", file=sys.stderr)  # the name masks a password
        return 2
    print(json.dumps(summary, indent=2) if args.json else format_summary(summary))
    return 0


async def _models(args: argparse.Namespace, config: Config) -> int:
    transport = Http1Transport()
    try:
        backends = {name: b for name, b in build_backends(config, transport).items() if b.lists_models}
        listed = await asyncio.gather(*(b.list_models() for b in backends.values()), return_exceptions=True)
    finally:
        await transport.aclose()
    rows: list[ModelRow] = []
    failed = 0
    for name, models in zip(backends, listed, strict=True):
        if isinstance(models, UpstreamError):
            print(f"switchyard: {Redactor(config.secrets())(models.message)}", file=sys.stderr)
            failed += 1
        elif isinstance(models, BaseException):
            raise models
        else:
            rows.extend(rows_from_catalog(models, name))
    if args.provider in backends:  # a backend's name: its models, whatever their vendor
        rows = [row for row in rows if row.backend == args.provider]
        args.provider = None
    rows = filter_rows(rows, free=args.free, tools=args.tools, provider=args.provider, search=args.search)
    print(rows_json(rows) if args.json else format_table(rows))
    return 1 if failed and failed == len(backends) else 0
