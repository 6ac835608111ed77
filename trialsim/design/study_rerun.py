"""Re-running the published study: many simulated 20-vs-21 cohorts from the calibrated model.

:func:`check_calibration` is what ``trialsim calibrate --check`` prints beside the calibration table: for each
target, the mean over simulated cohorts of the statistic the study reported, with its Monte Carlo 95%
interval, and the distribution of the log-rank P value of the 20-vs-21 comparison.
"""

from __future__ import annotations

import math
from collections.abc import Callable
import re

import numpy as np

from ..engines.batch import TrialBatch
from ..engines.seeding import Seed
from ..stats import logrank_batch
from ..stats.checks import quiet_degenerate
from ..exceptions import invalid
from ..model.validation import check_count
from ..model import CR, DEAD, DISEASES, NR, PR, Accrual, Trial

__all__ = ["cohort_trial", "check_calibration", "cohort_statistics", "STUDY_PVALUE"]

#: The P value the study reported for 19/20 vs 13/21 (log-rank, Figure 1).
STUDY_PVALUE = 0.011
_STATE_OF = {"nr_alive": NR, "pr": PR, "cr": CR, "dead": DEAD}
_WEEK_TARGET = re.compile(r"^(nr_alive|pr|cr|dead|cmv|dose_median)_week(\d+(?:\.\d+)?)$")


def cohort_trial(n_per_arm: tuple[int, ...] = (20, 21), *, follow_up: float = 8.0) -> Trial:
    """A cohort of fixed arm sizes, everyone enrolled at once and followed to ``follow_up`` weeks.

    Not a randomised trial: one permuted block holding the whole cohort gives exactly ``n_per_arm[a]``
    patients in arm ``a`` (``Trial(n=41, allocation=(20, 21), block_size=41)`` for the study).
    """
    sizes = tuple(check_count("n_per_arm", k) for k in n_per_arm)
    if not sizes:
        raise invalid("n_per_arm", "must hold one arm size at least", n_per_arm)
    n = int(sum(sizes))
    return Trial(n=n, allocation=sizes, block_size=n, accrual=Accrual(kind="instant"), follow_up=follow_up,
                 dropout_hazard=(0.0,) * len(sizes), analysis="complete")


def cohort_statistics(batch: TrialBatch, name: str, *, arm: int, week: float | None,
                      horizon: float) -> np.ndarray | None:
    """The statistic behind target ``name`` in each simulated cohort, shape ``(R,)`` (``None`` if unknown).

    Proportions are shares of the arm (the study's denominators: everyone in the arm). Survival is the share
    alive at ``horizon``, which is the Kaplan-Meier estimate when nobody is censored before it (the cohorts
    have complete follow-up and no dropout). Median doses are the median over the arm's patients alive at the
    visit (at the start: over everyone).
    """
    in_arm = batch.arm == arm
    size = in_arm.sum(axis=1)

    def share(mask: np.ndarray) -> np.ndarray:
        return (mask & in_arm).sum(axis=1) / size

    if name.startswith("survival_"):
        return share(~(batch.event & (batch.time <= horizon)))
    if name == "female":
        return share(batch.female)
    if name.startswith("disease_"):
        labels = [d.lower() for d in DISEASES]
        label = name.removeprefix("disease_")
        return share(batch.stratum == labels.index(label)) if label in labels else None
    match = _WEEK_TARGET.match(name)
    response, infection_time, dose_start, dose_at = (batch.response, batch.infection_time, batch.dose_start,
                                                     batch.dose)
    if match is None or response is None:  # (response is None: no detail)
        return None
    # the engines set the detail fields all together
    assert infection_time is not None and dose_start is not None and dose_at is not None
    kind, at = match.group(1), float(match.group(2)) if week is None else float(week)
    if kind == "cmv":
        return share(infection_time <= at)
    if kind == "dose_median" and at == 0:
        dose = np.where(in_arm, dose_start, np.nan)
        return np.nanmedian(dose, axis=1)
    if at not in batch.visit_times:
        return None
    j = batch.visit_times.index(at)
    state = response[:, :, j]
    if kind == "dose_median":
        alive = in_arm & (state >= NR) & (state <= CR)
        dose = np.where(alive, dose_at[:, :, j], np.nan)
        out = np.full(dose.shape[0], np.nan)
        some = alive.any(axis=1)
        out[some] = np.nanmedian(dose[some], axis=1)
        return out
    return share(state == _STATE_OF[kind])


def _pooled_median_dose(batch: TrialBatch, *, arm: int, week: float) -> float | None:
    """Median dose over every simulated patient of the arm (alive at ``week``; at week 0 everyone)."""
    in_arm = batch.arm == arm
    if batch.response is None or batch.dose_start is None or batch.dose is None:
        return None  # no detail, no doses
    if week == 0:
        return float(np.median(batch.dose_start[in_arm]))
    if week not in batch.visit_times:
        return None
    j = batch.visit_times.index(week)
    state = batch.response[:, :, j]
    alive = in_arm & (state >= NR) & (state <= CR)
    return float(np.median(batch.dose[:, :, j][alive])) if alive.any() else None


def check_calibration(calibration_result, *, n_cohorts: int = 2000, seed: Seed = None,
                      n_per_arm: tuple[int, int] = (20, 21), detail_batch: bool = False,
                      progress: Callable[[int, int], None] | None = None) -> dict:
    """Simulate the published study ``n_cohorts`` times with the DES and compare with the calibrated model.

    Parameters
    ----------
    calibration_result
        A :class:`trialsim.model.calibration.CalibrationResult` (its ``model``, ``horizon_weeks`` and ``targets``).
    n_cohorts
        Simulated cohorts (at least 2,000 for the acceptance checks).
    seed
        Root seed (``None``: fresh entropy, recorded in the result).
    n_per_arm
        Arm sizes of a cohort: 20 ruxolitinib and 21 historical controls in the study.
    detail_batch
        Also return the simulated :class:`~trialsim.engines.batch.TrialBatch` under ``"batch"`` (for tests).
    progress
        Called as ``progress(done, total)`` (cohorts) as the simulation goes.

    Returns
    -------
    dict
        ``targets``: one row per calibration target with ``name``, ``model`` (exact), ``simulated`` (mean over
        cohorts), ``simulated_se``, ``simulated_ci_low``/``simulated_ci_high`` (``mean +/- 1.96 se``) and
        ``z = (simulated - model) / se``; ``None`` where the target has no simulated counterpart. Median-dose
        rows also have ``simulated_pooled_median``, the median over all simulated patients: the model value is
        a population median, and the mean of ~20-patient sample medians of a log-normal mixture sits slightly
        above it (about +1%), so ``z`` is large there by construction, not by error.
        ``logrank``: ``median_pvalue``, ``share_p_le_0011`` (share of cohorts with P <= 0.011, the study's P),
        ``quantiles`` of P (5%, 25%, 50%, 75%, 95%), ``n_degenerate`` (cohorts without a death: P = 1). Also ``n_cohorts``, ``n_per_arm``, ``seed`` (root
        entropy), ``engine``, ``horizon_weeks``.

    Notes
    -----
    The Monte Carlo standard error of a mean over ``R`` independent cohorts is ``sd / sqrt(R)`` with ``sd``
    the sample standard deviation of the cohort statistic.
    """
    from ..engines import des
    from ..model import TARGETS_BY_NAME

    check_count("n_cohorts", n_cohorts, minimum=2)
    model = calibration_result.model
    horizon = float(calibration_result.horizon_weeks)
    follow_up = max(horizon, max(model.visit_times))
    trial = cohort_trial(n_per_arm, follow_up=follow_up)
    batch = des.simulate(model, trial, n_replicates=int(n_cohorts), seed=seed, detail=True, progress=progress)

    rows = []
    for target in calibration_result.targets:
        spec = TARGETS_BY_NAME.get(target.name)
        arm = model.arm_names.index(spec.arm) if spec is not None and spec.arm in model.arm_names else 0
        stat = cohort_statistics(batch, target.name, arm=arm, week=None if spec is None else spec.week,
                                 horizon=horizon)
        row = {"name": target.name, "model": float(target.model), "simulated": None, "simulated_se": None,
               "simulated_ci_low": None, "simulated_ci_high": None, "z": None}
        if stat is not None:
            stat = stat[np.isfinite(stat)]
            mean = float(stat.mean())
            se = float(stat.std(ddof=1) / math.sqrt(stat.size))
            row.update(simulated=mean, simulated_se=se, simulated_ci_low=mean - 1.96 * se,
                       simulated_ci_high=mean + 1.96 * se,
                       z=(mean - float(target.model)) / se if se > 0 else None)
            if target.name.startswith("dose_median_") and spec is not None and spec.week is not None:
                row["simulated_pooled_median"] = _pooled_median_dose(batch, arm=arm, week=float(spec.week))
        rows.append(row)

    # The study's comparison: survival to the horizon, ruxolitinib (arm 0) against control (arm 1).
    died = batch.event & (batch.time <= horizon)
    with quiet_degenerate():  # cohorts without a death have no test (P = 1 by convention): counted, not warned
        test = logrank_batch(np.minimum(batch.time, horizon), died, batch.arm.astype(np.int64))
    pvalues = test.pvalue
    quantiles = np.quantile(pvalues, [0.05, 0.25, 0.5, 0.75, 0.95])
    result = {
        "n_cohorts": int(n_cohorts), "n_per_arm": list(n_per_arm), "seed": batch.seed, "engine": batch.engine,
        "horizon_weeks": horizon, "targets": rows,
        "logrank": {"median_pvalue": float(np.median(pvalues)),
                    "share_p_le_0011": float(np.mean(pvalues <= STUDY_PVALUE)),
                    "quantiles": {f"{q:g}": float(v) for q, v in zip((0.05, 0.25, 0.5, 0.75, 0.95), quantiles)},
                    "n_degenerate": int(np.count_nonzero(test.degenerate))},
    }
    if detail_batch:
        result["batch"] = batch
        result["pvalues"] = pvalues
    return result
