"""The layering of `src/` (the README's "Architecture"), checked on every test run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 300


def test_each_package_imports_only_the_packages_below_it() -> None:
    # Contracts in pyproject.toml ([tool.importlinter]); imports inside functions count too. In a process
    # of its own: import-linter configures logging, which would silence the loggers of later tests.
    script = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(config_filename=sys.argv[1], no_cache=True))"
    done = subprocess.run([sys.executable, "-c", script, str(ROOT / "pyproject.toml")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert "Contracts: 1 kept, 0 broken." in done.stdout and done.returncode == 0, done.stdout + done.stderr


def test_no_module_is_longer_than_a_newcomer_can_hold_in_mind() -> None:
    long = {str(p.relative_to(ROOT)): n for p in (ROOT / "src").rglob("*.py") if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}
