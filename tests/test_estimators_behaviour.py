"""Conventions, degenerate input, validation and the import boundary of trialsim.stats."""

import math
import subprocess
import sys
import warnings

import numpy as np
import pytest
import scipy.stats

from trialsim import stats as est
from trialsim.exceptions import DegenerateStatisticWarning, TrialsimWarning


def count_degenerate(record):
    return sum(issubclass(w.category, DegenerateStatisticWarning) for w in record)


# ----------------------------------------------------------------------------------------------- conventions

def test_logrank_batch_sign_convention():
    # group 1 dies early, group 0 late: group 1 has more deaths than expected, z > 0 (group 0 is better)
    time = np.array([[1, 2, 3, 4, 10, 11, 12, 13.0]])
    event = np.ones((1, 8), dtype=bool)
    group = np.array([[1, 1, 1, 1, 0, 0, 0, 0]])
    res = est.logrank_batch(time, event, group)
    assert res.z[0] > 0
    assert res.observed[0, 1] > res.expected[0, 1]
    assert res.statistic[0] == pytest.approx(res.z[0] ** 2)
    assert res.pvalue[0] == pytest.approx(scipy.stats.norm.sf(abs(res.z[0])) * 2, rel=1e-12)
    assert est.logrank(time[0], event[0], group[0]).z == res.z[0]


def test_median_midpoint_rule_of_r():
    # R: survfit(Surv(1:4, rep(1, 4)))$median is 2.5 (S = 0.5 exactly on [2, 3): midpoint of the flat part)
    assert est.kaplan_meier([1, 2, 3, 4], [1, 1, 1, 1]).median().estimate == 2.5
    # S = 0.5 from t = 2 to the end of follow-up (4): R's findq takes (2 + 4) / 2
    assert est.kaplan_meier([1, 2, 3, 4], [1, 1, 0, 0]).median().estimate == 3.0
    # never reaches 0.5: NaN, as R's NA
    assert np.isnan(est.kaplan_meier([1, 2, 3, 4], [1, 0, 0, 0]).median().estimate)
    q = est.kaplan_meier([1, 2, 3, 4], [1, 1, 1, 1]).quantile(0.25)
    assert q.estimate == 1.5          # S = 0.75 on [1, 2)


def test_km_no_events_is_one_everywhere():
    km = est.kaplan_meier([3, 5, 8], [0, 0, 0])
    assert km.time.size == 0
    assert km.survival_at(100.0) == 1.0
    assert np.isnan(km.median().estimate)


def test_km_survival_at_per_replicate_times():
    time = np.array([[1, 2, 3.0], [1, 2, 3.0]])
    event = np.ones((2, 3), dtype=bool)
    s = est.km_survival_at_batch(time, event, np.array([1.5, 2.5]))
    np.testing.assert_array_equal(s, [2 / 3, 1 / 3])


def test_km_survival_at_batch_handles_extreme_time_scales():
    # times spanning hundreds of binades use the exact rank fallback of the sort keys; subnormals and zeros too
    time = np.array([[0.0, 5e-324, 1e-300, 1.0, 1e300, 3e300]])
    event = np.array([[1, 1, 0, 1, 1, 0]], dtype=bool)
    for t in (0.0, 1e-310, 1.0, 2e300, np.inf):
        assert est.km_survival_at_batch(time, event, t)[0] == est.kaplan_meier(time[0], event[0]).survival_at(t)
    res = est.logrank_batch(time, event, [[0, 1, 0, 1, 0, 1]])
    assert res.statistic[0] == est.logrank(time[0], event[0], [0, 1, 0, 1, 0, 1]).statistic
    # subnormal times with a narrow enough span: their raw bit patterns serve as the keys
    tiny = np.array([[0.0, 5e-324, 1e-310, 1e-310, 1e-300, 2e-300]])
    event = np.array([[1, 1, 1, 0, 1, 1]], dtype=bool)
    for t in (0.0, 5e-324, 1e-310, 1.5e-300, 1.0):
        assert est.km_survival_at_batch(tiny, event, t)[0] == est.kaplan_meier(tiny[0], event[0]).survival_at(t)
    tc = __import__("trialsim.stats.kernels", fromlist=["encode_times"]).encode_times(tiny, 2)
    assert tc.base == 0 and tc.values is None


def test_batch_results_do_not_depend_on_chunking():
    # rows are processed in chunks: a large batch gives each row's result exactly as a batch of one
    rng = np.random.default_rng(1)
    time = np.round(rng.exponential(5, (1000, 40)), 1)
    event = rng.random((1000, 40)) < 0.6
    group = rng.integers(0, 2, (1000, 40))
    big = est.logrank_batch(time, event, group, rho=1.0)
    for i in (0, 255, 256, 511, 999):
        one = est.logrank_batch(time[i:i + 1], event[i:i + 1], group[i:i + 1], rho=1.0)
        assert (one.statistic[0], one.variance[0]) == (big.statistic[i], big.variance[i])


# -------------------------------------------------------------------------------------------------- degenerate

def test_logrank_batch_degenerate_replicates_warn_once():
    time = np.array([[1, 2, 3, 4.0], [1, 2, 3, 4.0], [1, 2, 3, 4.0]])
    event = np.array([[0, 0, 0, 0], [1, 1, 0, 1], [1, 0, 1, 1]], dtype=bool)
    group = np.array([[0, 1, 0, 1], [0, 0, 0, 0], [0, 1, 1, 0]])   # no events; one group empty; fine
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        res = est.logrank_batch(time, event, group)
    assert count_degenerate(record) == 1
    assert res.degenerate.tolist() == [True, True, False]
    assert res.statistic[:2].tolist() == [0.0, 0.0] and res.z[:2].tolist() == [0.0, 0.0]
    assert res.pvalue[:2].tolist() == [1.0, 1.0]
    assert not np.isnan(res.statistic).any() and not np.isnan(res.pvalue).any()


def test_logrank_degenerate_scalar():
    with pytest.warns(DegenerateStatisticWarning):
        res = est.logrank([1, 2, 3], [0, 0, 0], [0, 1, 1])
    assert (res.statistic, res.pvalue, res.degenerate) == (0.0, 1.0, True)
    with pytest.warns(DegenerateStatisticWarning):
        res = est.logrank([1, 2, 3], [1, 0, 1], ["a", "a", "a"])
    assert (res.statistic, res.df, res.pvalue) == (0.0, 0, 1.0)


def test_km_batch_empty_group_is_nan_with_one_warning():
    time = np.array([[1, 2, 3.0], [1, 2, 3.0]])
    event = np.ones((2, 3), dtype=bool)
    group = np.array([[0, 0, 0], [0, 1, 1]])
    with pytest.warns(DegenerateStatisticWarning) as record:
        s = est.km_survival_at_batch(time, event, 2.5, group=group, n_groups=2)
    assert count_degenerate(record) == 1
    assert np.isnan(s[0, 1]) and s[1, 1] == 0.5 and s[0, 0] == 1 / 3 and s[1, 0] == 0.0


def test_cox_without_events_warns_and_returns_no_evidence():
    with pytest.warns(DegenerateStatisticWarning):
        res = est.cox([1, 2, 3, 4], [0, 0, 0, 0], [0, 1, 0, 1])
    assert res.degenerate and np.isnan(res.coef[0])
    assert (res.wald_pvalue, res.score_pvalue, res.lr_pvalue) == (1.0, 1.0, 1.0)


def test_cox_monotone_likelihood_warns():
    # every event in group 1: the MLE is infinite (R: "Loglik converged before variable 1")
    time = [1, 2, 3, 4, 5, 6, 7, 8]
    event = [1, 1, 1, 1, 0, 0, 0, 0]
    group = [1, 1, 1, 1, 0, 0, 0, 0]
    with pytest.warns(DegenerateStatisticWarning):
        res = est.cox(time, event, group)
    assert not res.converged
    # The likelihood-ratio and score tests stay valid, and both are known in closed form. At each death (times
    # 1 to 4, no ties) n1 = 4, 3, 2, 1 of n = 8, 7, 6, 5 at risk are in group 1. As beta -> infinity the partial
    # likelihood rises to prod 1 / n1 = 1/24 from prod 1 / n = 1/1680 at beta = 0, so LR -> 2 log 70 = 8.497
    # from below; the Newton iterations stop far out (beta ~ 27, where the gap is ~ e^-27), so within 1e-6.
    lr_sup = 2 * math.log(70)
    assert lr_sup - 1e-6 <= res.lr_statistic <= lr_sup + 1e-12
    # Score test at beta = 0: U = sum (1 - n1 / n), I = sum (n1 / n) (1 - n1 / n), statistic U^2 / I = 7.344
    share = np.array([4 / 8, 3 / 7, 2 / 6, 1 / 5])
    assert res.score_statistic == pytest.approx((1 - share).sum() ** 2 / (share * (1 - share)).sum(), rel=1e-10)


def test_one_sample_degenerate_and_values():
    res = est.one_sample_logrank([1, 2, 3], [1, 0, 0], [0.5, 0.5, 0.5])
    assert res.z == pytest.approx((1 - 1.5) / np.sqrt(1.5))
    assert res.pvalue == pytest.approx(2 * scipy.stats.norm.cdf(res.z), rel=1e-12)
    less = est.one_sample_logrank([1, 2, 3], [1, 0, 0], [0.5, 0.5, 0.5], alternative="less")
    assert less.pvalue == pytest.approx(scipy.stats.norm.cdf(res.z), rel=1e-12)
    with pytest.warns(DegenerateStatisticWarning):
        res = est.one_sample_logrank([1, 2], [0, 0], [0.0, 0.0])
    assert (res.z, res.pvalue) == (0.0, 1.0)


def test_binary_degenerate_tables():
    with pytest.warns(DegenerateStatisticWarning):
        assert est.chi_square_test(0, 20, 0, 21).pvalue == 1.0
    with pytest.warns(DegenerateStatisticWarning):
        assert est.boschloo_exact(20, 20, 21, 21).pvalue == 1.0
    with pytest.warns(DegenerateStatisticWarning) as record:
        pv = est.two_proportion_pvalues([0, 20, 5], 20, [0, 21, 15], 21, test="boschloo")
    assert count_degenerate(record) == 1
    assert pv[:2].tolist() == [1.0, 1.0]
    # the regular table beside them is untouched: scipy (samples as columns), 1e-6 as in tests/test_designs.py
    assert pv[2] == pytest.approx(scipy.stats.boschloo_exact([[5, 15], [15, 6]]).pvalue, rel=1e-6)


def test_rmst_beyond_follow_up_warns():
    with pytest.warns(TrialsimWarning, match="beyond the last observed time"):
        res = est.rmst([1, 2, 3], [1, 0, 0], tau=5.0)
    assert res.extrapolated
    assert res.estimate == pytest.approx(1 + 4 * 2 / 3)


# ----------------------------------------------------------------------------------------------- binary tests

def test_two_proportion_direction_and_scipy_agreement():
    # "greater" means p1 > p2 (the study's 19/20 vs 13/21, docs/study.md R3, is evidence for it). scipy's
    # fisher_exact takes the samples as rows (its "greater" is odds ratio > 1), boschloo_exact as columns.
    for alternative in ("greater", "less"):
        assert est.fisher_exact(19, 20, 13, 21, alternative=alternative).pvalue == pytest.approx(
            scipy.stats.fisher_exact([[19, 1], [13, 8]], alternative=alternative).pvalue, rel=1e-12)
        assert est.boschloo_exact(19, 20, 13, 21, alternative=alternative).pvalue == pytest.approx(
            scipy.stats.boschloo_exact([[19, 13], [1, 8]], alternative=alternative).pvalue, rel=1e-6)
    assert est.fisher_exact(19, 20, 13, 21, alternative="greater").pvalue < 0.5 < est.fisher_exact(
        19, 20, 13, 21, alternative="less").pvalue  # the direction: 0.012 against 0.999
    assert est.fisher_exact(19, 20, 13, 21).pvalue == pytest.approx(
        scipy.stats.fisher_exact([[19, 1], [13, 8]]).pvalue, rel=1e-12)
    for correction in (False, True):
        chi2, p, *_ = scipy.stats.chi2_contingency([[19, 1], [13, 8]], correction=correction)
        res = est.chi_square_test(19, 20, 13, 21, correction=correction)
        assert res.statistic == pytest.approx(chi2, rel=1e-12)
        assert res.pvalue == pytest.approx(p, rel=1e-10)


def test_boschloo_tables_are_computed_once():
    from trialsim.stats import binary as _binary

    _binary._boschloo.cache_clear()
    x1 = np.array([15, 15, 16, 15, 16])
    x2 = np.array([10, 10, 10, 10, 11])
    pv = est.two_proportion_pvalues(x1, 20, x2, 20, test="boschloo", alternative="greater")
    assert _binary._boschloo.cache_info().misses == 3          # three distinct tables
    assert pv[0] == pv[1] == pv[3]
    assert pv[0] == est.boschloo_exact(15, 20, 10, 20, alternative="greater").pvalue
    assert _binary._boschloo.cache_info().misses == 3          # the scalar call reused the cache too


def test_wilson_matches_scipy():
    for x, n in [(0, 10), (3, 10), (19, 20), (682, 925)]:
        ci = est.proportion_ci(x, n, method="wilson", confidence_level=0.9)
        ref = scipy.stats.binomtest(x, n).proportion_ci(confidence_level=0.9, method="wilson")
        assert (ci.ci_low, ci.ci_high) == pytest.approx((ref.low, ref.high), abs=1e-12)


# -------------------------------------------------------------------------------------------------- validation

@pytest.mark.parametrize("call, match", [
    (lambda: est.kaplan_meier([1, 2], [1]), "`event`"),
    (lambda: est.kaplan_meier([1, -2], [1, 1]), r"`time\[1\]` must be finite and >= 0 \(got -2.0\)"),
    (lambda: est.kaplan_meier([1, np.nan], [1, 1]), r"`time\[1\]`"),
    (lambda: est.kaplan_meier([1, np.inf], [1, 1]), r"`time\[1\]`"),
    (lambda: est.kaplan_meier([], []), "`time` must hold at least one"),
    (lambda: est.kaplan_meier([1, 2], [1, 2]), r"`event\[1\]` must hold only 0 and 1 \(got 2\)"),
    (lambda: est.kaplan_meier([1, 2], [1, 0], conf_type="arcsin"), "`conf_type`"),
    (lambda: est.kaplan_meier([1, 2], [1, 0], confidence_level=95), "`confidence_level`"),
    (lambda: est.logrank([1, 2], [1, 0], [0]), "`group`"),
    (lambda: est.logrank([1, 2], [1, 0], [0, 1], rho=-1), "`rho`"),
    (lambda: est.logrank([1, 2], [1, 0], [0, 1], strata=[0]), "`strata`"),
    (lambda: est.logrank_batch([1, 2], [1, 0], [0, 1]), "`time` must be a 2-D array"),
    (lambda: est.logrank_batch([[1, 2]], [[1, 0]], [[0, 2]]), r"`group\[0, 1\]` must hold integer codes in 0..1"),
    (lambda: est.logrank_batch([[1, 2]], [[1, 0]], [[0, 1]], strata=[[0, -1]]), r"`strata\[0, 1\]`"),
    (lambda: est.km_survival_at_batch([[1, 2]], [[1, 0]], np.nan), "`t`"),
    (lambda: est.km_survival_at_batch([[1, 2]], [[1, 0]], 1.0, group=[[0, 3]], n_groups=2), r"`group\[0, 1\]`"),
    (lambda: est.cox([1, 2], [1, 0], [[0, 1, 2]]), "`covariates`"),
    (lambda: est.cox([1, 2], [1, 0], [0, 1], ties="exact"), "`ties`"),
    (lambda: est.rmst([1, 2], [1, 0], tau=0), "`tau`"),
    (lambda: est.rmst_difference([1, 2, 3], [1, 0, 1], [0, 1, 2], tau=2), "`group` must have exactly two"),
    (lambda: est.binomial_test(21, 20, 0.5), r"`x` must be an integer in 0..20 \(got 21\)"),
    (lambda: est.binomial_test(5, 20, 1.5), "`p0`"),
    (lambda: est.proportion_ci(5, 0), "`n`"),
    (lambda: est.fisher_exact(5, 4, 1, 4), "`x1`"),
    (lambda: est.two_proportion_pvalues([1, 2], 5, [1, 6], 5), "`x2`"),
    (lambda: est.two_proportion_pvalues([1], 5, [1], 5, test="barnard"), "`test`"),
    (lambda: est.one_sample_logrank([1, 2], [1, 0], [0.1, -0.1]), "`expected`"),
])
def test_errors_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_import_is_light():
    code = ("import sys, trialsim.stats\n"
            "print(','.join(m for m in ('simpy', 'joblib', 'matplotlib', 'statsmodels', 'dask') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"importing trialsim.stats loaded {out}"


def test_sparse_stratum_codes_equal_dense_codes():
    rng = np.random.default_rng(4)
    time = np.round(rng.exponential(5, (50, 30)))
    event = rng.random((50, 30)) < 0.7
    group = rng.integers(0, 2, (50, 30))
    strata = rng.integers(0, 3, (50, 30))
    for rho in (0.0, 1.0):
        dense = est.logrank_batch(time, event, group, strata=strata, rho=rho)
        sparse = est.logrank_batch(time, event, group, strata=strata * 1000 + 7, rho=rho)
        np.testing.assert_array_equal(dense.statistic, sparse.statistic)
