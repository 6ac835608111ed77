"""Death times of the mover-stayer response process, sampled by inversion (one uniform per patient).

Under the arm's Markov chain a patient's death time is phase-type: with ``Q`` the responders' intensity matrix
(transient states NR, PR, CR; dead absorbing) and ``pi`` the refractory fraction,

    F(t) = (1 - pi) [expm(Q t)]_{NR, dead} + pi (1 - exp(-mu_NR t)),
    f(t) = (1 - pi) sum_s [expm(Q t)]_{NR, s} mu_s + pi mu_NR exp(-mu_NR t).

A :class:`DeathTimeTable` holds the quantile function ``F^{-1}`` on a uniform grid of ``u`` in ``[0, F(T)]``
(T the follow-up horizon): a death later than T is never observed, so ``u >= F(T)`` maps to ``inf``. Sampling
is then O(1) per patient: ``x = u M / F(T)``, ``j = floor(x)``, linear interpolation between nodes ``j`` and
``j + 1`` (no search).

How exact. ``F`` and ``f`` are computed exactly (one matrix exponential of ``Q h``, then its powers) on a fine time
grid ``t_k = k h``; between grid points ``F`` is the cubic Hermite interpolant, whose error is at most ``h^4
max|F''''| / 384`` (below 1e-11 for the grids chosen here); each quantile node is that interpolant inverted by
bisection to machine precision. The only approximation left is the linear interpolation between quantile nodes; its
error in probability, ``|F(t_sampled(u)) - u|``, is measured at every node midpoint when the table is built
(:attr:`DeathTimeTable.max_cdf_error`) and the grid is refined until it is below ``1e-9``, far below any Monte
Carlo error attainable (that would take ~1e17 replicates).

Tables are cached per (process, multiplier, horizon): the dataclasses are frozen, hence hashable.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from .disease import DEAD, NR, ResponseProcess
from .numerics import expm

__all__ = ["DeathTimeTable", "response_death_table", "sample_from_tables"]

#: Target for the measured inversion error in probability (see module docstring).
CDF_TOLERANCE = 1e-9
_MIN_NODES = 4096
_MAX_NODES = 1 << 20


@dataclass(frozen=True, kw_only=True, slots=True)
class DeathTimeTable:
    """Quantile function of a death-time distribution truncated at the horizon.

    Attributes
    ----------
    quantiles : ndarray (n_nodes + 1,)
        ``F^{-1}(j F(T) / n_nodes)`` for ``j = 0..n_nodes`` (``inf`` everywhere when ``F(T) = 0``).
    cdf_horizon : float
        ``F(T)``, the probability of death by the horizon.
    horizon : float
    max_cdf_error : float
        Largest ``|F(t_sampled(u)) - u|`` measured at node midpoints.
    """

    quantiles: np.ndarray
    cdf_horizon: float
    horizon: float
    max_cdf_error: float

    @property
    def n_nodes(self) -> int:
        return self.quantiles.size - 1

    def sample(self, u: np.ndarray) -> np.ndarray:
        """Death times for uniforms ``u`` in [0, 1) (``inf`` when later than the horizon)."""
        return sample_from_tables(self.quantiles[None, :], np.array([self.scale]), np.array([float(self.n_nodes)]),
                                  np.zeros(np.shape(u), np.intp), np.asarray(u, dtype=float))

    @property
    def scale(self) -> float:
        """``n_nodes / F(T)`` (``inf`` when ``F(T) = 0``: every uniform then maps past the table)."""
        return self.n_nodes / self.cdf_horizon if self.cdf_horizon > 0 else math.inf


def sample_from_tables(quantiles: np.ndarray, scales: np.ndarray, limits: np.ndarray, which: np.ndarray,
                       u: np.ndarray) -> np.ndarray:
    """Invert stacked tables: row ``which[i]`` (integer array) of ``quantiles`` (C, width) for uniform ``u[i]``.

    Row ``c`` holds ``limits[c] + 1`` nodes (the rest is padding); ``scales[c] = limits[c] / F_c(T)``.
    Uniforms beyond ``F_c(T)`` give ``inf``.
    """
    width = quantiles.shape[1]
    with np.errstate(invalid="ignore"):  # inf * 0 when F(T) = 0 and u = 0: nan, mapped to inf below
        x = u * np.take(scales, which)
    lim = float(limits[0]) if limits.min() == limits.max() else np.take(limits, which)
    beyond = ~(x < lim)  # also catches nan
    np.fmin(x, lim - 1.0, out=x)  # fmin: nan -> lim - 1, a valid index
    j = x.astype(np.intp)
    frac = x - j
    if quantiles.shape[0] > 1:
        j += which.astype(np.intp, copy=False) * width
    lo = np.take(quantiles, j)
    t = np.take(quantiles, j + 1)
    with np.errstate(invalid="ignore"):  # inf - inf in rows without deaths (F(T) = 0): masked below
        t -= lo  # t = lo + (hi - lo) * frac, in place
        t *= frac
        t += lo
    t[beyond] = np.inf
    return t


# --------------------------------------------------------------------------------------------- building


def _hermite(s: np.ndarray, f0, f1, d0, d1, h) -> np.ndarray:
    """Cubic Hermite interpolant at ``s`` in [0, 1] with values f0, f1 and derivatives d0, d1 (per unit t)."""
    s2 = s * s
    s3 = s2 * s
    return ((2 * s3 - 3 * s2 + 1) * f0 + (s3 - 2 * s2 + s) * h * d0 + (-2 * s3 + 3 * s2) * f1
            + (s3 - s2) * h * d1)


def _build(quantile, cdf_fn, f_t: float, horizon: float, n_nodes_min: int) -> DeathTimeTable:
    """Quantile table from an exact quantile function and CDF on ``[0, F(T)]``, refined until accurate."""
    if f_t <= 0.0:
        return DeathTimeTable(quantiles=np.full(n_nodes_min + 1, np.inf), cdf_horizon=0.0, horizon=horizon,
                              max_cdf_error=0.0)
    m = n_nodes_min
    while True:
        u_nodes = np.linspace(0.0, f_t, m + 1)
        q = quantile(u_nodes)
        q[0], q[-1] = 0.0, min(q[-1], horizon)
        # the error of linear interpolation between nodes, in probability, at the midpoints
        err = float(np.max(np.abs(cdf_fn(0.5 * (q[:-1] + q[1:])) - 0.5 * (u_nodes[:-1] + u_nodes[1:]))))
        if err <= CDF_TOLERANCE or m >= _MAX_NODES:
            return DeathTimeTable(quantiles=q, cdf_horizon=f_t, horizon=horizon, max_cdf_error=err)
        m *= 2


def _hermite_inverse(cdf: np.ndarray, pdf: np.ndarray, horizon: float):
    """(quantile, cdf) functions of the cubic Hermite interpolant of exact CDF and density values on the
    uniform grid ``linspace(0, T, K + 1)``."""
    k_steps = cdf.size - 1
    h = horizon / k_steps
    cdf = np.maximum.accumulate(np.clip(cdf, 0.0, 1.0))  # remove rounding-level non-monotonicity

    def hermite_cdf(t: np.ndarray) -> np.ndarray:
        k = np.clip((t / h).astype(np.intp), 0, k_steps - 1)
        s = np.clip(t / h - k, 0.0, 1.0)
        return _hermite(s, cdf[k], cdf[k + 1], pdf[k], pdf[k + 1], h)

    def invert(u: np.ndarray) -> np.ndarray:
        k = np.clip(np.searchsorted(cdf, u, side="right") - 1, 0, k_steps - 1)
        lo, hi = np.zeros_like(u), np.ones_like(u)
        f0, f1, d0, d1 = cdf[k], cdf[k + 1], pdf[k], pdf[k + 1]
        for _ in range(60):  # bisection on the monotone cubic: 2^-60 of a grid step, i.e. machine precision
            mid = 0.5 * (lo + hi)
            below = _hermite(mid, f0, f1, d0, d1, h) < u
            lo = np.where(below, mid, lo)
            hi = np.where(below, hi, mid)
        return (k + 0.5 * (lo + hi)) * h

    return invert, hermite_cdf, float(cdf[-1])


def _time_grid(horizon: float, max_rate: float) -> np.ndarray:
    # h * max_rate <= 0.005 keeps the Hermite error h^4 max|F''''| / 384 below ~1e-12
    k = int(min(max(2048, math.ceil(horizon * max_rate / 0.005)), 1 << 18))
    return np.linspace(0.0, horizon, k + 1)


def _row_powers(p0: np.ndarray, e: np.ndarray, k: int) -> np.ndarray:
    """Rows ``p0 @ e^i`` for ``i = 0..k`` (shape (k + 1, m)), with two levels of stepping."""
    b = max(1, math.isqrt(k + 1))
    small = [np.eye(e.shape[0])]
    for _ in range(b - 1):
        small.append(small[-1] @ e)
    big_step = small[-1] @ e  # e^b
    n_big = -(-(k + 1) // b)
    big = [p0]
    for _ in range(n_big - 1):
        big.append(big[-1] @ big_step)
    rows = np.einsum("jk,ikl->jil", np.array(big), np.array(small)).reshape(-1, e.shape[0])
    return rows[:k + 1]


@functools.lru_cache(maxsize=256)
def response_death_table(process: ResponseProcess, multiplier: float, horizon: float,
                         n_nodes_min: int = _MIN_NODES) -> DeathTimeTable:
    """Table of the mover-stayer death time of ``process`` with all death hazards times ``multiplier``."""
    q = process.generator(multiplier)
    mu = process.death_hazards(multiplier)
    pi = process.refractory_fraction
    if not np.any(mu > 0):  # nobody dies: exactly, not up to rounding
        return _build(None, None, 0.0, float(horizon), n_nodes_min)
    grid = _time_grid(horizon, float(np.max(-np.diag(q))))
    # Exact transition probabilities from NR at every grid time t_k = k h: p0 expm(Q h)^k, the powers built in
    # two levels (k = j b + i, b ~ sqrt(K)) so each value is the product of at most ~2 sqrt(K) matrices
    # (rounding ~1e-14) and only one matrix exponential is needed.
    step = expm(q * (grid[1] - grid[0]))  # model.expm: avoids scipy 1.17's inaccurate triangular path
    p = _row_powers(np.eye(4)[NR], step, grid.size - 1)
    stay = np.exp(-mu[NR] * grid)
    cdf = (1 - pi) * p[:, DEAD] + pi * (1 - stay)
    pdf = (1 - pi) * (p[:, :DEAD] @ mu) + pi * mu[NR] * stay
    invert, hermite_cdf, f_t = _hermite_inverse(cdf, pdf, float(horizon))
    return _build(invert, hermite_cdf, f_t, float(horizon), n_nodes_min)
