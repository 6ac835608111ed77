"""Response paths, taper and infection for a batch of patients (the ``detail=True`` part of the fast engine).

The chain is simulated jump by jump, vectorised over every patient of every replicate: the Python loop runs
over jumps (a handful per patient within the horizon), never over patients or replicates. Each patient draws
from their own pool of numbers (:class:`JumpPools`), so a path never depends on the size of the trial.
"""

from __future__ import annotations

import numpy as np

from ..model import CR, DEAD, NR, ArmModel
from .seeding import POOL_SIZE, JumpPools

__all__ = ["simulate_paths", "dose_paths", "infection_times"]


def simulate_paths(generators: np.ndarray, which: np.ndarray, horizon: float, visit_times: np.ndarray,
                   pools: JumpPools, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Jump-by-jump paths of continuous-time Markov chains started in NR, cut at ``horizon``.

    Parameters
    ----------
    generators : (C, 4, 4) intensity matrices (rows sum to 0; state 3 = dead, absorbing)
    which : (N,) int, the generator of each patient
    horizon : follow-up horizon; jumps after it are not simulated
    visit_times : (V,) assessment times
    pools : the per-patient random numbers; jump j of a patient uses their j-th exponential and uniform
    flat : (N,) int, each patient's index among the chunk's ``R * n`` patients (into ``pools``)

    Returns
    -------
    death : (N,) time of the jump to dead, ``inf`` if none by the horizon
    state_at_visit : (N, V) int8, true state at each visit time (valid for visits up to the horizon)

    Notes
    -----
    Holding time in state s: ``Exp(-q_ss)``; next state ``j`` with probability ``q_sj / -q_ss``.
    """
    n = which.shape[0]
    off = generators.copy()
    idx = np.arange(4)
    off[:, idx, idx] = 0.0
    total = off.sum(axis=2)  # (C, 4) exit rate of each state
    with np.errstate(invalid="ignore", divide="ignore"):
        cum = np.cumsum(off, axis=2) / total[:, :, None]  # (C, 4, 4) jump distribution (nan where absorbing)

    size = POOL_SIZE
    es = pools.exponentials.reshape(-1, size)[flat]
    us = pools.uniforms.reshape(-1, size)[flat]
    death = np.full(n, np.inf)
    state_at_visit = np.zeros((n, visit_times.size), dtype=np.int8)  # NR until the first jump
    active = np.arange(n)
    state = np.zeros(n, dtype=np.intp)
    clock = np.zeros(n)
    jump = 0
    while active.size:
        column = jump % size
        if jump and column == 0:
            refill_e, refill_u = pools.refill(jump // size)
            es[active] = refill_e.reshape(-1, size)[flat[active]]
            us[active] = refill_u.reshape(-1, size)[flat[active]]
        g, s = which[active], state[active]
        rate = total[g, s]
        with np.errstate(divide="ignore"):
            t_new = clock[active] + es[active, column] / rate
        u = us[active, column]
        jump += 1
        keep = t_new <= horizon  # rate 0 gives inf: the patient stays put
        active, g, s, t_new, u = active[keep], g[keep], s[keep], t_new[keep], u[keep]
        # next state: first j with cumulative probability above u (ties at zero-probability states skipped)
        nxt = np.minimum((cum[g, s, :] <= u[:, None]).sum(axis=1), 3)
        state[active] = nxt
        clock[active] = t_new
        later = visit_times[None, :] >= t_new[:, None]
        state_at_visit[active] = np.where(later, nxt[:, None].astype(np.int8), state_at_visit[active])
        dead = nxt == DEAD
        death[active[dead]] = t_new[dead]
        active = active[~dead]
    return death, state_at_visit


def dose_paths(arms: tuple, arm: np.ndarray, state_at_visit: np.ndarray, z: np.ndarray) -> tuple[np.ndarray,
                                                                                                     np.ndarray]:
    """Starting dose and the dose after each visit's adjustment along the true path (no masking).

    ``dose_start = exp(log(median) + sd_log z)``; after visit ``v``: ``dose *= exp(log_factors[state at v])``
    (state NR/PR/CR; at a visit where the patient is already dead the factor is irrelevant and taken as 0).
    ParametricArm patients get NaN.
    """
    n_arms = len(arms)
    log_median = np.full(n_arms, np.nan)
    sd_log = np.zeros(n_arms)
    log_factors = np.zeros((n_arms, 4))
    for i, a in enumerate(arms):
        if isinstance(a, ArmModel):
            log_median[i] = np.log(a.taper.start_dose_median)
            sd_log[i] = a.taper.start_dose_sd_log
            log_factors[i, NR:CR + 1] = a.taper.log_factors()
    log_start = log_median[arm] + sd_log[arm] * z
    steps = log_factors[arm[..., None], state_at_visit]
    log_dose = log_start[..., None] + np.cumsum(steps, axis=-1)
    return np.exp(log_start), np.exp(log_dose)


def infection_times(arms: tuple, arm: np.ndarray, dose_start: np.ndarray, dose: np.ndarray,
                    visit_times: np.ndarray, e: np.ndarray) -> np.ndarray:
    """Infection time from entry for unit exponentials ``e`` (not yet censored by death or observation).

    Constant hazard ``lambda``: ``t = e / lambda``. Dose-dependent: the cumulative hazard
    ``H(t) = (lambda / d_ref) * integral_0^t dose(s) ds`` is piecewise linear (the dose is constant between
    visits and after the last one), inverted piece by piece.
    """
    n_arms = len(arms)
    hazard = np.zeros(n_arms)
    per_dose = np.zeros(n_arms)
    for i, a in enumerate(arms):
        if isinstance(a, ArmModel):
            if a.infection.dose_dependent:
                per_dose[i] = a.infection.hazard / a.infection.reference_dose
            else:
                hazard[i] = a.infection.hazard
    with np.errstate(divide="ignore"):
        t = e / hazard[arm]
    dep = per_dose[arm] > 0
    if np.any(dep):
        c = per_dose[arm][dep]
        levels = np.concatenate((dose_start[dep][:, None], dose[dep]), axis=1) * c[:, None]  # (m, V + 1) hazards
        starts = np.concatenate(([0.0], visit_times))
        widths = np.diff(starts)
        h_at = np.concatenate((np.zeros((levels.shape[0], 1)), np.cumsum(levels[:, :-1] * widths, axis=1)), axis=1)
        ed = e[dep]
        k = (h_at[:, 1:] <= ed[:, None]).sum(axis=1)  # piece index: breakpoints already passed
        rows = np.arange(k.size)
        t[dep] = starts[k] + (ed - h_at[rows, k]) / levels[rows, k]
    return t
