"""Throughput of the discrete-event engine (trialsim.des), against a naive simpy loop measured in the same run.

Prints simulated patient-journeys per second and trials per second for n = 40:

- the full calibrated CTD-MAS model with detail (visits, taper, infection), as ``calibrate --check`` runs it,
  and the same model for survival only (the chain still moves state by state, no visits);
- the survival-only (exponential) model, the engine against a naive loop: one simpy environment per trial,
  one process per patient drawing its own random numbers one call at a time.

Run: ``python benchmarks/bench_des.py [--reps R] [--repeat K]`` (best of K timings is reported: the machine
may be shared).
"""

from __future__ import annotations

import argparse

import numpy as np
import simpy

from trialsim import des
from trialsim.ctdmas import default_model, default_trial
from trialsim.model import DiseaseModel, ParametricArm, Trial
from _timing import best_of  # noqa: E402 - benchmarks/ is on sys.path when a script runs


def naive_survival_loop(model: DiseaseModel, trial: Trial, n_replicates: int, seed: int) -> np.ndarray:
    """The textbook simpy loop: per trial a fresh environment, per patient a process and scalar draws."""
    rng = np.random.default_rng(seed)
    hazards = [arm.hazards[0] for arm in model.arms]
    block = trial.effective_block_size
    pattern = np.repeat(np.arange(trial.n_arms), trial.allocation)
    pattern = np.tile(pattern, block // pattern.size)
    out = np.empty((n_replicates, trial.n))

    def patient(env, i, arm, records):
        death = rng.exponential(1.0 / hazards[arm])
        yield env.timeout(min(death, trial.follow_up))
        records[i] = env.now

    for r in range(n_replicates):
        env = simpy.Environment()
        arms = np.concatenate([rng.permutation(pattern) for _ in range(-(-trial.n // block))])[:trial.n]
        records = [0.0] * trial.n
        for i in range(trial.n):
            env.process(patient(env, i, int(arms[i]), records))
        env.run()
        out[r] = records
    return out


def line(label: str, seconds: float, n_replicates: int, n: int) -> str:
    return (f"{label:<52} {n_replicates * n / seconds:>11,.0f} journeys/s {n_replicates / seconds:>9,.0f} trials/s"
            f"  ({seconds:.2f} s for {n_replicates} trials)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=2000, help="trials per timing (default 2000)")
    parser.add_argument("--repeat", type=int, default=3, help="timings per figure; the best is kept (default 3)")
    args = parser.parse_args()
    r, k = args.reps, args.repeat

    model = default_model()  # calibrated once, outside the timings
    trial = default_trial(40)
    print(f"n = {trial.n}, {r} trials per timing, best of {k}\n")
    print("full CTD-MAS model (des)")
    t_detail = best_of(lambda: des.simulate(model, trial, n_replicates=r, seed=1, detail=True), k)
    print(line("  with detail (visits, taper, infection)", t_detail, r, trial.n))
    t_surv = best_of(lambda: des.simulate(model, trial, n_replicates=r, seed=1), k)
    print(line("  survival only (state by state, no visits)", t_surv, r, trial.n))
    for tpe in (1, 25):
        t = best_of(lambda: des.simulate(model, trial, n_replicates=r, seed=1, detail=True, trials_per_env=tpe), k)
        print(line(f"  with detail, {tpe} trial(s) per environment", t, r, trial.n))

    print("\nsurvival-only model (exponential arms, S(8 wk) 0.95 vs 0.62)")
    expo = DiseaseModel(arms=(ParametricArm.from_survival(0.95, 8.0), ParametricArm.from_survival(0.62, 8.0)))
    t_engine = best_of(lambda: des.simulate(expo, trial, n_replicates=r, seed=1), k)
    t_naive = best_of(lambda: naive_survival_loop(expo, trial, r, 1), k)
    print(line("  des.simulate", t_engine, r, trial.n))
    print(line("  naive loop (env per trial, scalar draws)", t_naive, r, trial.n))
    print(f"  ratio: des.simulate is {t_naive / t_engine:.2f}x the naive loop's throughput")


if __name__ == "__main__":
    main()
