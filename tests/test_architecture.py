"""The layering of `src/` (the README's "Architecture"), checked on every test run."""

from __future__ import annotations

from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 300


def test_each_package_imports_only_the_packages_below_it() -> None:
    # Contracts in pyproject.toml ([tool.importlinter]); imports inside functions count too.
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True) == 0


def test_no_module_is_longer_than_a_newcomer_can_hold_in_mind() -> None:
    long = {str(p.relative_to(ROOT)): n for p in (ROOT / "src").rglob("*.py") if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}
