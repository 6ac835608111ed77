"""The table-free sampler of assurance runs (trialsim.design.truth_sampler) against the model's exact values and
the vectorised engine: the same distribution (survival at several weeks, the state at the week-8 visit, the
power of a design under staggered entry, dropout and an event-driven cut), the engines' output contract, common
random numbers across n and the monotone coupling of a patient's death time to the truth.

Exact values: the multi-state chain's matrix exponentials (trialsim.model.calibration.state_probabilities), the
calibrated model of docs/model.md. Tolerances: 4 Monte Carlo standard errors, written beside each assertion.
"""

import math
from dataclasses import replace

import numpy as np
import pytest

from trialsim.design.analytic import arm_survival
from trialsim.design.rules import TwoArmDesign
from trialsim.design.truth_sampler import simulate_chunk
from trialsim.design.truths import scale_survival, truth_model
from trialsim.engines import vectorized
from trialsim.engines.seeding import chunk_streams, root_sequence
from trialsim.model import Accrual, DiseaseModel, ParametricArm, default_model, default_trial
from trialsim.model.calibration import state_probabilities

MODEL = default_model(8.0)
VARIANT = replace(MODEL, arms=tuple(replace(a, response=replace(a.response, relapse_rate=0.3)) for a in MODEL.arms),
                  baseline=replace(MODEL.baseline, death_hazard_ratio_by_disease=(1.0, 2.0, 0.5)))


def _batches(model, trial, chunks, seed, detail=False):
    root = root_sequence(seed)
    return [simulate_chunk(model, trial, 2000, chunk_streams(root, c), detail=detail) for c in range(chunks)]


@pytest.mark.parametrize("model", [MODEL, VARIANT], ids=["calibrated", "relapse-and-strata"])
def test_survival_equals_the_exact_survival(model):
    trial = default_trial(40)
    batches = _batches(model, trial, 5, seed=21)
    for arm in (0, 1):
        size = sum(int((b.arm == arm).sum()) for b in batches)
        for week in (1.0, 2.0, 4.0, 8.0):
            dead = sum(int(((b.time <= week) & b.event & (b.arm == arm)).sum()) for b in batches)
            exact = float(arm_survival(model, arm, [week])[0])
            se = math.sqrt(exact * (1 - exact) / size)
            assert abs(1 - dead / size - exact) <= 4 * se, (arm, week)          # 4 s.e.


@pytest.mark.parametrize("model", [MODEL, VARIANT], ids=["calibrated", "relapse-and-strata"])
def test_the_week_8_state_equals_the_exact_state_probabilities(model):
    batches = _batches(model, default_trial(40), 3, seed=22, detail=True)
    for arm in (0, 1):
        states = np.concatenate([b.response[:, :, 7][b.arm == arm] for b in batches])
        exact = state_probabilities(model.arms[arm].response, [8.0], model.baseline)[0]
        for state in range(4):                  # NR, PR, CR, dead
            se = math.sqrt(exact[state] * (1 - exact[state]) / states.size)
            assert abs(np.mean(states == state) - exact[state]) <= 4 * se + 1e-12, (arm, state)   # 4 s.e.


def test_parametric_arms_die_at_their_exponential_rate():
    model = DiseaseModel(arms=(ParametricArm.from_survival(0.9, 8.0), ParametricArm.from_survival(0.5, 8.0)),
                         arm_names=("treatment", "control"))
    batches = _batches(model, default_trial(40), 2, seed=23)
    for arm, s in ((0, 0.9), (1, 0.5)):
        alive = np.concatenate([~b.event[b.arm == arm] for b in batches])
        assert abs(alive.mean() - s) <= 4 * math.sqrt(s * (1 - s) / alive.size)      # 4 s.e.


@pytest.mark.slow
def test_power_agrees_with_the_engine_under_accrual_dropout_and_an_event_cut():
    trial = replace(default_trial(40), accrual=Accrual(kind="poisson", rate=2.0), dropout_hazard=(0.02, 0.02),
                    analysis="events", target_events=7)
    for design in (TwoArmDesign(), TwoArmDesign(endpoint="response")):
        reps, root = 10_000, root_sequence(24)
        ours, theirs = [], []
        for c in range(reps // 2000):
            streams = chunk_streams(root, c)
            ours.append(design.analyse([simulate_chunk(MODEL, trial, 2000, streams, detail=design.needs_detail)],
                                       trial).success)
            theirs.append(design.analyse([vectorized.simulate_chunk(MODEL, trial, 2000, chunk_streams(root, 10 + c),
                                                                    detail=design.needs_detail)], trial).success)
        p, q = np.concatenate(ours).mean(), np.concatenate(theirs).mean()
        se = math.sqrt(p * (1 - p) / reps + q * (1 - q) / reps)
        assert abs(p - q) <= 4 * se, (design.endpoint, p, q)                  # 4 s.e. of the difference


def test_the_engines_output_contract():
    trial = replace(default_trial(40), accrual=Accrual(kind="poisson", rate=3.0), dropout_hazard=(0.01, 0.03))
    streams = chunk_streams(root_sequence(25), 0)
    ours = simulate_chunk(MODEL, trial, 50, streams, detail=True, first_replicate=100)
    theirs = vectorized.simulate_chunk(MODEL, trial, 50, chunk_streams(root_sequence(25), 0), detail=True)
    for name in ("arm", "stratum", "female", "entry", "time", "event", "censor_reason", "analysis_time", "response",
                 "best_response", "infection_time", "dose_start", "dose"):
        a, b = getattr(ours, name), getattr(theirs, name)
        assert a.shape == b.shape and a.dtype == b.dtype, name
    # what does not depend on the death times is drawn by the engine's own code from the same streams
    for name in ("arm", "stratum", "female", "entry"):
        assert np.array_equal(getattr(ours, name), getattr(theirs, name)), name
    assert ours.first_replicate == 100 and ours.engine == "latent-path"
    assert np.all((ours.time >= 0) & (ours.time <= 8.0)) and not np.any(ours.event & (ours.censor_reason != 0))


def test_common_random_numbers_across_n():
    root = root_sequence(26)
    small = simulate_chunk(MODEL, default_trial(40), 300, chunk_streams(root, 0))
    large = simulate_chunk(MODEL, default_trial(44), 300, chunk_streams(root, 0))
    assert np.array_equal(small.arm, large.arm[:, :40])                         # ten whole blocks of 4 in both
    assert np.array_equal(small.time, large.time[:, :40]) and np.array_equal(small.event, large.event[:, :40])


def test_a_sicker_truth_kills_each_patient_no_later():
    truths = scale_survival(MODEL.arms[1], MODEL.baseline.strata(), 8.0, [0.62, 0.45])
    trial = default_trial(40)
    healthier, sicker = (simulate_chunk(truth_model(MODEL, (None, truths), d), trial, 500,
                                        chunk_streams(root_sequence(27), 0)) for d in (0, 1))
    control = healthier.arm == 1
    assert np.all(sicker.event[control] >= healthier.event[control])
    died = healthier.event & control
    assert np.all(sicker.time[died] <= healthier.time[died] + 1e-12)
    assert np.array_equal(sicker.time[~control], healthier.time[~control])     # the treatment arm is untouched
