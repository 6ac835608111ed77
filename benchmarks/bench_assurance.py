"""Speed of assurance: 1,000 drawn truths x 1,000 simulated trials of the default trial (n = 40, log-rank).

The issue asks for under 10 s on 2 cores. Printed:

- the command line end to end, ``trialsim assurance --n 40 --seed 1 --jobs 2``, a fresh process each time (imports,
  the calibration of the model and the start of the workers included): wall clock and CPU seconds (the process
  and its workers), best of K;
- the library call, ``assurance(n=40, n_draws=1000, trials_per_draw=1000, seed=1, n_jobs=2)``, best of K (the first
  starts the workers, later ones reuse them), with the result (one seed, the same numbers every time);
- where the time goes: mapping the draws to models (vectorised root finds), the power at the point estimate, and
  per 1,000 trials the table-free sampler and the vectorised engine (same model, tables already built), the
  log-rank analysis, and what the engine would pay per draw to build the two death-time tables of a new truth
  (why assurance has its own sampler: ``trialsim/design/truth_sampler.py``).

The machine may be shared: the load average is printed at the start and the end, and the best of K runs is kept.
scipy's matrix exponential goes through OpenBLAS, which with several threads on a loaded machine can take
milliseconds for a 4 x 4 matrix; the script pins OPENBLAS_NUM_THREADS=1 (as the workers of a process pool do) and
says so.

Run: ``python benchmarks/bench_assurance.py [--repeat K]``.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import platform  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import replace  # noqa: E402

from _timing import best_of, commit  # noqa: E402 - benchmarks/ is on sys.path when a script runs

from trialsim.cli.allocator import tune_allocator  # noqa: E402
from trialsim.design import assurance as A  # noqa: E402
from trialsim.design.rules import TwoArmDesign  # noqa: E402
from trialsim.design.sizing import power  # noqa: E402
from trialsim.design.truth_sampler import simulate_chunk  # noqa: E402
from trialsim.engines import vectorized  # noqa: E402
from trialsim.engines.seeding import chunk_streams, root_sequence  # noqa: E402
from trialsim.model import default_model, default_trial  # noqa: E402
from trialsim.model.phase_type import response_death_table  # noqa: E402


def _cpu() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    tune_allocator()  # as the command line does
    model, trial = default_model(8.0), default_trial(40)
    print(f"$ python benchmarks/bench_assurance.py   ({time.strftime('%Y-%m-%d')}, commit {commit()}; "
          f"OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']})")
    print(f"{platform.machine()}, {os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
          " at start (shared machine)\n")

    walls, result = [], None
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        result = A.assurance(model, trial, n_draws=1000, trials_per_draw=1000, seed=1, n_jobs=2)
        walls.append(time.perf_counter() - t0)
    assert result is not None
    print("assurance(n=40, n_draws=1000, trials_per_draw=1000, seed=1, n_jobs=2) in this process: 1,000,000 trials + "
          "10,000 at the point estimate")
    print(f"  wall {min(walls):.2f} s (best of {args.repeat}: {', '.join(f'{w:.2f}' for w in walls)}; the first "
          "starts the worker processes, the others reuse them)")
    print(f"  assurance {result.assurance:.4f} (s.e. {result.standard_error:.4f}); power at the point estimate "
          f"{result.power_at_point_estimate:.4f} (s.e. {result.point_standard_error:.4f}); seed {result.seed}\n")

    cli, line = [], ""
    for _ in range(args.repeat):
        c0, t0 = _cpu(), time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "trialsim", "assurance", "--n", "40", "--seed", "1", "--jobs", "2",
                              "--quiet"], capture_output=True, text=True, check=True).stdout
        cli.append((time.perf_counter() - t0, _cpu() - c0))
        line = next(x for x in out.splitlines() if x.strip().startswith("assurance"))
    wall, cpu = min(cli)
    print(f"trialsim assurance --n 40 --seed 1 --jobs 2, a fresh process each time (imports, calibration and worker "
          f"start included): wall {wall:.2f} s, CPU {cpu:.2f} s (the process and its workers; best of {args.repeat}: "
          f"{', '.join(f'{w:.2f}' for w, _ in cli)})\n  {line.strip()}\n")

    print("where the time goes (one core, best of 5)")
    prior = A.DesignPrior()
    setup_s = best_of(lambda: A._setup(model, TwoArmDesign(), trial, prior=prior, n_draws=1000, effect_scale=1.0,
                                       horizon=None, seed=1), 5)
    print(f"  1,000 draws mapped to models (two vectorised root finds)          {setup_s:8.3f} s")
    point_s = best_of(lambda: power(model, trial, n_replicates=10_000, seed=1, n_jobs=1), 5)
    print(f"  power at the point estimate, 10,000 trials (engine)               {point_s:8.3f} s")
    root = root_sequence(1)
    ours = best_of(lambda: simulate_chunk(model, trial, 1000, chunk_streams(root, 0)), 5)
    theirs = best_of(lambda: vectorized.simulate_chunk(model, trial, 1000, chunk_streams(root, 0)), 5)
    batch = simulate_chunk(model, trial, 1000, chunk_streams(root, 0))
    analyse = best_of(lambda: TwoArmDesign().analyse([batch], trial), 5)
    print(f"  1,000 trials, table-free sampler                                  {ours:8.4f} s")
    print(f"  1,000 trials, vectorised engine (tables already built)            {theirs:8.4f} s")
    print(f"  log-rank analysis of 1,000 trials                                 {analyse:8.4f} s")
    arm = model.arms[1].response
    scales = iter(1.0 + 1e-3 * k for k in range(1, 1000))
    table = best_of(lambda: response_death_table(replace(arm, death_hazard_nr=arm.death_hazard_nr * next(scales)),
                                                 1.0, 8.0), 5)
    print(f"  one death-time table of a new truth (the engine needs two a draw) {table:8.4f} s")
    engine_run = 1000 * (2 * table + theirs + analyse)
    print(f"  => per 1,000 draws: engine with new tables {engine_run:.1f} s, table-free sampler "
          f"{1000 * (ours + analyse):.1f} s (one core)\n")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end")


if __name__ == "__main__":
    main()
