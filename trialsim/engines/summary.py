"""Per-arm summary of a batch of simulated trials (what ``trialsim simulate`` prints without ``--out``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .batch import TrialBatch
from ..stats import km_survival_at_batch
from ..model import CR, DEAD, NR, PR

__all__ = ["batch_summary"]


def batch_summary(batch: TrialBatch, *, horizon: float, week: float | None = None) -> dict[str, Any]:
    """Per arm: enrolled, deaths, Kaplan-Meier survival at ``horizon``, response, infections and median dose at
    ``week`` (default: week 8 if it is a visit, else the last visit), and the calendar duration of the trials.

    Counts are totals over the batch and, with more than one replicate, also means per trial
    (``*_per_trial``). Survival is the mean over trials of each trial's Kaplan-Meier estimate.
    """
    r = batch.n_replicates
    enrolled = batch.entry <= batch.analysis_time[:, None]
    if week is None and batch.visit_times:
        week = 8.0 if 8.0 in batch.visit_times else batch.visit_times[-1]
    j = batch.visit_times.index(week) if batch.has_detail and week in batch.visit_times else None
    # Patients enrolled after a data cut have time 0 and no event: never at risk after time 0, so harmless.
    km = km_survival_at_batch(batch.time, batch.event, horizon, group=batch.arm.astype(np.int64),
                              n_groups=len(batch.arm_names))
    arms = []
    for a, name in enumerate(batch.arm_names):
        in_arm = (batch.arm == a) & enrolled
        survival = km[:, a]
        row: dict[str, Any] = {"arm": name, "enrolled": int(in_arm.sum()), "deaths": int((batch.event & in_arm).sum()),
               "survival_at_horizon": float(np.nanmean(survival)) if np.isfinite(survival).any() else None}
        if j is not None:
            # j is a visit only with detail, and the engines set the detail fields all together
            assert batch.response is not None and batch.infection_time is not None and batch.dose is not None
            state = np.where(in_arm, batch.response[:, :, j], -1)
            row["response"] = {label: int((state == code).sum())
                               for label, code in (("CR", CR), ("PR", PR), ("NR", NR), ("dead", DEAD))}
            row["response"]["not_observed"] = int((in_arm & (state < 0)).sum())
            row["infections"] = int((in_arm & np.isfinite(batch.infection_time)).sum())
            dose = batch.dose[:, :, j][in_arm & (state >= NR) & (state <= CR)]
            row["median_dose"] = float(np.median(dose)) if dose.size else None
        if r > 1:
            row["enrolled_per_trial"] = row["enrolled"] / r
            row["deaths_per_trial"] = row["deaths"] / r
        arms.append(row)
    duration = batch.analysis_time
    return {
        "n_replicates": r, "n_patients": batch.n_patients, "seed": batch.seed, "engine": batch.engine,
        "horizon_weeks": float(horizon), "week": week if j is not None else None, "arms": arms,
        "duration_weeks": float(duration[0]) if r == 1 else None,
        "duration_weeks_mean": float(duration.mean()),
        "duration_weeks_range": [float(duration.min()), float(duration.max())],
    }
