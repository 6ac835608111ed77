"""Interim looks at a simulated trial: the data as they stood at a calendar time, and the log-rank z there.

Both engines simulate a trial to its final analysis (a :class:`~trialsim.engines.batch.TrialBatch`). An earlier
look at calendar time ``tau`` sees exactly what a trial cut at ``tau`` would have seen, and that can be read off
the final data, whatever engine drew them:

- patient j is enrolled at the look when ``entry_j <= tau``;
- their observation ended by the look when ``entry_j + time_j <= tau`` (calendar end of follow-up, death, loss
  or the final cut); then the look sees ``time_j`` and ``event_j`` as they are;
- otherwise they are censored at the look, ``time = tau - entry_j`` (0 for patients not yet enrolled, who are
  never at risk), with no event.

This is the rule the engines apply at their own data cut (``tests/test_sequential.py`` checks that the data at a
look equal, bit for bit, a trial simulated with its analysis at that calendar time, or at that death). The float
``tau - entry`` is stepped down by an ulp where it rounds up, so that ``entry + time <= tau`` holds exactly, as the
engines keep it.

Looks are triggered by a planned number of deaths (the look is at the calendar time of the ``d``-th death the
analysis uses) or by a calendar time. A look that would come at or after the trial's final analysis does not
happen (the trial is at its final analysis by then).
"""

from __future__ import annotations

import numpy as np

from ..engines.batch import TrialBatch
from ..stats.kernels import logrank_two_groups

__all__ = ["used_deaths", "death_look_times", "data_at", "logrank_z_at"]


def used_deaths(batch: TrialBatch, horizon: float | None) -> np.ndarray:
    """Deaths the analysis uses, boolean (R, n): every observed death, or those by ``horizon`` weeks from entry."""
    if horizon is None:
        return batch.event
    return batch.event & (batch.time <= horizon)


def death_look_times(deaths: np.ndarray, ended_by: np.ndarray, counts: list[int]) -> np.ndarray:
    """Calendar time of the ``counts[k]``-th death of each replicate, shape (R, len(counts)); ``inf`` where the
    replicate has fewer deaths.

    ``deaths`` (R, n) marks the deaths that count (:func:`used_deaths`); ``ended_by`` is ``entry + time``, the
    calendar time of each death as the engines compute it, so that the look sees exactly ``counts[k]`` deaths
    (more only if two deaths fall at the same calendar time).
    """
    calendar = np.where(deaths, ended_by, np.inf)
    calendar.sort(axis=1)
    return calendar[:, np.asarray(counts, dtype=np.intp) - 1]


def data_at(entry: np.ndarray, time: np.ndarray, event: np.ndarray, tau: np.ndarray,
            ended_by: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(time, event)`` of each patient as they stood at calendar time ``tau`` (one per row).

    Parameters
    ----------
    entry, time, event : ndarray (R, n)
        Calendar entry, time from entry and event of the final data.
    tau : ndarray (R,)
        Calendar time of the look, at most the final analysis of the row.
    ended_by : ndarray (R, n), optional
        ``entry + time`` (the calendar end of each patient's observation), if already computed.

    Notes
    -----
    ``ended = entry + time <= tau``; ``time_tau = time`` where ended, else ``max(tau - entry, 0)`` (stepped down
    where ``entry + (tau - entry)`` rounds above ``tau``); ``event_tau = event & ended``. Patients are enrolled at
    the look when ``entry <= tau``; the others get time 0 and are never at risk.
    """
    cut = tau[:, None]
    ended = (entry + time if ended_by is None else ended_by) <= cut
    censored = cut - entry
    np.maximum(censored, 0.0, out=censored)
    over = entry + censored > cut
    over &= ~ended
    if over.any():  # cut - entry can round up by one ulp: step down so that entry + time <= cut exactly
        over &= entry <= cut
        while over.any():
            np.nextafter(censored, -np.inf, out=censored, where=over)
            over &= entry + censored > cut
    return np.where(ended, time, censored), event & ended


def logrank_z_at(time: np.ndarray, event: np.ndarray, arm: np.ndarray, strata: np.ndarray | None,
                 horizon: float | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log-rank z per row (positive: arm 0, the treatment, does better), whether it is degenerate, and the deaths
    it counts per arm (R, 2).

    ``z = (O - E) / sqrt(V)`` of arm 1 (the control), stratified when ``strata`` is given, on survival censored at
    ``horizon`` weeks from entry when it is given (else on all the follow-up): :func:`trialsim.stats.logrank_batch`,
    row for row and bit for bit, computed by its kernel directly (the engines' data need none of its checks: finite
    times >= 0, boolean events, int8 arms 0/1). Degenerate rows (no deaths, an empty arm: ``V = 0``) have z 0.
    """
    if horizon is not None:
        event = event & (time <= horizon)
        time = np.minimum(time, horizon)
    codes, n_strata = None, 1
    if strata is not None:
        codes = strata.astype(np.int64)
        n_strata = int(codes.max()) + 1
    o1, e1, deaths, v = logrank_two_groups(np.ascontiguousarray(time, dtype=np.float64), np.ascontiguousarray(event),
                                           np.ascontiguousarray(arm, dtype=np.int8), codes, n_strata, 0.0, 0.0)
    degenerate = ~(v > 0)
    z = np.where(degenerate, 0.0, (o1 - e1) / np.sqrt(np.where(degenerate, 1.0, v)))
    by_arm = np.rint(np.stack([deaths - o1, o1], axis=1)).astype(np.int64)
    return z, degenerate, by_arm
