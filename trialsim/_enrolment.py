"""Enrolment draws shared by the engines: accrual times, baseline covariates and permuted-block allocation.

Each function is a pure function of its arguments and draws from the ``rng`` it is given, with shapes that do
not depend on the values drawn, so a chunk's streams are consumed identically whatever the engine does next.
"""

from __future__ import annotations

import numpy as np

from .model import Accrual, BaselineMix, Trial

__all__ = ["accrual_times", "baseline_covariates", "permuted_block_arms"]


def accrual_times(accrual: Accrual, n_replicates: int, n: int, *, rng: np.random.Generator) -> np.ndarray:
    """Calendar enrolment times, shape ``(R, n)``, non-decreasing along each row.

    ``instant``: all zero (no draws). ``poisson``: ``T_k = (E_1 + ... + E_k) / rate``. ``piecewise``: the
    same unit-rate arrivals mapped through the inverse of the cumulative intensity
    ``Lambda(t) = sum_j rates[j] * |[starts[j], starts[j+1]) intersect [0, t)|`` (time change of a Poisson
    process), so that arrivals in piece ``j`` come at rate ``rates[j]``.
    """
    if accrual.kind == "instant":
        return np.zeros((n_replicates, n))
    arrivals = np.cumsum(rng.standard_exponential((n_replicates, n)), axis=1)
    rates, starts = accrual.piecewise()
    if rates.size == 1:
        return arrivals / rates[0]
    lengths = np.diff(starts)
    cum_at_start = np.concatenate(([0.0], np.cumsum(rates[:-1] * lengths)))
    # side="right" skips pieces of zero rate (flat Lambda): the last start with Lambda <= target has rate > 0
    # (Accrual requires the open last piece to have a positive rate).
    k = np.searchsorted(cum_at_start, arrivals, side="right") - 1
    return starts[k] + (arrivals - cum_at_start[k]) / rates[k]


def baseline_covariates(baseline: BaselineMix, n_replicates: int, n: int, *,
                        rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``(stratum int8 (R, n), female bool (R, n))``: disease by inversion of one uniform, sex by another."""
    u = rng.random((2, n_replicates, n))
    cum = np.cumsum(baseline.disease_fractions)
    stratum = np.minimum(np.searchsorted(cum, u[0], side="right"), len(cum) - 1).astype(np.int8)
    female = u[1] < baseline.female_fraction
    return stratum, female


def permuted_block_arms(trial: Trial, stratum: np.ndarray, *, n_strata: int,
                        rng: np.random.Generator) -> np.ndarray:
    """Arm of each patient (int8, shape of ``stratum``) by permuted blocks, in order of enrolment.

    A block of size ``B`` holds arm ``a`` exactly ``B * allocation[a] / sum(allocation)`` times, in random
    order. Unstratified: one sequence of blocks per trial. Stratified: one sequence per stratum, and the k-th
    patient of a stratum gets that stratum's k-th assignment, so every stratum's arm counts differ from the
    allocation ratio by less than one block. Always ``ceil(n / B)`` blocks per sequence are drawn (for every
    stratum when stratified), so the stream is consumed the same way whatever the strata turn out to be.
    """
    n_replicates, n = stratum.shape
    block = trial.effective_block_size
    pattern = np.repeat(np.arange(trial.n_arms, dtype=np.int8), trial.allocation)
    pattern = np.tile(pattern, block // pattern.size)
    n_blocks = -(-n // block)
    n_lists = n_strata if trial.stratified else 1
    lists = np.broadcast_to(pattern, (n_replicates, n_lists, n_blocks, block)).copy()
    lists = rng.permuted(lists, axis=3).reshape(n_replicates, n_lists, n_blocks * block)
    if not trial.stratified:
        return lists[:, 0, :n]
    # Position of each patient within their stratum (0 for the stratum's first patient, ...).
    onehot = stratum[:, :, None] == np.arange(n_strata)
    rank = (np.cumsum(onehot, axis=1) - 1)[onehot].reshape(n_replicates, n)
    rows = np.arange(n_replicates)[:, None]
    return lists[rows, stratum, rank]
