"""Throughput of the batch estimators (trialsim.stats), against loops over statsmodels in the same run.

Prints trials per second at n = 40 (1:1, exponential survival, censoring at 8 weeks, times in days) for

- ``logrank_batch``: plain, stratified (3 strata), Fleming-Harrington G(1, 0);
- ``km_survival_at_batch`` at 8 weeks, by arm;
- the peers, one trial at a time: statsmodels ``survdiff`` (plain and stratified) and trialsim's scalar
  ``logrank``, looped over a subset of the same trials; and ``SurvfuncRight`` for Kaplan-Meier;

and the ratio batch / statsmodels. One process, one core (numpy runs these operations single-threaded).

Run: ``python benchmarks/bench_estimators.py [--reps R] [--repeat K] [--loop L]``. The best of K timings is
reported (the machine may be shared).
"""

from __future__ import annotations

import argparse
import math
import warnings

import numpy as np
from statsmodels.duration.survfunc import SurvfuncRight, survdiff

from trialsim.stats import km_survival_at_batch, logrank, logrank_batch
from _timing import best_of  # noqa: E402 - benchmarks/ is on sys.path when a script runs


def trials(r: int, n: int, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    hazard = np.where(np.arange(n) % 2 == 0, -math.log(0.62), -math.log(0.95)) / 8.0
    day = np.ceil(rng.exponential(1.0 / hazard, (r, n)) * 7)
    event = day <= 56
    time_ = np.minimum(day, 56) / 7
    group = np.tile(np.arange(n) % 2, (r, 1))
    strata = rng.integers(0, 3, (r, n))
    return time_, event, group, strata


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=2000, help="trials per batch call (default 2000, one chunk)")
    parser.add_argument("--n", type=int, default=40, help="patients per trial (default 40)")
    parser.add_argument("--repeat", type=int, default=15, help="timings per measurement; the best is kept")
    parser.add_argument("--loop", type=int, default=300, help="trials in the one-at-a-time peer loops")
    args = parser.parse_args()
    t, e, g, s = trials(args.reps, args.n, seed=1)
    warnings.simplefilter("ignore")            # degenerate replicates are rare and irrelevant here

    rows = []

    def measure(name, fn, count):
        seconds = best_of(fn, args.repeat)
        rows.append((name, count / seconds))

    measure("logrank_batch (plain)", lambda: logrank_batch(t, e, g), args.reps)
    measure("logrank_batch (3 strata)", lambda: logrank_batch(t, e, g, strata=s), args.reps)
    measure("logrank_batch (FH rho=1)", lambda: logrank_batch(t, e, g, rho=1.0), args.reps)
    measure("km_survival_at_batch (2 arms)", lambda: km_survival_at_batch(t, e, 8.0, group=g, n_groups=2),
            args.reps)
    k = min(args.loop, args.reps)
    loop_repeat = max(1, args.repeat // 5)
    rows.append(("statsmodels survdiff loop", k / best_of(lambda: [survdiff(t[i], e[i], g[i]) for i in range(k)],
                                                          loop_repeat)))
    rows.append(("statsmodels survdiff loop (3 strata)",
                 k / best_of(lambda: [survdiff(t[i], e[i], g[i], strata=s[i]) for i in range(k)], loop_repeat)))
    rows.append(("trialsim logrank loop (scalar)",
                 k / best_of(lambda: [logrank(t[i], e[i], g[i]) for i in range(k)], loop_repeat)))
    rows.append(("statsmodels SurvfuncRight loop (2 arms)",
                 k / best_of(lambda: [(SurvfuncRight(t[i][g[i] == 0], e[i][g[i] == 0]),
                                    SurvfuncRight(t[i][g[i] == 1], e[i][g[i] == 1])) for i in range(k)],
                          loop_repeat)))

    rate = dict(rows)
    print(f"n = {args.n}, batch of {args.reps} trials, best of {args.repeat}; peers looped over {k} trials")
    print(f"{'method':42s} {'trials/s':>12s}")
    for name, value in rows:
        print(f"{name:42s} {value:12,.0f}")
    print()
    print(f"ratio logrank_batch / statsmodels survdiff:             "
          f"{rate['logrank_batch (plain)'] / rate['statsmodels survdiff loop']:8.0f}x")
    print(f"ratio logrank_batch (strata) / survdiff (strata):       "
          f"{rate['logrank_batch (3 strata)'] / rate['statsmodels survdiff loop (3 strata)']:8.0f}x")
    print(f"ratio km_survival_at_batch / SurvfuncRight:             "
          f"{rate['km_survival_at_batch (2 arms)'] / rate['statsmodels SurvfuncRight loop (2 arms)']:8.0f}x")


if __name__ == "__main__":
    main()
