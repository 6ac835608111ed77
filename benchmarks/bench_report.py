"""Speed of ``trialsim report`` on the default scenario (issue 13 asks for under 30 s on 2 cores).

Printed:

- the command end to end, ``trialsim report --out design.html --seed 1 --jobs 2 --quiet``, a fresh process each
  time (imports, the calibration, the start of the workers included): wall clock, best of K; beside it, as the
  peer run on the same machine at the same moment,
  ``trialsim power --n 40 --seed 1 --jobs 2 --quiet`` (one power of 10,000 trials), and the ratio;
- where the time goes: each section of the report timed in this process (workers already started by a first
  call), with the trials it simulates.

The machine may be shared: the load average is printed at the start and the end, and the best of K runs is kept.

Run: ``python benchmarks/bench_report.py [--repeat K]``.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import trialsim.cli.report as R  # noqa: E402
from _timing import commit  # noqa: E402 - benchmarks/ is on sys.path when a script runs
from trialsim.scenarios import load_scenario  # noqa: E402


def _command(argv: list[str], repeat: int) -> tuple[float, list[float]]:
    """Best wall clock of ``repeat`` fresh processes, and every wall clock: the time a user waits for."""
    walls = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "trialsim", *argv], check=True, stdout=subprocess.DEVNULL)
        walls.append(time.perf_counter() - t0)
    return min(walls), walls


def _sections() -> list[tuple[str, float]]:
    """Each section of the default scenario's report, timed in this process (workers already running)."""
    timings: list[tuple[str, float]] = []
    names = {"_scenario_section": "the scenario",
             "_model_section": "calibration and the study re-run (1,000 DES cohorts)",
             "_power_section": "power and sample size", "_curve_section": "power curve",
             "_looks_section": "group-sequential boundaries (none: no looks)",
             "_assurance_section": "assurance (500 x 200 trials + 10,000 at the point estimate)"}
    originals = {name: getattr(R, name) for name in names}

    def timed(name):
        def run(*args, **kwargs):
            t0 = time.perf_counter()
            originals[name](*args, **kwargs)
            timings.append((names[name], time.perf_counter() - t0))
        return run

    scenario = load_scenario("default")
    R.build_report(scenario, scenario_argument="default", seed=1, reps=1000, n_jobs=2, progress=None,
                   stamp="")   # starts the workers
    for name in names:
        setattr(R, name, timed(name))
    try:
        R.build_report(scenario, scenario_argument="default", seed=1, reps=10_000, n_jobs=2, progress=None,
                       stamp="")
    finally:
        for name, fn in originals.items():
            setattr(R, name, fn)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"$ python benchmarks/bench_report.py   ({time.strftime('%Y-%m-%d')}, commit {commit()}; "
          f"OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']})")
    print(f"{platform.machine()}, {os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
          " at start (shared machine)\n")
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "design.html")
        wall, walls = _command(["report", "--out", out, "--seed", "1", "--jobs", "2", "--quiet"], args.repeat)
        peer, peers = _command(["power", "--n", "40", "--seed", "1", "--jobs", "2", "--quiet"],
                                         args.repeat)
        size = Path(out).stat().st_size
    print(f"trialsim report --out design.html --seed 1 --jobs 2 (default scenario), a fresh process each time: "
          f"wall {wall:.1f} s (best of {args.repeat}: {', '.join(f'{w:.1f}' for w in walls)}); "
          f"{size / 1e3:.0f} kB; target 30 s")
    print(f"peer: trialsim power --n 40 --seed 1 --jobs 2, the same way: wall {peer:.1f} s "
          f"(best of {args.repeat}: {', '.join(f'{w:.1f}' for w in peers)}); the report takes {wall / peer:.1f}x "
          f"one power\n")
    print("where the time goes (this process, two workers already started; seed 1, --reps 10,000)")
    for name, seconds in _sections():
        print(f"  {name:<72} {seconds:6.2f} s")
    print(f"\nload average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end")


if __name__ == "__main__":
    main()
