"""Calibration to the published study (docs/study.md, Li et al. 2025) and its exact quantities against
independent oracles.

Exact quantities get exact tolerances. Survival, CMV and the week-8 median dose are roots found by ``brentq``
(xtol 1e-13 on a log hazard, 1e-12 on the taper rate), so they equal their targets to rounding; the response
panel is a weighted least-squares fit, so its values are checked for what a least-squares fit guarantees (a local
minimum of the weighted squared distance, written out here from the targets) and against an independent solution
of the chain, not against the observed counts. Monte Carlo checks use 4 standard errors, written beside each
assertion.
"""

import dataclasses
import itertools
import json
import math

import numpy as np
import pytest
from scipy import optimize, special
from scipy.integrate import quad, solve_ivp

from trialsim.model import calibrate, dose_quantile, infection_probability, model_values
from trialsim.cli import main
from trialsim.model import TARGETS, default_model
from trialsim.model import CR, DEAD, NR, PR, BaselineMix

# Observed values: docs/study.md (Li et al. 2025), sentences R3 to R10, as trialsim.model.TARGETS.
PANEL = [t for t in TARGETS if t.arm == "ruxolitinib" and t.weight > 0]  # the least-squares targets
STATE = {"pr": PR, "cr": CR, "nr": NR, "dead": DEAD}


@pytest.fixture(scope="module")
def result():
    return calibrate(8.0)


def _generator(process, refractory: bool) -> np.ndarray:
    """The chain's intensity matrix written out from the parameters' definitions (model.ResponseProcess)."""
    mu = process.death_hazard_nr
    q = np.zeros((4, 4))
    q[NR, DEAD] = mu
    if not refractory:
        q[NR, PR], q[PR, CR] = process.rate_nr_pr, process.rate_pr_cr
        q[PR, NR] = q[CR, PR] = process.relapse_rate
        q[PR, DEAD], q[CR, DEAD] = mu * process.death_hazard_ratio_pr, mu * process.death_hazard_ratio_cr
    q[np.diag_indices(4)] = -q.sum(axis=1)
    return q


def _forward(q: np.ndarray, start: np.ndarray, times) -> np.ndarray:
    """Kolmogorov forward equations dp/dt = p Q integrated numerically (independent of any matrix exponential)."""
    sol = solve_ivp(lambda _, p: p @ q, (0.0, max(times)), start, t_eval=times, method="DOP853", rtol=1e-12,
                    atol=1e-14)
    return sol.y.T


def _state_probabilities_by_ode(process, times) -> np.ndarray:
    """P(state at t), movers and stayers mixed, everyone in NR at 0 (default baseline: no stratum multipliers)."""
    start = np.eye(4)[NR]
    pi = process.refractory_fraction
    return ((1 - pi) * _forward(_generator(process, False), start, times)
            + pi * _forward(_generator(process, True), start, times))


def test_survival_targets_exact(result):
    # Roots of survival(8) = 19/20 and 13/21 in the NR death hazard (brentq, xtol 1e-13 on its log; the
    # survival moves by less than 1 per unit of log hazard), so exact to rounding: 1e-12.
    assert result.target("survival_ruxolitinib").model == pytest.approx(19 / 20, abs=1e-12)
    assert result.target("survival_control").model == pytest.approx(13 / 21, abs=1e-12)
    # The same survival from an independent solution of the fitted chains (ODE, rtol 1e-12): 1e-9.
    assert BaselineMix().death_hazard_ratio_by_disease == (1.0, 1.0, 1.0)  # one stratum: no mixing to do
    for arm, want in zip(result.model.arms, (19 / 20, 13 / 21)):
        assert 1 - _state_probabilities_by_ode(arm.response, [8.0])[0, DEAD] == pytest.approx(want, abs=1e-9)


def test_response_panel_values_are_exact(result):
    # The model's exact values (expm) against the forward equations solved numerically: 1e-9 (ODE rtol 1e-12)
    ode = _state_probabilities_by_ode(result.model.arms[0].response, [1.0, 3.0, 8.0])
    row = {1.0: 0, 3.0: 1, 8.0: 2}
    for t in PANEL:
        got = result.target(t.name).model
        assert got == pytest.approx(ode[row[t.week], STATE[t.name.split("_")[0]]], abs=1e-9), t.name
    week8 = [result.target(n).model for n in ("nr_alive_week8", "pr_week8", "cr_week8", "dead_week8")]
    assert sum(week8) == pytest.approx(1.0, abs=1e-12)
    # At the default horizon (week 8) dead by week 8 is the survival root itself: 1 - 19/20 to rounding
    assert result.target("dead_week8").model == pytest.approx(1 / 20, abs=1e-12)


def _panel_objective(refractory_fraction: float, rate_nr_pr: float, rate_pr_cr: float, base) -> float:
    """The weighted squared distance to the response panel, written out from the targets (ctdmas.TARGETS).

    The NR death hazard is not free: it is the root of survival(8) = 19/20 for the given response rates.
    """
    def process(mu):
        return dataclasses.replace(base, refractory_fraction=refractory_fraction, rate_nr_pr=rate_nr_pr,
                                   rate_pr_cr=rate_pr_cr, death_hazard_nr=mu)

    mu = optimize.brentq(lambda m: process(m).survival([8.0])[0] - 19 / 20, 1e-8, 50.0, xtol=1e-15, rtol=1e-15)
    probs = process(mu).state_probabilities([1.0, 3.0, 8.0])
    row = {1.0: 0, 3.0: 1, 8.0: 2}
    return sum(t.weight * (probs[row[t.week], STATE[t.name.split("_")[0]]] - t.observed) ** 2 for t in PANEL)


def test_response_panel_is_a_least_squares_minimum(result):
    """The fitted (refractory fraction, NR -> PR rate, PR -> CR rate) minimise the weighted squared distance.

    Steps of h = 1e-3 in the unconstrained coordinates (logit of the fraction, logs of the rates), along the
    three axes and the eight diagonals: the objective must rise in every direction (by ~3e-8 to 1.2e-7 here,
    far above its rounding, ~1e-16). Along each axis the vertex of the parabola through the three values,
    -h (f+ - f-) / (2 (f+ + f- - 2 f0)), must lie within 1e-5 of the fit (least_squares stops at xtol 1e-10;
    the parabola's own error is O(h^2)). The fitted values are not required to equal the observed counts: a
    constant-rate chain cannot match all seven (cr_week3 is 0.101 against 3/20, docs/model.md), and each lies
    inside its Clopper-Pearson interval (test_every_target_inside_observed_interval).
    """
    base = result.model.arms[0].response
    theta = np.array([special.logit(base.refractory_fraction), math.log(base.rate_nr_pr), math.log(base.rate_pr_cr)])

    def f(th):
        return _panel_objective(float(special.expit(th[0])), math.exp(th[1]), math.exp(th[2]), base)

    f0 = f(theta)
    h = 1e-3
    directions = list(np.eye(3)) + [np.array(s) / math.sqrt(3) for s in itertools.product((-1, 1), repeat=3)]
    for k, e in enumerate(directions):
        plus, minus = f(theta + h * e), f(theta - h * e)
        assert plus > f0 and minus > f0, (k, plus - f0, minus - f0)
        if k < 3:
            vertex = -h * (plus - minus) / (2 * (plus + minus - 2 * f0))
            assert abs(vertex) < 1e-5, (k, vertex)


def test_cmv_and_doses(result):
    # CMV: root of P(infection by 8) = 4/20 in the log hazard (brentq, xtol 1e-13): exact to rounding, 1e-12
    assert result.target("cmv_week8").model == pytest.approx(4 / 20, abs=1e-12)
    # The starting median is the parameter itself (2.7 mg/kg/day, docs/study.md R9)
    assert result.target("dose_median_week0").model == 2.7
    assert result.model.arms[0].taper.start_dose_median == 2.7
    # Week-8 median: root in the taper rate (xtol 1e-12; the median moves by 3.9 mg/kg/day per unit of rate,
    # so <= 4e-12) of the exact mixture median (itself a root, xtol 1e-12 on the log dose): 1e-10
    assert result.target("dose_median_week8").model == pytest.approx(0.5, abs=1e-10)


def test_every_target_inside_observed_interval(result):
    outside = [t.name for t in result.targets if not t.inside]
    assert not outside
    # the Clopper-Pearson intervals printed beside the targets: docs/references.md, CI-01 (R binom.test),
    # tolerance 1e-8
    assert result.target("survival_ruxolitinib").ci_low == pytest.approx(0.7512672372, abs=1e-8)
    assert result.target("survival_ruxolitinib").ci_high == pytest.approx(0.9987349105, abs=1e-8)
    assert result.target("survival_control").ci_low == pytest.approx(0.3843543904, abs=1e-8)
    assert result.target("survival_control").ci_high == pytest.approx(0.8189283745, abs=1e-8)
    # the least-squares targets, one by one, inside theirs
    for t in PANEL:
        row = result.target(t.name)
        assert row.ci_low <= row.model <= row.ci_high, t.name


@pytest.mark.parametrize("horizon", [12.0, 26.0])
def test_other_horizons_meet_survival_targets(horizon):
    res = calibrate(horizon)
    assert res.horizon_weeks == horizon
    # roots, as at week 8: exact to rounding
    assert res.target("survival_ruxolitinib").model == pytest.approx(19 / 20, abs=1e-12)
    assert res.target("survival_control").model == pytest.approx(13 / 21, abs=1e-12)
    surv = res.model.arms[0].survival([horizon])[0]
    assert surv == pytest.approx(19 / 20, abs=1e-12)
    assert res.all_inside


def test_deterministic():
    a = calibrate(10.0)
    b = calibrate(10.0)
    assert a.model == b.model and a.targets == b.targets


def test_default_model_is_the_calibrated_model(result):
    assert default_model() == result.model
    assert default_model().arm_names == ("ruxolitinib", "control")


def test_model_values_cover_every_target(result):
    assert set(model_values(result.model, 8.0)) == {t.name for t in TARGETS}


def _simulate_paths(process, n, rng, horizon):
    """Naive oracle: competing exponentials, one jump at a time, for n patients; returns jump times and states."""
    refractory = rng.random(n) < process.refractory_fraction
    t = np.zeros(n)
    state = np.zeros(n, dtype=int)
    history = [(t.copy(), state.copy())]
    while True:
        alive = (state < 3) & (t < horizon)
        if not alive.any():
            break
        q = process.generator()
        rates = np.where(refractory[:, None], process.refractory_generator()[state], q[state]).copy()
        rates[np.arange(n), state] = 0.0
        total = rates.sum(axis=1)
        moving = alive & (total > 0)
        wait = np.full(n, np.inf)
        wait[moving] = rng.exponential(1 / total[moving])
        u = rng.random(n) * total
        nxt = (np.cumsum(rates, axis=1) < u[:, None]).sum(axis=1)
        t = np.where(moving, t + wait, np.inf)
        state = np.where(moving & (t < horizon), nxt, state)
        history.append((t.copy(), state.copy()))
        if not np.isfinite(t).any():
            break
    return history


def _state_at(history, when):
    state = history[0][1].copy()
    for t, s in history[1:]:
        state = np.where(t <= when, s, state)
    return state


def _week8_dose_median_by_path_enumeration(arm) -> float:
    """Oracle for the exact median: every one of the 3^8 visit paths (NR, PR or CR at weeks 1 to 8) of a patient
    alive at week 8, its probability from one-week transition matrices (forward equations, no expm) and its log
    dose log(2.7) + sum of the taper's log factors; the log dose is normal given the path, so the median solves
    sum_paths p * Phi((log x - m_path) / sd) = 1/2 over the living (brentq to 1e-14)."""
    taper, process = arm.taper, arm.response
    log_factor = -taper.rate * np.array([taper.weight_nr, taper.weight_pr, taper.weight_cr])  # per visit, by state
    paths = np.array(list(itertools.product((NR, PR, CR), repeat=8)))
    shift = log_factor[paths].sum(axis=1)
    prob = np.zeros(len(paths))
    for share, refractory in ((1 - process.refractory_fraction, False), (process.refractory_fraction, True)):
        q = _generator(process, refractory)
        week = np.array([_forward(q, np.eye(4)[s], [1.0])[0] for s in range(4)])  # P(state after a week | s)
        p = np.full(len(paths), share)
        previous = np.full(len(paths), NR)
        for v in range(8):
            p = p * week[previous, paths[:, v]]
            previous = paths[:, v]
        prob += p
    prob /= prob.sum()
    loc, sd = math.log(taper.start_dose_median) + shift, taper.start_dose_sd_log

    def below(log_x):
        return float(prob @ special.ndtr((log_x - loc) / sd)) - 0.5

    return math.exp(optimize.brentq(below, loc.min() - 10 * sd, loc.max() + 10 * sd, xtol=1e-14))


def test_dose_median_against_path_enumeration(result):
    # Two exact computations of the same number (path classes by visit counts with expm, against all 6,561
    # paths with ODE transition matrices): 1e-9, the ODE's accuracy (rtol 1e-12) with room for 8 products.
    arm = result.model.arms[0]
    exact = dose_quantile(arm, result.model.baseline, result.model.visit_times, 8.0)
    assert exact == pytest.approx(_week8_dose_median_by_path_enumeration(arm), abs=1e-9)


def test_dose_median_against_naive_simulation(result):
    """Oracle for the exact mixture median: simulate paths, apply the taper visit by visit.

    The check is the share of simulated patients alive at week 8 whose dose is at most the exact median: it is
    1/2 exactly if the median is right, and it is a binomial proportion, so its s.e. is sqrt(0.25 / N) with N
    the patients alive (about 38,000 of 40,000): 0.0026, and 4 s.e. = 0.010. (A sample median would be checked
    through the density at the median, f(m) = 1.73 per mg/kg/day: s.e. 1 / (2 f(m) sqrt(N)) = 0.0015.)
    """
    arm = result.model.arms[0]
    rng = np.random.default_rng(20251027)
    n = 40_000
    hist = _simulate_paths(arm.response, n, rng, 8.5)
    dose = arm.taper.start_dose_median * np.exp(arm.taper.start_dose_sd_log * rng.standard_normal(n))
    logf = arm.taper.log_factors()
    for week in range(1, 9):
        s = _state_at(hist, float(week))
        alive = s < 3
        dose = np.where(alive, dose * np.exp(logf[np.minimum(s, 2)]), np.nan)
    exact = dose_quantile(arm, result.model.baseline, result.model.visit_times, 8.0)
    living = dose[np.isfinite(dose)]
    share = np.mean(living <= exact)
    assert abs(share - 0.5) <= 4 * math.sqrt(0.25 / living.size)  # 4 s.e. of a binomial share


def test_state_probabilities_against_naive_simulation(result):
    """The week-1 and week-8 panel by simulation; tolerance 4 * sqrt(p(1-p)/n)."""
    arm = result.model.arms[0]
    n = 40_000
    hist = _simulate_paths(arm.response, n, np.random.default_rng(7), 8.5)
    for week, name, code in [(1.0, "pr_week1", 1), (8.0, "cr_week8", 2), (8.0, "pr_week8", 1),
                             (8.0, "nr_alive_week8", 0), (8.0, "dead_week8", 3)]:
        p = result.target(name).model
        got = np.mean(_state_at(hist, week) == code)
        assert abs(got - p) <= 4 * math.sqrt(p * (1 - p) / n), name


def test_infection_probability_against_quadrature(result):
    """P(infection by 8) = int_0^8 c exp(-c t) S(t) dt for a constant hazard c (independent formula)."""
    arm = result.model.arms[0]
    c = arm.infection.hazard
    integral = quad(lambda t: c * math.exp(-c * t) * arm.survival([t])[0], 0, 8, epsabs=1e-12)[0]
    assert infection_probability(arm, BaselineMix(), 8.0) == pytest.approx(integral, abs=1e-9)


def test_cli_calibrate_json_keys(capsys):
    assert main(["calibrate", "--json", "--horizon", "12"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["horizon_weeks"] == 12.0
    names = {t["name"] for t in payload["targets"]}
    assert {"survival_ruxolitinib", "survival_control", "pr_week1", "cr_week8", "pr_week8", "nr_alive_week8",
            "dead_week8", "cmv_week8", "dose_median_week0", "dose_median_week8"} <= names
    for t in payload["targets"]:
        assert {"name", "observed", "ci_low", "ci_high", "model", "inside"} <= set(t)
        assert t["inside"] is True
    # the parameters printed are those of the calibration at that horizon (floats survive JSON exactly)
    assert payload["parameters"] == calibrate(12.0).to_dict()["parameters"]


def test_cli_calibrate_text_and_bad_horizon(capsys):
    assert main(["calibrate"]) == 0
    out = capsys.readouterr().out
    assert "survival_ruxolitinib" in out and "19/20" in out and "rux_rate_nr_pr" in out
    assert main(["calibrate", "--horizon", "-3"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--horizon" in err[0] and "-3" in err[0]


def test_dose_dependent_infection_reduces_to_constant_when_dose_is_constant(result):
    """With no taper and no dose spread, hazard * dose / reference is the constant hazard: same probability."""
    arm = result.model.arms[0]
    flat = dataclasses.replace(arm, taper=dataclasses.replace(arm.taper, rate=0.0, start_dose_sd_log=0.0),
                               infection=dataclasses.replace(arm.infection, dose_dependent=True))
    assert infection_probability(flat, BaselineMix(), 8.0) == pytest.approx(
        infection_probability(arm, BaselineMix(), 8.0), abs=1e-12)


@pytest.mark.slow
def test_dose_dependent_calibration_against_naive_simulation():
    """Calibrating a dose-proportional CMV hazard to 4/20; check P(infection by 8) by simulating patients.

    Tolerance 4 * sqrt(p (1 - p) / n) with n = 40,000.
    """
    from trialsim.model import Assumptions

    res = calibrate(8.0, assumptions=Assumptions(infection_dose_dependent=True))
    arm = res.model.arms[0]
    assert arm.infection.dose_dependent
    assert res.target("cmv_week8").model == pytest.approx(4 / 20, abs=1e-12)  # a root, as in test_cmv_and_doses
    rng = np.random.default_rng(11)
    n = 40_000
    hist = _simulate_paths(arm.response, n, rng, 8.5)
    dose = arm.taper.start_dose_median * np.exp(arm.taper.start_dose_sd_log * rng.standard_normal(n))
    death = np.full(n, np.inf)
    for t, s in hist[1:]:
        death = np.where((s == 3) & ~np.isfinite(death), t, death)
    threshold = rng.exponential(size=n)
    cum = np.zeros(n)
    infected = np.zeros(n, dtype=bool)
    logf = arm.taper.log_factors()
    for week in range(1, 9):
        start = week - 1.0
        exposure = np.clip(np.minimum(death, float(week)) - start, 0.0, 1.0)
        rate = arm.infection.hazard * dose / arm.infection.reference_dose
        infected |= cum + rate * exposure >= threshold
        cum += rate * exposure
        s = _state_at(hist, float(week))
        dose = np.where(s < 3, dose * np.exp(logf[np.minimum(s, 2)]), dose)
    p = 4 / 20
    assert abs(infected.mean() - p) <= 4 * math.sqrt(p * (1 - p) / n)  # 4 s.e. = 0.0080
