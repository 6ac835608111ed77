"""Throughput of the simulation engines, against naive peers measured in the same run.

For two workloads, the parametric trial (exponential arms, S(8 wk) 0.95 vs 0.62, n = 40, 1:1, everyone enrolled
at once, follow-up 8 weeks) and the default CTD-MAS trial (the calibrated multi-state model, same trial), it
prints replicates per second of a log-rank power calculation (simulate a trial, run the log-rank test) for

- ``vectorized``: the vectorised engine chunk by chunk with the design's analysis (``trialsim.stats.
  logrank_batch``), one core; also the engine alone;
- ``vectorized, all jobs``: :func:`trialsim.design.montecarlo.run` with every core (loky);
- ``des``: the discrete-event engine with the same analysis;
- peers, written the plain way:
  ``survdiff loop``: one trial at a time, numpy draws and statsmodels ``survdiff``;
  ``simpy loop``: one simpy environment per trial (a process per patient), statsmodels ``survdiff``;
  ``numpy batch``: a whole chunk of trials drawn with numpy and a plain numpy log-rank over the batch
  (argsort per row, at-risk counts by cumulative sums), without the sorted-key kernel;

the ratios to the vectorised engine, how its throughput scales with n (20 ... 320 patients) and with the number
of replicates (cost per replicate), its peak memory for 100,000 vs 1,000,000 replicates (``trialsim.power`` in a
subprocess, one job), and the wall time of ``trialsim power --scenario parametric --n 40 --reps 100000`` on
every core (interpreter start included).

The engine and its numpy peer are first timed with glibc's default allocator, then everything with the
allocator tuned (:mod:`trialsim.cli.allocator`: freed chunk memory stays in the heap instead of being page-faulted
in again, which matters on virtual machines); ratios are taken within one allocator setting. Everything goes
to ``benchmarks/results/bench_engines.csv`` with the CPU model, core count and load average (the machine may
be shared: each figure is the best of several runs).

Run: ``python benchmarks/bench_engines.py [--quick]``.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import datetime as dt
import math
import os
import platform
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from trialsim import model as ctdmas

from trialsim.engines import des

from trialsim.design import montecarlo

from trialsim.engines import seeding

from trialsim.engines import vectorized
from trialsim.cli.allocator import tune_allocator
from trialsim.design import TwoArmDesign
from trialsim.model import DEAD, NR, ArmModel, DiseaseModel, ParametricArm, Trial
from _timing import best_of  # noqa: E402 - benchmarks/ is on sys.path when a script runs

RESULTS = Path(__file__).resolve().parent / "results"
DESIGN = TwoArmDesign()


# --------------------------------------------------------------------------------------------- workloads


def workloads() -> dict[str, tuple[DiseaseModel, Trial]]:
    control = ParametricArm.from_survival(0.62, at=8.0)
    treatment = ParametricArm.from_survival(0.95, at=8.0)
    parametric = DiseaseModel(arms=(treatment, control), arm_names=("treatment", "control"))
    return {"parametric": (parametric, Trial(n=40)), "ctdmas": (ctdmas.default_model(), ctdmas.default_trial(40))}


def engine_power(engine, model, trial, n_replicates: int, *, analyse: bool = True, seed: int = 1) -> None:
    """Chunk loop of a power run on one core: simulate each chunk, analyse it, keep only the outcome."""
    root = seeding.root_sequence(seed)
    for c, (start, stop) in enumerate(seeding.chunk_bounds(n_replicates)):
        batch = engine.simulate_chunk(model, trial, stop - start, seeding.chunk_streams(root, c))
        if analyse:
            DESIGN.analyse([batch], trial)


# ------------------------------------------------------------------------------------------------- peers


def _patient_death(arm, rng) -> float:
    """One death time, drawn the plain way (a jump at a time for the multi-state model)."""
    if isinstance(arm, ParametricArm):
        return float(arm.quantile_time(rng.random()))
    q = arm.response.refractory_generator() if rng.random() < arm.response.refractory_fraction \
        else arm.response.generator()
    state, t = NR, 0.0
    while True:
        rate = -q[state, state]
        if rate <= 0:
            return math.inf
        t += rng.exponential(1.0 / rate)
        if t > 8.0:
            return math.inf
        p = np.clip(q[state], 0, None)
        state = int(rng.choice(4, p=p / p.sum()))
        if state == DEAD:
            return t


def peer_survdiff_loop(model, trial, n_replicates: int, seed: int = 2) -> None:
    from statsmodels.duration.survfunc import survdiff

    rng = np.random.default_rng(seed)
    half = trial.n // 2
    for _ in range(n_replicates):
        group = rng.permutation(np.repeat([0, 1], half))
        death = np.array([_patient_death(model.arms[g], rng) for g in group])
        time_ = np.minimum(death, trial.follow_up)
        survdiff(time_, (death <= trial.follow_up).astype(int), group)


def peer_simpy_loop(model, trial, n_replicates: int, seed: int = 3) -> None:
    import simpy
    from statsmodels.duration.survfunc import survdiff

    rng = np.random.default_rng(seed)
    half = trial.n // 2

    def patient(env, i, arm, out):
        death = _patient_death(arm, rng)
        yield env.timeout(min(death, trial.follow_up))
        out[i] = (env.now, death <= trial.follow_up)

    for _ in range(n_replicates):
        env = simpy.Environment()
        group = rng.permutation(np.repeat([0, 1], half))
        out = [None] * trial.n
        for i, g in enumerate(group):
            env.process(patient(env, i, model.arms[g], out))
        env.run()
        survdiff(np.array([o[0] for o in out]), np.array([o[1] for o in out], dtype=int), group)


def plain_logrank(time_, event, group) -> np.ndarray:
    """The textbook log-rank over a batch (rows = trials), no tied deaths assumed (continuous death times)."""
    order = np.argsort(time_, axis=1, kind="stable")
    e = np.take_along_axis(event, order, axis=1).astype(float)
    g = np.take_along_axis(group, order, axis=1).astype(float)
    n = time_.shape[1]
    at_risk = n - np.arange(n)
    at_risk1 = g.sum(axis=1, keepdims=True) - np.cumsum(g, axis=1) + g
    p1 = at_risk1 / at_risk
    observed = (e * g).sum(axis=1)
    expected = (e * p1).sum(axis=1)
    variance = (e * p1 * (1 - p1)).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (observed - expected) ** 2 / variance


def peer_numpy_batch(model, trial, n_replicates: int, seed: int = 4) -> None:
    """Plain numpy over a chunk: shuffled arms, death times (jumps for the multi-state model), log-rank."""
    rng = np.random.default_rng(seed)
    n = trial.n
    for start, stop in seeding.chunk_bounds(n_replicates):
        r = stop - start
        group = np.argsort(rng.random((r, n)), axis=1) % 2  # a random half/half split
        death = np.full((r, n), np.inf)
        for a, arm in enumerate(model.arms):
            mask = group == a
            if isinstance(arm, ParametricArm):
                death[mask] = rng.exponential(1.0 / arm.hazards[0], mask.sum())
            else:
                death[mask] = _batch_chain_deaths(arm, int(mask.sum()), trial.follow_up, rng)
        plain_logrank(np.minimum(death, trial.follow_up), death <= trial.follow_up, group)


def _batch_chain_deaths(arm: ArmModel, m: int, horizon: float, rng) -> np.ndarray:
    q_move, q_stay = arm.response.generator(), arm.response.refractory_generator()
    q = np.where((rng.random(m) < arm.response.refractory_fraction)[:, None, None], q_stay, q_move)
    state, t, death = np.zeros(m, int), np.zeros(m), np.full(m, np.inf)
    alive = np.arange(m)
    while alive.size:
        rows = q[alive, state[alive]]
        rate = -rows[np.arange(alive.size), state[alive]]
        with np.errstate(divide="ignore"):
            t[alive] += rng.exponential(1.0, alive.size) / rate
        p = np.clip(rows, 0, None)
        nxt = (rng.random(alive.size)[:, None] > np.cumsum(p, axis=1) / p.sum(axis=1, keepdims=True)).sum(axis=1)
        state[alive] = nxt
        dead = (nxt == DEAD) & (t[alive] <= horizon)
        death[alive[dead]] = t[alive[dead]]
        alive = alive[~dead & (t[alive] <= horizon)]
    return death


# ---------------------------------------------------------------------------------------------- memory, CLI

# Peak resident memory of this process image: VmHWM (ru_maxrss would carry over the forking parent's size, since
# it survives execve).
_MEMORY_SNIPPET = """
import resource, sys
from trialsim.model import DiseaseModel, ParametricArm, Trial
from trialsim.design import power
arms = (ParametricArm.from_survival(0.95, at=8.0), ParametricArm.from_survival(0.62, at=8.0))
result = power(DiseaseModel(arms=arms), Trial(n=40), n_replicates=int(sys.argv[1]), seed=1, n_jobs=1,
               engine="vectorized")
try:
    kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
except (OSError, StopIteration):
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(kb, result.power)
"""


# The engine and the analysis alone, each chunk reduced to a count of rejections (what a power run needs).
_CHUNK_LOOP_SNIPPET = """
import resource, sys
from trialsim.engines import seeding
from trialsim.engines import vectorized
from trialsim.design import TwoArmDesign
from trialsim.model import DiseaseModel, ParametricArm, Trial
arms = (ParametricArm.from_survival(0.95, at=8.0), ParametricArm.from_survival(0.62, at=8.0))
model, trial, design = DiseaseModel(arms=arms), Trial(n=40), TwoArmDesign()
root, rejected, total = seeding.root_sequence(1), 0, int(sys.argv[1])
for c, (start, stop) in enumerate(seeding.chunk_bounds(total)):
    batch = vectorized.simulate_chunk(model, trial, stop - start, seeding.chunk_streams(root, c))
    rejected += int(design.analyse([batch], trial).success.sum())
try:
    kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
except (OSError, StopIteration):
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(kb, rejected / total)
"""


def peak_memory_mb(n_replicates: int, env: dict | None = None, snippet: str = _MEMORY_SNIPPET) -> tuple[float, float]:
    out = subprocess.run([sys.executable, "-c", snippet, str(n_replicates)], capture_output=True, text=True,
                         check=True, env=env).stdout.split()
    return int(out[0]) / 1024, float(out[1])


def cli_wall_time(reps: int, jobs: int, env: dict | None = None) -> float:
    cmd = [sys.executable, "-m", "trialsim", "power", "--scenario", "parametric", "--n", "40", "--reps", str(reps),
           "--jobs", str(jobs), "--seed", "1", "--quiet"]
    start = time.perf_counter()
    subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
    return time.perf_counter() - start


# ------------------------------------------------------------------------------------------------------ main


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer replicates and repeats (a smoke run)")
    parser.add_argument("--repeat", type=int, default=5, help="timings per measurement; the best is kept")
    args = parser.parse_args()
    quick = args.quick
    repeat = 2 if quick else args.repeat
    warnings.simplefilter("ignore")  # degenerate replicates (no deaths) are counted, not warned about, in power
    rows: list[dict] = []
    stamp = dt.datetime.now().isoformat(timespec="seconds")
    machine = dict(cpu=cpu_name(), cores=os.cpu_count(), load=" ".join(f"{x:.2f}" for x in os.getloadavg()))
    allocator = {"value": "glibc default"}

    def record(workload, measure, n, reps, seconds, **extra):
        row = dict(timestamp=stamp, workload=workload, measure=measure, allocator=allocator["value"], n=n,
                   replicates=reps, seconds=round(seconds, 6),
                   reps_per_second=round(reps / seconds, 1) if seconds else "", **extra, **machine)
        rows.append(row)
        return row

    print(f"CPU: {machine['cpu']}, {machine['cores']} cores, load average {machine['load']}")
    base = 20_000 if quick else 200_000
    batch = 20_000 if quick else 100_000
    loads = workloads()

    # Phase 1, glibc's default allocator: the engine and the numpy peer (the two figures a ratio is taken of)
    print("\n== glibc default allocator, one core ==")
    for name, (model, trial) in loads.items():
        engine_power(vectorized, model, trial, 2000)  # tables, imports
        a = record(name, "vectorized, 1 job", trial.n, base,
                   best_of(lambda: engine_power(vectorized, model, trial, base), repeat))
        b = record(name, "peer: numpy batch", trial.n, batch, best_of(lambda: peer_numpy_batch(model, trial, batch),
                                                                      repeat))
        print(f"  {name:<10} vectorized {a['reps_per_second']:>10,.0f} /s   numpy batch peer "
              f"{b['reps_per_second']:>10,.0f} /s   ratio {a['reps_per_second'] / b['reps_per_second']:.2f}")

    # Phase 2: allocator tuned (trialsim.cli.allocator) for this process and the worker processes started later
    tuned = tune_allocator()
    allocator["value"] = "tuned" if tuned else "glibc default (tuning unavailable)"
    print(f"\n== allocator: {allocator['value']} (mmap threshold 32 MB, trim threshold 256 MB) ==")
    for name, (model, trial) in loads.items():
        print(f"\n-- {name} trial, n = {trial.n}: replicates per second (log-rank power: simulate + test) --")
        ref = record(name, "vectorized, 1 job", trial.n, base,
                     best_of(lambda: engine_power(vectorized, model, trial, base), repeat))
        record(name, "vectorized engine only, 1 job", trial.n, base,
               best_of(lambda: engine_power(vectorized, model, trial, base, analyse=False), repeat))
        chunks = [vectorized.simulate_chunk(model, trial, 2000, seeding.chunk_streams(seeding.root_sequence(9), c))
                  for c in range(10)]
        record(name, "design analysis only (log-rank), 1 job", trial.n, 20_000,
               best_of(lambda: [DESIGN.analyse([b], trial) for b in chunks], repeat))
        record(name, "peer: plain numpy log-rank only", trial.n, 20_000,
               best_of(lambda: [plain_logrank(b.time, b.event, b.arm) for b in chunks], repeat))
        big = 4 * base
        montecarlo.run(model, trial, DESIGN, n_replicates=big, seed=1, n_jobs=-1, engine="vectorized")  # pool up
        runs = []
        record(name, "vectorized, all jobs", trial.n, big,
               best_of(lambda: runs.append(montecarlo.run(model, trial, DESIGN, n_replicates=big, seed=1, n_jobs=-1,
                                                          engine="vectorized")), repeat),
               workers=runs[-1].n_workers)
        small = 1000 if quick else 4000
        record(name, "des, 1 job", trial.n, small, best_of(lambda: engine_power(des, model, trial, small), 1))
        loop = 100 if quick else 400
        record(name, "peer: survdiff loop", trial.n, loop, best_of(lambda: peer_survdiff_loop(model, trial, loop), 1))
        record(name, "peer: simpy loop", trial.n, loop, best_of(lambda: peer_simpy_loop(model, trial, loop), 1))
        record(name, "peer: numpy batch", trial.n, batch, best_of(lambda: peer_numpy_batch(model, trial, batch),
                                                                  repeat))
        for row in rows:
            if row["workload"] == name and row["allocator"] == allocator["value"]:
                ratio = ref["reps_per_second"] / row["reps_per_second"]
                row["vectorized_over_this"] = round(ratio, 2)
                print(f"  {row['measure']:<32} {row['reps_per_second']:>12,.0f} /s   vectorized is {ratio:8.2f} x")

        print(f"  scaling with n (vectorized, 1 job, {base:,} replicates):")
        for n in (20, 40, 80, 160, 320):
            t = dataclasses.replace(trial, n=n)
            engine_power(vectorized, model, t, 2000)
            seconds = best_of(lambda: engine_power(vectorized, model, t, base), repeat)
            row = record(name, "scaling in n", n, base, seconds)
            print(f"    n = {n:>3}: {row['reps_per_second']:>12,.0f} replicates/s, "
                  f"{base * n / seconds / 1e6:6.1f} M patients/s, {seconds / base * 1e6:7.2f} us/replicate")

        print("  scaling with replicates (vectorized, 1 job, n = 40): cost per replicate")
        for reps in ((2_000, 20_000, 100_000) if quick else (2_000, 20_000, 200_000, 1_000_000)):
            seconds = best_of(lambda: engine_power(vectorized, model, trial, reps), 2 if reps >= 1_000_000 else repeat)
            record(name, "scaling in replicates", trial.n, reps, seconds)
            print(f"    R = {reps:>9,}: {seconds / reps * 1e6:7.2f} us/replicate")

    print("\n== peak memory (trialsim.power, parametric trial, one job, vectorized; a fresh process each) ==")
    for label, env in (("glibc default", _default_env()), ("tuned", _tuned_env())):
        allocator["value"] = label
        for reps in ((100_000, 300_000) if quick else (100_000, 1_000_000)):
            start = time.perf_counter()
            mb, pw = peak_memory_mb(reps, env)
            record("parametric", "peak RSS (MB)", 40, reps, time.perf_counter() - start, peak_rss_mb=round(mb, 1))
            print(f"  {label:<14} R = {reps:>9,}: peak RSS {mb:7.1f} MB (power {pw:.4f})")
    mb, _ = peak_memory_mb(1, _default_env())
    allocator["value"] = "glibc default"
    record("parametric", "peak RSS (MB), imports and 1 replicate", 40, 1, 0.0, peak_rss_mb=round(mb, 1))
    print(f"  (a run of 1 replicate: {mb:.1f} MB, the interpreter and the imports)")
    print("  the engine's chunk loop alone, each chunk reduced to a count (glibc default allocator):")
    for reps in ((100_000, 300_000) if quick else (100_000, 1_000_000)):
        start = time.perf_counter()
        mb, pw = peak_memory_mb(reps, _default_env(), _CHUNK_LOOP_SNIPPET)
        record("parametric", "peak RSS (MB), engine chunk loop", 40, reps, time.perf_counter() - start,
               peak_rss_mb=round(mb, 1))
        print(f"  R = {reps:>9,}: peak RSS {mb:7.1f} MB (power {pw:.4f})")

    jobs = os.cpu_count() or 1
    print(f"\n== trialsim power --scenario parametric --n 40 --reps 100000 --jobs {jobs} "
          "(wall time, interpreter start included) ==")
    cli_wall_time(2000, jobs)  # warm the file cache
    for label, env in (("as shipped", _default_env()), ("allocator tuned by environment", _tuned_env())):
        seconds = best_of(lambda: cli_wall_time(100_000, jobs, env), 1 if quick else 3)
        allocator["value"] = label
        record("parametric", f"CLI wall time, --jobs {jobs}", 40, 100_000, seconds)
        print(f"  {label:<32} {seconds:.2f} s")

    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "bench_engines.csv"
    fields = list(dict.fromkeys(k for row in rows for k in row))
    with out.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    print(f"\nwritten: {out}")


def _default_env() -> dict:
    """The environment without the allocator settings (tune_allocator exports them to child processes)."""
    return {k: v for k, v in os.environ.items() if k not in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")}


def _tuned_env() -> dict:
    from trialsim.cli.allocator import MMAP_THRESHOLD, TRIM_THRESHOLD

    return {**_default_env(), "MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD),
            "MALLOC_TRIM_THRESHOLD_": str(TRIM_THRESHOLD)}


if __name__ == "__main__":
    main()
