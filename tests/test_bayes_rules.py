"""Bayesian decision rules for binary endpoints (trialsim.design.bayes_rules): the vectorised decision table
against the exact scalar posterior probability, exact type I error and power by enumeration against
simulation (4 standard errors), borrowing priors at their limits, prior-data conflict and property tests.

CTD-MAS numbers (docs/study.md): 19 of 20 alive on ruxolitinib, 13 of 21 historical controls alive.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy import stats

from trialsim.design.bayes_rules import BinaryBayesRule, SingleArmBayesRule, borrowing_prior, conflict_oc
from trialsim.exceptions import InputError
from trialsim.stats.posteriors import Beta, BetaMixture, jeffreys, prob_greater, robust_mixture, uniform

ROBUST = robust_mixture(Beta(14, 9), 0.2)           # 13/21 historical controls, 20% uniform


@pytest.mark.parametrize("prior_t, prior_c", [(uniform(), uniform()), (jeffreys(), ROBUST), (Beta(0.5, 2), Beta(14, 9))])
def test_decision_table_equals_exact_posterior_probabilities(prior_t, prior_c):
    rule = BinaryBayesRule(8, 9, 0.9, prior_t, prior_c)
    for x_t in range(9):
        for x_c in range(10):
            exact = prob_greater(prior_t.update(x_t, 8), prior_c.update(x_c, 9))
            assert rule.probabilities[x_t, x_c] == pytest.approx(exact, abs=1e-10)
            assert rule.success(x_t, x_c) == (exact > 0.9)
            assert rule.posterior_probability(x_t, x_c) == exact


def test_enumeration_is_the_double_sum():
    rule = BinaryBayesRule(6, 7, 0.8, jeffreys(), ROBUST)
    p_t, p_c = 0.7, 0.4
    direct = sum(stats.binom.pmf(i, 6, p_t) * stats.binom.pmf(j, 7, p_c) * rule.success(i, j)
                 for i in range(7) for j in range(8))
    assert rule.power(p_t, p_c) == pytest.approx(direct, abs=1e-14)
    assert rule.success_probability(np.array([0.2, 0.7]), 0.4) == pytest.approx(
        [rule.power(0.2, 0.4), rule.power(0.7, 0.4)], abs=1e-15)


def _simulated_success(rule, p_t, p_c, reps, rng):
    x_t = rng.binomial(rule.n_t, p_t, reps)
    x_c = rng.binomial(rule.n_c, p_c, reps)
    cache = {}
    for pair in set(zip(x_t.tolist(), x_c.tolist())):       # the exact scalar probability, not the table
        cache[pair] = rule.posterior_probability(*pair) > rule.threshold
    return np.mean([cache[pair] for pair in zip(x_t.tolist(), x_c.tolist())])


@pytest.mark.parametrize("prior_c", [uniform(), ROBUST], ids=["no-borrowing", "robust"])
def test_exact_type_i_error_and_power_agree_with_simulation(prior_c):
    rng = np.random.default_rng(19_13)
    rule = BinaryBayesRule(20, 21, 0.975, uniform(), prior_c)
    reps = 40_000
    for p_t, p_c in [(0.62, 0.62), (0.95, 0.62), (0.8, 0.8)]:
        exact = rule.success_probability(p_t, p_c)
        se = math.sqrt(exact * (1 - exact) / reps)
        assert abs(_simulated_success(rule, p_t, p_c, reps, rng) - exact) <= 4 * se + 1e-12   # 4 s.e.


def test_power_prior_a0_0_is_no_borrowing_and_a0_1_is_pooling():
    none = BinaryBayesRule(10, 10, 0.95)
    zero = BinaryBayesRule(10, 10, 0.95, prior_c=borrowing_prior("power", x0=13, n0=21, a0=0.0))
    assert np.array_equal(zero.probabilities, none.probabilities)
    full = BinaryBayesRule(10, 10, 0.95, prior_c=borrowing_prior("power", x0=13, n0=21, a0=1.0))
    for x_t, x_c in [(9, 3), (7, 7), (10, 0)]:
        pooled = prob_greater(Beta(1 + x_t, 1 + 10 - x_t), Beta(1 + 13 + x_c, 1 + 8 + 10 - x_c))
        assert full.probabilities[x_t, x_c] == pytest.approx(pooled, abs=1e-12)


def test_robust_prior_limits():
    none = BinaryBayesRule(10, 10, 0.95)
    vague_only = BinaryBayesRule(10, 10, 0.95, prior_c=borrowing_prior("robust", x0=13, n0=21, w_vague=1.0))
    assert vague_only.probabilities == pytest.approx(none.probabilities, abs=1e-12)
    info_only = BinaryBayesRule(10, 10, 0.95, prior_c=borrowing_prior("robust", x0=13, n0=21, w_vague=0.0))
    power = BinaryBayesRule(10, 10, 0.95, prior_c=borrowing_prior("power", x0=13, n0=21))
    assert info_only.probabilities == pytest.approx(power.probabilities, abs=1e-12)


def test_prior_data_conflict():
    grid = np.round(np.arange(0.3, 0.96, 0.05), 2)
    rules = {name: BinaryBayesRule(20, 20, 0.975, prior_c=prior) for name, prior in [
        ("none", uniform()), ("power", borrowing_prior("power", x0=13, n0=21)),
        ("robust", borrowing_prior("robust", x0=13, n0=21, w_vague=0.5))]}
    oc = {name: conflict_oc(rule, grid, delta=0.2) for name, rule in rules.items()}
    high = grid == 0.9                                       # true control rate far above the history (0.62)
    assert oc["power"].type_i_error[high] > oc["none"].type_i_error[high]
    assert oc["robust"].type_i_error[high] < oc["power"].type_i_error[high]
    assert np.isnan(oc["none"].power[grid + 0.2 > 1]).all() and not np.isnan(oc["none"].power[grid <= 0.8]).any()
    assert oc["power"].ess_control == 23.0 and oc["none"].ess_control == 2.0
    assert 2.0 < oc["robust"].ess_control < 23.0
    assert oc["power"].prior_mean_control == pytest.approx(14 / 23)
    assert oc["none"].rows()[0]["p_c"] == 0.3
    fixed = conflict_oc(rules["none"], [0.5, 0.6], p_t=0.95)
    assert fixed.power == pytest.approx([rules["none"].power(0.95, 0.5), rules["none"].power(0.95, 0.6)])


def test_max_type_i_error_over_the_nuisance_rate():
    rule = BinaryBayesRule(20, 21, 0.975)
    worst, where = rule.max_type_i_error()
    grid = np.linspace(0.001, 0.999, 999)
    assert worst == pytest.approx(np.max(rule.type_i_error(grid)), abs=0) and 0 < where < 1
    assert rule.ess() == {"treatment": 2.0, "control": 2.0}


def test_single_arm_rule():
    rule = SingleArmBayesRule(20, 0.975, control=Beta(14, 9))
    probs = [rule.posterior_probability(x) for x in range(21)]
    assert all(a <= b for a, b in zip(probs, probs[1:]))
    assert probs[rule.k_star] > 0.975 >= probs[rule.k_star - 1]
    assert rule.posterior_probability(19) == pytest.approx(prob_greater(Beta(20, 2), Beta(14, 9)), abs=1e-15)
    assert rule.success_probability(0.62) == pytest.approx(
        sum(stats.binom.pmf(x, 20, 0.62) for x in range(rule.k_star, 21)), abs=1e-14)
    fixed = SingleArmBayesRule(20, 0.95, control=0.62, prior=jeffreys())
    assert fixed.posterior_probability(17) == pytest.approx(Beta(17.5, 3.5).sf(0.62), abs=1e-15)
    mix = SingleArmBayesRule(20, 0.95, control=ROBUST)
    assert mix.k_star <= 21


@settings(max_examples=25)
@given(st.integers(2, 12), st.integers(2, 12), st.floats(0.5, 0.99),
       st.sampled_from([uniform(), jeffreys(), Beta(2, 5)]))
def test_rule_table_properties(n_t, n_c, threshold, prior):
    rule = BinaryBayesRule(n_t, n_c, threshold, prior, prior)
    p = rule.probabilities
    assert np.all((p >= 0) & (p <= 1))
    assert np.all(np.diff(p, axis=0) >= -1e-12) and np.all(np.diff(p, axis=1) <= 1e-12)   # monotone in data
    swapped = BinaryBayesRule(n_c, n_t, threshold, prior, prior)
    assert swapped.probabilities.T == pytest.approx(1.0 - p, abs=1e-10)                  # P(T>C) + P(C>T) = 1
    assert rule.success_probability(0.3, 0.7) <= rule.success_probability(0.7, 0.3) + 1e-12


@pytest.mark.parametrize("call, field", [
    (lambda: BinaryBayesRule(10, 10, 1.0), "threshold"), (lambda: BinaryBayesRule(0, 10, 0.9), "n_t"),
    (lambda: BinaryBayesRule(10, 10, 0.9, prior_c=(1, 1)), "prior_c"),
    (lambda: BinaryBayesRule(10, 10, 0.9).success(11, 2), "x_t"),
    (lambda: BinaryBayesRule(10, 10, 0.9).power(1.2, 0.5), "p_t"),
    (lambda: conflict_oc(BinaryBayesRule(5, 5, 0.9), [0.5], delta=0.1, p_t=0.7), "delta"),
    (lambda: borrowing_prior("commensurate", x0=1, n0=2), "method"),
    (lambda: borrowing_prior("power"), "x0"), (lambda: borrowing_prior("power", x0=5, n0=3), "x0"),
    (lambda: SingleArmBayesRule(10, 0.9, control=1.5), "control"),
    (lambda: SingleArmBayesRule(10, 0.9, control=0.5).posterior_probability(11), "x")])
def test_bad_arguments_are_input_errors(call, field):
    with pytest.raises(InputError) as err:
        call()
    assert err.value.field == field


def test_mixture_control_prior_is_accepted_everywhere():
    rule = BinaryBayesRule(5, 5, 0.9, prior_c=BetaMixture((0.5, 0.5), (Beta(3, 1), Beta(1, 3))))
    assert 0 <= rule.type_i_error(0.5) <= 1 and rule.ess()["control"] > 0


def test_ctd_mas_numbers_in_docs_bayesian():
    # docs/bayesian.md, sections 1-4: every CTD-MAS number there is recomputed here (4 decimals as printed)
    assert round(prob_greater(jeffreys().update(19, 20), jeffreys().update(13, 21)), 4) == 0.9963
    assert [round(w, 3) for w in ROBUST.update(13, 20).weights] == [0.916, 0.084]
    assert [round(w, 3) for w in ROBUST.update(10, 20).weights] == [0.891, 0.109]
    grid = [0.4, 0.5, 0.62, 0.7, 0.8, 0.9]
    table = {  # control prior -> (type I error on the grid, power at p_C = 0.62 and 0.80 with p_T = 0.95)
        "none": (uniform(), [0.0200, 0.0196, 0.0203, 0.0226, 0.0247, 0.0193], [0.782, 0.292]),
        "power1": (borrowing_prior("power", x0=13, n0=21), [0.0009, 0.0040, 0.0161, 0.0340, 0.0863, 0.2121],
                   [0.912, 0.696]),
        "power05": (borrowing_prior("power", x0=13, n0=21, a0=0.5), [0.0034, 0.0076, 0.0168, 0.0276, 0.0461, 0.0863],
                    [0.859, 0.490]),
        "robust02": (borrowing_prior("robust", x0=13, n0=21, w_vague=0.2),
                     [0.0063, 0.0070, 0.0164, 0.0275, 0.0445, 0.0516], [0.857, 0.441]),
        "robust05": (borrowing_prior("robust", x0=13, n0=21, w_vague=0.5),
                     [0.0125, 0.0105, 0.0169, 0.0275, 0.0422, 0.0285], [0.851, 0.368])}
    for prior, t1, pw in table.values():
        oc = conflict_oc(BinaryBayesRule(20, 20, 0.975, prior_c=prior), grid, p_t=0.95)
        assert np.round(oc.type_i_error, 4).tolist() == t1
        assert np.round(oc.power[[2, 4]], 3).tolist() == pw
    worst, where = BinaryBayesRule(20, 20, 0.975).max_type_i_error()
    assert (round(worst, 4), round(where, 3)) == (0.0249, 0.826)
    single = SingleArmBayesRule(20, 0.975, control=Beta(14, 9))
    assert single.k_star == 18
    assert np.round(single.success_probability([0.62, 0.8, 0.9, 0.95]), 3).tolist() == [0.006, 0.206, 0.677, 0.925]
    fixed = SingleArmBayesRule(20, 0.975, control=13 / 21)
    assert fixed.k_star == 17
    assert np.round(fixed.success_probability([0.62, 0.8, 0.9, 0.95]), 3).tolist() == [0.024, 0.411, 0.867, 0.984]
