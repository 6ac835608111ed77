"""trialsim.design.survival_sizing against SAS PROC SEQDESIGN and rpact's getSampleSizeSurvival (Schoenfeld
events, exponential arms and dropout, uniform accrual), the expected-events formula against a quadrature, and
max_attainable_logrank_z against a brute-force enumeration with a plain log-rank written here.

Sources (values copied below):

- SAS: gsDesign (github.com/keaven/gsDesign), tests/benchmarks/SAS_nsurv_01.sas and SAS_nsurv_01.htm: PROC
  SEQDESIGN, ``design nstages=4 method=errfuncobf`` (two-sided alpha 0.05, beta 0.1), ``samplesize
  model=twosamplesurvival``. Program 3: nullhazard=0.03466 hazard=0.01733 accrual=uniform acctime=10
  foltime=10; program 4: nullhazard=0.034657359 hazard=0.01732868 acctime=25 accrate=6.
- RPACT-SURV: rpact (github.com/rpact-com/rpact), tests/testthat/test-f_design_plan_survival.R at commit
  b101e4be0a7dcecb136232419c699b7655c9edba (the last before "Unit tests removed"). rpact's default
  typeOfComputation is "Schoenfeld", as here.
"""

import itertools
import json
import math

import numpy as np
import pytest
from scipy import integrate

from trialsim.design.boundaries import group_sequential_design
from trialsim.design.survival_sizing import (
    boundary_reachable,
    expected_events_by_time,
    max_attainable_logrank_z,
    survival_design,
)
from trialsim.exceptions import InputError

REL = 1e-6


@pytest.fixture(scope="module")
def sas_design():
    return group_sequential_design([0.25, 0.5, 0.75, 1], alpha=0.05, power=0.9, sided=2, efficacy="ld-of")


def test_sas_accrual_rate_and_time_given_follow_up_solved(sas_design):
    # SAS program 4: Accrual Rate 6, Accrual Time 25, Follow-up Time 24.74524, Max Number of Events 89.07848;
    # per look D 22.26962, 44.53924, 66.80886, 89.07848 (from "Boundary Information"), Time 18.3766, 27.0531,
    # 36.6750, 49.7452, N 110.26, 150, 150, 150. SAS's drift (3.27101) differs from ours by 1.2e-6, hence
    # 1e-5 relative on events.
    s = survival_design(sas_design, hazard_ratio=0.01732868 / 0.034657359, control_hazard=0.034657359,
                        accrual_rate=6, accrual_time=25)
    assert s.follow_up == pytest.approx(24.74524, rel=1e-5)
    assert s.max_events == pytest.approx(89.07848, rel=1e-5)
    np.testing.assert_allclose(s.events, [22.26962, 44.53924, 66.80886, 89.07848], rtol=1e-5)
    np.testing.assert_allclose(s.analysis_time, [18.3766, 27.0531, 36.6750, 49.7452], rtol=1e-5)
    np.testing.assert_allclose(s.subjects, [110.26, 150, 150, 150], rtol=5e-5)
    assert s.n_subjects == 150


def test_sas_accrual_and_follow_up_given_rate_solved(sas_design):
    # SAS program 3: Accrual Rate 28.26166, Max Sample Size 282.6166, Max Number of Events 89.07847; Time 8.0879,
    # 11.7797, 15.6525, 20.0000; N 228.58, 282.62, 282.62, 282.62
    s = survival_design(sas_design, hazard_ratio=0.5, control_hazard=0.03466, accrual_time=10, follow_up=10)
    assert s.accrual_rate == pytest.approx(28.26166, rel=1e-5)
    assert s.n_subjects == pytest.approx(282.6166, rel=1e-5)
    np.testing.assert_allclose(s.analysis_time, [8.0879, 11.7797, 15.6525, 20.0], rtol=1e-5)
    np.testing.assert_allclose(s.subjects, [228.58, 282.62, 282.62, 282.62], rtol=5e-5)
    assert s.max_events == pytest.approx(89.07847, rel=1e-5)


@pytest.mark.parametrize("control", [dict(control_hazard=0.02), dict(control_survival=(0.7, 24))])
def test_rpact_obrien_fleming_k2_defaults(control):
    # getSampleSizeSurvival(design = getDesignGroupSequential(kMax = 2), hazardRatio = 0.5, lambda2 = 0.02) and
    # (..., hazardRatio = 0.5, pi2 = 0.3, eventTime = 24); defaults alpha 0.025, beta 0.2, typeOfDesign "OF",
    # accrualTime 12, followUpTime 6.
    expected = {"control_hazard": (33.872594, 406.47112, 398.17083, 11.754955),
                "control_survival": (44.393694, 532.72433, 524.59793, 11.816947)}[next(iter(control))]
    design = group_sequential_design([0.5, 1], alpha=0.025, power=0.8, efficacy="of")
    s = survival_design(design, hazard_ratio=0.5, accrual_time=12, follow_up=6, **control)
    assert s.max_events == pytest.approx(65.854457, rel=REL)
    assert s.events[0] == pytest.approx(32.927229, rel=REL)
    rate, n, n1, t1 = expected
    assert (s.accrual_rate, s.n_subjects, s.subjects[0], s.analysis_time[0]) == pytest.approx((rate, n, n1, t1),
                                                                                            rel=REL)
    assert s.analysis_time[1] == 18
    np.testing.assert_allclose(s.efficacy_hazard_ratio, [0.37730742, 0.61425355], rtol=REL)  # criticalValuesEffectScale


@pytest.mark.parametrize("ratio, dropout, expected", [
    # getSampleSizeSurvival(getDesignGroupSequential(informationRates = c(0.2, 0.5, 1), sided = 1, beta = 0.1,
    #   typeOfDesign = "WT", deltaWT = 0.3), typeOfComputation = "Schoenfeld", thetaH0 = 1, pi1 = 0.4, pi2 = 0.2,
    #   eventTime = 14, accrualTime = 8, followUpTime = 10, accountForObservationTimes = TRUE,
    #   allocationRatioPlanned = ratio[, dropoutRate1 = 0.1, dropoutRate2 = 0.05, dropoutTime = 16]):
    #   maxNumberOfEvents, maxNumberOfSubjects, numberOfSubjects[1], analysisTime[1:2], accrualIntensity
    (1, False, (64.634742, 216.4138, 168.44491, 6.2267714, 10.327532, 27.051725)),
    (3, False, (86.179656, 247.45413, 190.83096, 6.1694167, 10.240925, 30.931767)),
    (1, True, (64.634742, 224.258, 172.34323, 6.1480342, 10.21033, 28.03225)),
])
def test_rpact_wang_tsiatis_with_allocation_and_dropout(ratio, dropout, expected):
    design = group_sequential_design([0.2, 0.5, 1], alpha=0.025, power=0.9, efficacy="wt:0.3")
    hr = math.log(1 - 0.4) / math.log(1 - 0.2)                # pi1 = 0.4 (treatment), pi2 = 0.2 at 14: 2.2892242
    drop = dict(dropout_hazard=-math.log(1 - 0.05) / 16, dropout_hazard_treatment=-math.log(1 - 0.1) / 16)
    s = survival_design(design, hazard_ratio=hr, control_survival=(0.8, 14), accrual_time=8, follow_up=10,
                        allocation_ratio=ratio, **(drop if dropout else {}))
    got = (s.max_events, s.n_subjects, s.subjects[0], s.analysis_time[0], s.analysis_time[1], s.accrual_rate)
    assert got == pytest.approx(expected, rel=REL)
    np.testing.assert_allclose(s.events, np.array([0.2, 0.5, 1.0]) * expected[0], rtol=REL)
    # the hazard ratio above 1: the efficacy bound is above 1 (criticalValuesEffectScale)
    np.testing.assert_allclose(s.efficacy_hazard_ratio, [4.9325954, 2.3170793, 1.6774418], rtol=REL)


def test_schoenfeld_events_and_inflation():
    design = group_sequential_design([0.3, 1], alpha=0.025, power=0.9, efficacy="ld-of", futility="ld-of")
    s = survival_design(design, hazard_ratio=0.6, control_median=10, accrual_time=20, follow_up=10,
                        allocation_ratio=2)
    z = 1.959963984540054 + 1.2815515655446004
    assert s.fixed_events == pytest.approx((1 + 2) ** 2 / 2 * z ** 2 / math.log(0.6) ** 2, rel=1e-9)
    assert s.max_events / s.fixed_events == pytest.approx(design.inflation_factor, rel=1e-12)
    assert s.futility_z == design.futility_z


def test_expected_events_against_quadrature_over_entry_times():
    # a patient entering at u is dead by t with probability lambda / (lambda + eta) (1 - exp(-(lambda + eta)(t - u)))
    lam, eta, rate, accrual = (0.05, 0.03), (0.01, 0.02), 7.0, 9.0
    for t in (4.0, 9.0, 15.0):
        total = 0.0
        for share, lm, et in ((1 / 3, lam[0], eta[0]), (2 / 3, lam[1], eta[1])):
            f = lambda u: lm / (lm + et) * (1 - math.exp(-(lm + et) * (t - u)))  # noqa: E731
            total += rate * share * integrate.quad(f, 0, min(t, accrual), epsabs=1e-13)[0]
        got = expected_events_by_time(t, accrual_rate=rate, accrual_time=accrual, hazards=lam, dropouts=eta,
                              allocation_ratio=2)
        assert float(got) == pytest.approx(total, rel=1e-12)


def test_looks_are_where_the_expected_events_reach_their_targets():
    design = group_sequential_design([0.25, 0.6, 1], efficacy="hsd:-4", futility="hsd:-2")
    s = survival_design(design, hazard_ratio=0.7, control_median=6, accrual_rate=4, follow_up=12,
                        dropout_hazard=0.01)
    ev = expected_events_by_time(np.array(s.analysis_time), accrual_rate=s.accrual_rate, accrual_time=s.accrual_time,
                         hazards=(s.control_hazard, 0.7 * s.control_hazard), dropouts=s.dropout_hazards)
    np.testing.assert_allclose(ev, s.events, rtol=1e-10)
    assert s.analysis_time[-1] == pytest.approx(s.accrual_time + s.follow_up, rel=1e-12)
    assert np.all(np.diff(s.analysis_time) > 0) and s.subjects[-1] == pytest.approx(s.n_subjects)


def test_to_dict_is_plain_json():
    design = group_sequential_design([0.5, 1.0], efficacy="ld-of")
    s = survival_design(design, hazard_ratio=0.5, control_median=12, accrual_time=24, follow_up=12)
    out = json.loads(json.dumps(s.to_dict()))
    assert set(out) == {"looks", "max_events", "n_subjects", "accrual_time", "accrual_rate", "inflation_factor"}
    assert set(out["looks"][0]) == {"information_fraction", "events", "analysis_time", "subjects", "efficacy_z",
                                    "futility_z", "efficacy_hazard_ratio"}
    assert out["looks"][0]["futility_z"] is None and out["inflation_factor"] == design.inflation_factor


@pytest.mark.parametrize("kwargs, field, words", [
    (dict(hazard_ratio=1.0), "hazard_ratio", "must differ from 1"),
    (dict(hazard_ratio=-0.5), "hazard_ratio", "> 0"),
    (dict(control_median=None), "control_hazard", "exactly one"),
    (dict(control_hazard=0.1), "control_hazard", "exactly one"),
    (dict(control_median=None, control_survival=(1.2, 12)), "control_survival", "(0, 1)"),
    (dict(follow_up=None), "accrual_time", "exactly two"),
    (dict(accrual_rate=5), "accrual_time", "exactly two"),
    (dict(follow_up=None, accrual_rate=1), "accrual_time", "at most"),
    (dict(follow_up=None, accrual_rate=100), "accrual_time", "longer than needed"),
    (dict(dropout_hazard=-0.1), "dropout_hazard", ">= 0"),
    (dict(allocation_ratio=0), "allocation_ratio", "> 0"),
])
def test_bad_arguments_name_the_field(kwargs, field, words):
    design = group_sequential_design([0.5, 1.0])
    base = dict(hazard_ratio=0.5, control_median=12, accrual_time=24, follow_up=12)
    with pytest.raises(InputError) as err:
        survival_design(design, **{**base, **kwargs})
    assert err.value.field == field and words in str(err.value)


# ---------------------------------------------------------------------------------------- attainable z


def plain_logrank_z(arms_of_deaths, n_per_arm):
    """Log-rank z (arm 1 vs arm 2) for deaths at distinct times, in this order, nobody else censored before."""
    at_risk = [n_per_arm, n_per_arm]
    observed_minus_expected = variance = 0.0
    for arm in arms_of_deaths:
        n1, n2 = at_risk
        observed_minus_expected += (arm == 0) - n1 / (n1 + n2)
        variance += n1 * n2 / (n1 + n2) ** 2
        at_risk[arm] -= 1
    return observed_minus_expected / math.sqrt(variance)


def test_max_attainable_logrank_z_is_the_brute_force_maximum():
    for n in range(1, 8):
        for d in range(1, n + 1):
            best = max(abs(plain_logrank_z(seq, n)) for seq in itertools.product((0, 1), repeat=d))
            assert max_attainable_logrank_z(d, n) == pytest.approx(best, abs=1e-12)
            assert abs(plain_logrank_z((0,) * d, n)) == pytest.approx(best, abs=1e-12)     # all in one arm


def test_max_attainable_logrank_z_limits_and_reachability():
    for d in (1, 4, 9):
        assert max_attainable_logrank_z(d) == math.sqrt(d)
        values = [max_attainable_logrank_z(d, n) for n in range(d, 400)]
        assert np.all(np.diff(values) <= 1e-15)                   # falls with the arm size, to sqrt(d)
        assert max_attainable_logrank_z(d, 10 ** 6) == pytest.approx(math.sqrt(d), rel=1e-5)
    # with 4 deaths no arm size lets the log-rank reach 2.8 (the largest is 2.7101, with n = 4 per arm)
    assert max_attainable_logrank_z(4, 4) == pytest.approx(2.7101, abs=1e-4)
    assert not any(boundary_reachable(2.8, 4, n) for n in range(4, 60)) and not boundary_reachable(2.8, 4)
    assert boundary_reachable(2.0, 4) and boundary_reachable(2.5, 4, 4) and not boundary_reachable(2.5, 4, 5)
    # the first look of a 3-look O'Brien-Fleming design (z 3.471) needs 13 deaths with large arms (sqrt(12) < 3.471)
    first = group_sequential_design([1 / 3, 2 / 3, 1], efficacy="of").efficacy_z[0]
    assert not boundary_reachable(first, 12) and boundary_reachable(first, 13)
    for bad in (0, 2.5, True):
        with pytest.raises(InputError):
            max_attainable_logrank_z(bad)
    with pytest.raises(InputError, match="n_per_arm"):
        max_attainable_logrank_z(5, 4)
