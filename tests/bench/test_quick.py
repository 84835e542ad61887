"""`python -m bench --quick` runs end to end and produces every figure (no timing is asserted)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TARGETS = ("direct", "baseline", "switchyard", "litellm")
PROXIES = ("baseline", "switchyard", "litellm")
OPTIONAL = ("litellm", "switchyard_workers", "switchyard_redis")  # may be skipped, with a reason
FIELDS = ("key", "measure", "target", "conditions", "value", "unit", "goal", "met", "skipped")


def expected_keys() -> list[str]:
    keys = [f"{figure}.{target}.c{c}" for target in TARGETS for c in (1, 32, 256)
            for figure in ("throughput", "latency_p50", "latency_p99")]
    keys += ["throughput.switchyard_workers.c32", "throughput.switchyard_workers.c256"]
    keys += ["throughput_ratio.switchyard.c32"]
    keys += [f"added_latency_{q}.{target}.c1" for target in PROXIES for q in ("p50", "p99")]
    keys += [f"{figure}.{target}" for target in TARGETS
             for figure in ("ttfb_p50", "ttfb_p99", "gap_p50", "gap_p99", "stream_intact", "stream_separate",
                            "cpu_per_request")]
    keys += [f"added_{figure}.{target}" for target in PROXIES
             for figure in ("ttfb_p50", "ttfb_p99", "gap_p50", "gap_p99")]
    keys += [f"{figure}.{target}" for target in ("baseline", "switchyard")
             for figure in ("peak_rss_streams", "streams_intact", "rss_growth")]
    keys += [f"added_responses_{figure}_{q}.switchyard" for figure in ("total", "ttfb") for q in ("p50", "p99")]
    keys += ["responses_intact.switchyard"]
    keys += [f"added_latency_{q}.{target}.c1" for target in ("switchyard_limits", "switchyard_redis")
             for q in ("p50", "p99")]
    keys += [f"redis_difference_{q}.switchyard_redis.c1" for q in ("p50", "p99")]
    return [*keys, "upstream_capacity.direct"]


def is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@pytest.mark.bench
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="the benchmark reads /proc (Linux)")
def test_quick_benchmark_produces_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    done = subprocess.run([sys.executable, "-m", "bench", "--quick", "--json", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "| measure | target | conditions | value | unit | goal | met? |" in done.stdout

    data = json.loads(out.read_text())
    assert data["mode"] == "quick"
    assert all(data["machine"].get(k) for k in ("cpu", "cores", "python", "os"))
    rows = {row["key"]: row for row in data["rows"]}
    missing = [key for key in expected_keys() if key not in rows]
    assert not missing, f"figures not produced: {missing}"
    for key in expected_keys():
        row = rows[key]
        assert set(FIELDS) <= set(row), key
        if key.split(".")[1] in OPTIONAL and row["value"] is None:
            assert isinstance(row["skipped"], str) and row["skipped"].strip(), f"{key}: no value and no reason"
            continue
        assert is_number(row["value"]) and row["skipped"] is None, f"{key}: {row['value']!r} ({row['skipped']})"
        assert row["unit"], key
        if row["goal"]:
            assert isinstance(row["met"], bool), key
