"""Trials with looks by simulation against theory (slow): stop probabilities against the exact recursion, and the
type I error of boundaries calibrated to the simulated null.

Tolerances are Monte Carlo standard errors ``sqrt(p (1 - p) / R)``, written beside each assertion.
"""

from __future__ import annotations

import math

import pytest

from trialsim.design import TwoArmDesign
from trialsim.design.sequential import SequentialDesign, null_model
from trialsim.design.sequential_oc import sequential_power
from trialsim.model import Accrual, DiseaseModel, ParametricArm, Trial, default_model, default_trial

pytestmark = pytest.mark.slow

# A large parametric trial where the canonical normal theory holds (Jennison and Turnbull 2000, section 3.1):
# 1,000 patients entering over about 100 weeks (Poisson, 10 a week), exponential arms (control hazard 0.01 a week,
# HR 0.8), looks at the 133rd, 267th and 400th death. Staggered entry matters: with everyone entering at once and
# arms much larger than the deaths, every death adds nearly 1/2 to E and z sits on a lattice of step
# 2 / sqrt(deaths) (0.17 at 133 deaths), whose steps shift a crossing probability at a bound by more than 4 s.e.
# of 20,000 trials. Schoenfeld's drift |log HR| sqrt(D) / 2 per 1:1 trial is 2.231 (exact per-death drift
# 1 / (1 + HR) - 1/2 = 0.0556 against |log HR| / 4 = 0.0558: 0.4% apart, well within the tolerance).
CONTROL = ParametricArm.exponential(0.01)
LARGE = DiseaseModel(arms=(CONTROL.with_hazard_ratio(0.8), CONTROL), arm_names=("treatment", "control"))
LARGE_TRIAL = Trial(n=1000, accrual=Accrual(kind="poisson", rate=10.0), follow_up=1e4, analysis="events",
                    target_events=400)
DRIFT = -math.log(0.8) * math.sqrt(400) / 2


@pytest.mark.parametrize("hypothesis", ["H1", "H0"])
@pytest.mark.parametrize("case", ["one-sided, ld-of, hsd:-2 futility", "two-sided, Pocock"])
def test_stop_probabilities_agree_with_the_exact_recursion(hypothesis, case):
    if case.startswith("one"):
        base = TwoArmDesign(alpha=0.025, sided=1)
        design = SequentialDesign(base=base, model=LARGE, fractions=(1 / 3, 2 / 3, 1.0), efficacy="ld-of",
                                  futility="hsd:-2")
    else:
        design = SequentialDesign(base=TwoArmDesign(alpha=0.05, sided=2), model=LARGE, fractions=(0.5, 1.0),
                                  efficacy="pocock")
    model, drift = (LARGE, DRIFT) if hypothesis == "H1" else (null_model(LARGE), 0.0)
    res = sequential_power(model, LARGE_TRIAL, design, n_replicates=20_000, seed=2, n_jobs=2)
    exact = design.resolve(LARGE_TRIAL).boundaries.crossing_probabilities(drift)
    efficacy = exact.upper + (exact.lower if design.sided == 2 else 0.0)
    for look, p_eff, p_fut in zip(res.looks, efficacy, exact.lower):
        assert look.planned_deaths in (133.0, 200.0, 267.0, 400.0) and look.mean_deaths >= look.planned_deaths
        # 4 Monte Carlo s.e. of the simulated probability, sqrt(p (1 - p) / 20,000), at the exact p
        se = math.sqrt(p_eff * (1 - p_eff) / 20_000)
        assert abs(look.efficacy_stop - p_eff) <= 4 * se + 1e-12, (look, p_eff)
        if design.sided == 1:
            se = math.sqrt(p_fut * (1 - p_fut) / 20_000)
            assert abs(look.futility_stop - p_fut) <= 4 * se, (look, p_fut)
    # power is the efficacy crossings together (4 s.e.)
    total = float(efficacy.sum())
    assert abs(res.result.power - total) <= 4 * math.sqrt(total * (1 - total) / 20_000)


def test_calibrated_type_one_error_of_the_ctdmas_trial():
    # The CTD-MAS default trial (40 patients, 1:1, 8 weeks, two-sided log-rank at 0.05) with one interim look at
    # half the 8.6 expected deaths (the 4th death) and a Lan-DeMets O'Brien-Fleming bound. Calibrated on 50,000
    # null trials of the calibration tree; the type I error is estimated on 20,000 others (the run's own tree).
    model = default_model()
    design = SequentialDesign(base=TwoArmDesign(), model=model, fractions=(0.5, 1.0), calibrate=True,
                              calibration_replicates=50_000)
    res = sequential_power(null_model(model), default_trial(40), design, n_replicates=20_000, seed=7, n_jobs=2)
    assert res.calibration is not None and res.calibration.spawn_key == (2 ** 30,)
    alpha = 0.05
    se = math.sqrt(alpha * (1 - alpha) / 20_000)  # 0.0015, the estimate's own s.e.
    # (the calibrated bound carries its own error too, sqrt(alpha (1 - alpha) / 50,000) = 0.0010; 4 s.e. of the
    # estimate alone is 3.3 s.d. of the difference of the two)
    assert abs(res.result.power - alpha) <= 4 * se, res.result.power
    # the interim cannot be crossed with 4 deaths (|z| <= 2.08 < 2.96): calibration gives it no bound, and the
    # final bound takes the whole alpha
    first, last = res.looks
    assert not first.reachable and first.efficacy_z == math.inf and first.efficacy_stop == 0.0
    assert last.calibrated_alpha == pytest.approx(alpha, abs=1 / 50_000)


def test_uncalibrated_ctdmas_interim_spends_nothing_and_the_final_bound_holds_alpha():
    # Normal-theory bounds in the same trial: the interim bound 2.963 is out of reach, so the trial's type I
    # error is what its final bound 1.969 (a little above 1.960) gives: about alpha, not above it by more than
    # 4 s.e.
    model = default_model()
    design = SequentialDesign(base=TwoArmDesign(), model=model, fractions=(0.5, 1.0))
    res = sequential_power(null_model(model), default_trial(40), design, n_replicates=20_000, seed=8, n_jobs=2)
    assert res.looks[0].efficacy_stop == 0.0 and not res.looks[0].reachable
    assert res.result.power <= 0.05 + 4 * math.sqrt(0.05 * 0.95 / 20_000)
