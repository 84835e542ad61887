"""`python -m bench.chaos --quick` runs end to end: no answer garbled, no unexpected 5xx, RSS bounded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.bench
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="the chaos run reads /proc (Linux)")
def test_quick_chaos_run_garbles_nothing(tmp_path: Path) -> None:
    out = tmp_path / "chaos.json"
    done = subprocess.run([sys.executable, "-m", "bench.chaos", "--quick", "--json", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert "| fault | what the upstream does |" in done.stdout, done.stdout[-2000:] + done.stderr[-3000:]
    data = json.loads(out.read_text())
    assert data["streams"] == data["intact"] + data["error_terminated"] + data["garbled"]
    assert data["garbled"] == 0, done.stdout
    assert data["unexpected_5xx"] == 0, done.stdout
    assert data["keys_in_log"] == 0, done.stdout
    assert data["peak_rss_mb"] < 300, done.stdout
    assert data["intact"] > 0 and data["error_terminated"] > 0, done.stdout
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
