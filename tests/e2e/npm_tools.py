"""Command-line tools from npm (Codex CLI, Claude Code) for the end-to-end tests that run them.

`npm_tool` installs a package at its pinned version once into `<repo>/.cache/<folder>` and reuses
it while the installed version is the pinned one; a test that needs it skips only when npm is
missing or the install fails.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def npm_tool(package: str, version: str, folder: str, binary: str, tests: str) -> Path:
    """`node_modules/.bin/<binary>` of `package` at `version`, in `<repo>/.cache/<folder>`; `tests`
    names the tests that skip without it."""
    install_dir = REPO / ".cache" / folder
    path = install_dir / "node_modules" / ".bin" / binary
    if path.exists() and installed_version(folder, package) == version:
        return path
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip(f"{tests} tests need npm (Node.js) to install {package}; npm is not on PATH")
    install_dir.mkdir(parents=True, exist_ok=True)
    command = [npm, "install", "--no-audit", "--no-fund", "--prefix", str(install_dir), f"{package}@{version}"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired as exc:
        pytest.skip(f"npm install {package} timed out after 600 s: {_tail(exc.stderr)}")
    if done.returncode != 0 or not path.exists():
        pytest.skip(f"npm install {package} failed (exit {done.returncode}, "
                    f"{path} {'present' if path.exists() else 'missing'}): {_tail(done.stderr)}")
    return path


def installed_version(folder: str, package: str) -> str | None:
    """The version of `package` installed in `<repo>/.cache/<folder>`, None when there is none."""
    manifest = REPO / ".cache" / folder / "node_modules" / package / "package.json"
    try:
        return str(json.loads(manifest.read_text())["version"])
    except (OSError, ValueError, KeyError):
        return None


def _tail(stderr: str | bytes | None, lines: int = 15) -> str:
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr or ""
    return "\n".join(text.strip().splitlines()[-lines:]) or "(no stderr)"
