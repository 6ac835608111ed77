"""Trials with looks (trialsim.design.sequential): the looks, the stopping rule, calibration, and the one-look case.

Every check here is exact (no Monte Carlo tolerance): the analysis of each look against a plain per-trial loop, the
calibrated bounds against their definition, the largest attainable log-rank z against brute force, one look
against the fixed design bit for bit. The statistical checks (stop probabilities against the exact recursion,
calibrated type I error) are in ``tests/test_sequential_mc.py``.
"""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from trialsim.design import HistoricalControlDesign, SingleArmDesign, TwoArmDesign
from trialsim.design.sequential import SequentialDesign, calibrate_bounds, max_logrank_z, null_model
from trialsim.design.sequential_oc import sequential_power
from trialsim.design.sizing import power, sample_size
from trialsim.design.survival_sizing import max_attainable_logrank_z
from trialsim.engines import vectorized
from trialsim.exceptions import InputError
from trialsim.model import Accrual, DiseaseModel, ParametricArm, Trial, default_model, default_trial
from trialsim.stats import logrank

CONTROL = ParametricArm.from_survival(0.62, at=8.0)
PARAMETRIC = DiseaseModel(arms=(CONTROL.with_hazard_ratio(0.4), CONTROL), arm_names=("treatment", "control"))
ACCRUING = Trial(n=60, accrual=Accrual(kind="poisson", rate=3.0), follow_up=26.0, analysis="events",
                 target_events=24, dropout_hazard=(0.01, 0.01))


# ------------------------------------------------------------------------------------- one look is the fixed design


@pytest.mark.parametrize("engine", ["vectorized", "des"])
@pytest.mark.parametrize("case", ["ctdmas", "events"])
def test_one_look_is_the_fixed_design_bit_for_bit(engine, case):
    model, trial = (default_model(), default_trial(40)) if case == "ctdmas" else (PARAMETRIC, ACCRUING)
    design = TwoArmDesign()
    reps = 2500 if engine == "vectorized" else 600  # two chunks for the vectorised engine
    fixed = power(model, trial, design, n_replicates=reps, seed=11, n_jobs=1, engine=engine)
    one = sequential_power(model, trial, SequentialDesign(base=design, model=model), n_replicates=reps, seed=11,
                           n_jobs=1, engine=engine)
    assert one.result == fixed  # every field but the elapsed time (not compared)
    assert one.looks[0].efficacy_stop == fixed.power


def test_one_look_wraps_any_design_and_counts_the_trials_short_of_their_deaths():
    trial = Trial(n=20, allocation=(1,), dropout_hazard=(0.0,), follow_up=8.0, analysis="events", target_events=4)
    for base in (SingleArmDesign(), HistoricalControlDesign()):
        fixed = power(default_model(), trial, base, n_replicates=500, seed=2, n_jobs=1)
        one = sequential_power(default_model(), trial, SequentialDesign(base=base, model=default_model()),
                               n_replicates=500, seed=2, n_jobs=1)
        assert one.result == fixed and not one.sequential
    batch = vectorized.simulate(PARAMETRIC, ACCRUING, n_replicates=500, seed=4)
    out = SequentialDesign(base=TwoArmDesign(), model=PARAMETRIC).analyse([batch], ACCRUING)
    np.testing.assert_array_equal(out.short_of_events, batch.event.sum(axis=1) < 24)
    assert 0 < out.short_of_events.sum() < 500, "the check needs trials on both sides of the target"
    np.testing.assert_array_equal(out.n_enrolled, (batch.entry <= batch.analysis_time[:, None]).sum(axis=1))


# ------------------------------------------------------------------------------ each look against a plain loop


def _by_hand(batch, trial, looks, sided):
    """Each trial through its looks one patient at a time: the look time, the data then, the scalar log-rank."""
    out = []
    for i in range(batch.n_replicates):
        entry, time, event, arm = batch.entry[i], batch.time[i], batch.event[i], batch.arm[i]
        final = batch.analysis_time[i]
        ends = sorted(e + t for e, t, d in zip(entry, time, event) if d)
        record = None
        for k in range(looks.n_looks):
            last = k == looks.n_looks - 1
            if last:
                tau = final
            elif looks.deaths[k] is not None:
                tau = ends[looks.deaths[k] - 1] if len(ends) >= looks.deaths[k] else math.inf
            else:
                tau = looks.times[k]
            if not last and not tau < final:
                continue
            t_k = [t if e + t <= tau else max(tau - e, 0.0) for e, t in zip(entry, time)]
            d_k = [bool(d and e + t <= tau) for e, t, d in zip(entry, time, event)]
            if sum(d_k) == 0 or len(set(arm)) < 2:
                continue
            res = logrank(np.array(t_k), np.array(d_k), arm)
            z = float(res.z)  # positive: the control arm (label 1) has more deaths than expected
            stat = abs(z) if sided == 2 else z
            if stat >= looks.upper[k]:
                record = (k, True, sum(d_k), tau)
            elif last or (sided == 1 and z <= looks.lower[k]):
                record = (k, False, sum(d_k), tau)
            if record:
                break
        out.append(record)
    return out


@pytest.mark.parametrize("sided, futility, times", [(1, "z:-0.5,0.3", None), (2, None, None),
                                                    (1, None, (10.0, 20.0, 40.0))])
def test_every_look_equals_a_plain_per_trial_loop(sided, futility, times):
    trial = ACCRUING if times is None else dataclasses.replace(ACCRUING, analysis="calendar", analysis_time=40.0,
                                                                target_events=None)
    design = SequentialDesign(base=TwoArmDesign(sided=sided, alpha=0.1), model=PARAMETRIC,
                              fractions=None if times else (0.25, 0.6, 1.0), look_times=times,
                              efficacy="pocock", futility=futility)
    batch = vectorized.simulate(PARAMETRIC, trial, n_replicates=300, seed=6)
    looks = design.resolve(trial)
    out = design.analyse([batch], trial)
    expected = _by_hand(batch, trial, looks, sided)
    for i, want in enumerate(expected):
        k, success, deaths, tau = want
        assert (out.stop_look[i], out.success[i], out.n_events[i]) == (k, success, deaths), i
        assert out.duration[i] == tau
        assert out.n_enrolled[i] == int((batch.entry[i] <= tau).sum())
    stops = np.bincount(out.stop_look, minlength=3)
    assert (stops > 0).all(), f"the check needs trials stopping at every look: {stops}"
    if futility:
        assert out.futility.any()


def test_planned_deaths_and_errors():
    design = SequentialDesign(base=TwoArmDesign(), model=PARAMETRIC, fractions=(0.3, 0.6, 1.0))
    looks = design.resolve(ACCRUING)
    assert looks.deaths == (7, 14, None) and looks.planned_deaths == (7.0, 14.0, 24.0)  # round(0.3 * 24) = 7
    complete = default_trial(40)
    looks = SequentialDesign(base=TwoArmDesign(), model=default_model(), fractions=(0.5, 1.0)).resolve(complete)
    assert looks.deaths[0] == 4  # round(0.5 * 8.62): half the deaths expected at complete follow-up
    # a look planned at less than one death is at the first death
    assert SequentialDesign(base=TwoArmDesign(), model=PARAMETRIC, fractions=(0.01, 1.0)).resolve(ACCRUING).deaths[0] == 1
    with pytest.raises(InputError, match="increasing"):
        SequentialDesign(base=TwoArmDesign(), model=PARAMETRIC, fractions=(0.6, 0.5, 1.0))
    with pytest.raises(InputError, match="end at 1"):
        SequentialDesign(base=TwoArmDesign(), model=PARAMETRIC, fractions=(0.5, 0.9))
    with pytest.raises(InputError, match="must be one of"):
        SequentialDesign(base=TwoArmDesign(), model=PARAMETRIC, fractions=(0.5, 1.0), efficacy="obf")
    with pytest.raises(InputError, match="reaches the efficacy bound"):
        SequentialDesign(base=TwoArmDesign(sided=1, alpha=0.025), model=PARAMETRIC, fractions=(0.5, 1.0),
                         futility="z:3.5")
    with pytest.raises(InputError, match="two-arm log-rank"):
        SequentialDesign(base=TwoArmDesign(endpoint="survival_binary"), model=PARAMETRIC, fractions=(0.5, 1.0))
    timed = SequentialDesign(base=TwoArmDesign(), model=PARAMETRIC, look_times=(10.0, 30.0))
    with pytest.raises(InputError, match="maximum duration"):
        timed.prepare_trial(dataclasses.replace(ACCRUING, max_duration=25.0))
    with pytest.raises(InputError, match="event-driven"):
        timed.prepare_trial(ACCRUING)


def test_calendar_looks_take_their_fractions_from_the_expected_deaths():
    trial = dataclasses.replace(ACCRUING, analysis="complete", target_events=None)
    design = SequentialDesign(base=TwoArmDesign(), model=PARAMETRIC, fractions=None, look_times=(10.0, 40.0))
    prepared = design.prepare_trial(trial)
    assert prepared.analysis == "calendar" and prepared.analysis_time == 40.0
    looks = design.resolve(prepared)
    by = [TwoArmDesign().analytic_power(PARAMETRIC, dataclasses.replace(prepared, analysis_time=t)).n_events
          for t in (10.0, 40.0)]
    assert looks.fractions == pytest.approx((by[0] / by[1], 1.0), rel=1e-12)
    assert looks.times == (10.0, 40.0) and looks.deaths == (None, None)


# ---------------------------------------------------------------------------------------------- calibration


def test_calibrated_bounds_by_their_definition():
    z = np.array([[3.0, 2.0], [2.5, 1.0], [np.nan, 2.2], [0.1, 2.2], [1.0, 0.5], [0.2, -3.0]])
    bounds, crossed = calibrate_bounds(z, [1 / 6, 3 / 6], sided=1)
    assert bounds == (2.75, 1.6) and crossed == (1, 2)  # half-way between the values each bound separates
    bounds, crossed = calibrate_bounds(z, [1 / 6, 3 / 6], sided=2)
    assert bounds == (2.75, 2.6) and crossed == (1, 1)  # |z|: the -3.0 crosses, the tied 2.2s cannot
    bounds, crossed = calibrate_bounds(z, [0.0, 3 / 6], sided=1, lower=(1.5, None), binding=True)
    # binding: the trials at z <= 1.5 at look 1 stop there; the three left may all cross at look 2
    assert bounds == (math.inf, 1.0) and crossed == (0, 3)


@settings(max_examples=60)
@given(st.lists(st.floats(-4, 4).map(lambda x: round(x, 1)), min_size=20, max_size=200),
       st.floats(0.01, 0.5))
def test_calibration_spends_at_most_its_alpha_and_no_lower_bound_would(values, alpha):
    # a discrete statistic (rounded): the bound lets at most floor(alpha R) cross, and the next observed value
    # below it would let more
    z = np.array(values)[:, None]
    (b,), (crossed,) = calibrate_bounds(z, [alpha], sided=1)
    allowed = math.floor(alpha * z.size + 1e-9)
    assert crossed == (z[:, 0] >= b).sum() <= allowed
    below = z[z[:, 0] < b, 0]
    if below.size:
        assert (z[:, 0] >= below.max()).sum() > allowed


@pytest.mark.parametrize("d, n", [(1, 1), (4, 4), (4, 20), (8, 20), (16, 40)])
def test_max_logrank_z_is_the_survival_sizing_bound_for_equal_arms(d, n):
    assert max_logrank_z(d, n, n) == pytest.approx(max_attainable_logrank_z(d, n), rel=1e-14)


@pytest.mark.parametrize("n_a, n_b", [(3, 6), (6, 3), (4, 4), (5, 2)])
def test_max_logrank_z_by_brute_force(n_a, n_b):
    # every way d deaths (distinct times, nobody censored) can fall between the arms: the largest z of the
    # dying arm's deaths over expected is reached with all of them in that arm
    for d in range(1, n_a + 1):
        best = -math.inf
        for seq in itertools.product((0, 1), repeat=d):
            at = [n_a, n_b]
            oe = var = 0.0
            for who in seq:
                total = at[0] + at[1]
                oe += (who == 0) - at[0] / total
                var += at[0] * at[1] / total ** 2
                at[who] -= 1
            if var > 0:
                best = max(best, oe / math.sqrt(var))
        assert max_logrank_z(d, n_a, n_b) == pytest.approx(best, rel=1e-12)


def test_calibration_is_reproducible_and_independent_of_workers():
    design = SequentialDesign(base=TwoArmDesign(), model=default_model(), fractions=(0.5, 1.0), calibrate=True,
                              calibration_replicates=2500)
    runs = [sequential_power(default_model(), default_trial(40), design, n_replicates=2500, seed=5, n_jobs=jobs,
                             backend="threading") for jobs in (1, 2)]
    assert runs[0].calibration == runs[1].calibration and runs[0].result == runs[1].result
    cal = runs[0].calibration
    assert cal.spawn_key == (2 ** 30,) and cal.seed == 5
    # the interim has 4 planned deaths: |z| <= 2.08 there, and all 4 deaths in one arm happen in far more than the
    # 0.3% the look may spend, so no bound spends it; the final look spends the whole alpha
    assert cal.upper[0] == math.inf and cal.crossed[0] == 0
    assert cal.crossed[1] == math.floor(0.05 * 2500 + 1e-9)


def test_null_model_and_sample_size_with_looks():
    null = null_model(default_model())
    assert null.arms == (default_model().arms[1],) * 2
    design = SequentialDesign(base=TwoArmDesign(), model=PARAMETRIC, fractions=(0.5, 1.0))
    fixed = sample_size(PARAMETRIC, TwoArmDesign(), trial=Trial(n=40), n_replicates=1000, seed=3, n_jobs=1)
    looked = sample_size(PARAMETRIC, design, trial=Trial(n=40), n_replicates=1000, seed=3, n_jobs=1)
    assert looked.n >= fixed.n - 2  # an O'Brien-Fleming-type interim costs little, never much less
    assert "2 looks" in looked.design


@pytest.mark.parametrize("strata, horizon", [(False, None), (True, None), (False, 5.0)])
def test_look_logrank_is_logrank_batch_bit_for_bit(strata, horizon):
    import warnings

    from trialsim.design.looks import logrank_z_at
    from trialsim.stats import logrank_batch

    rng = np.random.default_rng(12)
    time = rng.exponential(10, (400, 30))
    event = time < 8
    time = np.minimum(time, 8.0)
    time[:, :4], event[:, :4] = 0.0, False  # patients not yet enrolled at the look
    event[0] = False  # a degenerate row
    arm = rng.integers(0, 2, (400, 30)).astype(np.int8)
    stratum = rng.integers(0, 3, (400, 30)).astype(np.int8) if strata else None
    z, degenerate, deaths = logrank_z_at(time, event, arm, stratum, horizon)
    if horizon is not None:
        event, time = event & (time <= horizon), np.minimum(time, horizon)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = logrank_batch(time, event, arm, strata=stratum)
    np.testing.assert_array_equal(z, ref.z)
    np.testing.assert_array_equal(degenerate, ref.degenerate)
    np.testing.assert_array_equal(deaths, np.rint(ref.observed))
    assert degenerate[0] and z[0] == 0.0


@settings(max_examples=40)
@given(st.lists(st.floats(-4, 4).map(lambda x: round(x, 2)), min_size=30, max_size=150),
       st.floats(0.01, 0.2), st.floats(0.0, 0.2))
def test_more_alpha_never_raises_a_calibrated_bound(values, alpha, more):
    # monotone in the alpha spent: spending more lets at least as many trials cross, so the bound is no higher
    z = np.array(values)[:, None]
    (low_alpha,), _ = calibrate_bounds(z, [alpha], sided=2)
    (high_alpha,), _ = calibrate_bounds(z, [min(alpha + more, 0.99)], sided=2)
    assert high_alpha <= low_alpha
