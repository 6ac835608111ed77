"""Throughput of the discrete-event engine (trialsim.engines.des), against naive simpy loops measured in the same run.

Prints simulated patient-journeys per second and trials per second for n = 40:

- the full calibrated CTD-MAS model with detail (visits, taper, infection), as ``calibrate --check`` runs it,
  every event in simpy, with 1, the default and 25 trials per environment;
- the same model for survival only, against a naive loop: one simpy environment per trial, one process per
  patient that walks the chain transition by transition (a scalar exponential holding time, a timeout, a
  scalar uniform for the destination);
- the survival-only (exponential) model, against a naive loop: one simpy environment per trial, one process
  per patient with one scalar draw and one timeout.

Each naive loop randomises in permuted blocks like the engine, and its deaths per trial are printed beside the
engine's as a check that both simulate the same model. The engine and its naive peer are timed alternately
(the machine may be shared: load drifts) and the best of K timings of each is kept.

Run: ``python benchmarks/bench_des.py [--reps R] [--repeat K]``.
"""

from __future__ import annotations

import argparse
import math
import os
import platform

import numpy as np
import simpy

from trialsim.engines import des
from trialsim.model import default_model, default_trial
from trialsim.model import CR, DEAD, NR, PR, ArmModel, DiseaseModel, ParametricArm, Trial
from _timing import best_of  # noqa: E402 - benchmarks/ is on sys.path when a script runs


def _block_arms(rng: np.random.Generator, trial: Trial) -> np.ndarray:
    """Arms of one trial's patients: permuted blocks, one ``rng.permutation`` per block."""
    block = trial.effective_block_size
    pattern = np.repeat(np.arange(trial.n_arms), trial.allocation)
    pattern = np.tile(pattern, block // pattern.size)
    return np.concatenate([rng.permutation(pattern) for _ in range(-(-trial.n // block))])[:trial.n]


def _check_simple_trial(trial: Trial) -> None:
    if trial.accrual.kind != "instant" or any(trial.dropout_hazard) or trial.analysis != "complete":
        raise ValueError("the naive loops simulate instant accrual, no dropout and a complete analysis only")


def _each_trial(patient, rng: np.random.Generator, trial: Trial, n_replicates: int) -> np.ndarray:
    """The naive loops' outer loop: per trial a fresh environment, its arms, a process per patient; returns what
    each patient recorded, ``(n_replicates, n)``."""
    out = np.empty((n_replicates, trial.n))
    for r in range(n_replicates):
        env = simpy.Environment()
        arms = _block_arms(rng, trial)
        records = [0.0] * trial.n
        for i in range(trial.n):
            env.process(patient(env, i, int(arms[i]), records))
        env.run()
        out[r] = records
    return out


def naive_survival_loop(model: DiseaseModel, trial: Trial, n_replicates: int, seed: int) -> np.ndarray:
    """The textbook simpy loop: per trial a fresh environment, per patient a process and scalar draws.

    Returns the times of death or end of follow-up, ``(n_replicates, n)``.
    """
    _check_simple_trial(trial)
    rng = np.random.default_rng(seed)
    hazards = [arm.hazards[0] for arm in model.arms]

    def patient(env, i, arm, records):
        death = rng.exponential(1.0 / hazards[arm])
        yield env.timeout(min(death, trial.follow_up))
        records[i] = env.now

    return _each_trial(patient, rng, trial, n_replicates)


def naive_chain_loop(model: DiseaseModel, trial: Trial, n_replicates: int, seed: int) -> np.ndarray:
    """The textbook simpy loop for the multi-state model, survival only: the chain walked in simulated time.

    Per trial a fresh environment; per patient a process that draws whether they are refractory (and their
    disease when the death hazard depends on it), then moves NR -> PR -> CR / dead one transition at a time: a
    scalar exponential holding time, a timeout, a scalar uniform for the destination. The generator matrices
    are tabulated once, outside the loop. Returns the times of death or end of follow-up, ``(n_replicates, n)``.
    """
    _check_simple_trial(trial)
    if not all(isinstance(arm, ArmModel) for arm in model.arms):
        raise ValueError("naive_chain_loop simulates ArmModel arms")
    rng = np.random.default_rng(seed)
    follow_up = trial.follow_up
    multipliers = model.baseline.death_hazard_ratio_by_disease
    by_disease = len(set(multipliers)) > 1  # else one table per arm serves every disease
    cum_disease = np.cumsum(model.baseline.disease_fractions)[:-1].tolist()

    def table(q: np.ndarray) -> list:
        """Per living state: (total rate out, [(cumulative probability, destination), ...])."""
        out = []
        for s in (NR, PR, CR):
            total = float(-q[s, s])
            dest = [d for d in range(4) if d != s and q[s, d] > 0]
            probs = np.cumsum([q[s, d] / total for d in dest]).tolist() if total > 0 else []
            if probs:
                probs[-1] = math.inf
            out.append((total, list(zip(probs, dest))))
        return out

    tables = [[(table(arm.response.generator(m)), table(arm.response.refractory_generator(m)))
               for m in (multipliers if by_disease else multipliers[:1])] for arm in model.arms]
    refractory = [arm.response.refractory_fraction for arm in model.arms]

    def patient(env, i, arm, records):
        disease = 0
        if by_disease:
            u = rng.random()
            disease = sum(u >= c for c in cum_disease)
        rows = tables[arm][disease][rng.random() < refractory[arm]]
        state = NR
        while state != DEAD:
            rate, destinations = rows[state]
            holding = rng.exponential(1.0 / rate) if rate > 0 else math.inf
            if env.now + holding >= follow_up:
                yield env.timeout(follow_up - env.now)
                break
            yield env.timeout(holding)
            x = rng.random()
            for p, state in destinations:  # the destination drawn becomes the state
                if x < p:
                    break
        records[i] = env.now

    return _each_trial(patient, rng, trial, n_replicates)


def line(label: str, seconds: float, n_replicates: int, n: int) -> str:
    return (f"{label:<60} {n_replicates * n / seconds:>11,.0f} journeys/s {n_replicates / seconds:>9,.0f} trials/s"
            f"  ({seconds:.3f} s for {n_replicates} trials)")


def best_of_pair(engine, naive, repeat: int) -> tuple[float, float]:
    """Best of ``repeat`` timings of each, taken alternately so that both see the same drift in load."""
    t_engine = t_naive = math.inf
    for _ in range(repeat):
        t_engine = min(t_engine, best_of(engine, 1))
        t_naive = min(t_naive, best_of(naive, 1))
    return t_engine, t_naive


def compare(label: str, model: DiseaseModel, trial: Trial, naive, r: int, k: int) -> None:
    t_engine, t_naive = best_of_pair(lambda: des.simulate(model, trial, n_replicates=r, seed=1),
                                     lambda: naive(model, trial, r, 1), k)
    print(line(f"  {label}: des.simulate", t_engine, r, trial.n))
    print(line(f"  {label}: naive simpy loop", t_naive, r, trial.n))
    engine_deaths = des.simulate(model, trial, n_replicates=r, seed=1).n_events().mean()
    naive_deaths = (naive(model, trial, r, 1) < trial.follow_up).sum(axis=1).mean()
    print(f"  deaths per trial: des {engine_deaths:.2f}, naive {naive_deaths:.2f}"
          f" (same model, different streams)")
    print(f"  ratio: des.simulate is {t_naive / t_engine:.2f}x the naive loop's throughput")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=2000, help="trials per timing (default 2000)")
    parser.add_argument("--repeat", type=int, default=5, help="timings per figure; the best is kept (default 5)")
    args = parser.parse_args()
    r, k = args.reps, args.repeat

    model = default_model()  # calibrated once, outside the timings
    trial = default_trial(40)
    load = os.getloadavg()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load average "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at start (shared machine)")
    print(f"n = {trial.n}, {r} trials per timing, best of {k}\n")

    print("full CTD-MAS model, with detail (visits, taper, infection: every event a simpy event)")
    for tpe, label in ((None, "default"), (1, "1 trial"), (25, "25 trials")):
        t = best_of(lambda: des.simulate(model, trial, n_replicates=r, seed=1, detail=True, trials_per_env=tpe), k)
        print(line(f"  des.simulate, {label} per environment", t, r, trial.n))

    print("\nfull CTD-MAS model, survival only (detail=False)")
    compare("chain", model, trial, naive_chain_loop, r, k)

    print("\nsurvival-only model (exponential arms, S(8 wk) 0.95 vs 0.62)")
    expo = DiseaseModel(arms=(ParametricArm.from_survival(0.95, 8.0), ParametricArm.from_survival(0.62, 8.0)))
    compare("exponential", expo, trial, naive_survival_loop, r, k)

    load = os.getloadavg()
    print(f"\nload average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the end")


if __name__ == "__main__":
    main()
