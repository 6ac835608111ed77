"""The analytic power beside every simulated power, checked against simulation branch by branch.

Every check uses a horizon (week 4) shorter than the follow-up (week 8): the formulas must count what the
analysis uses (deaths, exposure and status by the horizon), not what the trial follows. Each formula is
checked where its assumptions hold: trials large enough that its normal approximation is accurate to well
under the Monte Carlo tolerance (at R = 40,000 the largest systematic gap seen among the cases below was about
0.009, 1.3 standard errors at R = 4,000); the exact binomial power holds at any size. How far the
approximations are from simulation in trials as small as the planned one is shown in ``docs/design.md``.

Monte Carlo tolerances: the simulated power is a binomial proportion over R independent trials, so its
standard error is sqrt(p (1 - p) / R) with p the analytic power; every check allows 4 standard errors.
"""

import math
from dataclasses import replace

import numpy as np
import pytest

from trialsim.design.analytic import event_probability
from trialsim.model import default_model
from trialsim.design import HistoricalControlDesign, SingleArmDesign, TwoArmDesign
from trialsim.model import Accrual, DiseaseModel, ParametricArm, Trial
from trialsim.design.montecarlo import run
from trialsim.design import expected_events, power

R = 4000  # replicates per check: 4 s.e. is at most 4 sqrt(0.25 / 4000) = 0.032
H = 4.0   # the design's horizon (weeks); every trial below follows patients to week 8


def exponential_arms(treatment_survival: float, control_survival: float) -> DiseaseModel:
    """Two exponential arms with the given survival at week 8."""
    return DiseaseModel(arms=(ParametricArm.from_survival(treatment_survival, 8.0),
                              ParametricArm.from_survival(control_survival, 8.0)), arm_names=("treatment", "control"))


def check_power(model, trial, design, *, seed):
    """Simulated power equals the analytic power within 4 Monte Carlo standard errors; returns both."""
    res = power(model, trial, design, n_replicates=R, seed=seed, n_jobs=1)
    p = res.analytic_power
    assert 0.1 < p < 0.9, "a power near 0 or 1 would make the check uninformative"
    se = math.sqrt(p * (1 - p) / R)
    # 4 s.e.: s.e. = sqrt(p (1 - p) / R) with p the analytic power
    assert abs(res.power - p) < 4 * se, f"simulated {res.power:.4f}, analytic {p:.4f}, s.e. {se:.4f}"
    return res


def check_horizon_matters(model, trial, design):
    """The analytic power at the horizon is far (> 8 s.e.) from the one at the follow-up: the check can fail."""
    at_horizon = design.analytic_power(model, trial).power
    at_follow_up = replace(design, horizon=None).analytic_power(model, trial).power
    se = math.sqrt(at_horizon * (1 - at_horizon) / R)
    assert abs(at_horizon - at_follow_up) > 8 * se


LATE_CUT = dict(accrual=Accrual(kind="poisson", rate=200.0), analysis="calendar", analysis_time=7.0)

# ------------------------------------------------------------------------------------------ two arms

# Hazard ratio log(0.53) / log(0.45) = 0.795: near enough to 1 for Schoenfeld's drift |log HR| / 4 per death
# (exact 1 / (1 + HR) - 1/2) and unit variance to hold, with some 240 deaths by week 4.
LOGRANK_CASES = {
    "complete": Trial(n=800),
    # Poisson accrual over ~4 weeks and a calendar cut at week 7: patients entering after week 3 are cut
    # before the horizon; loss to follow-up 0.02 per week
    "calendar cut and dropout": Trial(n=800, dropout_hazard=(0.02, 0.02), **LATE_CUT),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", LOGRANK_CASES)
def test_two_arm_logrank_power_at_a_short_horizon(case):
    model, trial, design = exponential_arms(0.53, 0.45), LOGRANK_CASES[case], TwoArmDesign(horizon=H)
    check_horizon_matters(model, trial, design)
    res = check_power(model, trial, design, seed=101)
    assert res.analytic_method == "Schoenfeld"


# Survival at week 4 0.922 vs 0.866; uncorrected chi-square (the normal approximation's own test), 150 per arm
BINARY_CASES = {
    "complete": Trial(n=300),
    # complete cases: patients lost alive before the horizon are left out
    "dropout": Trial(n=300, dropout_hazard=(0.05, 0.05)),
    "calendar cut and dropout": Trial(n=400, dropout_hazard=(0.03, 0.03), accrual=Accrual(kind="poisson", rate=100.0),
                                      analysis="calendar", analysis_time=6.0),
}


@pytest.mark.parametrize("case", BINARY_CASES)
def test_survival_at_the_horizon_power(case):
    model, trial = exponential_arms(0.85, 0.75), BINARY_CASES[case]
    design = TwoArmDesign(endpoint="survival_binary", test="chi2", horizon=H)
    check_horizon_matters(model, trial, design)
    check_power(model, trial, design, seed=102)


@pytest.mark.slow
def test_response_power_with_the_calibrated_model():
    # CR + PR at week 8 under the calibrated model, 0.80 vs 0.42, times exp(-0.05 * 8) for loss to follow-up
    # (non-responder imputation): 0.54 vs 0.28. 100 per arm at two-sided alpha 1e-4, where the normal
    # approximation is within 0.001 of the exact power of the chi-square test (0.4102 vs 0.4099, checked by
    # enumerating both binomials); with dropout 0.02, 25 per arm and alpha 0.005 it is 0.295 vs 0.345. The
    # horizon (week 4) only changes the deaths reported, not the response at week 8.
    model = default_model()
    trial = Trial(n=200, dropout_hazard=(0.05, 0.05))
    design = TwoArmDesign(endpoint="response", test="chi2", alpha=1e-4, horizon=H)
    res = check_power(model, trial, design, seed=103)
    assert res.analytic_power == pytest.approx(replace(design, horizon=None).analytic_power(model, trial).power,
                                               rel=1e-12)


# --------------------------------------------------------------------------------------------- single arm

# Treatment survival 0.80 at week 8 (exponential): at week 4, S = 0.894 and some 32 deaths in 300 patients.
# The one-sample log-rank test compares them with a historical hazard 1.3 times the true one.
TREATMENT_HAZARD = -math.log(0.80) / 8.0
SINGLE_CASES = {"complete": (0.0,), "dropout": (0.03,)}


@pytest.mark.parametrize("case", SINGLE_CASES)
def test_one_sample_logrank_power(case):
    model = exponential_arms(0.80, 0.62)
    trial = Trial(n=300, allocation=(1,), dropout_hazard=SINGLE_CASES[case])
    # null_hazard given, so the horizon changes the deaths and exposure the formula counts, not the null
    design = SingleArmDesign(test="logrank", null_hazard=1.3 * TREATMENT_HAZARD, horizon=H)
    check_horizon_matters(model, trial, design)
    check_power(model, trial, design, seed=104)


@pytest.mark.parametrize("case", SINGLE_CASES)
def test_exact_binomial_power(case):
    # Exact at any size: 40 patients, survival at week 4 (0.894) against 0.80. With dropout only the patients
    # of known status are tested, M ~ Bin(n, P(known)), and the power is averaged over M.
    model = exponential_arms(0.80, 0.62)
    trial = Trial(n=40, allocation=(1,), dropout_hazard=SINGLE_CASES[case])
    design = SingleArmDesign(null_survival=0.80, horizon=H)
    check_horizon_matters(model, trial, design)
    res = check_power(model, trial, design, seed=105)
    assert res.analytic_method == "exact binomial"


# ------------------------------------------------------------------------------------- historical control


@pytest.mark.parametrize("test", ["chi2", "logrank"])
def test_historical_control_power(test):
    if test == "chi2":
        # survival at week 4: 0.894 (trial) vs 0.787 (historical), 200 patients each
        model, n, m, dropout = exponential_arms(0.80, 0.62), 200, 200, 0.0
    else:
        # log-rank as in the two-arm case (HR 0.795), 400 trial patients (loss 0.02 per week) vs 400 historical
        model, n, m, dropout = exponential_arms(0.53, 0.45), 400, 400, 0.02
    trial = Trial(n=n, allocation=(1,), dropout_hazard=(dropout,))
    design = HistoricalControlDesign(n_historical=m, test=test, horizon=H)
    check_horizon_matters(model, trial, design)
    check_power(model, trial, design, seed=106)


# ------------------------------------------------------------------------------------------------- deaths

DEATH_CASES = {
    "two-arm log-rank, calendar cut and dropout": (exponential_arms(0.53, 0.45),
                                                    Trial(n=200, dropout_hazard=(0.02, 0.04), **LATE_CUT),
                                                    TwoArmDesign(horizon=H)),
    "two-arm response, calibrated model": (default_model(), Trial(n=40, dropout_hazard=(0.02, 0.02)),
                                           TwoArmDesign(endpoint="response", horizon=H)),
    "single arm, one-sample log-rank, dropout": (exponential_arms(0.80, 0.62),
                                                 Trial(n=60, allocation=(1,), dropout_hazard=(0.03,)),
                                                 SingleArmDesign(test="logrank", horizon=H)),
    "historical control, Fisher": (exponential_arms(0.80, 0.62), Trial(n=40, allocation=(1,), dropout_hazard=(0.0,)),
                                   HistoricalControlDesign(horizon=H)),
}


@pytest.mark.parametrize("case", DEATH_CASES)
def test_mean_deaths_by_the_horizon_equal_the_analytic_expectation(case):
    model, trial, design = DEATH_CASES[case]
    trial = design.prepare_trial(trial)
    out = run(model, trial, design, n_replicates=R, seed=107, n_jobs=1).outcome
    analytic = design.analytic_power(model, trial)
    by_arm = out.n_events_by_arm
    assert by_arm.shape == (R, len(analytic.n_events_by_arm))
    np.testing.assert_array_equal(out.n_events, by_arm.sum(axis=1))
    assert analytic.n_events == pytest.approx(sum(analytic.n_events_by_arm), rel=1e-12)
    # The deaths by the horizon are clearly fewer than those by the end of follow-up (the check can fail)
    full = replace(design, horizon=None).analytic_power(model, trial)
    assert full.n_events > analytic.n_events + 8 * out.n_events.std(ddof=1) / math.sqrt(R)
    for simulated, expected in [(out.n_events, analytic.n_events), *zip(by_arm.T, analytic.n_events_by_arm)]:
        # 4 s.e.: s.e. = sample sd of the deaths / sqrt(R) (expected deaths are exact up to quadrature, but
        # for calendar cuts they use typical entry times, which moves them by a small fraction of that)
        se = simulated.std(ddof=1) / math.sqrt(R)
        assert abs(simulated.mean() - expected) < 4 * se, f"{simulated.mean():.3f} vs {expected:.3f}, s.e. {se:.3f}"


# ---------------------------------------------------------------------------- exact identities, no simulation

DESIGNS = [TwoArmDesign(horizon=H), TwoArmDesign(endpoint="survival_binary", horizon=H),
           SingleArmDesign(horizon=H), SingleArmDesign(test="logrank", null_hazard=0.05, horizon=H),
           HistoricalControlDesign(horizon=H), HistoricalControlDesign(test="logrank", horizon=H)]
TRIALS = [Trial(n=40), Trial(n=40, dropout_hazard=(0.03, 0.01)),
          Trial(n=40, dropout_hazard=(0.02, 0.02), accrual=Accrual(kind="poisson", rate=5.0), analysis="calendar",
                analysis_time=9.0)]


@pytest.mark.parametrize("design", DESIGNS, ids=lambda d: d.describe())
@pytest.mark.parametrize("trial", TRIALS, ids=["complete", "dropout", "calendar"])
def test_a_horizon_is_the_same_as_following_patients_only_that_long(design, trial):
    # Analysed at week 4, a trial that follows patients to week 8 is the trial that follows them to week 4:
    # the observation window of a patient is min(horizon, window) either way
    model = exponential_arms(0.9, 0.62)
    long, short = design.analytic_power(model, trial), design.analytic_power(model, replace(trial, follow_up=H))
    assert long.power == pytest.approx(short.power, rel=1e-9)
    assert long.n_events_by_arm == pytest.approx(short.n_events_by_arm, rel=1e-9)


def test_analytic_deaths_by_arm_follow_the_design():
    model = exponential_arms(0.9, 0.62)
    two = TwoArmDesign(horizon=H).analytic_power(model, Trial(n=40))
    # Exponential arms: deaths by week 4 are 20 (1 - S(8) ** (4 / 8)) per arm
    assert two.n_events_by_arm == pytest.approx((20 * (1 - 0.9 ** 0.5), 20 * (1 - 0.62 ** 0.5)), rel=1e-12)
    assert two.n_events == pytest.approx(sum(two.n_events_by_arm), rel=1e-12)
    single = SingleArmDesign(horizon=H).analytic_power(model, Trial(n=20, allocation=(1,), dropout_hazard=(0.0,)))
    assert single.n_events_by_arm == pytest.approx((20 * (1 - 0.9 ** 0.5),), rel=1e-12)
    hist = HistoricalControlDesign(n_historical=21, horizon=H).analytic_power(
        model, Trial(n=20, allocation=(1,), dropout_hazard=(0.0,)))
    assert hist.n_events_by_arm == pytest.approx((20 * (1 - 0.9 ** 0.5), 21 * (1 - 0.62 ** 0.5)), rel=1e-12)


def test_event_driven_analysis_caps_the_deaths_in_proportion():
    model = exponential_arms(0.9, 0.62)
    trial = Trial(n=40, analysis="events", target_events=5)
    res = TwoArmDesign(horizon=H).analytic_power(model, trial)
    uncapped = TwoArmDesign(horizon=H).analytic_power(model, Trial(n=40)).n_events_by_arm
    assert sum(uncapped) > 5 and res.n_events == pytest.approx(5.0, rel=1e-12)
    assert res.n_events_by_arm[0] / res.n_events_by_arm[1] == pytest.approx(uncapped[0] / uncapped[1], rel=1e-12)


def test_expected_events_and_event_probability_take_a_horizon():
    model = exponential_arms(0.9, 0.62)
    trial = Trial(n=40, dropout_hazard=(0.05, 0.05))
    assert expected_events(model, trial) == expected_events(model, trial, horizon=8.0)
    # Death against loss to follow-up (both exponential): P(death seen by h) = l / (l + e) (1 - exp(-(l + e) h)),
    # expected time seen (1 - exp(-(l + e) h)) / (l + e)
    lam, eta = -math.log(0.62) / 8, 0.05
    deaths, exposure = event_probability(model, trial, 1, horizon=H)
    assert deaths == pytest.approx(lam / (lam + eta) * -math.expm1(-(lam + eta) * H), rel=1e-6)
    assert exposure == pytest.approx(-math.expm1(-(lam + eta) * H) / (lam + eta), rel=1e-6)
    with pytest.raises(ValueError, match=r"`horizon` must not exceed the trial's follow-up \(8 weeks\) \(got 9\)"):
        expected_events(model, trial, horizon=9)
    with pytest.raises(ValueError, match=r"`horizon` must be a finite number > 0 \(got -1\)"):
        event_probability(model, trial, 0, horizon=-1)
