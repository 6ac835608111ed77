"""Restricted mean survival time: the area under the Kaplan-Meier curve up to tau, and its two-group contrast."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special

from ..exceptions import invalid
from ..model.display import Tabular
from ..model.validation import check_level, check_number
from .checks import as_events, as_labels, as_times
from .product_limit import survival_table
from ..exceptions import TrialsimWarning

__all__ = ["RMSTResult", "RMSTDifferenceResult", "rmst", "rmst_difference"]


@dataclass(frozen=True, kw_only=True, slots=True)
class RMSTResult(Tabular):
    """Restricted mean survival time up to ``tau`` with its standard error and normal confidence interval.

    ``extrapolated`` is True when ``tau`` lies beyond the last observed time and the curve was carried flat to
    ``tau`` (a :class:`TrialsimWarning` was issued).
    """

    estimate: float
    std_err: float
    ci_low: float
    ci_high: float
    tau: float
    confidence_level: float
    extrapolated: bool


@dataclass(frozen=True, kw_only=True, slots=True)
class RMSTDifferenceResult(Tabular):
    """RMST of the second group minus the first (groups in sorted label order), with its test.

    ``z = difference / std_err`` and ``pvalue`` is two-sided; ``rmst`` holds each group's :class:`RMSTResult`.
    """

    difference: float
    std_err: float
    ci_low: float
    ci_high: float
    z: float
    pvalue: float
    groups: np.ndarray
    rmst: tuple[RMSTResult, RMSTResult]
    tau: float
    confidence_level: float


def _rmst(time: np.ndarray, event: np.ndarray, tau: float, level: float) -> RMSTResult:
    times, n_risk, deaths, survival = survival_table(time, event)
    keep = times <= tau
    times, n_risk, deaths, survival = times[keep], n_risk[keep], deaths[keep], survival[keep]
    # step function: S = 1 on [0, t_1), S_j on [t_j, t_{j+1}), the last level up to tau
    edges = np.concatenate(([0.0], times, [tau]))
    levels = np.concatenate(([1.0], survival))
    areas = np.diff(edges) * levels
    estimate = float(areas.sum())
    # A_j = area from t_j to tau; Greenwood-type variance sum_j A_j^2 d_j / (n_j (n_j - d_j)), a term with n = d
    # (S drops to 0) counted as 0 as in survRM2
    tail = np.cumsum(areas[::-1])[::-1][1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(n_risk > deaths, deaths / (n_risk * (n_risk - deaths)), 0.0)
    std_err = float(math.sqrt(np.sum(tail ** 2 * terms)))
    z = float(special.ndtri(1 - (1 - level) / 2))
    extrapolated = bool(tau > time.max() and (survival.size == 0 or survival[-1] > 0))
    return RMSTResult(estimate=estimate, std_err=std_err, ci_low=estimate - z * std_err,
                      ci_high=estimate + z * std_err, tau=tau, confidence_level=level, extrapolated=extrapolated)


def _warn_extrapolated(result: RMSTResult, where: str) -> None:
    if result.extrapolated:
        import warnings

        warnings.warn(f"`tau` ({result.tau:g}) is beyond the last observed time{where}; the Kaplan-Meier curve "
                      "was carried flat to tau", TrialsimWarning, stacklevel=3)


def rmst(time, event, tau: float, *, confidence_level: float = 0.95) -> RMSTResult:
    r"""Restricted mean survival time :math:`\int_0^\tau \hat S(t)\,dt` with its standard error.

    Parameters
    ----------
    time, event : array_like, shape (n,)
        Follow-up times and event indicators.
    tau : float
        Truncation time, > 0.
    confidence_level : float

    Returns
    -------
    RMSTResult

    Warns
    -----
    TrialsimWarning
        If ``tau`` exceeds the last observed time while S > 0 there: the curve is carried flat to tau
        (R's ``print(survfit, rmean=tau)`` does the same; survRM2 refuses).

    Notes
    -----
    With event times :math:`t_j \le \tau` and :math:`A_j = \int_{t_j}^{\tau} \hat S(u)\,du`,

    .. math:: \widehat{\mathrm{Var}} = \sum_j A_j^2 \frac{d_j}{n_j (n_j - d_j)},

    the delta-method (Greenwood) variance used by the R package survRM2; the interval is normal.

    References
    ----------
    Royston P, Parmar MKB (2013). BMC Med Res Methodol 13:152. Uno H et al. (2014). J Clin Oncol 32:2380-2385.
    """
    time_ = as_times("time", time, ndim=1)
    event_ = as_events("event", event, time_.shape)
    tau = check_number("tau", tau, low=0.0, low_open=True)
    result = _rmst(time_, event_, tau, check_level("confidence_level", confidence_level))
    _warn_extrapolated(result, "")
    return result


def rmst_difference(time, event, group, tau: float, *, confidence_level: float = 0.95) -> RMSTDifferenceResult:
    r"""Difference in restricted mean survival time between two groups (second label minus first).

    The standard error is :math:`\sqrt{v_0 + v_1}` from the two independent samples; ``z`` and the two-sided
    ``pvalue`` refer the difference to the normal distribution (survRM2's ``rmst2`` contrast).
    """
    time_ = as_times("time", time, ndim=1)
    event_ = as_events("event", event, time_.shape)
    labels, codes = as_labels("group", group, time_.size)
    if labels.size != 2:
        raise invalid("group", "must have exactly two groups", labels.tolist())
    tau = check_number("tau", tau, low=0.0, low_open=True)
    level = check_level("confidence_level", confidence_level)
    parts = (_rmst(time_[codes == 0], event_[codes == 0], tau, level),
             _rmst(time_[codes == 1], event_[codes == 1], tau, level))
    for label, part in zip(labels, parts):
        _warn_extrapolated(part, f" of group {str(label)!r}")
    difference = parts[1].estimate - parts[0].estimate
    std_err = math.sqrt(parts[0].std_err ** 2 + parts[1].std_err ** 2)
    zq = float(special.ndtri(1 - (1 - level) / 2))
    if std_err > 0:
        z = difference / std_err
        pvalue = float(special.chdtrc(1, z * z))
    else:
        from .checks import warn_degenerate

        warn_degenerate("RMST difference has zero standard error (no events before tau): z 0, pvalue 1")
        z, pvalue = 0.0, 1.0
    return RMSTDifferenceResult(difference=difference, std_err=std_err, ci_low=difference - zq * std_err,
                                ci_high=difference + zq * std_err, z=z, pvalue=pvalue, groups=labels, rmst=parts,
                                tau=tau, confidence_level=level)
