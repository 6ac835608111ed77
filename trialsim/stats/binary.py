"""Binary endpoints: exact binomial test, confidence intervals for a proportion, and two-group tests
(Fisher, Boschloo, chi-square), the latter also vectorised over many simulated tables."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import special

from ..model.display import Tabular
from ..model.numerics import clopper_pearson
from ..exceptions import invalid
from ..model.validation import check_choice, check_count, check_flag, check_level, check_probability
from .checks import warn_degenerate
__all__ = ["BinomialTestResult", "ProportionCIResult", "TwoProportionTestResult", "binomial_pvalues", "binomial_test",
           "proportion_ci", "fisher_exact", "boschloo_exact", "chi_square_test", "two_proportion_pvalues"]

Alternative = Literal["two-sided", "greater", "less"]
BinaryTest = Literal["fisher", "boschloo", "chi2"]
_ALTERNATIVES: tuple[Alternative, ...] = ("two-sided", "greater", "less")
_TESTS: tuple[BinaryTest, ...] = ("fisher", "boschloo", "chi2")


@dataclass(frozen=True, kw_only=True, slots=True)
class BinomialTestResult(Tabular):
    """Exact binomial test of ``x`` successes in ``n`` against ``p0`` (R's ``binom.test``).

    ``ci_low``, ``ci_high``: Clopper-Pearson interval matching ``alternative`` (one-sided for one-sided tests,
    as R reports it).
    """

    x: int
    n: int
    p0: float
    estimate: float
    pvalue: float
    ci_low: float
    ci_high: float
    alternative: str
    confidence_level: float


@dataclass(frozen=True, kw_only=True, slots=True)
class ProportionCIResult:
    """Confidence interval for a binomial proportion; fields are floats or arrays (vectorised input)."""

    estimate: np.ndarray | float
    ci_low: np.ndarray | float
    ci_high: np.ndarray | float
    method: str
    confidence_level: float


@dataclass(frozen=True, kw_only=True, slots=True)
class TwoProportionTestResult(Tabular):
    """Test of p1 = p2 from x1/n1 and x2/n2 ("greater": p1 > p2).

    ``statistic``: Fisher - the sample odds ratio x1 (n2 - x2) / (x2 (n1 - x1)) (may be 0 or inf; NaN when
    undefined); Boschloo - Fisher's one-sided p-value used as the ordering statistic; chi-square - Pearson's
    X^2 (Yates-corrected if asked). ``degenerate``: no successes or no failures at all, where every test is
    uninformative and ``pvalue`` is 1 (with a warning).
    """

    test: str
    statistic: float
    pvalue: float
    alternative: str
    x1: int
    n1: int
    x2: int
    n2: int
    degenerate: bool


def _check_counts(x1, n1, x2, n2) -> tuple[int, int, int, int]:
    n1 = check_count("n1", n1)
    n2 = check_count("n2", n2)
    return check_count("x1", x1, minimum=0, maximum=n1), n1, check_count("x2", x2, minimum=0, maximum=n2), n2


def _clopper_pearson(x, n, level: float, alternative: str):
    """The exact interval matching ``alternative`` (one-sided for one-sided tests, as R reports it)."""
    tail = 1 - level
    if alternative == "two-sided":
        return clopper_pearson(x, n, tail / 2, tail / 2)
    return clopper_pearson(x, n, tail if alternative == "greater" else 0.0, tail if alternative == "less" else 0.0)


def _wilson(x, n, level: float):
    """Two-sided Wilson score interval (no continuity correction)."""
    x = np.asarray(x, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    z = special.ndtri(1 - (1 - level) / 2)
    p = x / n
    center = (x + z * z / 2) / (n + z * z)
    half = z * np.sqrt(n) / (n + z * z) * np.sqrt(p * (1 - p) + z * z / (4 * n))
    low, high = np.maximum(center - half, 0.0), np.minimum(center + half, 1.0)
    # At x = 0 or x = n the bound is exactly 0 or 1 (the formula gives it only up to rounding)
    return np.where(x == 0, 0.0, low), np.where(x == n, 1.0, high)


def proportion_ci(x, n, *, method: Literal["clopper-pearson", "wilson"] = "clopper-pearson",
                  confidence_level: float = 0.95) -> ProportionCIResult:
    r"""Confidence interval for a binomial proportion, vectorised over ``x`` and ``n``.

    Parameters
    ----------
    x, n : int or array_like of int
        Successes and trials (0 <= x <= n, n >= 1), broadcast together.
    method : {"clopper-pearson", "wilson"}
        Clopper-Pearson exact interval (R's ``binom.test``) or Wilson score interval without continuity
        correction (R's ``prop.test(correct=FALSE)``).
    confidence_level : float

    Returns
    -------
    ProportionCIResult

    Notes
    -----
    Clopper-Pearson: :math:`[B(\alpha/2; x, n - x + 1),\; B(1 - \alpha/2; x + 1, n - x)]` with B the beta
    quantile, 0 for x = 0 and 1 for x = n. Wilson: :math:`(x + z^2/2)/(n + z^2) \pm
    z\sqrt{n}/(n + z^2)\sqrt{\hat p(1-\hat p) + z^2/(4n)}`.

    References
    ----------
    Clopper CJ, Pearson ES (1934). Biometrika 26:404-413. Wilson EB (1927). JASA 22:209-212.

    Examples
    --------
    >>> ci = proportion_ci(19, 20)
    >>> round(ci.ci_low, 6), round(ci.ci_high, 6)
    (0.751267, 0.998735)
    """
    method = check_choice("method", method, ("clopper-pearson", "wilson"))
    level = check_level("confidence_level", confidence_level)
    x_arr, n_arr = np.broadcast_arrays(np.asarray(x), np.asarray(n))
    for name, arr in (("x", x_arr), ("n", n_arr)):
        if not (np.issubdtype(arr.dtype, np.integer) or (np.issubdtype(arr.dtype, np.floating)
                                                          and np.all(arr == np.round(arr)))):
            raise invalid(name, "must hold integers", arr)
    if np.any(n_arr < 1):
        raise invalid("n", "must be >= 1", n_arr[n_arr < 1].ravel()[0].item())
    if np.any((x_arr < 0) | (x_arr > n_arr)):
        bad = x_arr[(x_arr < 0) | (x_arr > n_arr)].ravel()[0].item()
        raise invalid("x", "must satisfy 0 <= x <= n", bad)
    if method == "clopper-pearson":
        low, high = _clopper_pearson(x_arr, n_arr, level, "two-sided")
    else:
        low, high = _wilson(x_arr, n_arr, level)
    estimate = x_arr / n_arr
    if estimate.ndim == 0:
        estimate, low, high = float(estimate), float(low), float(high)
    return ProportionCIResult(estimate=estimate, ci_low=low, ci_high=high, method=method, confidence_level=level)


def binomial_pvalues(n: int, p0: float, *, alternative: Alternative = "two-sided") -> np.ndarray:
    """Exact binomial p-values of every outcome x = 0..n of a test of ``p = p0`` (R's ``binom.test``).

    ``"greater"``: ``P(X >= x)``; ``"less"``: ``P(X <= x)``; ``"two-sided"``: the total probability of the
    outcomes no more likely than x, with R's relative tolerance 1e-7. The one table behind
    :func:`binomial_test`, the single-arm design's test and the exact binomial power.

    Examples
    --------
    >>> round(float(binomial_pvalues(20, 0.7, alternative="greater")[19]), 10)
    0.0076372598
    """
    from scipy.stats import binom  # noqa: PLC0415 - scipy.stats is slow to import

    n = check_count("n", n)
    p0 = check_probability("p0", p0)
    alternative = check_choice("alternative", alternative, _ALTERNATIVES)
    x = np.arange(n + 1)
    if alternative == "greater":
        return np.minimum(1.0, binom.sf(x - 1, n, p0))
    if alternative == "less":
        return np.minimum(1.0, binom.cdf(x, n, p0))
    pmf = binom.pmf(x, n, p0)
    order = np.sort(pmf)
    cumulative = np.cumsum(order)
    idx = np.searchsorted(order, pmf * (1 + 1e-7), side="right") - 1
    return np.minimum(1.0, cumulative[idx])


def binomial_test(x: int, n: int, p0: float, *, alternative: Alternative = "two-sided",
                  confidence_level: float = 0.95) -> BinomialTestResult:
    """Exact binomial test of ``x`` successes in ``n`` against ``p0`` (R's ``binom.test``).

    The p-value is :func:`binomial_pvalues` at x; the interval is Clopper-Pearson, one-sided for one-sided
    alternatives.

    Examples
    --------
    >>> round(binomial_test(19, 20, 0.7, alternative="greater").pvalue, 10)
    0.0076372598
    """
    n = check_count("n", n)
    x = check_count("x", x, minimum=0, maximum=n)
    p0 = check_probability("p0", p0)
    alternative = check_choice("alternative", alternative, _ALTERNATIVES)
    level = check_level("confidence_level", confidence_level)
    pvalue = float(binomial_pvalues(n, p0, alternative=alternative)[x])
    low, high = _clopper_pearson(x, n, level, alternative)
    return BinomialTestResult(x=x, n=n, p0=p0, estimate=x / n, pvalue=pvalue, ci_low=float(low),
                              ci_high=float(high), alternative=alternative, confidence_level=level)


def _table(x1: int, n1: int, x2: int, n2: int) -> list[list[int]]:
    # columns are the groups, as scipy's boschloo_exact wants; the odds ratio of fisher_exact is unchanged
    return [[x1, x2], [n1 - x1, n2 - x2]]


def _zero_margin(x1: int, n1: int, x2: int, n2: int) -> bool:
    return x1 + x2 == 0 or x1 + x2 == n1 + n2


@functools.lru_cache(maxsize=1 << 16)
def _fisher(x1: int, n1: int, x2: int, n2: int, alternative: str) -> tuple[float, float]:
    from scipy.stats import fisher_exact as _scipy_fisher  # noqa: PLC0415

    res = _scipy_fisher(_table(x1, n1, x2, n2), alternative=alternative)
    return float(res.statistic), float(res.pvalue)


@functools.lru_cache(maxsize=1 << 16)
def _boschloo(x1: int, n1: int, x2: int, n2: int, alternative: str) -> tuple[float, float]:
    # scipy's boschloo_exact maximises over a grid of the nuisance proportion: ~10-60 ms a table, hence the
    # cache (a Monte Carlo run at n = 40 meets at most 21 x 21 distinct tables)
    from scipy.stats import boschloo_exact as _scipy_boschloo  # noqa: PLC0415

    res = _scipy_boschloo(_table(x1, n1, x2, n2), alternative=alternative)
    return float(res.statistic), float(min(res.pvalue, 1.0))


def _chi2(x1, n1, x2, n2, alternative: str, correction: bool):
    """Pearson chi-square for 2 x 2 tables as the signed z of the pooled two-proportion test (vectorised)."""
    x1, n1, x2, n2 = (np.asarray(a, dtype=np.float64) for a in (x1, n1, x2, n2))
    pooled = (x1 + x2) / (n1 + n2)
    degenerate = (pooled <= 0) | (pooled >= 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        diff = x1 / n1 - x2 / n2
        if correction:
            # Yates: shrink |x1/n1 - x2/n2| by (1/n1 + 1/n2) / 2, not past zero
            diff = np.sign(diff) * np.maximum(np.abs(diff) - (1 / n1 + 1 / n2) / 2, 0.0)
        se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
        z = np.where(degenerate, 0.0, diff / np.where(degenerate, 1.0, se))
    if alternative == "two-sided":
        pvalue = special.chdtrc(1, z * z)
    elif alternative == "greater":
        pvalue = special.ndtr(-z)
    else:
        pvalue = special.ndtr(z)
    return z * z, np.where(degenerate, 1.0, pvalue), degenerate


def _degenerate_warning(test: str) -> None:
    warn_degenerate(f"{test}: no successes or no failures in either group; the test is uninformative, pvalue 1",
                    stacklevel=4)


def fisher_exact(x1: int, n1: int, x2: int, n2: int, *, alternative: Alternative = "two-sided"
                 ) -> TwoProportionTestResult:
    """Fisher's exact test of p1 = p2 (scipy; the two-sided p-value is R's ``fisher.test``).

    Examples
    --------
    >>> round(fisher_exact(19, 20, 13, 21).pvalue, 6)
    0.020486
    """
    x1, n1, x2, n2 = _check_counts(x1, n1, x2, n2)
    alternative = check_choice("alternative", alternative, _ALTERNATIVES)
    degenerate = _zero_margin(x1, n1, x2, n2)
    if degenerate:
        _degenerate_warning("Fisher's exact test")
    statistic, pvalue = _fisher(x1, n1, x2, n2, alternative)
    return TwoProportionTestResult(test="fisher", statistic=statistic, pvalue=1.0 if degenerate else pvalue,
                                   alternative=alternative, x1=x1, n1=n1, x2=x2, n2=n2, degenerate=degenerate)


def boschloo_exact(x1: int, n1: int, x2: int, n2: int, *, alternative: Alternative = "two-sided"
                   ) -> TwoProportionTestResult:
    """Boschloo's exact unconditional test of p1 = p2 (scipy ``boschloo_exact``, 32-point nuisance grid).

    Uniformly more powerful than Fisher's test at the same size. Results are cached per table.
    """
    x1, n1, x2, n2 = _check_counts(x1, n1, x2, n2)
    alternative = check_choice("alternative", alternative, _ALTERNATIVES)
    degenerate = _zero_margin(x1, n1, x2, n2)
    if degenerate:
        _degenerate_warning("Boschloo's exact test")
        statistic, pvalue = 1.0, 1.0
    else:
        statistic, pvalue = _boschloo(x1, n1, x2, n2, alternative)
    return TwoProportionTestResult(test="boschloo", statistic=statistic, pvalue=pvalue, alternative=alternative,
                                   x1=x1, n1=n1, x2=x2, n2=n2, degenerate=degenerate)


def chi_square_test(x1: int, n1: int, x2: int, n2: int, *, alternative: Alternative = "two-sided",
                    correction: bool = False) -> TwoProportionTestResult:
    r"""Pearson chi-square test of p1 = p2 for a 2 x 2 table (R's ``prop.test``; ``correct=FALSE`` default).

    One-sided alternatives use the signed statistic :math:`z = (\hat p_1 - \hat p_2) / \sqrt{\bar p (1 - \bar p)
    (1/n_1 + 1/n_2)}` with :math:`X^2 = z^2`. ``correction=True`` applies Yates' continuity correction.

    Examples
    --------
    >>> round(chi_square_test(19, 20, 13, 21).statistic, 4)
    6.549
    """
    x1, n1, x2, n2 = _check_counts(x1, n1, x2, n2)
    alternative = check_choice("alternative", alternative, _ALTERNATIVES)
    correction = check_flag("correction", correction)
    statistic, pvalue, degenerate = _chi2(x1, n1, x2, n2, alternative, correction)
    if degenerate:
        _degenerate_warning("chi-square test")
    return TwoProportionTestResult(test="chi2", statistic=float(statistic), pvalue=float(pvalue),
                                   alternative=alternative, x1=x1, n1=n1, x2=x2, n2=n2, degenerate=bool(degenerate))


def two_proportion_pvalues(x1, n1, x2, n2, *, test: BinaryTest = "fisher",
                           alternative: Alternative = "two-sided") -> np.ndarray:
    """p-values of a two-proportion test for many tables at once (e.g. one per simulated trial).

    Parameters
    ----------
    x1, n1, x2, n2 : array_like of int
        Counts, broadcast together (0 <= x <= n, n >= 1).
    test : {"fisher", "boschloo", "chi2"}
    alternative : {"two-sided", "greater", "less"}
        "greater" means p1 > p2.

    Returns
    -------
    ndarray of the broadcast shape
        Equal to the scalar functions' ``pvalue`` table by table. Each distinct table is computed once (and the
        exact tests are also cached across calls). Tables with no successes or no failures at all get 1, with
        one :class:`DegenerateStatisticWarning` per call.
    """
    test = check_choice("test", test, _TESTS)
    alternative = check_choice("alternative", alternative, _ALTERNATIVES)
    arrays = np.broadcast_arrays(*(np.asarray(a) for a in (x1, n1, x2, n2)))
    for name, arr in zip(("x1", "n1", "x2", "n2"), arrays):
        if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or (
                np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.round(arr)))):
            raise invalid(name, "must hold integer counts", f"dtype {arr.dtype}")
    x1a, n1a, x2a, n2a = (a.astype(np.int64) for a in arrays)
    if np.any(n1a < 1) or np.any(n2a < 1):
        raise invalid("n1" if np.any(n1a < 1) else "n2", "must be >= 1", int(min(n1a.min(), n2a.min())))
    if np.any((x1a < 0) | (x1a > n1a)):
        raise invalid("x1", "must satisfy 0 <= x1 <= n1", x1a[(x1a < 0) | (x1a > n1a)].ravel()[0].item())
    if np.any((x2a < 0) | (x2a > n2a)):
        raise invalid("x2", "must satisfy 0 <= x2 <= n2", x2a[(x2a < 0) | (x2a > n2a)].ravel()[0].item())
    shape = x1a.shape
    if x1a.size == 0:
        return np.empty(shape)
    if test == "chi2":
        _, pvalue, degenerate = _chi2(x1a, n1a, x2a, n2a, alternative, False)
        if np.any(degenerate):
            _degenerate_warning("chi-square test")
        return np.asarray(pvalue, dtype=np.float64).reshape(shape)
    tables = np.stack([x1a.ravel(), n1a.ravel(), x2a.ravel(), n2a.ravel()], axis=1)
    distinct, inverse = np.unique(tables, axis=0, return_inverse=True)
    compute = _fisher if test == "fisher" else _boschloo
    values = np.empty(distinct.shape[0])
    any_degenerate = False
    for i, (a, b, c, d) in enumerate(distinct.tolist()):
        if _zero_margin(a, b, c, d):
            values[i], any_degenerate = 1.0, True
        else:
            values[i] = compute(a, b, c, d, alternative)[1]
    if any_degenerate:
        _degenerate_warning("Fisher's exact test" if test == "fisher" else "Boschloo's exact test")
    return values[inverse.reshape(-1)].reshape(shape)

