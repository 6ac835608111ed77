"""Oracle tests: plain-Python loop implementations written here, from the textbook definitions, against the
vectorised estimators; and statsmodels (survdiff, SurvfuncRight, PHReg score) where they overlap."""

import math

import numpy as np
import pytest
from statsmodels.duration.survfunc import SurvfuncRight, survdiff

from trialsim.stats import kaplan_meier, km_survival_at_batch, logrank, logrank_batch, rmst, rmst_difference


# ------------------------------------------------------------------------------------ the loop implementations

def km_loop(time, event):
    """Kaplan-Meier by the definition: one pass over the distinct times, risk sets counted by hand."""
    rows = []
    s, greenwood = 1.0, 0.0
    for t in sorted(set(time)):
        n = sum(1 for x in time if x >= t)
        d = sum(1 for x, e in zip(time, event) if x == t and e)
        if d == 0:
            continue
        s *= (n - d) / n
        greenwood = greenwood + d / (n * (n - d)) if n > d else math.inf
        rows.append((t, n, d, s, s * math.sqrt(greenwood) if s > 0 else math.nan))
    return rows


def logrank_loop(time, event, group, strata=None, rho=0.0, gamma=0.0):
    """Weighted, stratified K-group log-rank test by the definition (Klein & Moeschberger section 7.3-7.5)."""
    labels = sorted(set(group))
    k = len(labels)
    strata = [0] * len(time) if strata is None else list(strata)
    observed, expected = [0.0] * k, [0.0] * k
    variance = [[0.0] * k for _ in range(k)]
    for s in sorted(set(strata)):
        members = [i for i in range(len(time)) if strata[i] == s]
        km = 1.0
        for t in sorted({time[i] for i in members}):
            risk = [i for i in members if time[i] >= t]
            dead = [i for i in risk if time[i] == t and event[i]]
            n, d = len(risk), len(dead)
            if d == 0:
                continue
            w = km ** rho * (1 - km) ** gamma
            n_k = [sum(1 for i in risk if group[i] == lab) for lab in labels]
            d_k = [sum(1 for i in dead if group[i] == lab) for lab in labels]
            for a in range(k):
                observed[a] += w * d_k[a]
                expected[a] += w * d * n_k[a] / n
                if n > 1:
                    for b in range(k):
                        delta = 1.0 if a == b else 0.0
                        variance[a][b] += w * w * d * (n - d) / (n - 1) * n_k[a] / n * (delta - n_k[b] / n)
            km *= (n - d) / n
    use = [a for a in range(k) if expected[a] > 0][1:]
    diff = np.array([observed[a] - expected[a] for a in use])
    v = np.array([[variance[a][b] for b in use] for a in use])
    statistic = float(diff @ np.linalg.solve(v, diff))
    return statistic, np.array(observed), np.array(expected), np.array(variance)


def random_trials(rng, r, n, *, ties=True, n_strata=1):
    """Exponential survival, uniform censoring, rounded to a coarse grid so that ties are common."""
    death = rng.exponential(8.0, (r, n))
    censor = rng.uniform(2.0, 20.0, (r, n))
    time = np.minimum(death, censor)
    if ties:
        time = np.round(time)          # many ties, including events tied with censorings, and zeros
    event = death <= censor
    group = rng.integers(0, 2, (r, n))
    strata = rng.integers(0, n_strata, (r, n))
    return time, event, group, strata


# ------------------------------------------------------------------------------------------------ Kaplan-Meier

def test_kaplan_meier_matches_loop_on_random_data():
    rng = np.random.default_rng(20240401)
    for _ in range(30):
        n = int(rng.integers(1, 40))
        time, event, _, _ = random_trials(rng, 1, n)
        km = kaplan_meier(time[0], event[0])
        rows = km_loop(time[0].tolist(), event[0].tolist())
        assert len(rows) == km.time.size
        if rows:
            ref = np.array(rows)
            np.testing.assert_array_equal(km.time, ref[:, 0])
            np.testing.assert_array_equal(km.n_at_risk, ref[:, 1])
            np.testing.assert_array_equal(km.n_events, ref[:, 2])
            np.testing.assert_allclose(km.survival, ref[:, 3], rtol=1e-13, atol=0)
            np.testing.assert_allclose(km.std_err, ref[:, 4], rtol=1e-12, atol=0, equal_nan=True)


def test_km_survival_at_batch_matches_loop():
    rng = np.random.default_rng(7)
    time, event, group, _ = random_trials(rng, 200, 30)
    for t in (0.0, 3.0, 7.5, 12.0, 100.0):
        s = km_survival_at_batch(time, event, t, group=group, n_groups=2)
        for i in range(0, 200, 17):
            for arm in (0, 1):
                m = group[i] == arm
                rows = km_loop(time[i][m].tolist(), event[i][m].tolist())
                expect = ([1.0] + [row[3] for row in rows if row[0] <= t])[-1]
                assert s[i, arm] == pytest.approx(expect, rel=1e-13, abs=0)


def test_kaplan_meier_matches_statsmodels_survfuncright():
    # statsmodels SurvfuncRight: same KM and Greenwood se (statsmodels reports the se of S, like R's summary)
    rng = np.random.default_rng(11)
    for _ in range(10):
        time, event, _, _ = random_trials(rng, 1, 35)
        km = kaplan_meier(time[0], event[0])
        sf = SurvfuncRight(time[0], event[0].astype(int))
        keep = sf.surv_prob > 0                 # statsmodels gives se 0 where R (and trialsim) give NaN
        np.testing.assert_array_equal(km.time, sf.surv_times)
        np.testing.assert_array_equal(km.n_at_risk, sf.n_risk)
        np.testing.assert_allclose(km.survival, sf.surv_prob, rtol=1e-12)
        np.testing.assert_allclose(km.std_err[keep], sf.surv_prob_se[keep], rtol=1e-10)


# ----------------------------------------------------------------------------------------------------- log-rank

@pytest.mark.parametrize("rho, gamma", [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (0.5, 2.0)])
def test_logrank_matches_loop_two_groups(rho, gamma):
    rng = np.random.default_rng(101)
    time, event, group, strata = random_trials(rng, 25, 24, n_strata=3)
    batch = logrank_batch(time, event, group, rho=rho, gamma=gamma)
    batch_strat = logrank_batch(time, event, group, strata=strata, rho=rho, gamma=gamma)
    for i in range(25):
        args = (time[i].tolist(), event[i].tolist(), group[i].tolist())
        if len(set(group[i].tolist())) < 2 or not event[i].any():
            continue
        stat, obs, exp, var = logrank_loop(*args, rho=rho, gamma=gamma)
        assert batch.statistic[i] == pytest.approx(stat, rel=1e-10)
        np.testing.assert_allclose(batch.observed[i], obs, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(batch.expected[i], exp, rtol=1e-12, atol=1e-12)
        assert batch.variance[i] == pytest.approx(var[1][1], rel=1e-10)
        stat_s, *_ = logrank_loop(*args, strata=strata[i].tolist(), rho=rho, gamma=gamma)
        assert batch_strat.statistic[i] == pytest.approx(stat_s, rel=1e-10)


def test_logrank_matches_loop_three_groups_stratified():
    rng = np.random.default_rng(5)
    for _ in range(15):
        time, event, _, strata = random_trials(rng, 1, 45, n_strata=2)
        group = rng.choice(["a", "b", "c"], 45)
        for rho in (0.0, 1.0):
            res = logrank(time[0], event[0], group, strata=strata[0], rho=rho)
            stat, obs, exp, var = logrank_loop(time[0].tolist(), event[0].tolist(), group.tolist(),
                                               strata[0].tolist(), rho=rho)
            assert res.df == 2
            assert res.statistic == pytest.approx(stat, rel=1e-10)
            np.testing.assert_allclose(res.observed, obs, rtol=1e-12)
            np.testing.assert_allclose(res.expected, exp, rtol=1e-12)
            np.testing.assert_allclose(res.variance, var, rtol=1e-10, atol=1e-12)


def test_logrank_k_group_code_agrees_with_two_group_kernel():
    # the K-group path (used for K > 2) run on two groups, against the batch kernel that serves K = 2
    from trialsim.stats.kernels import logrank_k_groups, logrank_two_groups

    rng = np.random.default_rng(3)
    time, event, group, strata = random_trials(rng, 20, 30, n_strata=3)
    for i in range(20):
        for rho, gamma in ((0.0, 0.0), (1.0, 0.5)):
            o, e, v = logrank_k_groups(time[i], event[i], group[i], 2, strata[i], rho, gamma)
            o1, e1, wd, v1 = logrank_two_groups(time[i][None], event[i][None], group[i].astype(np.int8)[None],
                                                strata[i][None], 3, rho, gamma)
            assert o[1] == pytest.approx(o1[0], rel=1e-12, abs=1e-12)
            assert e[1] == pytest.approx(e1[0], rel=1e-12, abs=1e-12)
            assert v[1, 1] == pytest.approx(v1[0], rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("strata", [False, True])
def test_logrank_matches_statsmodels_survdiff(strata):
    rng = np.random.default_rng(2024)
    time, event, group, st = random_trials(rng, 40, 30, n_strata=3)
    batch = logrank_batch(time, event, group, strata=st if strata else None)
    for i in range(40):
        chisq, p = survdiff(time[i], event[i].astype(int), group[i], strata=st[i] if strata else None)
        assert batch.statistic[i] == pytest.approx(chisq, rel=1e-10)
        assert batch.pvalue[i] == pytest.approx(p, rel=1e-9)


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning:statsmodels")
def test_peto_peto_matches_statsmodels_fh():
    # statsmodels' "fh" weight is S(t-)^fh_p, i.e. G(rho, 0)
    rng = np.random.default_rng(99)
    time, event, group, _ = random_trials(rng, 30, 30)
    batch = logrank_batch(time, event, group, rho=1.0)
    for i in range(30):
        chisq, _ = survdiff(time[i], event[i].astype(int), group[i], weight_type="fh", fh_p=1.0)
        assert batch.statistic[i] == pytest.approx(chisq, rel=1e-9)


def test_three_group_logrank_matches_statsmodels():
    rng = np.random.default_rng(8)
    for _ in range(10):
        time, event, _, _ = random_trials(rng, 1, 50)
        group = rng.integers(0, 3, 50)
        chisq, p = survdiff(time[0], event[0].astype(int), group)
        res = logrank(time[0], event[0], group)
        assert res.statistic == pytest.approx(chisq, rel=1e-10)
        assert res.pvalue == pytest.approx(p, rel=1e-9)


# ------------------------------------------------------------------------------------------------------- RMST

def rmst_loop(time, event, tau):
    """Area under the KM step function by summing rectangles, and the survRM2 variance by its definition."""
    rows = [r for r in km_loop(time, event) if r[0] <= tau]
    points = [(0.0, 1.0)] + [(r[0], r[3]) for r in rows]
    area = sum(s * ((points[j + 1][0] if j + 1 < len(points) else tau) - t) for j, (t, s) in enumerate(points))
    var = 0.0
    for j, r in enumerate(rows):
        a_j = sum(points[m][1] * ((points[m + 1][0] if m + 1 < len(points) else tau) - points[m][0])
                  for m in range(j + 1, len(points)))
        n, d = r[1], r[2]
        var += a_j ** 2 * (d / (n * (n - d)) if n > d else 0.0)
    return area, math.sqrt(var)


def test_rmst_matches_loop():
    rng = np.random.default_rng(12)
    for _ in range(20):
        time, event, group, _ = random_trials(rng, 1, 30, ties=False)
        tau = float(np.quantile(time[0], 0.8))
        res = rmst(time[0], event[0], tau)
        area, se = rmst_loop(time[0].tolist(), event[0].tolist(), tau)
        assert res.estimate == pytest.approx(area, rel=1e-12)
        assert res.std_err == pytest.approx(se, rel=1e-10)
        assert not res.extrapolated


def test_rmst_difference_combines_the_arms():
    rng = np.random.default_rng(13)
    time, event, group, _ = random_trials(rng, 1, 40)
    tau = 6.0
    res = rmst_difference(time[0], event[0], group[0], tau)
    a0 = rmst(time[0][group[0] == 0], event[0][group[0] == 0], tau)
    a1 = rmst(time[0][group[0] == 1], event[0][group[0] == 1], tau)
    assert res.difference == a1.estimate - a0.estimate
    assert res.std_err == pytest.approx(math.hypot(a0.std_err, a1.std_err), rel=1e-14)
    assert res.pvalue == pytest.approx(math.erfc(abs(res.z) / math.sqrt(2)), rel=1e-10)
