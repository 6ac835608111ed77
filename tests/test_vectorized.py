"""The vectorised engine on its own: exactness of the death-time tables, oracle loops for the analysis rules,
randomisation and accrual, and the detail draws against the model's exact values.

Exact values come from the model itself (``ResponseProcess.survival`` / ``state_probabilities``, which use
``scipy.linalg.expm``) and from the calibration module's exact functions (``calibrate.infection_probability``,
``calibrate.dose_quantile``). Monte Carlo tolerances are 4 standard errors, written beside each assertion.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
from itertools import permutations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trialsim.engines import seeding

from trialsim.engines import vectorized
from trialsim.model.phase_type import CDF_TOLERANCE, response_death_table
from trialsim.engines.enrolment import block_patterns, draw_entry, randomise
from trialsim.engines.paths import infection_times, simulate_paths
from trialsim.engines.seeding import JumpPools
from trialsim.engines import DATA_CUT, DIED, END_OF_FOLLOW_UP, LOST
from trialsim.model import (DEAD, NR, Accrual, ArmModel, BaselineMix, DiseaseModel, Infection, ParametricArm, ResponseProcess, Taper, Trial)

RX = ResponseProcess(refractory_fraction=0.18, rate_nr_pr=0.75, rate_pr_cr=0.07, death_hazard_nr=0.033)
CONTROL = ResponseProcess(refractory_fraction=0.4, rate_nr_pr=0.37, rate_pr_cr=0.035, death_hazard_nr=0.08)
RELAPSING = ResponseProcess(refractory_fraction=0.1, rate_nr_pr=1.5, rate_pr_cr=0.9, relapse_rate=0.6,
                            death_hazard_nr=0.05, death_hazard_ratio_pr=0.5, death_hazard_ratio_cr=0.2)
# equal exit rates in NR and PR: a defective (non-diagonalisable) generator, which the grid method must handle
DEFECTIVE = ResponseProcess(rate_nr_pr=0.5, rate_pr_cr=0.5 + 0.05 * 0.75, death_hazard_nr=0.05,
                            death_hazard_ratio_pr=0.25)


def _death_cdf(process: ResponseProcess, multiplier: float, t: float) -> float:
    """P(death by t), with expm by scaling and squaring of a 40-term Taylor series in extended precision.

    Independent of scipy.linalg.expm (whose triangular fast path is inaccurate for equal exit rates in 1.17).
    """
    a = process.generator(multiplier).astype(np.longdouble) * t
    s = max(0, int(np.ceil(np.log2(max(float(np.abs(a).sum(axis=1).max()), 1e-300) / 0.25))))
    a = a / 2 ** s
    term = total = np.eye(4, dtype=np.longdouble)
    for k in range(1, 40):
        term = term @ a / k
        total = total + term
    for _ in range(s):
        total = total @ total
    pi, mu = process.refractory_fraction, process.death_hazard_nr * multiplier
    return float((1 - pi) * total[NR, DEAD] + pi * (1 - np.exp(np.longdouble(-mu * t))))


def _model(*processes, infection=Infection(hazard=0.028), baseline=BaselineMix()) -> DiseaseModel:
    arms = tuple(ArmModel(response=p, taper=Taper(rate=0.2), infection=infection) for p in processes)
    return DiseaseModel(arms=arms, arm_names=tuple(f"arm{i}" for i in range(len(arms))), baseline=baseline)


# ------------------------------------------------------------------------------------ death-time tables


@pytest.mark.parametrize("process", [RX, CONTROL, RELAPSING, DEFECTIVE], ids=["rx", "control", "relapse", "defective"])
@pytest.mark.parametrize("multiplier", [1.0, 2.5])
def test_death_time_table_inverts_the_exact_distribution(process, multiplier):
    horizon = 8.0
    table = response_death_table(process, multiplier, horizon)
    exact_f = 1.0 - process.survival([horizon], multiplier)[0]
    assert table.cdf_horizon == pytest.approx(exact_f, abs=1e-12)
    assert table.max_cdf_error <= CDF_TOLERANCE
    # F(t_sampled(u)) = u with an independent exact distribution function, at uniforms off the nodes
    u = np.linspace(0.0, table.cdf_horizon, 199)[1:-1] + 0.37 * table.cdf_horizon / 199
    t = table.sample(u)
    assert np.all(t < horizon)
    exact = np.array([_death_cdf(process, multiplier, x) for x in t])
    np.testing.assert_allclose(exact, u, rtol=0, atol=2 * CDF_TOLERANCE)
    # uniforms past F(T) are deaths after the horizon: never observed
    assert np.all(np.isinf(table.sample(np.array([exact_f + 1e-9, 0.999999]))))


def test_death_time_table_without_deaths():
    table = response_death_table(ResponseProcess(rate_nr_pr=0.5), 1.0, 8.0)
    assert table.cdf_horizon == 0.0
    assert np.all(np.isinf(table.sample(np.array([0.0, 0.5, 0.999]))))


def test_survival_at_horizon_matches_the_model_with_stratum_multipliers():
    baseline = BaselineMix(death_hazard_ratio_by_disease=(1.0, 3.0, 0.5))
    model = _model(RX, CONTROL, baseline=baseline)
    b = vectorized.simulate(model, Trial(n=40), n_replicates=4000, seed=8)
    for a, process in enumerate((RX, CONTROL)):
        for s, m in enumerate(baseline.death_hazard_ratio_by_disease):
            cell = (b.arm == a) & (b.stratum == s)
            p = 1.0 - process.survival([8.0], m)[0]
            se = math.sqrt(p * (1 - p) / cell.sum())
            assert abs(b.event[cell].mean() - p) < 4 * se  # 4 standard errors of a binomial proportion


def test_parametric_arms_piecewise_and_mixed():
    piecewise = ParametricArm(hazards=(0.02, 0.15), breaks=(3.0,))
    model = DiseaseModel(arms=(ArmModel(response=RX), piecewise))
    b = vectorized.simulate(model, Trial(n=40), n_replicates=3000, seed=4)
    for a, arm in enumerate(model.arms):
        for t in (2.0, 5.0, 8.0):
            p = 1.0 - float(np.asarray(arm.survival([t])).ravel()[0])
            got = (b.event & (b.time <= t))[b.arm == a].mean()
            assert abs(got - p) < 4 * math.sqrt(p * (1 - p) / 60_000)  # 4 SE, 60,000 patients per arm


# --------------------------------------------------------------------------------- randomisation, accrual


@pytest.mark.parametrize("allocation, block", [((1, 1), 4), ((2, 1), 6), ((1, 1, 1), 6), ((1, 1), 8)])
def test_block_patterns_are_every_distinct_arrangement(allocation, block):
    patterns = block_patterns(allocation, block)
    unit = block // sum(allocation)
    base = sum(([i] * a * unit for i, a in enumerate(allocation)), [])
    assert {tuple(p) for p in patterns} == set(permutations(base))
    assert len(patterns) == len(set(map(tuple, patterns)))


def test_block_arrangements_equally_likely():
    trial = Trial(n=4, block_size=4)
    arm = randomise(trial, np.zeros((60_000, 4), dtype=np.int8), np.random.default_rng(3))
    codes = arm.astype(int) @ np.array([8, 4, 2, 1])
    counts = np.bincount(codes, minlength=16)[[3, 5, 6, 9, 10, 12]]  # the six arrangements of 0011
    assert counts.sum() == 60_000
    assert np.all(np.abs(counts / 60_000 - 1 / 6) < 4 * math.sqrt((1 / 6) * (5 / 6) / 60_000))  # 4 SE


def test_large_blocks_fall_back_to_shuffling():
    trial = Trial(n=24, allocation=(1, 1), block_size=24)
    assert block_patterns((1, 1), 24) is None  # 2.7 million arrangements: not tabulated
    arm = randomise(trial, np.zeros((50, 24), dtype=np.int8), np.random.default_rng(1))
    assert np.all(arm.sum(axis=1) == 12)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_half=st.integers(1, 40), block_units=st.integers(1, 4))
def test_stratified_randomisation_is_blocked_within_each_stratum(seed, n_half, block_units):
    trial = Trial(n=2 * n_half, stratified=True, block_size=2 * block_units)
    rng = np.random.default_rng(seed)
    stratum = rng.integers(0, 3, (5, trial.n)).astype(np.int8)
    arm = randomise(trial, stratum, rng)
    for r in range(5):
        for s in range(3):
            seq = arm[r][stratum[r] == s]
            # every complete block of the stratum's sequence is balanced, and every prefix is within half a block
            full = seq[: seq.size - seq.size % trial.effective_block_size].reshape(-1, trial.effective_block_size)
            assert np.all(full.sum(axis=1) == block_units)
            assert np.all(np.abs(np.cumsum(2 * seq.astype(int) - 1)) <= block_units)


def test_poisson_and_piecewise_accrual():
    rng = np.random.default_rng(2)
    entry = draw_entry(Accrual(kind="poisson", rate=2.0), 20_000, 10, rng)
    # the 10th arrival of a rate-2 Poisson process is Gamma(10, 2): mean 5, sd sqrt(10) / 2
    assert abs(entry[:, 9].mean() - 5.0) < 4 * math.sqrt(10) / 2 / math.sqrt(20_000)  # 4 SE
    entry = draw_entry(Accrual(kind="piecewise", rates=(1.0, 0.0, 4.0), breaks=(5.0, 8.0)), 20_000, 30, rng)
    assert not np.any((entry > 5.0) & (entry < 8.0)), "no enrolment where the rate is 0"
    assert np.all(np.diff(entry, axis=1) >= 0)
    in_first = (entry < 5.0).sum(axis=1)  # Poisson(5) (30 patients are always enough to pass week 5)
    assert abs(in_first.mean() - 5.0) < 4 * math.sqrt(5.0 / 20_000)  # 4 SE


# ------------------------------------------------------------------------------ analysis rules: an oracle


def _observe_loop(trial, entry, death, lost):
    """The analysis rules of the contract, literally, one patient at a time."""
    r, n = entry.shape
    time, event, reason, cuts = np.zeros((r, n)), np.zeros((r, n), bool), np.zeros((r, n), np.int8), np.zeros(r)
    for i in range(r):
        ends = []
        for j in range(n):
            stop = min(trial.follow_up, lost[i, j])
            ends.append(entry[i, j] + (death[i, j] if death[i, j] <= trial.follow_up and death[i, j] < lost[i, j]
                                       else stop))
        complete = max(ends)
        deaths = sorted(entry[i, j] + death[i, j] for j in range(n)
                        if death[i, j] <= trial.follow_up and death[i, j] < lost[i, j])
        if trial.analysis == "complete":
            cut = complete
        elif trial.analysis == "calendar":
            cut = trial.analysis_time
        else:
            cut = deaths[trial.target_events - 1] if len(deaths) >= trial.target_events else complete
        cuts[i] = cut
        for j in range(n):
            e, d, lo = entry[i, j], death[i, j], lost[i, j]
            if e > cut:
                time[i, j], reason[i, j] = 0.0, DATA_CUT
            elif d <= trial.follow_up and d < lo and e + d <= cut:
                time[i, j], event[i, j], reason[i, j] = d, True, DIED
            elif min(d, trial.follow_up, lo) + e > cut:
                time[i, j], reason[i, j] = cut - e, DATA_CUT
            elif lo < trial.follow_up and lo < d:
                time[i, j], reason[i, j] = lo, LOST
            else:
                time[i, j], reason[i, j] = trial.follow_up, END_OF_FOLLOW_UP
    return time, event, reason, cuts


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), analysis=st.sampled_from(["complete", "calendar", "events"]),
       dropout=st.booleans(), poisson=st.booleans())
def test_analysis_rules_match_a_patient_by_patient_loop(seed, analysis, dropout, poisson):
    rng = np.random.default_rng(seed)
    r, n = 6, 12
    trial = Trial(n=n, analysis=analysis, analysis_time=6.0 if analysis == "calendar" else None,
                  target_events=3 if analysis == "events" else None, follow_up=5.0,
                  accrual=Accrual(kind="poisson", rate=2.0) if poisson else Accrual())
    entry = np.cumsum(rng.exponential(0.5, (r, n)), axis=1) if poisson else np.zeros((r, n))
    death = np.where(rng.random((r, n)) < 0.5, rng.exponential(4.0, (r, n)), np.inf)
    lost = rng.exponential(10.0, (r, n)) if dropout else None
    got = vectorized.observe_follow_up(trial, entry, death, lost)
    want = _observe_loop(trial, entry, death, np.full((r, n), np.inf) if lost is None else lost)
    np.testing.assert_allclose(got[0], want[0], rtol=0, atol=1e-12)
    for g, w in zip(got[1:], want[1:]):
        np.testing.assert_array_equal(g, w)


# ------------------------------------------------------------------------------------------ detail draws


def test_paths_give_the_exact_state_probabilities_with_relapse():
    gens = np.stack([RELAPSING.generator(1.0), RELAPSING.refractory_generator(1.0)])
    n = 100_000
    which = (np.random.default_rng(0).random(n) < RELAPSING.refractory_fraction).astype(np.intp)
    visits = np.array([1.0, 3.0, 8.0])
    pools = JumpPools(np.random.default_rng(1), 1, n)  # with relapse, many patients refill their pool
    death, states = simulate_paths(gens, which, 8.0, visits, pools, np.arange(n))
    exact = RELAPSING.state_probabilities(visits)
    for k in range(visits.size):
        got = np.bincount(states[:, k], minlength=4) / n
        tol = 4 * np.sqrt(exact[k] * (1 - exact[k]) / n)  # 4 SE per state
        assert np.all(np.abs(got - exact[k]) < tol), (visits[k], got, exact[k])
    # the death time along the path agrees with the state at the visits
    np.testing.assert_array_equal(states[:, 2] == DEAD, death <= 8.0)


def test_detail_matches_the_exact_response_dose_and_infection_values():
    calibrate = importlib.import_module("trialsim.model.calibration")  # the module (trialsim.calibrate is also a function)

    baseline = BaselineMix(death_hazard_ratio_by_disease=(1.0, 2.0, 1.0))
    model = _model(RX, baseline=baseline)
    trial = Trial(n=20, allocation=(1,), dropout_hazard=(0.0,))
    b = vectorized.simulate(model, trial, n_replicates=4000, seed=6, detail=True)
    n = b.time.size
    exact = calibrate.state_probabilities(RX, [1.0, 8.0], baseline)
    for k, week in enumerate((1.0, 8.0)):
        got = np.bincount(b.response[:, :, model.visit_times.index(week)].ravel(), minlength=4) / n
        assert np.all(np.abs(got - exact[k]) < 4 * np.sqrt(exact[k] * (1 - exact[k]) / n))  # 4 SE
    p = calibrate.infection_probability(model.arms[0], baseline, 8.0)
    assert abs(np.isfinite(b.infection_time).mean() - p) < 4 * math.sqrt(p * (1 - p) / n)  # 4 SE
    # the median dose at week 8 among the living: P(dose < exact median) = 1/2 within 4 SE
    median = calibrate.dose_quantile(model.arms[0], baseline, model.visit_times, 8.0)
    alive = np.isfinite(b.dose[:, :, 7])
    share = (b.dose[:, :, 7][alive] < median).mean()
    assert abs(share - 0.5) < 4 * math.sqrt(0.25 / alive.sum())  # 4 SE


def test_dose_dependent_infection_matches_the_exact_probability():
    calibrate = importlib.import_module("trialsim.model.calibration")  # the module (trialsim.calibrate is also a function)

    infection = Infection(hazard=0.06, dose_dependent=True, reference_dose=2.7)
    model = _model(RX, infection=infection)
    trial = Trial(n=20, allocation=(1,), dropout_hazard=(0.0,))
    b = vectorized.simulate(model, trial, n_replicates=3000, seed=9, detail=True)
    n = b.time.size
    p = calibrate.infection_probability(model.arms[0], model.baseline, 8.0, model.visit_times)
    assert abs(np.isfinite(b.infection_time).mean() - p) < 4 * math.sqrt(p * (1 - p) / n)  # 4 SE


def test_dose_dependent_infection_time_matches_a_loop():
    rng = np.random.default_rng(5)
    arms = (ArmModel(infection=Infection(hazard=0.1, dose_dependent=True, reference_dose=2.0)),)
    visits = np.array([1.0, 2.5, 4.0])
    arm = np.zeros(200, dtype=np.int8)
    d0 = rng.lognormal(1.0, 0.3, 200)
    dose = d0[:, None] * np.exp(np.cumsum(rng.normal(-0.3, 0.2, (200, 3)), axis=1))
    e = rng.exponential(1.0, 200)
    got = infection_times(arms, arm, d0, dose, visits, e)
    for i in range(200):  # walk the piecewise-constant hazard 0.05 * dose until the cumulative hazard reaches e
        levels = [d0[i], *dose[i]]
        starts = [0.0, *visits]
        left, t = e[i], None
        for k, lvl in enumerate(levels):
            h = 0.05 * lvl
            width = (starts[k + 1] - starts[k]) if k + 1 < len(starts) else math.inf
            if left <= h * width:
                t = starts[k] + left / h
                break
            left -= h * width
        assert got[i] == pytest.approx(t, rel=1e-12)


# ------------------------------------------------------------------------------------------- interface


def test_supports_every_current_design_and_names_what_it_cannot():
    model = _model(RX, CONTROL)
    for trial in (Trial(n=40), Trial(n=40, analysis="events", target_events=5),
                  Trial(n=40, accrual=Accrual(kind="piecewise", rates=(1.0, 2.0), breaks=(4.0,)),
                        analysis="calendar", analysis_time=20.0)):
        assert vectorized.supports(model, trial, detail=True)
        assert vectorized.supports(model, trial, detail=False)
    assert not vectorized.supports("not a model", Trial(n=40), detail=False)
    assert "DiseaseModel" in vectorized.unsupported_reason(None, Trial(n=40))


def test_input_errors_name_the_argument():
    model = _model(RX, CONTROL)
    with pytest.raises(ValueError, match=r"`n_replicates` must be an integer >= 1 \(got 0\)"):
        vectorized.simulate(model, Trial(n=40), n_replicates=0)
    with pytest.raises(TypeError, match="unknown option"):
        vectorized.simulate(model, Trial(n=40), chunk=3)
    with pytest.raises(TypeError, match="`model` must be a DiseaseModel"):
        vectorized.simulate_chunk("model", Trial(n=40), 3, seeding.chunk_streams(seeding.root_sequence(1), 0))


def test_components_have_their_own_streams():
    # changing the control arm's death hazard leaves enrolment, arms and the other arm's deaths unchanged
    model = _model(RX, CONTROL)
    worse = _model(RX, dataclasses.replace(CONTROL, death_hazard_nr=0.2))
    trial = Trial(n=40, accrual=Accrual(kind="poisson", rate=1.0))
    a = vectorized.simulate(model, trial, n_replicates=50, seed=2)
    b = vectorized.simulate(worse, trial, n_replicates=50, seed=2)
    for name in ("arm", "stratum", "female", "entry"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    rx = a.arm == 0
    np.testing.assert_array_equal(a.time[rx], b.time[rx])
    assert not np.array_equal(a.time[~rx], b.time[~rx])
