"""Timing helper shared by the benchmark scripts (run them as ``python benchmarks/<script>.py``)."""

from __future__ import annotations

import subprocess
import time


def best_of(fn, repeat: int) -> float:
    """The shortest of ``repeat`` wall-clock timings of ``fn()``, in seconds (the machine may be shared)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def commit() -> str:
    """The short hash of the checked-out commit, or "?" outside a git checkout (printed with each result)."""
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"
