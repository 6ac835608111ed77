"""Estimators against published values. Every id (EST-01, DOAML, EST-03, CI-01, BIN-03) is a section of
docs/references.md, which gives each value's source (the R call and package, or the publication) and its
tolerance; the datasets in tests/data/ and their origin are listed there too.

EST-01 (aml), DOAML (R survival's own test output for aml, tests/doaml.Rout.save), EST-03 (Gehan 6-MP), CI-01
and BIN-03.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trialsim.stats import binomial_test, cox, kaplan_meier, logrank, logrank_batch, proportion_ci

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="module")
def aml():
    return pd.read_csv(DATA / "aml.csv")


@pytest.fixture(scope="module")
def gehan():
    return pd.read_csv(DATA / "gehan_6mp.csv")


# ------------------------------------------------------------------------------------------------ EST-01 (aml)

def test_est01_logrank(aml):
    # EST-01: survdiff(Surv(time, status) ~ x, aml); tolerance 1e-8
    res = logrank(aml.time, aml.status, aml.group)
    assert list(res.groups) == ["Maintained", "Nonmaintained"]
    assert res.statistic == pytest.approx(3.396388699, abs=1e-8)
    assert res.df == 1
    assert res.pvalue == pytest.approx(0.06533932204, abs=1e-8)
    np.testing.assert_allclose(res.observed, [7, 11], atol=1e-8)
    np.testing.assert_allclose(res.expected, [10.68933599, 7.310664008], atol=1e-8)
    assert res.variance[1, 1] == pytest.approx(4.007550746, abs=1e-8)
    assert res.variance[0, 1] == pytest.approx(-4.007550746, abs=1e-8)
    assert res.n_per_group.tolist() == [11, 12]
    # positive z: the second group (Nonmaintained) has more relapses than expected
    assert res.z == pytest.approx(np.sqrt(3.396388699), abs=1e-8)


def test_est01_logrank_batch_matches(aml):
    # EST-01 through the batch form (one replicate); tolerance 1e-8
    res = logrank_batch(aml.time.to_numpy()[None], aml.status.to_numpy()[None],
                        (aml.group == "Nonmaintained").to_numpy()[None])
    assert res.statistic[0] == pytest.approx(3.396388699, abs=1e-8)
    assert res.pvalue[0] == pytest.approx(0.06533932204, abs=1e-8)
    np.testing.assert_allclose(res.expected[0], [10.68933599, 7.310664008], atol=1e-8)
    assert res.variance[0] == pytest.approx(4.007550746, abs=1e-8)


EST01_KM_MAINTAINED = np.array([
    # time, n.risk, n.event, S, Greenwood se of S (EST-01)
    [9, 11, 1, 0.90909091, 0.086678417],
    [13, 10, 1, 0.81818182, 0.116291300],
    [18, 8, 1, 0.71590909, 0.139664971],
    [23, 7, 1, 0.61363636, 0.152632331],
    [31, 5, 1, 0.49090909, 0.164193267],
    [34, 4, 1, 0.36818182, 0.162668886],
    [48, 2, 1, 0.18409091, 0.153492746],
])


def test_est01_kaplan_meier_table(aml):
    # EST-01: summary(survfit(...)) for Maintained; tolerance 1e-7 for S and se
    m = aml[aml.group == "Maintained"]
    km = kaplan_meier(m.time, m.status)
    ref = EST01_KM_MAINTAINED
    np.testing.assert_array_equal(km.time, ref[:, 0])
    np.testing.assert_array_equal(km.n_at_risk, ref[:, 1])
    np.testing.assert_array_equal(km.n_events, ref[:, 2])
    np.testing.assert_allclose(km.survival, ref[:, 3], atol=1e-7)
    np.testing.assert_allclose(km.std_err, ref[:, 4], atol=1e-7)


@pytest.mark.parametrize("conf_type, low, high", [
    ("log", 0.754133845, 1.0),            # EST-01, R's default conf.type
    ("plain", 0.739204333, 1.0),          # EST-01
    ("log-log", 0.508080206, 0.98667382),  # EST-01
])
def test_est01_confidence_intervals_at_9(aml, conf_type, low, high):
    # EST-01: 95% CI at t = 9, Maintained; tolerance 1e-7
    m = aml[aml.group == "Maintained"]
    km = kaplan_meier(m.time, m.status, conf_type=conf_type)
    assert km.ci_low[0] == pytest.approx(low, abs=1e-7)
    assert km.ci_high[0] == pytest.approx(high, abs=1e-7)


@pytest.mark.parametrize("group, median, low", [("Maintained", 31, 18), ("Nonmaintained", 23, 8)])
def test_est01_medians(aml, group, median, low):
    # EST-01: print(survfit(...)): median, 0.95LCL, 0.95UCL (NA)
    m = aml[aml.group == group]
    med = kaplan_meier(m.time, m.status).median()
    assert med.estimate == median
    assert med.ci_low == low
    assert np.isnan(med.ci_high)


def test_doaml_nonmaintained_table_and_zero_survival(aml):
    # DOAML (R survival tests/doaml.Rout.save), summary(fit) for Nonmaintained (printed to 4 significant
    # digits, hence tolerance 5e-4 / 5e-5); the last row prints survival 0, std.err NaN and NA limits.
    m = aml[aml.group == "Nonmaintained"]
    km = kaplan_meier(m.time, m.status)
    np.testing.assert_array_equal(km.time, [5, 8, 12, 23, 27, 30, 33, 43, 45])
    np.testing.assert_array_equal(km.n_at_risk, [12, 10, 8, 6, 5, 4, 3, 2, 1])
    np.testing.assert_allclose(km.survival, [0.8333, 0.6667, 0.5833, 0.4861, 0.3889, 0.2917, 0.1944, 0.0972, 0],
                               atol=5e-5)
    np.testing.assert_allclose(km.std_err[:-1], [0.1076, 0.1361, 0.1423, 0.1481, 0.1470, 0.1387, 0.1219, 0.0919],
                               atol=5e-5)
    np.testing.assert_allclose(km.ci_low[:-1], [0.6470, 0.4468, 0.3616, 0.2675, 0.1854, 0.1148, 0.0569, 0.0153],
                               atol=5e-5)
    np.testing.assert_allclose(km.ci_high[:-1], [1.000, 0.995, 0.941, 0.883, 0.816, 0.741, 0.664, 0.620],
                               atol=5e-4)
    assert np.isnan(km.std_err[-1]) and np.isnan(km.ci_low[-1]) and np.isnan(km.ci_high[-1])


@pytest.mark.parametrize("ties, coef, se", [
    ("efron", 0.915532575, 0.5119342752),     # EST-01
    ("breslow", 0.9042197237, 0.5122479073),  # EST-01
])
def test_est01_cox(aml, ties, coef, se):
    # EST-01: coxph(Surv(time, status) ~ x, aml, ties=...), Nonmaintained vs Maintained; tolerance 1e-6
    res = cox(aml.time, aml.status, (aml.group == "Nonmaintained").astype(int), ties=ties)
    assert res.coef[0] == pytest.approx(coef, abs=1e-6)
    assert res.std_err[0] == pytest.approx(se, abs=1e-6)
    assert res.hazard_ratio[0] == pytest.approx(np.exp(coef), rel=1e-6)
    assert res.converged and not res.degenerate


@pytest.mark.parametrize("ties, lr, lr_p, z", [("breslow", 3.3, 0.0694, 1.77), ("efron", 3.38, 0.0658, 1.79)])
def test_doaml_cox_tests(aml, ties, lr, lr_p, z):
    # DOAML (R survival tests/doaml.Rout.save): "Likelihood ratio test=3.3 on 1 df, p=0.0694" (Breslow) and
    # "3.38 ... p=0.0658" (Efron), z 1.77 / 1.79: printed to 3 significant digits, tolerance half a unit
    res = cox(aml.time, aml.status, (aml.group == "Nonmaintained").astype(int), ties=ties)
    assert res.lr_statistic == pytest.approx(lr, abs=0.005 if ties == "efron" else 0.05)
    assert res.lr_pvalue == pytest.approx(lr_p, abs=5e-5)
    assert res.z[0] == pytest.approx(z, abs=0.005)
    # Wald test with one coefficient is z^2; the Breslow score test is the log-rank statistic computed with
    # the binomial (not hypergeometric) variance, which R's coxph prints as the "Score (logrank) test"
    assert res.wald_statistic == pytest.approx(res.z[0] ** 2, rel=1e-12)


# ------------------------------------------------------------------------------------------ EST-03 (Gehan 6-MP)

def test_est03_logrank(gehan):
    # EST-03: survdiff(Surv(time, cens) ~ treat, gehan); values given to 10 significant digits, tolerance 1e-8
    res = logrank(gehan.time, gehan.status, gehan.group)
    assert list(res.groups) == ["6-MP", "control"]
    assert res.statistic == pytest.approx(16.79294099, abs=1e-8)
    assert res.pvalue == pytest.approx(4.168809109e-05, abs=1e-13)
    np.testing.assert_allclose(res.observed, [9, 21], atol=1e-8)
    assert res.expected[0] == pytest.approx(19.25050095, abs=1e-8)


def test_est03_peto_peto(gehan):
    # EST-03: Fleming-Harrington rho = 1 (Peto-Peto), survdiff(..., rho = 1): chisq 14.4572, p 0.0001434;
    # printed to 6 / 4 significant digits: tolerance half a unit in the last digit
    res = logrank(gehan.time, gehan.status, gehan.group, rho=1.0)
    assert res.statistic == pytest.approx(14.4572, abs=5e-5)
    assert res.pvalue == pytest.approx(0.0001434, abs=5e-8)


EST03_KM_6MP = np.array([
    # time, S, se (EST-03, Klein & Moeschberger Table 4.1A)
    [6, 0.85714286, 0.076360355], [7, 0.80672269, 0.086935285], [10, 0.75294118, 0.096349653],
    [13, 0.69019608, 0.106814708], [16, 0.62745098, 0.114053865], [22, 0.53781513, 0.128233752],
    [23, 0.44817927, 0.134591457],
])


def test_est03_kaplan_meier(gehan):
    # EST-03: KM of the 6-MP arm; values to 8 decimals, tolerance 1e-7 (as EST-01)
    m = gehan[gehan.group == "6-MP"]
    km = kaplan_meier(m.time, m.status)
    np.testing.assert_array_equal(km.time, EST03_KM_6MP[:, 0])
    np.testing.assert_allclose(km.survival, EST03_KM_6MP[:, 1], atol=1e-7)
    np.testing.assert_allclose(km.std_err, EST03_KM_6MP[:, 2], atol=1e-7)


@pytest.mark.parametrize("ties, coef, se", [
    ("breslow", 1.509191413, 0.4095644064),  # EST-03
    ("efron", 1.572125149, 0.4123967177),    # EST-03
])
def test_est03_cox(gehan, ties, coef, se):
    # EST-03: control vs 6-MP; tolerance 1e-6 (as EST-01)
    res = cox(gehan.time, gehan.status, (gehan.group == "control").astype(int), ties=ties)
    assert res.coef[0] == pytest.approx(coef, abs=1e-6)
    assert res.std_err[0] == pytest.approx(se, abs=1e-6)


# ------------------------------------------------------------------------------------------- CI-01, BIN-03

@pytest.mark.parametrize("x, n, low, high", [
    (19, 20, 0.7512672372, 0.9987349105),  # CI-01
    (13, 21, 0.3843543904, 0.8189283745),  # CI-01
    (0, 20, 0.0, 0.1684334710),            # CI-01
    (20, 20, 0.8315665290, 1.0),           # CI-01
])
def test_ci01_clopper_pearson(x, n, low, high):
    # CI-01: binom.test(x, n)$conf.int; tolerance 1e-8
    ci = proportion_ci(x, n, method="clopper-pearson")
    assert ci.ci_low == pytest.approx(low, abs=1e-8)
    assert ci.ci_high == pytest.approx(high, abs=1e-8)
    # the binomial test reports the same interval
    res = binomial_test(x, n, 0.5)
    assert (res.ci_low, res.ci_high) == pytest.approx((low, high), abs=1e-8)


def test_ci01_vectorised():
    # CI-01, all four at once through the vectorised form; tolerance 1e-8
    ci = proportion_ci(np.array([19, 13, 0, 20]), np.array([20, 21, 20, 20]))
    np.testing.assert_allclose(ci.ci_low, [0.7512672372, 0.3843543904, 0.0, 0.8315665290], atol=1e-8)
    np.testing.assert_allclose(ci.ci_high, [0.9987349105, 0.8189283745, 0.1684334710, 1.0], atol=1e-8)


def test_bin03_binomial_test():
    # BIN-03: binom.test(682, 925, p = 0.75) and binom.test(19, 20, p = 0.7, ...); values to 10 decimals,
    # tolerance 1e-8 (as CI-01)
    res = binomial_test(682, 925, 0.75)
    assert res.pvalue == pytest.approx(0.3824915596, abs=1e-8)
    assert (res.ci_low, res.ci_high) == pytest.approx((0.7076682641, 0.7654065582), abs=1e-8)
    assert binomial_test(19, 20, 0.70, alternative="greater").pvalue == pytest.approx(0.0076372598, abs=1e-8)
    assert binomial_test(19, 20, 0.70).pvalue == pytest.approx(0.0127754213, abs=1e-8)
