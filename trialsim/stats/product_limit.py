"""Kaplan-Meier estimate with Greenwood errors, R's three confidence intervals and R's quantile rule."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import special

from ..exceptions import invalid
from ..model.validation import check_choice, check_level, check_number
from .checks import as_codes, as_events, as_times, warn_degenerate
from .kernels import km_at

__all__ = ["KaplanMeierResult", "SurvivalQuantile", "kaplan_meier", "km_survival_at_batch", "survival_table"]

ConfType = Literal["log", "log-log", "plain"]
_CONF_TYPES: tuple[ConfType, ...] = ("log", "log-log", "plain")
# R's quantile.survfit: a curve within this distance of the target probability counts as on it
_QUANTILE_TOLERANCE = math.sqrt(np.finfo(float).eps)


@dataclass(frozen=True, kw_only=True, slots=True)
class SurvivalQuantile:
    """A quantile of the survival time: the time by which a share ``probability`` has had the event.

    ``ci_low`` and ``ci_high`` are where the confidence band's lower and upper curves cross the same level
    (Brookmeyer-Crowley); NaN where a curve does not reach it (R prints ``NA``).
    """

    probability: float
    estimate: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True, kw_only=True, slots=True)
class KaplanMeierResult:
    """Kaplan-Meier estimate at the distinct event times.

    Attributes
    ----------
    time, n_at_risk, n_events : ndarray
        Distinct event times, the number at risk just before each and the events at each.
    survival : ndarray
        S(t) at each event time.
    std_err : ndarray
        Greenwood standard error of S(t), on the survival scale (R's ``summary(survfit)`` column ``std.err``).
        NaN where S(t) = 0, as R prints it (the Greenwood sum is infinite there).
    ci_low, ci_high : ndarray
        Pointwise confidence limits of the chosen ``conf_type``; NaN where S(t) = 0 (R prints ``NA``).
    conf_type, confidence_level : str, float
    n : int
        Number of observations.
    max_time : float
        Largest observed time (event or censoring): the curve is defined up to here.
    """

    time: np.ndarray
    n_at_risk: np.ndarray
    n_events: np.ndarray
    survival: np.ndarray
    std_err: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    conf_type: str
    confidence_level: float
    n: int
    max_time: float

    def survival_at(self, t: float | np.ndarray) -> np.ndarray | float:
        """S(t) of the right-continuous step function, vectorised over ``t``.

        S(t) = 1 before the first event time (and for t < 0); beyond ``max_time`` the last value is carried
        forward (the estimate is not defined there, and this is R's ``summary(..., extend=TRUE)`` value).
        """
        arr = np.asarray(t, dtype=np.float64)
        if np.isnan(arr).any():
            raise invalid("t", "must not be NaN", t)
        index = np.searchsorted(self.time, arr, side="right")
        values = np.concatenate(([1.0], self.survival))[index]
        return float(values) if values.ndim == 0 else values

    def quantile(self, probability: float) -> SurvivalQuantile:
        """Time by which a share ``probability`` has had the event, with its confidence limits.

        Follows R's ``quantile.survfit``: the first time the curve reaches 1 - ``probability``; where the
        curve is flat at exactly that level (within sqrt(machine epsilon)), the midpoint of the flat part;
        NaN when the curve never gets there. The limits apply the same rule to the confidence band.
        """
        p = check_number("probability", probability, low=0.0, high=1.0)
        x = np.concatenate(([0.0], self.time))
        estimate = _findq(x, np.concatenate(([0.0], 1.0 - self.survival)), p, self.max_time)
        # the lower curve reaches the level first, so it gives the lower limit of the quantile
        low = _findq(x, np.concatenate(([0.0], 1.0 - self.ci_low)), p, self.max_time)
        high = _findq(x, np.concatenate(([0.0], 1.0 - self.ci_high)), p, self.max_time)
        return SurvivalQuantile(probability=p, estimate=estimate, ci_low=low, ci_high=high)

    def median(self) -> SurvivalQuantile:
        """Median survival time and its confidence limits, as R's ``print(survfit)`` reports them."""
        return self.quantile(0.5)

    def _repr_html_(self) -> str:
        """What Jupyter shows: :meth:`to_frame` as a compact HTML table."""
        return str(self.to_frame().to_html(index=False))

    def to_frame(self):
        """The survival table as a pandas DataFrame (R's ``summary(survfit)`` columns)."""
        import pandas as pd

        return pd.DataFrame({"time": self.time, "n_at_risk": self.n_at_risk, "n_events": self.n_events,
                             "survival": self.survival, "std_err": self.std_err, "ci_low": self.ci_low,
                             "ci_high": self.ci_high})


def _findq(x: np.ndarray, y: np.ndarray, p: float, xmax: float) -> float:
    """R's ``findq`` (survival, quantile.survfit.R): where the step curve ``y`` (1 - S) first reaches ``p``."""
    tol = _QUANTILE_TOLERANCE
    finite = y[~np.isnan(y)]
    if finite.size == 0 or finite.max() < p:
        return math.nan
    # drop repeated levels (censoring, capped limits), keeping the first; R's approx then drops NA levels
    _, first = np.unique(y, return_index=True)
    first.sort()
    x, y = x[first], y[first]
    last_level = y[-1]
    keep = ~np.isnan(y)
    xs, ys = x[keep], y[keep]

    def index(levels: np.ndarray) -> int | None:
        # approx(levels, 1:n, p, method="constant", f=1): the node at or just above p, if p is in range
        if p < levels.min() or p > levels.max():
            return None
        above = np.flatnonzero(levels >= p)
        return int(above[np.argmin(levels[above])])

    i1, i2 = index(ys + tol), index(ys - tol)
    if p == 0:
        return float(xs[0])
    if not np.isnan(last_level) and abs(p - last_level) < tol and i1 is not None:
        return float((xs[i1] + xmax) / 2)      # flat at the level up to the end of follow-up
    if i1 is None or i2 is None:
        return math.nan
    return float((xs[i1] + xs[i2]) / 2)


def survival_table(time: np.ndarray, event: np.ndarray) -> tuple[np.ndarray, ...]:
    """Distinct event times with n at risk and events, and the KM factors' running product (1-D input)."""
    times, inverse, counts = np.unique(time, return_inverse=True, return_counts=True)
    deaths = np.bincount(inverse.reshape(-1), weights=event.astype(np.float64), minlength=times.size)
    n_risk = np.cumsum(counts[::-1])[::-1].astype(np.float64)
    keep = deaths > 0
    times, n_risk, deaths = times[keep], n_risk[keep], deaths[keep]
    # (n - d) / n multiplied in time order, as survfit (and the batch kernels) multiply them
    survival = np.cumprod((n_risk - deaths) / n_risk)
    return times, n_risk, deaths, survival


def kaplan_meier(time, event, *, conf_type: ConfType = "log", confidence_level: float = 0.95
                 ) -> KaplanMeierResult:
    r"""Kaplan-Meier estimate of the survival function with Greenwood standard errors.

    Parameters
    ----------
    time : array_like, shape (n,)
        Follow-up times, finite and >= 0.
    event : array_like, shape (n,)
        1 (or True) for an event, 0 for censoring.
    conf_type : {"log", "log-log", "plain"}
        Scale of the pointwise confidence interval, as R's ``survfit`` (default "log", R's default).
    confidence_level : float
        In (0, 1).

    Returns
    -------
    KaplanMeierResult

    Notes
    -----
    At the distinct event times :math:`t_j` with :math:`n_j` at risk and :math:`d_j` events,

    .. math::  \hat S(t) = \prod_{t_j \le t} (1 - d_j / n_j), \qquad
               \sigma^2(t) = \sum_{t_j \le t} \frac{d_j}{n_j (n_j - d_j)},

    where :math:`\sigma` is Greenwood's standard error of :math:`\log \hat S` and ``std_err`` is
    :math:`\hat S \sigma`. With :math:`z = \Phi^{-1}((1 + \text{level}) / 2)` the limits are:
    plain :math:`\hat S (1 \pm z \sigma)` clipped to [0, 1]; log :math:`\hat S e^{\pm z \sigma}`, upper capped
    at 1; log-log :math:`\exp(-\exp(\log(-\log \hat S) \mp z\sigma / \log \hat S))`. These are R's
    ``survfit`` formulas (survival 3.x, ``survfit_confint``). Ties: all events at a time count together and
    censorings at that time are still at risk. No events gives S = 1 throughout (empty event-time arrays).

    References
    ----------
    Kaplan EL, Meier P (1958). JASA 53:457-481. Greenwood M (1926). Reports on Public Health 33.
    Klein JP, Moeschberger ML (2003). Survival Analysis, 2nd ed., sections 4.2-4.5.
    Brookmeyer R, Crowley J (1982). Biometrics 38:29-41 (confidence limits of the median).

    Examples
    --------
    >>> km = kaplan_meier([9, 13, 13, 18, 23], [1, 1, 0, 1, 1])
    >>> km.survival.round(4).tolist()
    [0.8, 0.6, 0.3, 0.0]
    >>> km.median().estimate
    18.0
    """
    time_ = as_times("time", time, ndim=1)
    event_ = as_events("event", event, time_.shape)
    conf_type = check_choice("conf_type", conf_type, _CONF_TYPES)
    level = check_level("confidence_level", confidence_level)
    times, n_risk, deaths, survival = survival_table(time_, event_)
    with np.errstate(divide="ignore", invalid="ignore"):
        # n = d makes the Greenwood term infinite (S = 0 there); R then prints NaN for std.err and NA limits
        greenwood = np.cumsum(deaths / (n_risk * (n_risk - deaths)))
        sigma = np.sqrt(greenwood)
        std_err = np.where(survival > 0, survival * sigma, np.nan)
        low, high = _confidence_limits(survival, sigma, conf_type, level)
    return KaplanMeierResult(time=times, n_at_risk=n_risk, n_events=deaths, survival=survival, std_err=std_err,
                             ci_low=low, ci_high=high, conf_type=conf_type, confidence_level=level,
                             n=int(time_.size), max_time=float(time_.max()))


def _confidence_limits(s: np.ndarray, sigma: np.ndarray, conf_type: str, level: float
                       ) -> tuple[np.ndarray, np.ndarray]:
    z = special.ndtri(1 - (1 - level) / 2)
    s = np.where(s > 0, s, np.nan)
    if conf_type == "plain":
        half = z * sigma * s
        return np.maximum(s - half, 0.0), np.minimum(s + half, 1.0)
    if conf_type == "log":
        return np.exp(np.log(s) - z * sigma), np.minimum(np.exp(np.log(s) + z * sigma), 1.0)
    s = np.where(s < 1, s, np.nan)
    shift = z * sigma / np.log(s)
    loglog = np.log(-np.log(s))
    return np.exp(-np.exp(loglog - shift)), np.exp(-np.exp(loglog + shift))


def km_survival_at_batch(time, event, t, *, group=None, n_groups: int | None = None) -> np.ndarray:
    """Kaplan-Meier S(t) for each replicate of a batch (and each group), without a loop over replicates.

    Parameters
    ----------
    time, event : array_like, shape (R, n)
        Replicates x patients.
    t : float or array_like, shape (R,)
        The time point (>= 0 or ``inf``), one for all replicates or one per replicate.
    group : array_like, shape (R, n), optional
        Integer group codes ``0..n_groups-1``; then S(t) is estimated within each group.
    n_groups : int, optional
        Number of groups (default: the largest code + 1). Fixes the output width when a group may be absent.

    Returns
    -------
    ndarray, shape (R,) without ``group``, (R, n_groups) with it
        Equal to ``kaplan_meier(time[i][m], event[i][m]).survival_at(t)`` to the last bit. Beyond a group's last
        follow-up time the last value is carried forward.

    Warns
    -----
    DegenerateStatisticWarning
        Once per call if a group has no patients in some replicate; S(t) is NaN there (undefined; NaN compares
        false, so it never counts as a success).
    """
    time_ = as_times("time", time, ndim=2)
    event_ = as_events("event", event, time_.shape)
    t_ = np.asarray(t, dtype=np.float64)
    if t_.ndim > 1 or (t_.ndim == 1 and t_.shape[0] != time_.shape[0]):
        raise invalid("t", f"must be a scalar or have one value per replicate ({time_.shape[0]})",
                      f"shape {t_.shape}")
    if np.isnan(t_).any() or (t_ < 0).any():
        raise invalid("t", "must be >= 0 (inf allowed)", t)
    if group is None:
        if n_groups not in (None, 1):
            raise invalid("n_groups", "needs `group`", n_groups)
        survival, _ = km_at(time_, event_, None, 1, t_)
        return survival[:, 0]
    if n_groups is not None and (not isinstance(n_groups, (int, np.integer)) or isinstance(n_groups, bool)
                                 or n_groups < 1):
        raise invalid("n_groups", "must be a positive integer", n_groups)
    codes = as_codes("group", group, time_.shape, n_codes=n_groups)
    k = int(codes.max()) + 1 if n_groups is None else int(n_groups)
    survival, sizes = km_at(time_, event_, codes, k, t_)
    empty = sizes == 0
    if empty.any():
        survival[empty] = np.nan
        warn_degenerate(f"Kaplan-Meier S(t) undefined for an empty group in {int(empty.any(axis=1).sum())} "
                        f"replicates: NaN there")
    return survival
