"""The discrete-event engine (trialsim.engines.des): the model, the trial machinery, reproducibility, the study re-run.

Monte Carlo tolerances are 4 standard errors, written beside each assertion. Exact values come from the
calibrated model (``trialsim.calibrate``: matrix exponentials) or from closed forms given in the test.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trialsim.engines import des

from trialsim.engines import seeding
from trialsim.design.study_rerun import check_calibration, cohort_trial
from trialsim.engines.enrolment import randomise
from trialsim.model import calibrate, dose_quantile, infection_probability, state_probabilities
from trialsim.engines import DATA_CUT, DIED, END_OF_FOLLOW_UP, LOST, NOT_OBSERVED
from trialsim.stats import logrank_batch
from trialsim.exceptions import DegenerateStatisticWarning
from trialsim.model import (CR, DEAD, NR, PR, Accrual, ArmModel, BaselineMix, DiseaseModel, Infection, ParametricArm, ResponseProcess, Taper, Trial)


def standin_model(**baseline) -> DiseaseModel:
    """A stand-in CTD-MAS model with round parameters near the calibrated ones (fast to build; no calibration
    needed)."""
    rux = ArmModel(response=ResponseProcess(refractory_fraction=0.18, rate_nr_pr=0.75, rate_pr_cr=0.07,
                                            death_hazard_nr=0.033),
                   taper=Taper(rate=0.2), infection=Infection(hazard=0.028))
    ctl = ArmModel(response=ResponseProcess(refractory_fraction=0.4, rate_nr_pr=0.37, rate_pr_cr=0.035,
                                            death_hazard_nr=0.08),
                   taper=Taper(rate=0.2), infection=Infection(hazard=0.028))
    return DiseaseModel(arms=(rux, ctl), baseline=BaselineMix(**baseline))


def exponential_model(rate0: float = 0.05, rate1: float = 0.05) -> DiseaseModel:
    return DiseaseModel(arms=(ParametricArm.exponential(rate0), ParametricArm.exponential(rate1)))


def within(value: float, expected: float, se: float, k: float = 4.0) -> bool:
    return abs(value - expected) <= k * se


@pytest.fixture(scope="module")
def calibration():
    return calibrate()


# ----------------------------------------------------------------------------- re-running the study


@pytest.mark.slow
def test_study_rerun_matches_the_calibrated_model(calibration):
    r = 2000
    check = check_calibration(calibration, n_cohorts=r, seed=20251027, detail_batch=True)
    rows = {row["name"]: row for row in check["targets"]}
    sizes = {"survival_control": 21}
    for name in ("survival_ruxolitinib", "survival_control", "pr_week1", "cr_week8", "pr_week8",
                 "nr_alive_week8", "dead_week8", "cmv_week8"):
        p = calibration.target(name).model
        n_patients = r * sizes.get(name, 20)
        tol = 4 * math.sqrt(p * (1 - p) / n_patients)  # 4 MC standard errors of a share of R * arm-size patients
        assert abs(rows[name]["simulated"] - p) <= tol, (name, rows[name]["simulated"], p, tol)
        assert rows[name]["simulated_ci_low"] < rows[name]["simulated"] < rows[name]["simulated_ci_high"]
    assert check["n_cohorts"] == r and check["seed"] == 20251027
    # Week-8 dose. The model value is the exact population median m of the living patients' doses; the mean of
    # the cohorts' medians ("simulated") is biased (~19 living patients, right-skewed doses: E = 0.5072 by order
    # statistics). Unbiased: each living patient's dose is <= m with probability 1/2, so the share is binomial.
    batch = check["batch"]
    arm, model = calibration.model.arms[0], calibration.model
    m = dose_quantile(arm, model.baseline, model.visit_times, 8.0)
    week8 = model.visit_times.index(8.0)
    state = batch.response[:, :, week8]
    dose = batch.dose[:, :, week8][(batch.arm == 0) & (state >= NR) & (state <= CR)]
    assert abs(np.mean(dose <= m) - 0.5) <= 4 * math.sqrt(0.25 / dose.size)  # 4 s.e. = 0.010 at N ~ 38,000
    # The pooled median (what `calibrate --check` prints): s.e. 1 / (2 f(m) sqrt(N)), f(m) the exact density
    h = 1e-4
    density = 2 * h / (dose_quantile(arm, model.baseline, model.visit_times, 8.0, 0.5 + h)
                       - dose_quantile(arm, model.baseline, model.visit_times, 8.0, 0.5 - h))
    pooled = rows["dose_median_week8"]["simulated_pooled_median"]
    assert pooled == np.median(dose)
    assert abs(pooled - m) <= 4 / (2 * density * math.sqrt(dose.size))  # 4 s.e. = 0.0059
    # Log-rank 20 vs 21: the share of cohorts with P <= 0.011 against cohorts drawn here without the engine
    # (naive paths; logrank_batch matches R, docs/references.md EST-01): 4 s.e. of the difference
    rng = np.random.default_rng(20251028)
    rux, control = (a.response for a in model.arms)
    death = np.hstack([_naive_death_times(rux, r * 20, rng, 8.0).reshape(r, 20),
                       _naive_death_times(control, r * 21, rng, 8.0).reshape(r, 21)])
    group = np.repeat([[0] * 20 + [1] * 21], r, axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateStatisticWarning)
        share_naive = np.mean(logrank_batch(np.minimum(death, 8.0), death <= 8.0, group).pvalue <= 0.011)
    share_des = check["logrank"]["share_p_le_0011"]
    se = math.sqrt(share_naive * (1 - share_naive) / r + share_des * (1 - share_des) / r)
    assert abs(share_des - share_naive) <= 4 * se  # 4 s.e. = 0.063
    assert np.all((check["pvalues"] >= 0) & (check["pvalues"] <= 1))


def _naive_death_times(process, n, rng, horizon):
    """Death times by competing exponentials, one jump at a time (no matrix exponential, no engine); inf if
    alive at the horizon."""
    refractory = rng.random(n) < process.refractory_fraction
    q_move, q_stay = process.generator(), process.refractory_generator()
    state, t = np.full(n, NR), np.zeros(n)
    death = np.full(n, np.inf)
    going = np.ones(n, dtype=bool)
    while going.any():
        rates = np.where(refractory[:, None], q_stay[state], q_move[state])
        rates[np.arange(n), state] = 0.0
        total = rates.sum(axis=1)
        going &= total > 0
        wait = np.full(n, np.inf)
        wait[going] = rng.exponential(1 / total[going])
        t = t + wait
        going &= t <= horizon
        nxt = (np.cumsum(rates, axis=1) < (rng.random(n) * total)[:, None]).sum(axis=1)
        state = np.where(going, nxt, state)
        died = going & (state == DEAD)
        death[died] = t[died]
        going &= ~died
    return death


def test_cohort_trial_gives_exact_arm_sizes():
    batch = des.simulate(exponential_model(), cohort_trial((20, 21)), n_replicates=50, seed=3)
    assert np.all((batch.arm == 0).sum(axis=1) == 20) and np.all((batch.arm == 1).sum(axis=1) == 21)
    # the arms are in random order of enrolment, not sorted
    assert not np.all(batch.arm[:, :20] == 0)


# ------------------------------------------------------------------------------------ the disease model


@pytest.mark.slow
def test_state_at_visits_with_relapse_and_stratum_multipliers():
    # Relapse makes patients move back and forth (many exceed the pre-drawn pool of transitions and refill).
    baseline = BaselineMix(disease_fractions=(0.5, 0.3, 0.2), death_hazard_ratio_by_disease=(1.0, 2.5, 0.4))
    process = ResponseProcess(refractory_fraction=0.2, rate_nr_pr=0.8, rate_pr_cr=0.4, relapse_rate=0.5,
                              death_hazard_nr=0.06)
    arm = ArmModel(response=process, taper=Taper(), infection=Infection(hazard=0.05))
    model = DiseaseModel(arms=(arm,), arm_names=("only",), baseline=baseline)
    trial = Trial(n=20, allocation=(1,), dropout_hazard=(0.0,))
    r = 1500
    batch = des.simulate(model, trial, n_replicates=r, seed=11, detail=True)
    exact = state_probabilities(process, [1.0, 4.0, 8.0], baseline)  # strata mixture of expm(Q t)
    for row, week in enumerate((1, 4, 8)):
        seen = batch.response[:, :, week - 1]
        for state in (NR, PR, CR, DEAD):
            p = exact[row, state]
            se = math.sqrt(p * (1 - p) / seen.size)  # patients are independent
            assert within(np.mean(seen == state), p, se), (week, state)
    # infection by week 8 with death competing: the calibration's exact formula (expm of a 5-state chain)
    p = infection_probability(arm, baseline, 8.0)
    assert within(np.mean(batch.infection_time <= 8.0), p, math.sqrt(p * (1 - p) / batch.time.size))


@pytest.mark.slow
def test_dose_dependent_infection_matches_the_exact_probability():
    model = standin_model()
    arms = tuple(ArmModel(response=a.response, taper=a.taper,
                          infection=Infection(hazard=0.06, dose_dependent=True, reference_dose=2.7))
                 for a in model.arms)
    model = DiseaseModel(arms=arms, baseline=model.baseline)
    batch = des.simulate(model, Trial(n=40), n_replicates=500, seed=5, detail=True)
    for a in (0, 1):
        infected = batch.infection_time[batch.arm == a] <= 8.0
        p = infection_probability(arms[a], model.baseline, 8.0)  # exact up to quadrature (< 1e-10)
        assert within(infected.mean(), p, math.sqrt(p * (1 - p) / infected.size)), a


def test_parametric_piecewise_survival():
    arm = ParametricArm(hazards=(0.2, 0.02), breaks=(2.0,))
    model = DiseaseModel(arms=(arm, arm.with_hazard_ratio(0.5)))
    batch = des.simulate(model, Trial(n=40, follow_up=6.0), n_replicates=500, seed=2)
    for a in (0, 1):
        died = batch.event[batch.arm == a]
        p = 1 - model.arms[a].survival(6.0)
        assert within(died.mean(), p, math.sqrt(p * (1 - p) / died.size))
    assert np.all(batch.time <= 6.0) and np.all(batch.time[~batch.event] == 6.0)


def test_parametric_arms_have_no_detail():
    batch = des.simulate(exponential_model(), Trial(n=8), n_replicates=3, seed=1, detail=True)
    assert np.all(batch.response == NOT_OBSERVED) and np.all(batch.best_response == -1)
    assert np.all(np.isnan(batch.dose)) and np.all(np.isnan(batch.dose_start))
    assert np.all(np.isinf(batch.infection_time))


def test_visit_rules_and_dose_taper():
    model = standin_model()
    batch = des.simulate(model, Trial(n=40, dropout_hazard=(0.05, 0.05)), n_replicates=100, seed=8, detail=True)
    v = np.asarray(model.visit_times)
    died_before = batch.event[..., None] & (batch.time[..., None] < v)
    assert np.all(batch.response[died_before] == DEAD)
    under_obs = batch.time[..., None] >= v
    assert np.all((batch.response[under_obs] >= NR) & (batch.response[under_obs] <= CR))
    unseen = ~died_before & ~under_obs  # lost before the visit
    assert np.all(batch.response[unseen] == NOT_OBSERVED)
    alive = (batch.response >= NR) & (batch.response <= CR)
    assert np.all(np.isnan(batch.dose[~alive])) and np.all(np.isfinite(batch.dose[alive]))
    # dose after each visit = dose before * exp(log factor of the state observed there)
    factors = np.exp(np.stack([a.taper.log_factors() for a in model.arms]))
    prev = np.concatenate([batch.dose_start[..., None], batch.dose[..., :-1]], axis=2)
    expect = prev * factors[batch.arm[..., None], np.clip(batch.response, 0, 2)]
    np.testing.assert_allclose(batch.dose[alive], expect[alive], rtol=1e-12)
    best = np.where(alive, batch.response, -1).max(axis=2)
    np.testing.assert_array_equal(batch.best_response, best)
    # an infection is observed only while alive and under observation
    seen = np.isfinite(batch.infection_time)
    assert np.all(batch.infection_time[seen] < batch.time[seen])


# ------------------------------------------------------------------------------ accrual and randomisation


def test_poisson_accrual_mean_entry_of_patient_k_is_k_over_rate():
    rate, r = 2.0, 4000
    trial = Trial(n=10, accrual=Accrual(kind="poisson", rate=rate))
    batch = des.simulate(exponential_model(), trial, n_replicates=r, seed=4)
    for k in range(1, 11):
        se = math.sqrt(k) / rate / math.sqrt(r)  # T_k is Gamma(k, rate): variance k / rate^2
        assert within(batch.entry[:, k - 1].mean(), k / rate, se), k
    assert np.all(np.diff(batch.entry, axis=1) >= 0)


def test_piecewise_accrual_counts_per_piece():
    r = 3000
    accrual = Accrual(kind="piecewise", rates=(0.0, 0.5, 3.0), breaks=(1.0, 5.0))
    batch = des.simulate(exponential_model(), Trial(n=40, accrual=accrual), n_replicates=r, seed=6)
    assert batch.entry.min() >= 1.0  # nobody enrols while the rate is 0
    for lo, hi, mean in ((1.0, 5.0, 2.0), (5.0, 7.0, 6.0)):  # Poisson counts: variance = mean
        count = ((batch.entry >= lo) & (batch.entry < hi)).sum(axis=1)
        assert within(count.mean(), mean, math.sqrt(mean / r)), (lo, hi)


@settings(max_examples=25, deadline=None)
@given(allocation=st.sampled_from([(1, 1), (2, 1), (1, 2), (3, 2), (1, 1, 1)]),
       multiple=st.integers(1, 3), units=st.integers(1, 12), seed=st.integers(0, 2**32 - 1))
def test_stratified_permuted_blocks_keep_each_stratum_balanced(allocation, multiple, units, seed):
    total = sum(allocation)
    block = total * multiple
    trial = Trial(n=total * units, allocation=allocation, block_size=block, stratified=True,
                  dropout_hazard=(0.0,) * len(allocation))
    rng = np.random.default_rng(seed)
    stratum = rng.integers(0, 3, size=(20, trial.n))
    arm = randomise(trial, stratum, rng)
    for s in range(3):
        in_s = stratum == s
        m = in_s.sum(axis=1)
        for a, share in enumerate(allocation):
            q = share / total
            dev = ((arm == a) & in_s).sum(axis=1) - m * q
            # only the incomplete block deviates: at most block q (1 - q) patients of arm a
            assert np.all(np.abs(dev) <= block * q * (1 - q) + 1e-9), (s, a)


def test_unstratified_blocks_and_stratified_trial_through_the_engine():
    trial = Trial(n=36, allocation=(2, 1), block_size=6)
    batch = des.simulate(exponential_model(), trial, n_replicates=40, seed=9)
    for k in range(1, 7):  # after each complete block the counts are exact
        assert np.all((batch.arm[:, :6 * k] == 0).sum(axis=1) == 4 * k)
    strat = des.simulate(exponential_model(), Trial(n=40, stratified=True, block_size=4), n_replicates=200,
                         seed=10)
    for s in range(3):
        for a in (0, 1):
            m = (strat.stratum == s).sum(axis=1)
            dev = ((strat.arm == a) & (strat.stratum == s)).sum(axis=1) - m / 2
            assert np.all(np.abs(dev) <= 1)  # the incomplete block of 4: at most 4 x 1/2 x 1/2


# ----------------------------------------------------------------------------- censoring and triggers


@settings(max_examples=15, deadline=None)
@given(target=st.integers(1, 30), seed=st.integers(0, 2**32 - 1), chain=st.booleans())
def test_events_trigger_counts_exactly_the_first_deaths(target, seed, chain):
    model = standin_model() if chain else exponential_model(0.1, 0.2)
    accrual = Accrual(kind="poisson", rate=3.0)
    complete = des.simulate(model, Trial(n=30, accrual=accrual), n_replicates=20, seed=seed)
    cut = des.simulate(model, Trial(n=30, accrual=accrual, analysis="events", target_events=target),
                       n_replicates=20, seed=seed)
    deaths = complete.n_events()
    np.testing.assert_array_equal(cut.n_events(), np.minimum(deaths, target))  # never more than the target
    death_dates = np.where(complete.event, complete.entry + complete.time, np.inf)
    for i in range(20):
        if deaths[i] >= target:
            kth = np.sort(death_dates[i])[target - 1]
            assert cut.analysis_time[i] == pytest.approx(kth, abs=1e-9)  # the analysis is at the target-th death
            np.testing.assert_array_equal(cut.event[i], death_dates[i] <= kth)
            enrolled = cut.entry[i] <= cut.analysis_time[i]
            assert np.all(cut.entry[i][enrolled] + cut.time[i][enrolled] <= cut.analysis_time[i])
            assert np.all(cut.time[i][~enrolled] == 0) and np.all(cut.censor_reason[i][~enrolled] == DATA_CUT)
        else:  # too few deaths: analysed once follow-up is complete, identical to the complete analysis
            np.testing.assert_array_equal(cut.time[i], complete.time[i])
            assert not np.any(cut.censor_reason[i] == DATA_CUT)


@settings(max_examples=15, deadline=None)
@given(when=st.floats(0.5, 15.0), seed=st.integers(0, 2**32 - 1))
def test_calendar_cut_bounds_follow_up(when, seed):
    model = standin_model()
    accrual = Accrual(kind="poisson", rate=4.0)
    complete = des.simulate(model, Trial(n=24, accrual=accrual), n_replicates=10, seed=seed, detail=True)
    cut = des.simulate(model, Trial(n=24, accrual=accrual, analysis="calendar", analysis_time=when),
                       n_replicates=10, seed=seed, detail=True)
    assert np.all(cut.analysis_time == when)
    enrolled = cut.entry <= when
    assert np.all(cut.entry[enrolled] + cut.time[enrolled] <= when)  # no follow-up past the cut, exactly
    assert np.all(cut.time[~enrolled] == 0) and not cut.event[~enrolled].any()
    assert np.all(cut.censor_reason[~enrolled] == DATA_CUT)
    np.testing.assert_array_equal(cut.event, complete.event & (complete.entry + complete.time <= when))
    visit_dates = cut.entry[..., None] + np.asarray(model.visit_times)
    assert np.all(cut.response[visit_dates > when] == NOT_OBSERVED)
    same = visit_dates <= when  # before the cut, the two analyses saw the same thing
    np.testing.assert_array_equal(cut.response[same], complete.response[same])


def test_calendar_cut_on_a_visit_day_observes_that_visit():
    model = standin_model()
    cut = des.simulate(model, Trial(n=40, analysis="calendar", analysis_time=4.0), n_replicates=20, seed=1,
                       detail=True)
    alive = ~(cut.event & (cut.time < 4.0))
    assert np.all(cut.response[:, :, 3][alive] != NOT_OBSERVED)
    assert np.all(cut.response[:, :, 4] == NOT_OBSERVED)
    done = des.simulate(model, Trial(n=40, analysis="calendar", analysis_time=8.0), n_replicates=5, seed=1)
    assert not np.any(done.censor_reason == DATA_CUT)  # end of follow-up on the cut date is not a cut


def test_loss_to_follow_up_censors_the_expected_share():
    death, h, follow_up, r = 0.05, 0.1, 8.0, 500
    trial = Trial(n=40, follow_up=follow_up, dropout_hazard=(h, 0.0))
    batch = des.simulate(exponential_model(death, death), trial, n_replicates=r, seed=12)
    lost = batch.censor_reason[batch.arm == 0] == LOST
    p = h / (h + death) * (1 - math.exp(-(h + death) * follow_up))  # competing exponentials
    assert within(lost.mean(), p, math.sqrt(p * (1 - p) / lost.size))
    assert not np.any(batch.censor_reason[batch.arm == 1] == LOST)
    assert np.all(batch.time[batch.censor_reason == LOST] < follow_up)
    assert np.all(batch.censor_reason[batch.event] == DIED)
    assert np.all(batch.time[batch.censor_reason == END_OF_FOLLOW_UP] == follow_up)


# --------------------------------------------------------------------------------------- reproducibility


def test_same_seed_same_table_bit_for_bit():
    model, trial = standin_model(), Trial(n=40, accrual=Accrual(kind="poisson", rate=2.0),
                                          dropout_hazard=(0.02, 0.02))
    a = des.simulate(model, trial, n_replicates=30, seed=42, detail=True, events_log=True)
    b = des.simulate(model, trial, n_replicates=30, seed=42, detail=True, events_log=True, trials_per_env=7)
    pd.testing.assert_frame_equal(a.to_frame(), b.to_frame(), check_exact=True)
    assert a.events_log == b.events_log and a.seed == b.seed == 42
    c = des.simulate(model, trial, n_replicates=30, seed=43, detail=True)
    assert not c.to_frame().equals(a.to_frame())


def test_fresh_entropy_is_recorded_and_repeats():
    model, trial = exponential_model(), Trial(n=10)
    a = des.simulate(model, trial, n_replicates=5)
    assert isinstance(a.seed, int)
    b = des.simulate(model, trial, n_replicates=5, seed=a.seed)
    pd.testing.assert_frame_equal(a.to_frame(), b.to_frame(), check_exact=True)


def test_detail_adds_fields_without_changing_survival():
    model, trial = standin_model(), Trial(n=40, analysis="events", target_events=8,
                                          accrual=Accrual(kind="poisson", rate=5.0))
    plain = des.simulate(model, trial, n_replicates=50, seed=7)
    full = des.simulate(model, trial, n_replicates=50, seed=7, detail=True)
    for name in ("time", "event", "censor_reason", "analysis_time", "arm", "entry"):
        np.testing.assert_array_equal(getattr(plain, name), getattr(full, name))
    assert plain.response is None and full.response is not None


def test_chunks_are_independent_of_the_total():
    model, trial = exponential_model(), Trial(n=2)
    small = des.simulate(model, trial, n_replicates=seeding.CHUNK_SIZE, seed=5)
    large = des.simulate(model, trial, n_replicates=seeding.CHUNK_SIZE + 3, seed=5)
    np.testing.assert_array_equal(large.time[:seeding.CHUNK_SIZE], small.time)
    root = seeding.root_sequence(5)  # the last chunk alone, as a worker would draw it
    alone = des.simulate_chunk(model, trial, 3, seeding.chunk_streams(root, 1), first_replicate=seeding.CHUNK_SIZE)
    np.testing.assert_array_equal(large.time[seeding.CHUNK_SIZE:], alone.time)


def test_event_log_is_a_faithful_timeline():
    model = standin_model()
    trial = Trial(n=20, accrual=Accrual(kind="poisson", rate=1.0), analysis="events", target_events=3)
    batch = des.simulate(model, trial, n_replicates=4, seed=13, detail=True, events_log=True)
    assert (batch.event.sum(axis=1) == 3).any()  # the branch below is exercised
    log = pd.DataFrame(batch.events_log, columns=list(des.EVENT_LOG_COLUMNS))
    for rep, rows in log.groupby("replicate"):
        assert rows["time"].is_monotonic_increasing
        enrolled = batch.entry[rep] <= batch.analysis_time[rep]
        assert (rows["event"] == "enrolled").sum() == enrolled.sum()
        deaths = (rows["event"] == "death").sum()
        assert deaths == batch.event[rep].sum() <= 3
        if deaths == 3:  # the third death is the data cut (a trial with fewer is analysed when complete)
            assert rows.loc[rows["event"] == "death", "time"].max() == batch.analysis_time[rep]
        assert rows["event"].iloc[-1] == "analysis"
        assert rows["time"].iloc[-1] == batch.analysis_time[rep]
        visits = rows[rows["event"] == "visit"]
        assert len(visits) == np.count_nonzero((batch.response[rep] >= 0) & (batch.response[rep] <= 2))


# ------------------------------------------------------------------------------------------- validation


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="allocation"):
        des.simulate(exponential_model(), Trial(n=3, allocation=(1,), dropout_hazard=(0.0,)))
    with pytest.raises(ValueError, match="n_replicates"):
        des.simulate(exponential_model(), Trial(n=4), n_replicates=0)
    with pytest.raises(ValueError, match="detail"):
        des.simulate(exponential_model(), Trial(n=4), detail="yes")
    with pytest.raises(ValueError, match="seed"):
        des.simulate(exponential_model(), Trial(n=4), seed=-1)


def test_simpy_stays_inside_des():
    import subprocess
    import sys

    code = ("import trialsim.design.study_rerun, trialsim.engines.summary, trialsim.engines.enrolment, sys; "
            "print('simpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_first_replicate_is_only_a_label():
    # with relapse, patients exceed the pre-drawn transitions and refill; the refill must not depend on labels
    process = ResponseProcess(refractory_fraction=0.1, rate_nr_pr=2.0, rate_pr_cr=2.0, relapse_rate=2.0,
                              death_hazard_nr=0.05)
    model = DiseaseModel(arms=(ArmModel(response=process),), arm_names=("only",))
    trial = Trial(n=10, allocation=(1,), dropout_hazard=(0.0,))
    root = seeding.root_sequence(3)
    a = des.simulate_chunk(model, trial, 20, seeding.chunk_streams(root, 0), detail=True)
    b = des.simulate_chunk(model, trial, 20, seeding.chunk_streams(root, 0), detail=True, first_replicate=7)
    for name in ("time", "event", "response", "dose", "infection_time"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert b.to_frame()["replicate"].iloc[0] == 7


def test_batch_summary_counts_one_trial():
    from trialsim.engines.summary import batch_summary
    from trialsim.stats import kaplan_meier

    trial = Trial(n=40, dropout_hazard=(0.05, 0.05))
    batch = des.simulate(standin_model(), trial, n_replicates=1, seed=3, detail=True)
    summary = batch_summary(batch, horizon=8.0)
    assert summary["week"] == 8.0 and summary["duration_weeks"] == batch.analysis_time[0]
    for a, row in enumerate(summary["arms"]):
        mine = batch.arm[0] == a
        assert row["enrolled"] == mine.sum() and row["deaths"] == batch.event[0][mine].sum()
        km = kaplan_meier(batch.time[0][mine], batch.event[0][mine]).survival_at(8.0)
        assert row["survival_at_horizon"] == pytest.approx(float(km), abs=1e-12)
        week8 = batch.response[0][mine][:, 7]
        assert row["response"]["CR"] == (week8 == CR).sum() and row["response"]["dead"] == (week8 == DEAD).sum()
        assert row["infections"] == np.isfinite(batch.infection_time[0][mine]).sum()
        assert row["median_dose"] == pytest.approx(float(np.nanmedian(batch.dose[0][mine][:, 7])))


# ------------------------------------------------------------------------ survival-only mode vs full mode


def _relapsing_model(death_hazard: float = 0.3) -> DiseaseModel:
    # Many transitions per patient (relapse), past the pre-drawn pool: the walk must refill as the process does.
    process = ResponseProcess(refractory_fraction=0.1, rate_nr_pr=2.0, rate_pr_cr=1.0, relapse_rate=1.5,
                              death_hazard_nr=death_hazard)
    return DiseaseModel(arms=(ArmModel(response=process),), arm_names=("only",))


_MODES_MODELS = {
    "standin": standin_model(death_hazard_ratio_by_disease=(1.0, 2.0, 0.5)),
    "exponential": exponential_model(0.03, 0.12),
    "mixed": DiseaseModel(arms=(standin_model().arms[0], ParametricArm(hazards=(0.2, 0.02), breaks=(2.0,)))),
}
_MODES_TRIALS = {
    "complete, dropout": Trial(n=30, dropout_hazard=(0.05, 0.02)),
    "calendar on the end of follow-up": Trial(n=30, analysis="calendar", analysis_time=8.0),
    "calendar, poisson": Trial(n=30, accrual=Accrual(kind="poisson", rate=2.0), dropout_hazard=(0.03, 0.03),
                               analysis="calendar", analysis_time=9.5),
    "events, instant": Trial(n=30, analysis="events", target_events=6),
    "events, poisson": Trial(n=30, accrual=Accrual(kind="poisson", rate=1.5), analysis="events", target_events=10),
}


@pytest.mark.parametrize("trial_name", sorted(_MODES_TRIALS))
@pytest.mark.parametrize("model_name", sorted(_MODES_MODELS))
def test_survival_only_mode_equals_the_event_by_event_mode(model_name, trial_name):
    # Without detail or event log the engine schedules deaths only and walks the paths at enrolment; with the
    # event log every transition and every end of follow-up is an event. Same trials, bit for bit.
    model, trial = _MODES_MODELS[model_name], _MODES_TRIALS[trial_name]
    fast = des.simulate(model, trial, n_replicates=60, seed=21)
    full = des.simulate(model, trial, n_replicates=60, seed=21, events_log=True)
    one = des.simulate(model, trial, n_replicates=60, seed=21, trials_per_env=1)
    for name in ("time", "event", "censor_reason", "analysis_time"):
        np.testing.assert_array_equal(getattr(fast, name), getattr(full, name), err_msg=name)
        np.testing.assert_array_equal(getattr(fast, name), getattr(one, name), err_msg=name)
    assert fast.events_log is None


def test_survival_only_mode_with_relapse_and_the_clock_fallback(monkeypatch):
    # Random entry times: a death's clock (the sum of the process's delays) is now and then out of reach of one
    # delay from the enrolment clock; that patient gets the full-mode process. Count those and compare.
    model = _relapsing_model()
    for target in (None, 40):
        trial = Trial(n=40, allocation=(1,), dropout_hazard=(0.02,), accrual=Accrual(kind="poisson", rate=2.0),
                      analysis="events" if target else "complete", target_events=target)
        fallbacks = []
        original = des._chain_patient
        monkeypatch.setattr(des, "_chain_patient", lambda *a: fallbacks.append(a[3]) or original(*a))
        fast = des.simulate(model, trial, n_replicates=300, seed=1)
        monkeypatch.setattr(des, "_chain_patient", original)
        full = des.simulate(model, trial, n_replicates=300, seed=1, events_log=True)
        assert len(fallbacks) > 0  # about 50 with these numbers
        for name in ("time", "event", "censor_reason", "analysis_time"):
            np.testing.assert_array_equal(getattr(fast, name), getattr(full, name), err_msg=name)


def test_delay_to_lands_exactly_or_says_it_cannot():
    assert des._delay_to(0.0, 7.3) == 7.3 and des._delay_to(3.0, 3.5) == 0.5
    rng = np.random.default_rng(3)
    unreachable = 0
    for now, u1, u2 in rng.uniform(0.0, 5.0, size=(2000, 3)).tolist():
        at = (now + u1) + ((u1 + u2) - u1)  # a clock after two timeouts, as a process adds them
        d = des._delay_to(now, at)
        if d is not None:
            assert now + d == at
            continue
        unreachable += 1
        d = at - now
        for _ in range(8):  # no float near at - now reaches it either
            d = math.nextafter(d, -math.inf)
        for _ in range(16):
            assert now + d != at
            d = math.nextafter(d, math.inf)
    assert 0 < unreachable < 200
    # now + d for the two floats d around at - now falls half-way between floats and rounds away from `at`
    assert des._delay_to(0.3794069576058082, 1.9796738141814962) is None
