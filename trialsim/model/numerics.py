"""Numerical building blocks shared by every layer: the matrix exponential and the exact binomial interval.

They sit at the bottom of the package because the calibration (this layer) and the statistics (the layer
above) both need them, and each exists once.
"""

from __future__ import annotations

import numpy as np
from scipy import special

__all__ = ["expm", "clopper_pearson"]


def expm(a: np.ndarray) -> np.ndarray:
    """``scipy.linalg.expm`` (stacked arrays too) through an orthogonal similarity: ``H expm(H A H) H``.

    scipy 1.17's expm has a fast path for triangular matrices that loses accuracy when two diagonal entries
    nearly coincide (error 0.03 when equal); a generator without relapse is triangular and equal exit rates are
    a legitimate model. A Householder reflector ``H`` makes the matrix full, which avoids that path.
    """
    from scipy.linalg import expm as scipy_expm  # scipy.linalg is slow to import; only calibration needs it

    a = np.asarray(a, dtype=float)
    v = np.arange(1.0, a.shape[-1] + 1.0)
    h = np.eye(a.shape[-1]) - 2.0 * np.outer(v, v) / (v @ v)
    return h @ scipy_expm(h @ a @ h) @ h


def clopper_pearson(x, n, lower_tail: float, upper_tail: float) -> tuple[np.ndarray, np.ndarray]:
    """Clopper-Pearson bounds for ``x`` successes in ``n`` trials (vectorised), as R's ``binom.test``.

    The lower bound leaves ``lower_tail`` below it and the upper bound ``upper_tail`` above it:
    :math:`[B(\\alpha_L; x, n - x + 1), B(1 - \\alpha_U; x + 1, n - x)]` with B the beta quantile, exactly 0
    for x = 0 and 1 for x = n. A two-sided 95% interval is ``clopper_pearson(x, n, 0.025, 0.025)``; a tail of 0
    gives the bound 0 (or 1), the one-sided intervals.

    References
    ----------
    Clopper CJ, Pearson ES (1934). The use of confidence or fiducial limits illustrated in the case of the
    binomial. Biometrika 26, 404-413.
    """
    x = np.asarray(x, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        low = np.where((x > 0) & (lower_tail > 0), special.betaincinv(x, n - x + 1, lower_tail), 0.0)
        high = np.where((x < n) & (upper_tail > 0), special.betaincinv(x + 1, n - x, 1 - upper_tail), 1.0)
    return low, high
