"""A throwaway PostgreSQL server for the tests: `initdb` and `pg_ctl` into a temporary folder, on a
free loopback port, so no system service is needed.

The session fixture `postgres_url` (registered in tests/conftest.py) starts one server and yields
the URL of a database on it; `fresh_database(url)` gives a test an empty database of its own on the
same server. Where the server can (PostgreSQL 15+ built with ICU), it collates text by ICU's en-US
rules, as most production servers do with their `en_US.UTF-8` locale, so that a query that sorts
by the database's collation (rather than bytewise, as SQLite does) gives a different order in the
tests and is caught.
"""

from __future__ import annotations

import asyncio
import glob
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

T = TypeVar("T")
USER = "switchyard"
PASSWORD = "pg-test-secret-0001"  # the URL carries a password, so tests can check that it is never shown
BINARIES = ("initdb", "pg_ctl")


def server_binaries() -> Path | None:
    """The folder holding initdb and pg_ctl: from PATH, else Debian's /usr/lib/postgresql/<version>/bin."""
    found = [shutil.which(name) for name in BINARIES]
    if all(found):
        return Path(found[0]).resolve().parent  # type: ignore[arg-type]
    folders = [Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin")]
    for folder in sorted(folders, key=lambda p: [int(n) for n in re.findall(r"\d+", p.parent.name)], reverse=True):
        if all(os.access(folder / name, os.X_OK) for name in BINARIES):
            return folder  # the newest version
    return None


class PostgresServer:
    """One server in `folder` (data, socket and log), listening on 127.0.0.1:`port`."""

    def __init__(self, binaries: Path) -> None:
        self.binaries = binaries
        # Not pytest's tmp_path: it lies under a folder only its owner may enter, and a server started
        # by root must run as another user (PostgreSQL refuses to run as root).
        self.folder = Path(tempfile.mkdtemp(prefix="switchyard-pg-"))
        self.port = free_port()
        self._account = pwd.getpwnam("postgres" if _has_user("postgres") else "nobody") if os.geteuid() == 0 else None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{database}"

    def start(self) -> PostgresServer:
        (self.folder / "password").write_text(PASSWORD + "\n", encoding="utf-8")
        if self._account is not None:
            for path in (self.folder, self.folder / "password"):
                os.chown(path, self._account.pw_uid, self._account.pw_gid)
        collation = ["--locale-provider", "icu", "--icu-locale", "en-US"] if self._has_icu() else []  # 15+, with ICU
        self._run("initdb", "-D", "data", "-U", USER, "--pwfile", "password", "-E", "UTF8", "--locale", "C",
                  *collation, "--auth-local", "trust", "--auth-host", "scram-sha-256")  # fmt: skip
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"  # a throwaway: no durability needed
        )
        self._run("pg_ctl", "-D", "data", "-l", "log", "-w", "-t", "60", "-o", options, "start")
        return self

    def _has_icu(self) -> bool:
        if "--locale-provider" not in self._run("initdb", "--help"):
            return False
        pg_config = self.binaries / "pg_config"
        if not pg_config.exists():
            return True  # ICU is the packagers' default: initdb will say if not
        return "--with-icu" in subprocess.run([pg_config, "--configure"], capture_output=True, text=True).stdout

    def stop(self) -> None:
        try:
            if (self.folder / "data" / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", "data", "-w", "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def log(self) -> str:
        path = self.folder / "log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def _run(self, binary: str, *args: str) -> str:
        account: dict[str, Any] = {}
        if self._account is not None:
            account = {"user": self._account.pw_uid, "group": self._account.pw_gid, "extra_groups": []}
        done = subprocess.run([str(self.binaries / binary), *args], cwd=self.folder, capture_output=True, text=True,
                              timeout=120, env={**os.environ, "LC_ALL": "C"}, **account)  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"{binary} {' '.join(args)} failed: {done.stdout}{done.stderr}{self.log()}")
        return done.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def run_sync(make: Callable[[], Awaitable[T]]) -> T:
    """Runs a coroutine to its end from synchronous code, even while an event loop runs in this thread."""

    async def main() -> T:
        return await make()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, main()).result()


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


def fresh_database(url: str) -> str:
    """The URL of a new, empty database on the server of `url`."""
    name = f"usage_{uuid.uuid4().hex[:12]}"

    async def create() -> None:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    run_sync(create)
    return with_database(url, name)


def query(url: str, sql: str, *args: object) -> list[dict[str, Any]]:
    """The rows of one query, as dicts, on a connection of its own."""

    async def fetch() -> list[dict[str, Any]]:
        conn = await asyncpg.connect(url)
        try:
            return [dict(row) for row in await conn.fetch(sql, *args)]
        finally:
            await conn.close()

    return run_sync(fetch)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The URL of a database on a PostgreSQL server started for this test session."""
    binaries = server_binaries()
    if binaries is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed: not on PATH nor in "
                    "/usr/lib/postgresql/<version>/bin")  # fmt: skip
    server = PostgresServer(binaries)
    try:
        server.start()
        yield fresh_database(server.url())
    finally:
        server.stop()
