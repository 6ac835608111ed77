"""Common random numbers across trial sizes: patient k of replicate r gets the same draws whatever n is.

Both engines draw every random component patient by patient (permuted blocks block by block), so a trial of
n + block patients is the trial of n patients with patients appended. Neighbouring sizes then share their
randomness, and a sample-size search compares them paired.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from trialsim.engines import des

from trialsim.design import montecarlo

from trialsim.engines import vectorized
from trialsim.model import default_model, default_trial
from trialsim.design import TwoArmDesign
from trialsim.stats import logrank_batch
from trialsim.model import Accrual, BaselineMix, DiseaseModel, ParametricArm, Trial

ENGINES = {"vectorized": vectorized, "des": des}
SURVIVAL_FIELDS = ("arm", "stratum", "female", "entry", "time", "event", "censor_reason")


def _trials():
    base = default_trial(40)
    return {
        "default": base,
        "stratified, 2:1, blocks of 6": replace(base, n=42, allocation=(2, 1), block_size=6, stratified=True),
        "poisson accrual, dropout": replace(base, accrual=Accrual(kind="poisson", rate=2.0),
                                            dropout_hazard=(0.02, 0.05)),
    }


@pytest.mark.parametrize("engine", sorted(ENGINES))
@pytest.mark.parametrize("label", sorted(_trials()))
def test_a_larger_trial_appends_patients(engine, label):
    # Analysed once follow-up is complete, every patient's record depends only on their own draws, so the first
    # n patients of the larger trial must be the smaller trial, bit for bit.
    model = default_model()
    small = _trials()[label]
    block = small.effective_block_size
    large = replace(small, n=small.n + block)
    detail = engine == "des"  # the DES draws the same chain path with and without detail; check both paths
    a = ENGINES[engine].simulate(model, small, n_replicates=300, seed=11, detail=detail)
    b = ENGINES[engine].simulate(model, large, n_replicates=300, seed=11, detail=detail)
    for name in SURVIVAL_FIELDS:
        np.testing.assert_array_equal(getattr(b, name)[:, :small.n], getattr(a, name), err_msg=name)
    if detail:
        for name in ("response", "dose", "infection_time", "dose_start"):
            np.testing.assert_array_equal(getattr(b, name)[:, :small.n], getattr(a, name), err_msg=name)


def test_vectorized_detail_paths_append_patients_with_relapse():
    # With relapse some patients exhaust their pool of pre-drawn jumps and refill it; the refill is keyed to
    # the patient, so the paths still do not depend on n.
    model = default_model()
    relapsing = tuple(replace(arm, response=replace(arm.response, relapse_rate=0.8)) for arm in model.arms)
    model = replace(model, arms=relapsing)
    small = default_trial(40)
    a = vectorized.simulate(model, small, n_replicates=200, seed=4, detail=True)
    b = vectorized.simulate(model, replace(small, n=44), n_replicates=200, seed=4, detail=True)
    for name in SURVIVAL_FIELDS + ("response", "dose", "infection_time"):
        np.testing.assert_array_equal(getattr(b, name)[:, :40], getattr(a, name), err_msg=name)


def test_parametric_and_mixed_models_append_patients():
    control = ParametricArm(hazards=(0.08, 0.03), breaks=(2.0,))
    mixed = DiseaseModel(arms=(default_model().arms[0], control),
                         baseline=BaselineMix(death_hazard_ratio_by_disease=(1.0, 1.5, 0.8)))
    for model in (DiseaseModel(arms=(control.with_hazard_ratio(0.4), control)), mixed):
        for engine in ENGINES.values():
            a = engine.simulate(model, Trial(n=20), n_replicates=100, seed=2)
            b = engine.simulate(model, Trial(n=24), n_replicates=100, seed=2)
            np.testing.assert_array_equal(b.time[:, :20], a.time)


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_logrank_z_at_40_and_42_correlate(engine):
    # The default trial at n = 40 and n = 42 with the same seed: 40 of the 42 patients are the same, so the
    # per-replicate log-rank z statistics are strongly correlated (with independent draws the correlation
    # would be 0 +- 1/sqrt(R)).
    model, r = default_model(), 2000
    z = []
    for n in (40, 42):
        batch = ENGINES[engine].simulate(model, default_trial(n), n_replicates=r, seed=7)
        z.append(logrank_batch(batch.time, batch.event, batch.arm).z)
    rho = np.corrcoef(z[0], z[1])[0, 1]
    # 0.8 is the requirement, not an estimate: the measured correlation is about 0.97 with a standard error of
    # about (1 - rho^2) / sqrt(R) = 0.001, so the bound sits some 170 s.e. below it
    assert rho > 0.8, rho


def test_monte_carlo_outcomes_are_paired_across_n():
    # Through the Monte Carlo runner (the path sample_size takes), replicate by replicate: most replicates that
    # reject at n = 40 also reject at n = 44, and the discordant pairs are few. Independent runs at power
    # p1, p2 would agree in about p1 p2 + (1 - p1)(1 - p2) ~ 0.70 of replicates at these powers.
    model, design, r = default_model(), TwoArmDesign(), 4000
    runs = [montecarlo.run(model, default_trial(n), design, n_replicates=r, seed=3, n_jobs=1).outcome
            for n in (40, 44)]
    small, large = runs[0].success, runs[1].success
    agree = np.mean(small == large)
    independent = small.mean() * large.mean() + (1 - small.mean()) * (1 - large.mean())
    # Paired: agreement ~0.94 against ~0.69 for independent runs. 5 s.e. of a share of R replicates is at most
    # 5 sqrt(0.25 / R) = 0.04: the pairing must show beyond that
    assert agree > independent + 5 * math.sqrt(0.25 / r), (agree, independent)
    # Replicate by replicate monotone in most replicates: losing significance when 4 patients are added happens in
    # about 1.5% of replicates (s.e. 0.002), gaining it in about 5%. Requirements, not estimates: fewer losses than
    # gains, and losses in fewer than 5% of replicates
    lost, gained = np.mean(small & ~large), np.mean(~small & large)
    assert lost < gained and lost < 0.05, (lost, gained)
    # the paired difference is far more precise than the difference of two independent estimates (measured
    # ratio 0.45; the requirement is a clear gain, below 0.6)
    d = large.astype(float) - small.astype(float)
    paired_se = d.std(ddof=1) / math.sqrt(r)
    independent_se = math.sqrt(small.var() / r + large.var() / r)
    assert paired_se < 0.6 * independent_se, (paired_se, independent_se)


def test_a_cut_on_the_last_visit_day_ends_follow_up_in_every_mode():
    # A calendar cut at week 8 = the end of follow-up = the last visit: survivors complete their follow-up (the
    # visit on the last day ends it), in the DES with and without detail and in the vectorised engine
    model, trial = default_model(), replace(default_trial(40), analysis="calendar", analysis_time=8.0)
    plain = des.simulate(model, trial, n_replicates=200, seed=8)
    full = des.simulate(model, trial, n_replicates=200, seed=8, detail=True)
    fast = vectorized.simulate(model, trial, n_replicates=200, seed=8, detail=True)
    for name in SURVIVAL_FIELDS:
        np.testing.assert_array_equal(getattr(full, name), getattr(plain, name), err_msg=name)
        np.testing.assert_array_equal(getattr(fast, name), getattr(plain, name), err_msg=name)
    assert not np.any(plain.censor_reason == 3)  # no DATA_CUT: nobody is followed past the cut
