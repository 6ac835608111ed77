"""The model dataclasses: validation (errors name the field and value), exact quantities vs naive oracles."""

import dataclasses
import math

import numpy as np
import pytest

from trialsim.exceptions import InputError
from hypothesis import given, settings, strategies as st
from scipy.integrate import quad, solve_ivp

from trialsim.model import (Accrual, ArmModel, BaselineMix, DiseaseModel, Infection, ParametricArm, ResponseProcess, Taper, Trial)


RATE_FIELDS = ["rate_nr_pr", "rate_pr_cr", "relapse_rate", "death_hazard_nr", "death_hazard_ratio_pr",
               "death_hazard_ratio_cr"]


@settings(max_examples=60)
@given(field=st.sampled_from(RATE_FIELDS),
       value=st.one_of(st.floats(max_value=-1e-12, allow_nan=False), st.just(float("nan")), st.just(float("inf"))))
def test_negative_or_nonfinite_rate_names_field_and_value(field, value):
    with pytest.raises(ValueError) as err:
        ResponseProcess(**{field: value})
    assert f"`ResponseProcess.{field}`" in str(err.value)
    assert repr(value) in str(err.value)


@settings(max_examples=60)
@given(value=st.one_of(st.floats(max_value=-1e-9, allow_nan=False), st.floats(min_value=1 + 1e-9)))
def test_probability_outside_unit_interval_is_rejected(value):
    with pytest.raises(ValueError, match="refractory_fraction"):
        ResponseProcess(refractory_fraction=value)
    with pytest.raises(ValueError, match="female_fraction"):
        BaselineMix(female_fraction=value)


@settings(max_examples=60)
@given(value=st.floats(min_value=0, max_value=1))
def test_probability_inside_unit_interval_is_accepted(value):
    assert ResponseProcess(refractory_fraction=value).refractory_fraction == value


def test_unknown_key_is_refused():
    # the constructor refuses unknown keywords (scenario files name the key: tests/test_scenarios.py)
    with pytest.raises(TypeError, match="rate_nr_cr"):
        ResponseProcess(rate_nr_cr=1.0)


def test_other_validations_name_the_field():
    # Every validation raises the one error type, carrying the field and the offending value
    cases = [
        (lambda: Taper(start_dose_median=0), "Taper.start_dose_median", 0),
        (lambda: Infection(hazard=-0.1), "Infection.hazard", -0.1),
        (lambda: BaselineMix(disease_fractions=(0.5, 0.4, 0.2)), "BaselineMix.disease_fractions", (0.5, 0.4, 0.2)),
        (lambda: ParametricArm(hazards=(0.1, 0.2), breaks=()), "ParametricArm.breaks", ()),
        (lambda: ParametricArm.from_survival(0.0, at=8), "ParametricArm.survival", 0.0),
        (lambda: Accrual(kind="weekly"), "Accrual.kind", "weekly"),
        (lambda: Accrual(rate=-2), "Accrual.rate", -2),
        (lambda: Trial(n=41), "Trial.n", 41),
        (lambda: Trial(n=40, dropout_hazard=(0.1,)), "Trial.dropout_hazard", (0.1,)),
        (lambda: Trial(n=40, analysis="events"), "Trial.target_events", None),
        (lambda: Trial(n=40, analysis="calendar"), "Trial.analysis_time", None),
        (lambda: Trial(n=40, stratified="false"), "Trial.stratified", "false"),
        (lambda: DiseaseModel(arms=(ParametricArm(),), arm_names=("a", "b")), "DiseaseModel.arm_names", ("a", "b")),
    ]
    for build, field, value in cases:
        with pytest.raises(InputError) as err:
            build()
        assert err.value.field == field and err.value.value == value, (field, err.value.field, err.value.value)
        assert str(err.value).startswith(f"`{field}` ") and isinstance(err.value, ValueError), str(err.value)
    with pytest.raises(InputError, match=r"`Trial.n` must be a multiple of 2 for allocation 1:1 \(got 41\)"):
        Trial(n=41)


def test_dataclasses_are_frozen_and_replaceable():
    proc = ResponseProcess(rate_nr_pr=0.5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        proc.rate_nr_pr = 1.0
    assert dataclasses.replace(proc, rate_nr_pr=1.0).rate_nr_pr == 1.0
    with pytest.raises(ValueError, match="rate_nr_pr"):
        dataclasses.replace(proc, rate_nr_pr=-1.0)


processes = st.builds(
    ResponseProcess,
    refractory_fraction=st.floats(0, 1), rate_nr_pr=st.floats(0, 3), rate_pr_cr=st.floats(0, 1),
    relapse_rate=st.floats(0, 0.5), death_hazard_nr=st.floats(0, 0.5), death_hazard_ratio_pr=st.floats(0, 2),
    death_hazard_ratio_cr=st.floats(0, 2))


@settings(max_examples=25, deadline=None)
@given(proc=processes, t=st.floats(0.0, 30.0), mult=st.floats(0.2, 5.0))
def test_state_probabilities_solve_the_forward_equations(proc, t, mult):
    """Oracle: integrate the Kolmogorov forward equations dp/dt = p Q numerically (movers and stayers)."""
    got = proc.state_probabilities([t], mult)[0]
    assert np.all(got >= -1e-12) and abs(got.sum() - 1) < 1e-9

    def forward(q):
        sol = solve_ivp(lambda _, p: p @ q, (0, max(t, 1e-12)), [1.0, 0, 0, 0], rtol=1e-10, atol=1e-12)
        return sol.y[:, -1]

    pi = proc.refractory_fraction
    want = (1 - pi) * forward(proc.generator(mult)) + pi * forward(proc.refractory_generator(mult))
    np.testing.assert_allclose(got, want, atol=1e-7)


@settings(max_examples=50)
@given(median=st.floats(0.1, 100), hr=st.floats(0.05, 20))
def test_parametric_constructors(median, hr):
    arm = ParametricArm.from_median(median)
    assert arm.survival(median) == pytest.approx(0.5, rel=1e-12)
    other = arm.with_hazard_ratio(hr)
    assert other.survival(median) == pytest.approx(0.5 ** hr, rel=1e-10)
    s8 = ParametricArm.from_survival(0.62, at=8.0)
    assert s8.survival(8.0) == pytest.approx(0.62, rel=1e-12)


piecewise = st.integers(1, 4).flatmap(lambda k: st.tuples(
    st.lists(st.floats(0.0, 2.0), min_size=k, max_size=k),
    st.lists(st.floats(0.1, 5.0), min_size=k - 1, max_size=k - 1)))


@settings(max_examples=60, deadline=None)
@given(spec=piecewise, t=st.floats(0.0, 25.0))
def test_piecewise_cumulative_hazard_against_quadrature(spec, t):
    hazards, gaps = spec
    breaks = tuple(np.cumsum(gaps))
    arm = ParametricArm(hazards=tuple(hazards), breaks=breaks)

    def hazard(s):
        return hazards[int(np.searchsorted(breaks, s, side="right"))]

    want = quad(hazard, 0, t, points=[b for b in breaks if b < t] or None, limit=200)[0] if t > 0 else 0.0
    assert float(arm.cumulative_hazard(t)) == pytest.approx(want, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(spec=piecewise, u=st.floats(1e-6, 1 - 1e-6), mult=st.floats(0.2, 5))
def test_quantile_time_inverts_survival(spec, u, mult):
    hazards, gaps = spec
    hazards[-1] = max(hazards[-1], 1e-3)
    arm = ParametricArm(hazards=tuple(hazards), breaks=tuple(np.cumsum(gaps)))
    t = float(arm.quantile_time(u, mult))
    assert math.isfinite(t)
    assert float(arm.survival(t, mult)) == pytest.approx(u, rel=1e-9)


def test_arm_model_requires_components():
    with pytest.raises(TypeError, match="`ArmModel.taper` must be a Taper"):
        ArmModel(taper=1.0)


def test_trial_arm_sizes_and_blocks():
    trial = Trial(n=60, allocation=(2, 1), dropout_hazard=(0.0, 0.0))
    assert trial.n_per_arm() == (40, 20)
    assert trial.effective_block_size == 6
    with pytest.raises(ValueError, match="block_size"):
        Trial(n=60, allocation=(2, 1), block_size=4)
