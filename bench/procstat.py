"""Process figures from /proc: CPU time (utime + stime), RSS (VmRSS) and peak RSS (VmHWM)."""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Iterable
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def tree(pid: int) -> list[int]:
    """`pid` and all its descendants (a multi-worker server is measured as a whole)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int(_stat_fields(int(entry.name))[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, ()))
    return found


def _stat_fields(pid: int) -> list[str]:
    # The command name (field 2) may hold spaces; everything after its ")" splits cleanly.
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def cpu_seconds(pids: Iterable[int]) -> float:
    """utime + stime of the processes, in seconds (field 14 and 15 of /proc/<pid>/stat)."""
    ticks = 0
    for pid in pids:
        try:
            fields = _stat_fields(pid)
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / CLK_TCK


def _status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def rss_kb(pids: Iterable[int]) -> int:
    return sum(_status_kb(pid, "VmRSS") for pid in pids if Path(f"/proc/{pid}").exists())


def hwm_kb(pids: Iterable[int]) -> int:
    return sum(_status_kb(pid, "VmHWM") for pid in pids if Path(f"/proc/{pid}").exists())


def reset_hwm(pids: Iterable[int]) -> bool:
    """Reset VmHWM to the current RSS (`echo 5 > /proc/<pid>/clear_refs`, Linux 4.0+)."""
    try:
        for pid in pids:
            Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def machine() -> dict[str, object]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for name in ("uvloop", "aiohttp", "orjson", "uvicorn"):
        try:
            versions[name] = __import__(name).__version__
        except Exception:
            versions[name] = "not installed"
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parents[1], check=False).stdout.strip()
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "os": platform.platform(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "commit": commit or "unknown",
        **versions,
    }


def system_cpu() -> tuple[float, float, float]:
    """(busy, steal, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq) / CLK_TCK, steal / CLK_TCK, sum(fields) / CLK_TCK


def own_cpu() -> float:
    """CPU seconds of this process, its live descendants and its reaped children."""
    times = os.times()
    return cpu_seconds(tree(os.getpid())) + times.children_user + times.children_system


def foreign_load(before: tuple[tuple[float, float, float], float]) -> tuple[float, float]:
    """Since `before` (= (system_cpu(), own_cpu())): the share of the machine's CPU used by other
    processes, and the share stolen by the hypervisor, in %."""
    (busy0, steal0, total0), own0 = before
    busy, steal, total = system_cpu()
    span = max(total - total0, 1e-9)
    others = busy - busy0 - (own_cpu() - own0)
    return max(0.0, 100 * others / span), 100 * (steal - steal0) / span
