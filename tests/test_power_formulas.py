"""Analytic sample size and power: reference values, limits, round trips."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from trialsim.design import (binomial_power, binomial_rejection_region, freedman_events, lachin_foulkes, schoenfeld_events, schoenfeld_power, two_proportion_power)

from trialsim.stats import binomial_pvalues

# SS-01, SS-02 (docs/references.md): one-sided alpha 0.025, 1:1 unless stated. Tolerance 1e-6 relative.
SS = [
    # hazard ratio, power, allocation ratio, Schoenfeld, Freedman (None: not given)
    (0.7, 0.90, 1.0, 330.377914, 337.405029),
    (0.5, 0.90, 1.0, 87.479298, 94.566808),
    (0.6, 0.80, 1.0, 120.315704, 125.582076),
    (0.7, 0.90, 2.0, 371.6751532, None),
]


@pytest.mark.parametrize("hr, target, ratio, schoenfeld, freedman", SS)
def test_events_match_ss01_ss02(hr, target, ratio, schoenfeld, freedman):
    got = schoenfeld_events(hr, alpha=0.025, power=target, allocation_ratio=ratio)
    assert got == pytest.approx(schoenfeld, rel=1e-6)
    if freedman is not None:
        assert freedman_events(hr, alpha=0.025, power=target, allocation_ratio=ratio) == pytest.approx(freedman,
                                                                                                       rel=1e-6)


def test_two_sided_alpha_equals_one_sided_half():
    # A two-sided test at 0.05 needs the events of a one-sided test at 0.025 (the other tail ignored)
    assert schoenfeld_events(0.7, alpha=0.05, power=0.9, sided=2) == pytest.approx(
        schoenfeld_events(0.7, alpha=0.025, power=0.9), rel=1e-12)


def test_power_from_events_inverts_events():
    d = schoenfeld_events(0.6, alpha=0.025, power=0.8)
    assert schoenfeld_power(0.6, d, alpha=0.025) == pytest.approx(0.8, rel=1e-10)
    # Symmetric in HR <-> 1/HR, and alpha under the null (two-sided counts both tails)
    assert schoenfeld_power(1 / 0.6, d, alpha=0.025) == pytest.approx(0.8, rel=1e-10)
    assert schoenfeld_power(1.0, 50, alpha=0.05, sided=2) == pytest.approx(0.05, rel=1e-12)


def test_design_note_numbers():
    # docs/design.md: n = 40, S(8) 0.95 vs 0.62 exponential, everyone followed to week 8: Schoenfeld promises ~90%
    d = 20 * (1 - 0.95) + 20 * (1 - 0.62)
    hr = math.log(0.95) / math.log(0.62)
    z = abs(math.log(hr)) * math.sqrt(d) / 2
    want = stats.norm.cdf(z - stats.norm.ppf(0.975)) + stats.norm.cdf(-z - stats.norm.ppf(0.975))
    assert schoenfeld_power(hr, d, alpha=0.05, sided=2) == pytest.approx(want, rel=1e-12)  # 0.905, docs/design.md


# BIN-01, R (package stats): power.prop.test(n = 50, p1 = 0.50, p2 = 0.75, sig.level = 0.05) -> power
# 0.7401659013. That is strict = FALSE: the upper tail alone,
#   pnorm((sqrt(n) * d - qu * sqrt((p1 + p2) * qbar)) / sqrt(p1 * q1 + p2 * q2)),
# with d = |p1 - p2|, qu = qnorm(sig.level / 2, lower = FALSE), qbar = 1 - (p1 + p2) / 2. With strict = TRUE
# power.prop.test adds the lower tail
#   pnorm((sqrt(n) * d + qu * sqrt((p1 + p2) * qbar)) / sqrt(p1 * q1 + p2 * q2), lower = FALSE),
# which two_proportion_power(sided=2) includes so that under the null it equals alpha.
def _power_prop_test_lower_tail(p1, p2, n, sig_level):
    """The term power.prop.test(strict = TRUE) adds for a two-sided test, written out as in R."""
    d, qu, qbar = abs(p1 - p2), stats.norm.isf(sig_level / 2), 1 - (p1 + p2) / 2
    return stats.norm.sf((math.sqrt(n) * d + qu * math.sqrt((p1 + p2) * qbar))
                         / math.sqrt(p1 * (1 - p1) + p2 * (1 - p2)))


def test_two_proportion_power_matches_bin01():
    upper = 0.7401659013  # BIN-01 (strict = FALSE)
    # The upper tail alone is the one-sided power at alpha / 2
    assert two_proportion_power(0.5, 0.75, 50, 50, alpha=0.025, sided=1) == pytest.approx(upper, rel=1e-8)
    lower = _power_prop_test_lower_tail(0.5, 0.75, 50, 0.05)
    assert 1e-7 < lower < 1e-5  # 1.29e-6 here: larger than the tolerance below, so the check tells them apart
    assert two_proportion_power(0.5, 0.75, 50, 50, alpha=0.05) == pytest.approx(upper + lower, rel=1e-9)


def test_two_proportion_power_at_bin01_sample_size():
    # BIN-01: n per group 76.70693011 gives power 0.90 (strict = FALSE; power.prop.test solves that equation)
    n = 76.70693011
    assert two_proportion_power(0.5, 0.75, n, n, alpha=0.025, sided=1) == pytest.approx(0.9, rel=1e-8)
    lower = _power_prop_test_lower_tail(0.5, 0.75, n, 0.05)  # 4.7e-8
    assert two_proportion_power(0.5, 0.75, n, n, alpha=0.05) - lower == pytest.approx(0.9, rel=1e-8)


@pytest.mark.parametrize("p, n1, n2", [(0.5, 50, 50), (0.1, 20, 35), (0.62, 7, 100), (0.97, 300.5, 12)])
@pytest.mark.parametrize("alpha", [0.05, 0.01])
def test_two_proportion_power_under_the_null_is_alpha(p, n1, n2, alpha):
    # Two-sided: both tails count, alpha / 2 each; one-sided: alpha
    assert abs(two_proportion_power(p, p, n1, n2, alpha=alpha, sided=2) - alpha) < 1e-9
    assert abs(two_proportion_power(p, p, n1, n2, alpha=alpha, sided=1) - alpha) < 1e-9


def test_two_proportion_two_sided_power_is_symmetric_and_above_the_upper_tail():
    a = two_proportion_power(0.3, 0.45, 40, 60, alpha=0.05)
    assert a == pytest.approx(two_proportion_power(0.45, 0.3, 60, 40, alpha=0.05), rel=1e-12)
    assert a > two_proportion_power(0.3, 0.45, 40, 60, alpha=0.025, sided=1)


# ------------------------------------------------------------------------------------------- Lachin-Foulkes


def _numeric_event_probability(hazard, dropout, accrual, study):
    """P(death observed) by direct integration over uniform entry: the definition, not the closed form."""
    def given_entry(e):
        window = study - e
        return hazard / (hazard + dropout) * (1 - math.exp(-(hazard + dropout) * window))

    if accrual == 0:
        return given_entry(0.0)
    return integrate.quad(given_entry, 0, accrual)[0] / accrual


@pytest.mark.parametrize("accrual, study, dropout", [(0.5, 2.0, 0.1), (12.0, 24.0, 0.0), (0.0, 8.0, 0.05)])
def test_lachin_foulkes_event_probabilities_are_the_integral(accrual, study, dropout):
    res = lachin_foulkes(0.2, 0.1, accrual_time=accrual, study_time=study, dropout_hazard=dropout, alpha=0.025,
                         power=0.9)
    pooled = 0.5 * 0.2 + 0.5 * 0.1
    for got, h in zip(res.event_probability, (0.2, 0.1, pooled)):
        assert got == pytest.approx(_numeric_event_probability(h, dropout, accrual, study), rel=1e-9)


def test_lachin_foulkes_formula_by_hand():
    # The formula of Lachin & Foulkes (1986) eq. (4.3) with phi = lambda^2 / P(event), written out here
    lc, lt, r = 0.2, 0.1, 2.0
    res = lachin_foulkes(lc, lt, accrual_time=0.5, study_time=2.0, dropout_hazard=0.1, alpha=0.025, power=0.9,
                         allocation_ratio=r, scale="hazard-difference")
    qt, qc = r / (1 + r), 1 / (1 + r)
    pooled = qc * lc + qt * lt
    p = [_numeric_event_probability(h, 0.1, 0.5, 2.0) for h in (lc, lt, pooled)]
    za, zb = stats.norm.ppf(0.975), stats.norm.ppf(0.9)
    root = za * math.sqrt(pooled ** 2 / p[2] * (1 / qc + 1 / qt)) + zb * math.sqrt(lc ** 2 / p[0] / qc
                                                                                      + lt ** 2 / p[1] / qt)
    n = root ** 2 / (lc - lt) ** 2
    assert res.n_subjects == pytest.approx(n, rel=1e-9)
    assert res.n_events == pytest.approx(n * (qc * p[0] + qt * p[1]), rel=1e-9)


# gsDesign (github.com/keaven/gsDesign, version 3.11.0.9003, commit 2a5688846651a56f469cdb0997c2adf325c1b7d6):
# nSurvival() in R/gsSurvival.R, written out here in R's own terms. xi0 = 1 / (1 + ratio) is the control
# fraction, pe() the probability of an event with uniform entry over [0, Tr] and analysis at Ts.
def _gsdesign_pe(lam, eta, ts, tr):
    q1 = lam / (lam + eta)
    q2 = math.exp(-(lam + eta) * (ts - tr)) - math.exp(-(lam + eta) * ts)
    q3 = (lam + eta) * tr
    return q1 * (1 - q2 / q3)


def _gsdesign_nsurvival(lambda1, lambda2, ts, tr, eta, ratio, alpha, beta, sided, type_):
    xi0 = 1 / (1 + ratio)
    xi1 = 1 - xi0
    ave_haz = lambda1 * xi0 + lambda2 * xi1
    pe = [_gsdesign_pe(h, eta, ts, tr) for h in (lambda1, lambda2, ave_haz)]
    zalpha, zbeta = stats.norm.ppf(1 - alpha / sided), stats.norm.ppf(1 - beta)
    if type_ == "rr":
        power = zalpha / math.sqrt(pe[2] * xi0 * xi1) + zbeta * math.sqrt(1 / (xi0 * pe[0]) + 1 / (xi1 * pe[1]))
        n = (power / math.log(lambda1 / lambda2)) ** 2
    else:  # "rd", approx = FALSE
        power = zalpha * (xi0 * xi1 * pe[2] / ave_haz ** 2) ** -0.5 + zbeta * math.sqrt(
            lambda1 ** 2 / (xi0 * pe[0]) + lambda2 ** 2 / (xi1 * pe[1]))
        n = (power / (lambda1 - lambda2)) ** 2
    return n, n * (xi0 * pe[0] + xi1 * pe[1])


# Printed nSurvival() output, gsDesign tests/testthat/_snaps/independent-test-print.nSurvival.md (same
# version and commit as above; the calls are in tests/testthat/test-independent-test-print.nSurvival.R).
# All: lambda1 = 0.2, lambda2 = 0.1, Ts = 2, Tr = 0.5, entry = "unif", sided = 1, alpha = 0.025, beta = 0.1,
# ratio = 1. print.nSurvival (R/gsMethods.R) prints n as 2 * ceiling(n / 2) and nEvents as ceiling(nEvents).
# (The snapshots with entry = "expo" have no counterpart here; nor has type = "rd" with approx = TRUE,
# n = 416, nEvents = 95.)
GSDESIGN_NSURVIVAL = [
    # snapshot title, eta, type, printed n, printed nEvents
    ('checking entry set to "unif"', 0.1, "rr", 430, 91),
    ("risk ratio (type = rr) with approximate computation", 6.9, "rr", 4308, 92),  # approx is ignored for rr
    ("risk difference (type = rd) with approx set to FALSE", 0.0, "rd", 414, 94),
]


@pytest.mark.parametrize("title, eta, type_, n_printed, events_printed", GSDESIGN_NSURVIVAL)
def test_lachin_foulkes_matches_gsdesign_nsurvival(title, eta, type_, n_printed, events_printed):
    scale = {"rr": "log-hazard-ratio", "rd": "hazard-difference"}[type_]
    res = lachin_foulkes(0.2, 0.1, accrual_time=0.5, study_time=2.0, dropout_hazard=eta, alpha=0.025, power=0.9,
                         scale=scale)
    assert res.n_subjects_integer() == n_printed
    assert math.ceil(res.n_events) == events_printed
    n, events = _gsdesign_nsurvival(0.2, 0.1, 2.0, 0.5, eta, 1.0, 0.025, 0.1, 1, type_)
    assert res.n_subjects == pytest.approx(n, rel=1e-9)
    assert res.n_events == pytest.approx(events, rel=1e-9)


@pytest.mark.parametrize("ratio, sided, eta", [(2.0, 1, 0.1), (0.8, 2, 0.0), (1.25, 1, 0.3)])
@pytest.mark.parametrize("type_", ["rr", "rd"])
def test_lachin_foulkes_equals_gsdesign_formula_at_other_allocations(ratio, sided, eta, type_):
    scale = {"rr": "log-hazard-ratio", "rd": "hazard-difference"}[type_]
    res = lachin_foulkes(0.3, 0.18, accrual_time=1.5, study_time=4.0, dropout_hazard=eta, alpha=0.05, power=0.8,
                         sided=sided, allocation_ratio=ratio, scale=scale)
    n, events = _gsdesign_nsurvival(0.3, 0.18, 4.0, 1.5, eta, ratio, 0.05, 0.2, sided, type_)
    assert res.n_subjects == pytest.approx(n, rel=1e-9)
    assert res.n_events == pytest.approx(events, rel=1e-9)


def test_lachin_foulkes_default_scale_is_gsdesign_default():
    # nSurvival's default type is "rr"
    kw = dict(accrual_time=0.5, study_time=2.0, dropout_hazard=0.1, alpha=0.025, power=0.9)
    assert lachin_foulkes(0.2, 0.1, **kw) == lachin_foulkes(0.2, 0.1, scale="log-hazard-ratio", **kw)
    assert lachin_foulkes(0.2, 0.1, **kw) != lachin_foulkes(0.2, 0.1, scale="hazard-difference", **kw)


def test_lachin_foulkes_accrual_limit_is_continuous():
    near = lachin_foulkes(0.2, 0.1, accrual_time=1e-7, study_time=3.0, alpha=0.025, power=0.9)
    at = lachin_foulkes(0.2, 0.1, accrual_time=0.0, study_time=3.0, alpha=0.025, power=0.9)
    assert near.n_subjects == pytest.approx(at.n_subjects, rel=1e-6)
    assert at.n_subjects_integer() % 2 == 0 and at.n_subjects_integer() >= at.n_subjects


def test_lachin_foulkes_more_followup_needs_fewer_patients_same_events_order():
    short = lachin_foulkes(0.2, 0.1, accrual_time=1.0, study_time=2.0, alpha=0.025, power=0.9)
    long = lachin_foulkes(0.2, 0.1, accrual_time=1.0, study_time=6.0, alpha=0.025, power=0.9)
    assert long.n_subjects < short.n_subjects
    # With everyone followed until death the events approach the hazard-difference requirement from below
    assert long.n_events < long.n_subjects


@pytest.mark.parametrize("kwargs, message", [
    (dict(lambda_control=0.2, lambda_treatment=0.2), "must differ"),
    (dict(lambda_control=-1.0, lambda_treatment=0.2), "lambda_control"),
    (dict(lambda_control=0.2, lambda_treatment=0.1, accrual_time=5.0, study_time=2.0), "study_time"),
    (dict(lambda_control=0.2, lambda_treatment=0.1, scale="rr"), r"`scale` must be .* \(got 'rr'\)"),
])
def test_lachin_foulkes_validates(kwargs, message):
    base = dict(accrual_time=1.0, study_time=3.0, alpha=0.025, power=0.9)
    base.update(kwargs)
    with pytest.raises(ValueError, match=message):
        lachin_foulkes(base.pop("lambda_control"), base.pop("lambda_treatment"), **base)


@pytest.mark.parametrize("call, message", [
    (lambda: schoenfeld_events(1.0, alpha=0.05, power=0.8), "hazard_ratio"),
    (lambda: schoenfeld_events(0.7, alpha=1.5, power=0.8), "alpha"),
    (lambda: freedman_events(0.7, alpha=0.05, power=0.8, sided=3), "sided"),
    (lambda: schoenfeld_events(0.7, alpha=0.05, power=0.8, allocation_ratio=0), "allocation_ratio"),
])
def test_formulas_name_the_bad_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ------------------------------------------------------------------------------------------- exact binomial


def _brute_force_power(n, p0, p1, alpha, sided):
    alternative = "greater" if sided == 1 else "two-sided"
    return sum(stats.binom.pmf(x, n, p1) for x in range(n + 1)
               if stats.binomtest(x, n, p0, alternative=alternative).pvalue <= alpha)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 60), p0=st.floats(0.05, 0.95), p1=st.floats(0.0, 1.0), sided=st.sampled_from([1, 2]))
def test_binomial_power_equals_scipy_binomtest_loop(n, p0, p1, sided):
    assert binomial_power(n, p0, p1, alpha=0.05, sided=sided) == pytest.approx(
        _brute_force_power(n, p0, p1, 0.05, sided), abs=1e-12)


def test_binomial_pvalues_match_bin03():
    # BIN-03 (R binom.test), tolerance 1e-8: 19/20 vs 0.70 one-sided 0.0076372598, two-sided 0.0127754213;
    # 682/925 vs 0.75 two-sided 0.3824915596
    assert binomial_pvalues(20, 0.70, alternative="greater")[19] == pytest.approx(0.0076372598, abs=1e-8)
    assert binomial_pvalues(20, 0.70)[19] == pytest.approx(0.0127754213, abs=1e-8)
    assert binomial_pvalues(925, 0.75)[682] == pytest.approx(0.3824915596, abs=1e-8)
    region = binomial_rejection_region(20, 0.70, alpha=0.01, sided=1)
    assert region[19] and not region[16]


def test_binomial_power_is_a_sawtooth():
    # The exact test's power is not monotone in n: somewhere it drops when n grows by one
    powers = [binomial_power(n, 0.62, 0.85, alpha=0.05, sided=1) for n in range(10, 60)]
    assert any(b < a for a, b in zip(powers, powers[1:]))
    assert powers[-1] > powers[0]
