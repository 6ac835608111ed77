"""Bayesian decision rules as analysis designs (trialsim.design.bayes_design, bayes_oc): exact operating
characteristics by enumeration against the rules of trialsim.design.bayes_rules and against simulation through the
simulator (4 standard errors), the vectorised gamma rule against the scalar posterior probability, borrowing at
its limits (a0 = 0 is no borrowing, a0 = 1 pooling), random arm sizes of a cut block, scenario files and errors.

Formulas: docs/bayesian.md (sections 2-4): beta-binomial and gamma-exponential conjugacy, the power prior (Ibrahim
and Chen, Stat Sci 2000), the robust mixture (Schmidli et al., Biometrics 2014), P(HR < margin) as an incomplete
beta function. The study's numbers: 19/20 vs 13/21 alive at week 8 (docs/study.md).
"""

import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from trialsim.design.bayes_design import (BayesSingleArmDesign, BayesTwoArmDesign, _prob_ratio_below,
                                          historical_hazard, null_model)
from trialsim.design.bayes_oc import bayes_operating_characteristics, conflict_table
from trialsim.design.bayes_rules import BinaryBayesRule, SingleArmBayesRule, borrowing_prior
from trialsim.design.sizing import power
from trialsim.engines.seeding import chunk_streams, root_sequence
from trialsim.engines import vectorized
from trialsim.exceptions import InputError
from trialsim.model import default_model, default_trial
from trialsim.stats.posteriors import Beta, Gamma, GammaMixture, prob_ratio_below, robust_mixture

MODEL = default_model(8.0)
TRIAL = default_trial(40)
S_T, S_C = 0.95, 13 / 21


def test_exact_equals_the_binary_rule_at_the_models_rates():
    design = BayesTwoArmDesign(endpoint="survival_binary", threshold=0.975)
    exact = design.exact(MODEL, TRIAL)
    rule = BinaryBayesRule(20, 20, 0.975)
    assert exact["power"] == pytest.approx(rule.power(S_T, S_C), abs=1e-12)
    assert exact["type_i_error"] == pytest.approx(rule.type_i_error(S_C), abs=1e-12)
    assert (round(exact["max_type_i_error"], 4), round(exact["max_at"], 3)) == (0.0249, 0.826)  # docs/bayesian.md
    borrow = BayesTwoArmDesign(endpoint="survival_binary", threshold=0.975, borrow="robust")
    robust = BinaryBayesRule(20, 20, 0.975, prior_c=borrowing_prior("robust", x0=13, n0=21, w_vague=0.2))
    assert borrow.exact(MODEL, TRIAL)["power"] == pytest.approx(robust.power(S_T, S_C), abs=1e-12)


def test_the_last_block_cut_short_makes_arm_sizes_random():
    sizes = BayesTwoArmDesign(endpoint="survival_binary", threshold=0.9).arm_sizes(default_trial(42))
    # 10 blocks of 4, then 2 patients of an 11th: AA in 1 of the 6 arrangements, BB in 1, AB or BA in 4
    assert sizes == [(pytest.approx(1 / 6), (20, 22)), (pytest.approx(4 / 6), (21, 21)), (pytest.approx(1 / 6), (22, 20))]
    root = root_sequence(3)
    arms = np.concatenate([vectorized.simulate_chunk(MODEL, default_trial(42), 2000, chunk_streams(root, c)).arm
                           for c in range(3)])
    treated = (arms == 0).sum(axis=1)
    for p, (a, _) in sizes:
        assert abs(np.mean(treated == a) - p) <= 4 * math.sqrt(p * (1 - p) / treated.size)     # 4 s.e.
    assert BayesTwoArmDesign(endpoint="survival_binary", threshold=0.9).arm_sizes(
        replace(default_trial(40), stratified=True)) is None


CASES = [
    ("no borrowing", BayesTwoArmDesign(endpoint="survival_binary", threshold=0.975), TRIAL),
    ("robust", BayesTwoArmDesign(endpoint="survival_binary", threshold=0.975, borrow="robust"), TRIAL),
    ("power a0 0.5, 2:1", BayesTwoArmDesign(endpoint="survival_binary", threshold=0.95, borrow="power", a0=0.5),
     replace(TRIAL, n=42, allocation=(2, 1))),
    ("jeffreys, n 42", BayesTwoArmDesign(endpoint="survival_binary", threshold=0.975, analysis_prior="jeffreys"),
     default_trial(42)),
    ("response", BayesTwoArmDesign(endpoint="response", threshold=0.975), TRIAL),
]


@pytest.mark.slow
@pytest.mark.parametrize("name, design, trial", CASES, ids=[c[0] for c in CASES])
def test_exact_type_i_error_and_power_agree_with_the_simulator(name, design, trial):
    reps = 10_000
    exact = design.exact(MODEL, trial)
    assert exact is not None
    for model, value in ((MODEL, exact["power"]), (null_model(MODEL), exact["type_i_error"])):
        simulated = power(model, trial, design, n_replicates=reps, seed=101, n_jobs=1)
        se = math.sqrt(value * (1 - value) / reps)
        assert abs(simulated.power - value) <= 4 * se, (name, simulated.power, value)      # 4 s.e.
        assert simulated.analytic_power == pytest.approx(value, abs=1e-12)


def test_no_exact_values_where_outcomes_are_not_known_bernoullis():
    design = BayesTwoArmDesign(endpoint="survival_binary", threshold=0.975)
    assert design.exact(MODEL, replace(TRIAL, dropout_hazard=(0.02, 0.02))) is None
    assert design.exact(MODEL, replace(TRIAL, stratified=True)) is None
    assert BayesTwoArmDesign(threshold=0.975).exact(MODEL, TRIAL) is None          # survival: no enumeration
    lossy = design.analytic_power(MODEL, replace(TRIAL, dropout_hazard=(0.02, 0.02)))
    assert lossy.method.startswith("two proportions") and 0 < lossy.power < 1


@settings(max_examples=30)
@given(st.integers(0, 30), st.floats(1.0, 200.0), st.integers(0, 30), st.floats(1.0, 200.0),
       st.sampled_from([(1.0, 0.0), (0.5, 0.0), (2.0, 30.0)]), st.floats(0.3, 2.0), st.booleans())
def test_the_vectorised_gamma_rule_is_the_scalar_posterior_probability(d_t, e_t, d_c, e_c, prior, margin, robust):
    a, b = prior
    if robust:
        mixture = robust_mixture(Gamma(a + 8, b + 133.5), 0.3)
        control_parts = [(w, c.a, c.b) for w, c in zip(mixture.weights, mixture.components)]
        post_c = mixture.update(d_c, e_c)
    else:
        control_parts = [(1.0, a + 8.0, b + 133.5)]
        post_c = Gamma(a + 8 + d_c, b + 133.5 + e_c)
    got = _prob_ratio_below([(1.0, a, b)], control_parts, np.array([d_t]), np.array([e_t]), np.array([d_c]),
                            np.array([e_c]), margin)
    assert got[0] == pytest.approx(prob_ratio_below(Gamma(a + d_t, b + e_t), post_c, margin), abs=1e-12)


def test_the_survival_rule_reads_deaths_and_exposure_to_the_horizon():
    design = BayesTwoArmDesign(threshold=0.9, analysis_prior="jeffreys", horizon=6.0)
    batch = vectorized.simulate_chunk(MODEL, TRIAL, 200, chunk_streams(root_sequence(4), 0))
    outcome = design.analyse([batch], TRIAL)
    for r in range(0, 200, 37):
        time, died = np.minimum(batch.time[r], 6.0), batch.event[r] & (batch.time[r] <= 6.0)
        t, c = batch.arm[r] == 0, batch.arm[r] == 1
        p = prob_ratio_below(Gamma(0.5 + died[t].sum(), time[t].sum()), Gamma(0.5 + died[c].sum(), time[c].sum()))
        assert 1 - outcome.pvalue[r] == pytest.approx(p, abs=1e-12) and outcome.success[r] == (p > 0.9)


def test_a0_zero_is_no_borrowing_and_a0_one_is_pooling():
    batch = vectorized.simulate_chunk(MODEL, TRIAL, 400, chunk_streams(root_sequence(5), 0))
    for endpoint in ("survival", "survival_binary"):
        none = BayesTwoArmDesign(endpoint=endpoint, threshold=0.95, analysis_prior="1,2").analyse([batch], TRIAL)
        zero = BayesTwoArmDesign(endpoint=endpoint, threshold=0.95, analysis_prior="1,2", borrow="power",
                                 a0=0.0).analyse([batch], TRIAL)
        assert np.array_equal(none.pvalue, zero.pvalue)
    d0, e0 = historical_hazard(13, 21, 8.0)
    pooled = BayesTwoArmDesign(threshold=0.95, borrow="power", a0=1.0).analyse([batch], TRIAL)
    r = 7
    time, died = np.minimum(batch.time[r], 8.0), batch.event[r]
    t, c = batch.arm[r] == 0, batch.arm[r] == 1
    expected = prob_ratio_below(Gamma(1 + died[t].sum(), time[t].sum()),
                                Gamma(1 + d0 + died[c].sum(), e0 + time[c].sum()))
    assert 1 - pooled.pvalue[r] == pytest.approx(expected, abs=1e-12)


def test_historical_hazard_is_the_exponential_with_that_survival():
    d0, e0 = historical_hazard(13, 21, 8.0)
    rate = -math.log(13 / 21) / 8.0
    assert d0 == 8 and e0 == pytest.approx(21 * (1 - math.exp(-8 * rate)) / rate)     # E[exposure] = E[deaths] / rate
    with pytest.raises(InputError):
        historical_hazard(0, 21, 8.0)


def test_single_arm_rule_decides_as_the_single_arm_bayes_rule():
    design = BayesSingleArmDesign(threshold=0.975)
    trial = design.prepare_trial(default_trial(20))
    batch = vectorized.simulate_chunk(replace(MODEL, arms=MODEL.arms[:1], arm_names=("ruxolitinib",)), trial, 500,
                                      chunk_streams(root_sequence(6), 0))
    outcome = design.analyse([batch], trial)
    rule = SingleArmBayesRule(20, 0.975, control=Beta(14, 9))
    alive = (~batch.event).sum(axis=1)
    assert np.array_equal(outcome.success, alive >= rule.k_star)
    exact = design.analytic_power(MODEL, default_trial(20))
    assert exact.power == pytest.approx(rule.success_probability(S_T), abs=1e-12)
    lossy = design.analytic_power(MODEL, replace(default_trial(20), dropout_hazard=(0.03, 0.03)))
    assert lossy.power < exact.power and lossy.method.startswith("exact")


@pytest.mark.slow
def test_bayes_operating_characteristics_and_conflict_table():
    design = BayesTwoArmDesign(endpoint="survival_binary", threshold=0.975, borrow="power", a0=0.5)
    oc = bayes_operating_characteristics(MODEL, TRIAL, design, n_replicates=6000, seed=8, n_jobs=1)
    assert oc.ess == {"treatment": 2.0, "control": 12.5}                   # Beta(7.5, 5.0): docs/bayesian.md
    for sim, exact in ((oc.power, oc.exact["power"]), (oc.type_i, oc.exact["type_i_error"])):
        assert abs(sim.power - exact) <= 4 * math.sqrt(exact * (1 - exact) / 6000)        # 4 s.e.
    table = conflict_table(MODEL, TRIAL, design, [0.45, 0.8], n_replicates=4000, seed=8, n_jobs=1)
    rule = BinaryBayesRule(20, 20, 0.975, prior_c=borrowing_prior("power", x0=13, n0=21, a0=0.5))
    hr = math.log(S_T) / math.log(S_C)
    for row in table["rows"]:
        assert row.treatment_survival == pytest.approx(row.control_survival ** hr)
        assert row.type_i_exact == pytest.approx(rule.type_i_error(row.control_survival), abs=1e-9)
        assert row.power_exact == pytest.approx(rule.power(row.treatment_survival, row.control_survival), abs=1e-9)
        for sim, exact in ((row.type_i_error, row.type_i_exact), (row.power, row.power_exact)):
            assert abs(sim - exact) <= 4 * math.sqrt(exact * (1 - exact) / 4000) + 1e-12   # 4 s.e.
    assert table["rows"][1].type_i_exact > table["rows"][0].type_i_exact     # healthier controls today: inflation


@pytest.mark.parametrize("kwargs, field", [
    (dict(threshold=1.0), "BayesTwoArmDesign.threshold"), (dict(threshold=0.0), "BayesTwoArmDesign.threshold"),
    (dict(threshold=0.9, a0=1.5), "BayesTwoArmDesign.a0"),
    (dict(threshold=0.9, robust_weight=-0.1), "BayesTwoArmDesign.robust_weight"),
    (dict(threshold=0.9, analysis_prior="flat"), "BayesTwoArmDesign.analysis_prior"),
    (dict(threshold=0.9, borrow="commensurate"), "BayesTwoArmDesign.borrow"),
    (dict(threshold=0.9, endpoint="response", borrow="power"), "BayesTwoArmDesign.historical"),
    (dict(threshold=0.9, historical=(22, 21)), "BayesTwoArmDesign.historical"),
    (dict(threshold=0.9, margin=0.0), "BayesTwoArmDesign.margin")])
def test_bad_settings_are_input_errors(kwargs, field):
    with pytest.raises(InputError) as err:
        BayesTwoArmDesign(**kwargs)
    assert err.value.field == field


def test_descriptions_and_priors():
    design = BayesTwoArmDesign(endpoint="survival_binary", threshold=0.975, borrow="robust")
    assert design.describe() == ("randomised two-arm, Bayesian: P(survival at the horizon higher on treatment | "
                                 "data) > 0.975 (uniform priors, control borrowing 13/21 (robust, weight 0.2 vague))")
    assert design.alpha == pytest.approx(0.025) and design.sided == 1
    assert design.prior_ess()["control"] == pytest.approx(8.15, abs=0.005)          # docs/bayesian.md
    assert design.decision()["rule"].startswith("P(survival") and design.decision()["historical"] == [13, 21]
    gamma = BayesTwoArmDesign(threshold=0.9, borrow="power", a0=0.5).prior_ess(8.0)
    assert gamma == {"treatment": 1.0, "control": 5.0}                               # 1 + 0.5 x 8 deaths
    assert isinstance(BayesTwoArmDesign(threshold=0.9, borrow="robust")._hazard_control_prior(8.0), GammaMixture)


def test_ctd_mas_numbers_in_docs_bayesian_sections_7_and_8():
    # docs/bayesian.md: the exact values of sections 7 and 8 (4 decimals, or 3 for powers, as printed)
    from trialsim.design.truths import scale_survival, truth_model

    d = BayesTwoArmDesign(endpoint="survival_binary", threshold=0.975)
    assert round(d.exact(MODEL, TRIAL)["power"], 4) == 0.7835
    assert round(BayesSingleArmDesign(threshold=0.975).analytic_power(MODEL, default_trial(20)).power, 4) == 0.9245
    assert round(historical_hazard(13, 21, 8.0)[1], 1) == 133.5
    designs = {"none": {}, "power05": dict(borrow="power", a0=0.5), "power1": dict(borrow="power", a0=1.0),
               "robust02": dict(borrow="robust", robust_weight=0.2), "robust05": dict(borrow="robust", robust_weight=0.5)}
    smallest = {"none": (44, 48), "power05": (36, 30), "power1": (32, 27), "robust02": (34, 30), "robust05": (36, 36)}
    for name, kwargs in designs.items():
        design = BayesTwoArmDesign(endpoint="survival_binary", threshold=0.975, **kwargs)
        for alloc, n in zip(((1, 1), (2, 1)), smallest[name]):
            block = sum(alloc)
            powers = [design.exact(MODEL, replace(TRIAL, n=m, allocation=alloc))["power"] for m in
                      range(n - block, n + 4 * block, block)]
            assert powers[0] < 0.8 <= min(powers[1:]), (name, alloc)
    at_2_1 = {"none": (0.0246, 0.026), "power05": (0.0124, 0.178), "power1": (0.0099, 0.982),
              "robust02": (0.0127, 0.108), "robust05": (0.0175, 0.059)}   # type I at 13/21; maximum over a common rate
    for name, (t1, worst) in at_2_1.items():
        design = BayesTwoArmDesign(endpoint="survival_binary", threshold=0.975, **designs[name])
        exact = design.exact(MODEL, replace(TRIAL, n=smallest[name][1], allocation=(2, 1)))
        assert (round(exact["type_i_error"], 4), round(exact["max_type_i_error"], 3)) == (t1, worst), name
    grid = np.array([0.45, 0.5, 0.55, 0.62, 0.7, 0.75, 0.8])
    hr = math.log(S_T) / math.log(S_C)
    strata = MODEL.baseline.strata()
    control, treated = scale_survival(MODEL.arms[1], strata, 8.0, grid), scale_survival(MODEL.arms[0], strata, 8.0,
                                                                                        grid ** hr)
    rows = {  # design, n, allocation -> type I error over the grid (4 decimals)
        ("none", 44, (1, 1)): [0.0241, 0.0245, 0.0241, 0.0232, 0.0240, 0.0251, 0.0257],
        ("power1", 27, (2, 1)): [0.0006, 0.0015, 0.0036, 0.0100, 0.0289, 0.0542, 0.1009],
        ("power05", 30, (2, 1)): [0.0015, 0.0029, 0.0055, 0.0126, 0.0288, 0.0452, 0.0698],
        ("robust02", 30, (2, 1)): [0.0036, 0.0042, 0.0062, 0.0128, 0.0287, 0.0446, 0.0667],
        ("robust05", 36, (2, 1)): [0.0086, 0.0088, 0.0110, 0.0176, 0.0295, 0.0386, 0.0482]}
    for (name, n, alloc), expected in rows.items():
        design = BayesTwoArmDesign(endpoint="survival_binary", threshold=0.975, **designs[name])
        trial = replace(TRIAL, n=n, allocation=alloc)
        got = [design.exact(truth_model(MODEL, (treated, control), k), trial)["type_i_error"] for k in range(7)]
        assert np.round(got, 4).tolist() == expected, name


def test_single_arm_operating_characteristics_are_exact_by_the_binomial():
    design = BayesSingleArmDesign(threshold=0.975)
    oc = bayes_operating_characteristics(MODEL, default_trial(20), design, n_replicates=6000, seed=9, n_jobs=1)
    rule = SingleArmBayesRule(20, 0.975, control=Beta(14, 9))
    for sim, exact, p in ((oc.type_i, oc.exact["type_i_error"], S_C), (oc.power, oc.exact["power"], S_T)):
        assert exact == pytest.approx(rule.success_probability(p), abs=1e-12)
        assert abs(sim.power - exact) <= 4 * math.sqrt(exact * (1 - exact) / 6000) + 1e-12     # 4 s.e.
    assert oc.ess == {"treatment": 2.0, "control": 23.0}
