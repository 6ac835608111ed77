"""The log-rank test (stratified, Fleming-Harrington weighted), for one data set or a batch of trials, and the
one-sample log-rank test against a known cumulative hazard."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import special

from ..exceptions import invalid
from ..model.display import Tabular
from ..model.validation import check_choice, check_number
from .checks import as_codes, as_events, as_labels, as_times, check_same_shape, warn_degenerate
from .kernels import MAX_PATIENTS, logrank_k_groups, logrank_two_groups

__all__ = ["LogRankResult", "LogRankBatchResult", "OneSampleLogRankResult", "logrank", "logrank_batch",
           "one_sample_logrank", "one_sample_logrank_batch"]

Alternative = Literal["two-sided", "less", "greater"]
_ALTERNATIVES: tuple[Alternative, ...] = ("two-sided", "less", "greater")


@dataclass(frozen=True, kw_only=True, slots=True)
class LogRankResult(Tabular):
    """Result of :func:`logrank` (R's ``survdiff``).

    Attributes
    ----------
    statistic : float
        Chi-square statistic, (O - E)' V^- (O - E) with the first group dropped.
    df : int
        Degrees of freedom: the number of groups with positive expected events, minus one.
    pvalue : float
        Upper tail of chi-square(df) at ``statistic``.
    z : float
        Two groups only: (O - E) / sqrt(V) for the second group (positive: the second group has more events
        than expected, so the first group does better). NaN for more than two groups.
    groups : ndarray
        The group labels, sorted; the order of ``observed``, ``expected`` and ``variance``.
    n_per_group : ndarray
    observed, expected : ndarray
        Weighted observed and expected events per group, summed over strata (R's ``obs`` and ``exp``).
    variance : ndarray
        Covariance matrix of observed - expected (K x K).
    rho, gamma : float
        Fleming-Harrington weight exponents.
    n_strata : int
    degenerate : bool
        True when the test is undefined (no events, fewer than two groups with expected events, or zero
        variance); then ``statistic`` is 0, ``pvalue`` 1 and a :class:`DegenerateStatisticWarning` was issued.
    """

    statistic: float
    df: int
    pvalue: float
    z: float
    groups: np.ndarray
    n_per_group: np.ndarray
    observed: np.ndarray
    expected: np.ndarray
    variance: np.ndarray
    rho: float
    gamma: float
    n_strata: int
    degenerate: bool


@dataclass(frozen=True, kw_only=True, slots=True)
class LogRankBatchResult:
    """Result of :func:`logrank_batch`: one two-group log-rank test per replicate (arrays of length R).

    ``statistic`` is chi-square (1 df), ``z = (O_1 - E_1) / sqrt(V)`` (positive: group 1 has more events than
    expected, i.e. group 0 is better), ``pvalue`` two-sided, ``observed`` and ``expected`` (R, 2),
    ``variance`` the variance of O_1 - E_1. ``degenerate`` marks replicates with V = 0, which get statistic 0,
    z 0 and pvalue 1.
    """

    statistic: np.ndarray
    z: np.ndarray
    pvalue: np.ndarray
    observed: np.ndarray
    expected: np.ndarray
    variance: np.ndarray
    degenerate: np.ndarray
    rho: float
    gamma: float

    @property
    def n_replicates(self) -> int:
        return int(self.statistic.shape[0])


@dataclass(frozen=True, kw_only=True, slots=True)
class OneSampleLogRankResult(Tabular):
    """Result of the one-sample log-rank test (scalars, or arrays of length R for the batch form).

    ``observed`` events O, ``expected`` events E (the summed null cumulative hazards), ``z = (O - E) / sqrt(E)``
    (negative: fewer events than the null predicts), ``statistic = z**2`` and ``pvalue`` for
    ``alternative``. Where E = 0 the test is degenerate: z 0, pvalue 1.
    """

    observed: np.ndarray | float
    expected: np.ndarray | float
    z: np.ndarray | float
    statistic: np.ndarray | float
    pvalue: np.ndarray | float
    alternative: str
    degenerate: np.ndarray | bool


def _check_weights(rho: float, gamma: float) -> tuple[float, float]:
    return check_number("rho", rho, low=0.0), check_number("gamma", gamma, low=0.0)


def _chi2_1_sf(statistic):
    """Upper tail of chi-square(1): erfc(sqrt(x / 2)), some 20 times faster than ``chdtrc(1, x)``."""
    return special.erfc(np.sqrt(np.asarray(statistic) / 2.0))


def logrank(time, event, group, *, strata=None, rho: float = 0.0, gamma: float = 0.0) -> LogRankResult:
    r"""Log-rank test of equal survival in K groups; stratified and Fleming-Harrington weighted forms.

    Parameters
    ----------
    time : array_like, shape (n,)
        Follow-up times, finite and >= 0.
    event : array_like, shape (n,)
        1 (or True) for an event, 0 for censoring.
    group : array_like, shape (n,)
        Group labels (any sortable values); groups are ordered by sorted label.
    strata : array_like, shape (n,), optional
        Stratum labels: the test sums observed, expected and variance over strata (R's ``strata()`` term).
    rho, gamma : float
        Fleming-Harrington G(rho, gamma) weights :math:`w(t) = \hat S(t-)^\rho (1 - \hat S(t-))^\gamma`, with
        :math:`\hat S` the pooled Kaplan-Meier estimate of the stratum. ``rho=1`` is the Peto-Peto test
        (R's ``survdiff(rho=1)``); the default is the log-rank test.

    Returns
    -------
    LogRankResult

    Warns
    -----
    DegenerateStatisticWarning
        No events, fewer than two groups with expected events, or zero variance: statistic 0, pvalue 1.

    Notes
    -----
    At each distinct event time with :math:`n` at risk, :math:`d` events, :math:`n_k` at risk and
    :math:`d_k` events in group k:

    .. math:: O_k = \sum w d_k, \quad E_k = \sum w d n_k / n, \quad
              V_{jk} = \sum w^2 \frac{d (n - d)}{n - 1} \frac{n_j}{n}\left(\delta_{jk} - \frac{n_k}{n}\right),

    the hypergeometric variance that handles ties as R's ``survdiff`` does. The statistic is
    :math:`(O - E)^\top V^{-1} (O - E)` over all groups but the first (those with :math:`E_k > 0`).

    References
    ----------
    Mantel N (1966). Cancer Chemother Rep 50:163-170. Peto R, Peto J (1972). JRSS A 135:185-207.
    Harrington DP, Fleming TR (1982). Biometrika 69:553-566. R package survival, ``survdiff``.

    Examples
    --------
    >>> res = logrank([1, 3, 4, 6, 8, 9], [1, 1, 0, 1, 1, 1], ["a", "b", "a", "b", "a", "b"])
    >>> round(res.statistic, 4), res.df
    (0.0739, 1)
    """
    time_ = as_times("time", time, ndim=1)
    n = time_.size
    event_ = as_events("event", event, time_.shape)
    labels, codes = as_labels("group", group, n)
    rho, gamma = _check_weights(rho, gamma)
    if strata is None:
        strata_codes, n_strata = None, 1
    else:
        strata_labels, strata_codes = as_labels("strata", strata, n)
        n_strata = strata_labels.size
    k = labels.size
    n_per_group = np.bincount(codes, minlength=k)

    if k == 2:
        # the batch kernel with one replicate, so that logrank and logrank_batch agree to the last bit
        o1, e1, wd, v = logrank_two_groups(time_[None], event_[None], codes.astype(np.int8)[None],
                                           None if strata_codes is None else strata_codes[None], n_strata,
                                           rho, gamma)
        observed = np.array([wd[0] - o1[0], o1[0]])
        expected = np.array([wd[0] - e1[0], e1[0]])
        variance = np.array([[v[0], -v[0]], [-v[0], v[0]]])
    else:
        observed, expected, variance = logrank_k_groups(time_, event_, codes, k, strata_codes, rho, gamma)

    z = math.nan
    usable = expected > 0
    df = int(usable.sum()) - 1
    statistic, degenerate = 0.0, False
    if df < 1:
        degenerate = True
    elif k == 2:
        if v[0] > 0:
            z = float((o1[0] - e1[0]) / math.sqrt(v[0]))
            statistic = float((o1[0] - e1[0]) ** 2 / v[0])
        else:
            degenerate = True
    else:
        diff = (observed - expected)[usable][1:]
        sub = variance[np.ix_(usable, usable)][1:, 1:]
        try:
            statistic = float(diff @ np.linalg.solve(sub, diff))
        except np.linalg.LinAlgError:
            degenerate = True
    if degenerate:
        statistic = 0.0
        z = 0.0 if k == 2 else math.nan
        warn_degenerate("log-rank test is degenerate (no events, fewer than two groups with expected events, "
                        "or zero variance): statistic 0, pvalue 1")
        pvalue = 1.0
    else:
        # the same function as logrank_batch for one degree of freedom, so the two agree to the last bit
        pvalue = float(_chi2_1_sf(statistic)) if df == 1 else float(special.chdtrc(df, statistic))
    return LogRankResult(statistic=statistic, df=max(df, 0), pvalue=pvalue, z=z, groups=labels,
                         n_per_group=n_per_group, observed=observed, expected=expected, variance=variance,
                         rho=rho, gamma=gamma, n_strata=n_strata, degenerate=degenerate)


def _batch_inputs(time, event, group) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    time_ = as_times("time", time, ndim=2)
    if time_.shape[1] > MAX_PATIENTS:
        raise invalid("time", f"must have at most {MAX_PATIENTS} patients per replicate for the batch form "
                      "(use the scalar function)", time_.shape[1])
    event_ = as_events("event", event, time_.shape)
    group_ = as_codes("group", group, time_.shape, n_codes=2).astype(np.int8)
    return time_, event_, group_


def logrank_batch(time, event, group, *, strata=None, rho: float = 0.0, gamma: float = 0.0
                  ) -> LogRankBatchResult:
    """Two-group log-rank test on each replicate of a batch, without a loop over replicates.

    Parameters
    ----------
    time, event : array_like, shape (R, n)
        Replicates x patients, as :func:`logrank` takes them one replicate at a time.
    group : array_like, shape (R, n)
        Group codes 0 and 1.
    strata : array_like, shape (R, n), optional
        Non-negative integer stratum codes (e.g. ``TrialBatch.stratum``).
    rho, gamma : float
        Fleming-Harrington weights, as in :func:`logrank`.

    Returns
    -------
    LogRankBatchResult
        Equal, replicate by replicate and to the last bit, to :func:`logrank` on that replicate.

    Warns
    -----
    DegenerateStatisticWarning
        Once per call if any replicate has V = 0 (no events, an empty group, ...); those replicates get
        statistic 0, z 0 and pvalue 1, so they never count as rejections.

    Notes
    -----
    Each row is sorted once as packed 64-bit keys and tie groups are resolved with cumulative sums; see
    ``trialsim/stats/kernels.py``. Throughput is in ``benchmarks/bench_estimators.py``.

    Examples
    --------
    >>> res = logrank_batch([[1, 3, 4, 6, 8, 9]], [[1, 1, 0, 1, 1, 1]], [[0, 1, 0, 1, 0, 1]])
    >>> res.statistic.round(4).tolist(), res.z.round(4).tolist()
    ([0.0739], [-0.2719])
    """
    time_, event_, group_ = _batch_inputs(time, event, group)
    rho, gamma = _check_weights(rho, gamma)
    strata_codes, n_strata = None, 1
    if strata is not None:
        strata_codes = as_codes("strata", strata, time_.shape)
        n_strata = int(strata_codes.max()) + 1
        if n_strata > time_.shape[1] * 4 + 64:
            # sparse large codes would waste key bits and bincount cells: renumber them densely
            _, inverse = np.unique(strata_codes, return_inverse=True)
            strata_codes = inverse.reshape(time_.shape).astype(np.int64)
            n_strata = int(strata_codes.max()) + 1
    o1, e1, wd, v = logrank_two_groups(time_, event_, group_, strata_codes, n_strata, rho, gamma)
    degenerate = ~(v > 0)
    safe_v = np.where(degenerate, 1.0, v)
    z = np.where(degenerate, 0.0, (o1 - e1) / np.sqrt(safe_v))
    statistic = np.where(degenerate, 0.0, (o1 - e1) ** 2 / safe_v)
    pvalue = np.where(degenerate, 1.0, _chi2_1_sf(statistic))
    if degenerate.any():
        warn_degenerate(f"log-rank test degenerate (zero variance: no events or an empty group) in "
                        f"{int(degenerate.sum())} of {degenerate.size} replicates: statistic 0, z 0, pvalue 1")
    return LogRankBatchResult(statistic=statistic, z=z, pvalue=pvalue,
                              observed=np.stack([wd - o1, o1], axis=1), expected=np.stack([wd - e1, e1], axis=1),
                              variance=v, degenerate=degenerate, rho=rho, gamma=gamma)


def _one_sample(observed: np.ndarray, expected: np.ndarray, alternative: str):
    degenerate = ~(expected > 0)
    safe = np.where(degenerate, 1.0, expected)
    z = np.where(degenerate, 0.0, (observed - expected) / np.sqrt(safe))
    if alternative == "two-sided":
        pvalue = _chi2_1_sf(z * z)
    elif alternative == "less":
        pvalue = special.ndtr(z)
    else:
        pvalue = special.ndtr(-z)
    pvalue = np.where(degenerate, 1.0, pvalue)
    if degenerate.any():
        warn_degenerate("one-sample log-rank test degenerate (zero expected events): z 0, pvalue 1", stacklevel=4)
    return degenerate, z, z * z, pvalue


def one_sample_logrank(time, event, expected, *, alternative: Alternative = "two-sided"
                       ) -> OneSampleLogRankResult:
    r"""One-sample log-rank test of observed deaths against a known null cumulative hazard.

    Parameters
    ----------
    time, event : array_like, shape (n,)
        Follow-up times and event indicators.
    expected : array_like, shape (n,)
        The null cumulative hazard :math:`\Lambda_0(t_i)` at each patient's follow-up time (finite, >= 0).
    alternative : {"two-sided", "less", "greater"}
        "less": fewer events than the null predicts (the treatment is better than the historical rate).

    Returns
    -------
    OneSampleLogRankResult

    Notes
    -----
    :math:`O = \sum_i \delta_i`, :math:`E = \sum_i \Lambda_0(t_i)`, :math:`Z = (O - E) / \sqrt{E}`, referred to
    the standard normal. E = 0 is degenerate (warning; z 0, pvalue 1).

    References
    ----------
    Breslow NE (1975). Int Stat Rev 43:45-57. Finkelstein DM, Muzikansky A, Schoenfeld DA (2003). Biometrics
    59:886-892.
    """
    time_ = as_times("time", time, ndim=1)
    event_ = as_events("event", event, time_.shape)
    expected_ = _check_expected(expected, time_.shape)
    alternative = check_choice("alternative", alternative, _ALTERNATIVES)
    o = float(event_.sum())
    e = float(expected_.sum())
    degenerate, z, stat, p = _one_sample(np.array(o), np.array(e), alternative)
    return OneSampleLogRankResult(observed=o, expected=e, z=float(z), statistic=float(stat), pvalue=float(p),
                                  alternative=alternative, degenerate=bool(degenerate))


def one_sample_logrank_batch(time, event, expected, *, alternative: Alternative = "two-sided"
                             ) -> OneSampleLogRankResult:
    """:func:`one_sample_logrank` on each replicate of (R, n) arrays; fields are arrays of length R.

    One :class:`DegenerateStatisticWarning` per call if any replicate has E = 0.
    """
    time_ = as_times("time", time, ndim=2)
    event_ = as_events("event", event, time_.shape)
    expected_ = _check_expected(expected, time_.shape)
    alternative = check_choice("alternative", alternative, _ALTERNATIVES)
    o = event_.sum(axis=1).astype(np.float64)
    e = expected_.sum(axis=1)
    degenerate, z, stat, p = _one_sample(o, e, alternative)
    return OneSampleLogRankResult(observed=o, expected=e, z=z, statistic=stat, pvalue=p, alternative=alternative,
                                  degenerate=degenerate)


def _check_expected(expected, shape: tuple[int, ...]) -> np.ndarray:
    arr = check_same_shape("expected", expected, shape)
    ok = (arr >= 0) & (arr < np.inf)
    if not ok.all():
        bad = arr[~ok].ravel()[0].item()
        raise invalid("expected", "(null cumulative hazards) must be finite and >= 0", bad)
    return arr
