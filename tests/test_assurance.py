"""Assurance (trialsim.design.assurance, trialsim.design.truths): the design prior, the mapping of each drawn truth
to a model (exact), the two-level Monte Carlo estimate, and the acceptance checks of the issue:

- with a near-degenerate design prior (the study's counts x 10^6) assurance equals the power at the point
  estimate, within Monte Carlo error;
- under common random numbers it does not decrease in n, and it equals the mean of the per-draw exact powers
  (so it lies between the smallest and the largest), within the within-draw standard error (property tests);
- on survival at the horizon with everyone followed to it (Fisher's exact test), it equals the exact test's power
  integrated over the two beta posteriors, computed independently two ways (beta-binomial sums and 2-D
  Gauss-Legendre quadrature), within 4 standard errors.

Assurance is the power averaged over the design prior: O'Hagan A, Stevens JW, Campbell MJ. Assurance in clinical
trial design. Pharm Stat 2005;4:187-201. The study's counts: docs/study.md (19/20 vs 13/21; week 8: 10 PR, 6 CR).
Monte Carlo tolerances are written beside each assertion in standard errors.
"""

import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy import special, stats

import trialsim.design.assurance as A
from trialsim.design.analytic import arm_survival
from trialsim.design.assurance import (DesignPrior, assurance, assurance_curve, draw_truths, shrink_effect,
                                       two_level_estimate)
from trialsim.design.rules import TwoArmDesign
from trialsim.design.truths import scale_response, scale_survival, truth_model
from trialsim.exceptions import InputError
from trialsim.model import DiseaseModel, ParametricArm, default_model, default_trial
from trialsim.model.calibration import state_probabilities
from trialsim.stats.posteriors import Beta, prob_greater

MODEL = default_model(8.0)
STRATA = MODEL.baseline.strata()
FISHER = TwoArmDesign(endpoint="survival_binary")          # two-sided Fisher at 0.05 on survival at week 8


def _fisher_rejections(n: int, alpha: float = 0.05) -> np.ndarray:
    """``[x_T, x_C]`` -> Fisher's exact two-sided test rejects (scipy, independent of trialsim)."""
    return np.array([[stats.fisher_exact([[a, n - a], [b, n - b]]).pvalue <= alpha for b in range(n + 1)]
                     for a in range(n + 1)])


def _exact_fisher_power(s_t, s_c, n: int) -> np.ndarray:
    """The exact power of Fisher's test at each pair of true survivals (n per arm, everyone followed)."""
    k = np.arange(n + 1)
    b_t = stats.binom.pmf(k[None, :], n, np.atleast_1d(s_t)[:, None])
    b_c = stats.binom.pmf(k[None, :], n, np.atleast_1d(s_c)[:, None])
    return np.einsum("di,ij,dj->d", b_t, _fisher_rejections(n).astype(float), b_c)


# ------------------------------------------------------------------------------------------- the prior


def test_design_prior_posteriors():
    assert DesignPrior().survival() == (Beta(19.5, 1.5), Beta(13.5, 8.5))          # Jeffreys: 1/2 + counts
    assert DesignPrior(name="uniform").survival() == (Beta(20, 2), Beta(14, 9))
    assert DesignPrior(name="2,3").survival()[1] == Beta(15, 11)
    assert DesignPrior().response("cr_pr") == Beta(16.5, 3.5)                     # 16 of the 19 alive at week 8
    assert DesignPrior().response("cr") == Beta(6.5, 13.5)
    assert DesignPrior(concentration=10).survival()[0] == Beta(190.5, 10.5)
    with pytest.raises(InputError) as err:
        DesignPrior(name="flat")
    assert err.value.field == "DesignPrior.name"
    with pytest.raises(InputError):
        DesignPrior(concentration=0)


def test_draws_come_in_a_fixed_order():
    a = draw_truths(DesignPrior(), 50, np.random.default_rng(3))
    b = draw_truths(DesignPrior(), 80, np.random.default_rng(3), response_level="cr_pr")
    assert np.array_equal(a["treatment"], b["treatment"][:50]) and np.array_equal(a["control"], b["control"][:50])
    assert set(b) == {"treatment", "control", "response"}
    u = np.random.default_rng(3).random((50, 3))                  # inversion of one uniform per value
    assert a["control"] == pytest.approx(stats.beta.ppf(u[:, 1], 13.5, 8.5), rel=1e-10)


@settings(max_examples=40)
@given(st.floats(0.05, 0.99), st.floats(0.05, 0.99), st.floats(0.0, 3.0))
def test_effect_scale_multiplies_the_log_hazard_ratio(s_t, s_c, factor):
    shrunk = float(shrink_effect(s_t, s_c, factor))
    log_hr = math.log(math.log(s_t) / math.log(s_c))
    assert math.log(math.log(shrunk) / math.log(s_c)) == pytest.approx(factor * log_hr, abs=1e-9)
    assert float(shrink_effect(s_t, s_c, 1.0)) == pytest.approx(s_t, rel=1e-12)
    assert float(shrink_effect(s_t, s_c, 0.0)) == pytest.approx(s_c, rel=1e-12)


def test_two_level_estimate():
    k = np.array([80, 90, 50, 100, 70])
    est = two_level_estimate(k, 100)
    p = k / 100
    assert est["assurance"] == pytest.approx(p.mean())
    assert est["standard_error"] == pytest.approx(p.std(ddof=1) / math.sqrt(5))
    within = np.mean(p * (1 - p)) / 99
    assert est["within_draw_variance"] == pytest.approx(within)
    assert est["between_draw_sd"] == pytest.approx(math.sqrt(p.var(ddof=1) - within))
    # what one draw or one trial per draw cannot estimate is NaN (it was 0.0 for one draw, NaN printed for one trial)
    one_draw, one_trial = two_level_estimate(np.array([7]), 10), two_level_estimate(np.array([0, 1, 1]), 1)
    assert math.isnan(one_draw["standard_error"]) and math.isnan(one_draw["between_draw_sd"])
    assert math.isnan(one_trial["within_draw_variance"]) and math.isnan(one_trial["between_draw_sd"])
    assert one_trial["standard_error"] == pytest.approx(np.std([0, 1, 1], ddof=1) / math.sqrt(3))


# ----------------------------------------------------------------------------------- truths -> models


def test_the_point_estimate_maps_to_the_calibrated_model():
    # the calibration solved the same equations at 19/20 and 13/21 (docs/model.md)
    assert scale_survival(MODEL.arms[0], STRATA, 8.0, [19 / 20]).death_scale[0] == pytest.approx(1.0, abs=1e-9)
    assert scale_survival(MODEL.arms[1], STRATA, 8.0, [13 / 21]).death_scale[0] == pytest.approx(1.0, abs=1e-9)


@settings(max_examples=15)
@given(st.lists(st.floats(0.02, 0.999), min_size=1, max_size=4), st.sampled_from([0, 1]),
       st.sampled_from([(1.0, 1.0, 1.0), (1.0, 2.5, 0.4)]), st.sampled_from([0.0, 0.2]))
def test_scaled_survival_equals_the_draw(draws, arm, multipliers, relapse):
    base = replace(MODEL.baseline, death_hazard_ratio_by_disease=multipliers)
    arms = tuple(replace(a, response=replace(a.response, relapse_rate=relapse)) for a in MODEL.arms)
    model = replace(MODEL, arms=arms, baseline=base)
    truths = scale_survival(model.arms[arm], base.strata(), 8.0, draws)
    for d, s in enumerate(draws):
        both = [None, None]
        both[arm] = truths
        scaled = truth_model(model, tuple(both), d)
        assert arm_survival(scaled, arm, [8.0])[0] == pytest.approx(s, abs=1e-11)
    order = np.argsort(draws)                   # a sicker truth (lower survival) needs larger hazards
    assert np.all(np.diff(truths.death_scale[order]) <= 1e-9)


def test_parametric_arms_become_exponentials():
    model = DiseaseModel(arms=(ParametricArm.from_median(20.0), ParametricArm.from_median(10.0)),
                         arm_names=("treatment", "control"))
    truths = scale_survival(model.arms[1], model.baseline.strata(), 8.0, [0.5, 0.7])
    for d, s in enumerate((0.5, 0.7)):
        arm = truth_model(model, (None, truths), d).arms[1]
        assert arm.hazards == (pytest.approx(-math.log(s) / 8.0),) and arm.survival([8.0])[0] == pytest.approx(s)


@pytest.mark.parametrize("level, horizon, week", [("cr_pr", 8.0, 8.0), ("cr", 8.0, 8.0), ("cr_pr", 6.0, 8.0)])
def test_response_levers_hit_both_targets(level, horizon, week):
    rng = np.random.default_rng(5)
    s = rng.beta(19.5, 1.5, 6)
    q = rng.beta(16.5, 3.5, 6) if level == "cr_pr" else rng.beta(6.5, 13.5, 6)
    truths = scale_response(MODEL.arms[0], STRATA, horizon, week, s, q, level)
    assert not truths.clipped.any()
    for d in range(s.size):
        arm = truth_model(MODEL, (truths, None), d).arms[0]
        at_h, at_w = state_probabilities(arm.response, [horizon, week], MODEL.baseline)
        responders = at_w[2] + (at_w[1] if level == "cr_pr" else 0.0)
        assert 1 - at_h[3] == pytest.approx(s[d], abs=1e-11)
        assert responders / (1 - at_w[3]) == pytest.approx(q[d], abs=1e-11)


def test_an_unreachable_response_is_clipped_and_counted():
    truths = scale_response(MODEL.arms[0], STRATA, 8.0, 8.0, [0.95, 0.95], [0.9999999, 0.8], "cr_pr")
    assert truths.clipped.tolist() == [True, False]
    assert truths.refractory_fraction[0] == pytest.approx(0.0, abs=1e-12)      # everyone responds who can


# ----------------------------------------------------------------------------------------- assurance


def test_result_fields_and_the_exact_probability_of_no_benefit():
    r = assurance(n=20, n_draws=6, trials_per_draw=20, point_replicates=200, seed=3, n_jobs=1)
    assert r.probability_no_benefit == pytest.approx(1 - prob_greater(Beta(19.5, 1.5), Beta(13.5, 8.5)), abs=1e-14)
    assert round(r.probability_no_benefit, 4) == 0.0037 and r.no_benefit_method == "exact"
    assert set(r.power_quantiles) == {"0.1", "0.5", "0.9"} and r.n_draws == 6 and r.trials_per_draw == 20
    assert r.seed == 3 and r.prior == "jeffreys" and r.draw_powers.shape == (6,)
    assert set(r.to_dict()) >= {"assurance", "standard_error", "power_quantiles", "probability_no_benefit",
                                "power_at_point_estimate", "n_draws", "trials_per_draw", "seed", "prior"}


def test_no_effect_gives_the_size_of_the_test():
    # F = 0: every drawn treatment equals its control, so each draw's power is the test's size (log-rank, two-sided
    # 0.05, about 0.05 in trials this small); P(no benefit) is then 1
    r = assurance(n=40, n_draws=40, trials_per_draw=250, effect_scale=0.0, point_replicates=2000, seed=7, n_jobs=1)
    assert r.probability_no_benefit == 1.0
    se = math.sqrt(0.06 * 0.94 / (40 * 250))
    assert r.assurance <= 0.06 + 4 * se                          # 4 s.e. above a size of 0.06
    assert r.power_at_point_estimate <= 0.06 + 4 * math.sqrt(0.06 * 0.94 / 2000)


@pytest.mark.slow
def test_near_degenerate_prior_equals_the_power_at_the_point_estimate():
    prior = DesignPrior(concentration=1e6)                      # pseudo-counts x 10^6: S_T ~ 0.95 +- 5e-5
    r = assurance(n=40, n_draws=200, trials_per_draw=250, prior=prior, point_replicates=20_000, seed=11, n_jobs=1)
    assert np.ptp(r.draws["treatment"]) < 1e-3 and np.ptp(r.draws["control"]) < 2e-3
    se = math.hypot(r.standard_error, r.point_standard_error)
    assert abs(r.assurance - r.power_at_point_estimate) <= 4 * se          # 4 s.e. of the difference


@settings(max_examples=8)
@given(st.integers(7, 20), st.integers(1, 5), st.integers(0, 10 ** 6))
def test_assurance_does_not_decrease_in_n_under_common_random_numbers(half, step, seed):
    # From 14 patients up: below, the log-rank test's own power is not monotone in n (discreteness; at the point
    # estimate, 40,000 trials each, seed 1: 0.177 at n = 10, 0.122 at n = 12, 0.197 at n = 14)
    n1, n2 = 2 * half, 2 * (half + step)
    low, high = assurance_curve(sizes=[n1, n2], n_draws=30, trials_per_draw=80, point_replicates=100, seed=seed,
                                n_jobs=1)
    assert np.array_equal(low.draws["treatment"], high.draws["treatment"])      # the same truths at both sizes
    diff = high.draw_powers - low.draw_powers                                   # paired per draw
    se = diff.std(ddof=1) / math.sqrt(diff.size)
    assert high.assurance >= low.assurance - 4 * se - 1e-12                     # 4 paired s.e.


@settings(max_examples=8)
@given(st.integers(4, 12), st.sampled_from(["jeffreys", "uniform", "2,2"]), st.integers(0, 10 ** 6))
def test_assurance_is_the_mean_exact_power_over_the_draws(half, prior, seed):
    n = 2 * half
    r = assurance(n=n, design=FISHER, n_draws=25, trials_per_draw=120, prior=prior, point_replicates=100,
                  seed=seed, n_jobs=1)
    exact = _exact_fisher_power(r.draws["treatment"], r.draws["control"], half)
    within = math.sqrt(np.sum(exact * (1 - exact)) / 120) / exact.size          # given the draws
    assert abs(r.assurance - exact.mean()) <= 4 * within + 1e-12               # 4 s.e. within the draws
    assert exact.min() - 4 * within <= r.assurance <= exact.max() + 4 * within


def _integrated_fisher_power(n: int, post_t: Beta, post_c: Beta) -> tuple[float, float]:
    """The exact test's power integrated over the two betas: by beta-binomial sums, and by 2-D quadrature."""
    k = np.arange(n + 1)
    reject = _fisher_rejections(n).astype(float)
    bb_t, bb_c = stats.betabinom.pmf(k, n, post_t.a, post_t.b), stats.betabinom.pmf(k, n, post_c.a, post_c.b)
    closed = float(bb_t @ reject @ bb_c)
    x, w = np.polynomial.legendre.leggauss(200)
    u = (x + 1) / 2                                             # Gauss-Legendre on each beta's quantile scale
    s_t, s_c = special.betaincinv(post_t.a, post_t.b, u), special.betaincinv(post_c.a, post_c.b, u)
    grid_t, grid_c = np.meshgrid(s_t, s_c, indexing="ij")
    quad = float((w / 2) @ _exact_fisher_power(grid_t.ravel(), grid_c.ravel(), n).reshape(200, 200) @ (w / 2))
    return closed, quad


@pytest.mark.slow
def test_assurance_equals_the_exact_power_integrated_over_the_posteriors():
    post_t, post_c = DesignPrior().survival()
    closed, quad = _integrated_fisher_power(20, post_t, post_c)
    assert closed == pytest.approx(quad, abs=1e-6)             # two integrations of the same integral
    # the draws alone: 200,000 of them, each with its exact power, average to the integral (4 s.e. of that mean)
    draws = draw_truths(DesignPrior(), 200_000, np.random.default_rng(77))
    exact = _exact_fisher_power(draws["treatment"], draws["control"], 20)
    assert abs(exact.mean() - closed) <= 4 * exact.std(ddof=1) / math.sqrt(exact.size)
    # the whole two-level estimate: drawn truths, simulated trials, Fisher's test (4 of its own s.e., about 0.005)
    r = assurance(n=40, design=FISHER, n_draws=3000, trials_per_draw=20, point_replicates=1000, seed=2024)
    assert abs(r.assurance - closed) <= 4 * r.standard_error, (r.assurance, closed, r.standard_error)   # 4 s.e.


def test_one_seed_fixes_every_number_whatever_the_workers(monkeypatch):
    import trialsim.design.montecarlo as mc

    monkeypatch.setattr(A, "_TASK_TRIALS", 300)                  # several tasks
    monkeypatch.setattr(mc, "_POOL_WORTH_SECONDS", 0.0)          # and a pool for them
    monkeypatch.setattr(mc, "_POOL_START_SECONDS", -1e9)
    kwargs = dict(n=20, n_draws=24, trials_per_draw=60, point_replicates=300, seed=123)
    one = assurance(n_jobs=1, **kwargs)
    two = assurance(n_jobs=2, **kwargs)
    threads = assurance(n_jobs=2, backend="threading", **kwargs)
    for other in (two, threads):
        assert np.array_equal(one.draw_powers, other.draw_powers) and one.to_dict() == other.to_dict()
    assert one.seed == 123 and one.spawn_key == ()


def test_draw_d_and_its_trials_do_not_depend_on_the_number_of_draws():
    a = assurance(n=20, n_draws=5, trials_per_draw=40, point_replicates=100, seed=9, n_jobs=1)
    c = assurance(n=20, n_draws=10, trials_per_draw=40, point_replicates=100, seed=9, n_jobs=1)
    assert np.array_equal(a.draws["control"], c.draws["control"][:5])
    assert np.array_equal(a.draw_powers, c.draw_powers[:5])


@pytest.mark.parametrize("kwargs, field", [
    (dict(effect_scale=-0.5), "effect_scale"), (dict(n_draws=0), "n_draws"), (dict(trials_per_draw=0),
                                                                                "trials_per_draw"),
    (dict(prior="flat"), "DesignPrior.name"), (dict(n_jobs=0), "n_jobs"), (dict(backend="mpi"), "backend")])
def test_bad_arguments_are_input_errors(kwargs, field):
    with pytest.raises(InputError) as err:
        assurance(**{"n": 20, "n_draws": 2, "trials_per_draw": 2, "point_replicates": 10, "seed": 1, **kwargs})
    assert err.value.field == field


def test_group_sequential_designs():
    # design.sequential: one look is the wrapped design bit for bit, so assurance is too; two calibrated looks run
    # (calibrated once, on the run's own tree) and repeat with the seed
    from trialsim.design.sequential import SequentialDesign

    kwargs = dict(n_draws=12, trials_per_draw=60, point_replicates=300, seed=31, n_jobs=1)
    base = TwoArmDesign(sided=1, alpha=0.025)
    plain = assurance(MODEL, default_trial(40), base, **kwargs)
    one = assurance(MODEL, default_trial(40), SequentialDesign(base=base, model=MODEL), **kwargs)
    assert np.array_equal(plain.draw_powers, one.draw_powers)
    looks = SequentialDesign(base=base, model=MODEL, fractions=(0.5, 1.0), calibrate=True, calibration_replicates=500)
    first, again = (assurance(MODEL, default_trial(40), looks, **kwargs) for _ in range(2))
    assert np.array_equal(first.draw_powers, again.draw_powers) and "2 looks" in first.design


def test_no_benefit_of_a_single_arm_against_a_fixed_rate_is_exact():
    from trialsim.design.rules import SingleArmDesign

    r = assurance(n=20, design=SingleArmDesign(), n_draws=4, trials_per_draw=10, point_replicates=100, seed=1,
                  n_jobs=1)
    assert r.no_benefit_method == "exact"
    assert r.probability_no_benefit == pytest.approx(stats.beta.cdf(0.62, 19.5, 1.5), rel=1e-10)   # P(S_T <= 0.62)
