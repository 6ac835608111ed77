"""Conjugate posteriors, priors and posterior probabilities (trialsim.stats.posteriors) against closed forms,
numerical integration and Monte Carlo.

Monte Carlo checks use a fixed seed and a tolerance of 5 Monte Carlo standard errors (written beside each
assertion). Reference values (phase1b, Lee and Liu) for the beta posterior probabilities are in
tests/test_predictive.py; the CTD-MAS numbers (19 of 20 alive on ruxolitinib, 13 of 21 historical controls)
are in docs/study.md.
"""

import math

import numpy as np
import pytest
from hypothesis import given, strategies as st
from scipy import integrate, special, stats

from trialsim.exceptions import InputError
from trialsim.stats.posteriors import (Beta, BetaMixture, Gamma, GammaMixture, jeffreys, parse_beta_prior,
                                       power_prior_beta, power_prior_gamma, prob_greater, prob_greater_quad,
                                       prob_greater_sum, prob_greater_table, prob_ratio_below, robust_mixture,
                                       uniform)

RNG_SEED = 20140101
N_MC = 400_000


def test_beta_closed_forms():
    d = Beta(2.5, 7.0)
    ref = stats.beta(2.5, 7.0)
    assert d.mean() == pytest.approx(ref.mean(), rel=1e-14) and d.var() == pytest.approx(ref.var(), rel=1e-12)
    q = np.array([0.001, 0.2, 0.5, 0.9])
    assert d.cdf(q) == pytest.approx(ref.cdf(q), rel=1e-12)
    assert d.sf(q) == pytest.approx(ref.sf(q), rel=1e-12)
    assert d.ppf(d.cdf(0.3)) == pytest.approx(0.3, abs=1e-12)
    assert d.update(3, 10) == Beta(5.5, 14.0) and d.ess() == 9.5
    assert d.log_marginal(3, 10) == pytest.approx(
        math.log(math.comb(10, 3)) + special.betaln(5.5, 14.0) - special.betaln(2.5, 7.0), abs=1e-12)


def test_gamma_closed_forms():
    d = Gamma(3.0, 120.0)
    ref = stats.gamma(3.0, scale=1 / 120.0)
    assert d.mean() == pytest.approx(ref.mean(), rel=1e-14) and d.var() == pytest.approx(ref.var(), rel=1e-12)
    x = np.array([0.001, 0.02, 0.05])
    assert d.cdf(x) == pytest.approx(ref.cdf(x), rel=1e-12) and d.sf(x) == pytest.approx(ref.sf(x), rel=1e-12)
    assert d.ppf(0.5) == pytest.approx(ref.ppf(0.5), rel=1e-12)
    assert d.update(4, 80.0) == Gamma(7.0, 200.0) and d.ess() == 3.0
    # marginal likelihood = Poisson(d; lambda E) averaged over the prior, by quadrature
    num, _ = integrate.quad(lambda lam: stats.poisson.pmf(4, lam * 80.0) * ref.pdf(lam), 0, 1, epsabs=1e-14)
    assert d.log_marginal(4, 80.0) == pytest.approx(math.log(num), abs=1e-9)


def test_beta_and_gamma_posteriors_match_monte_carlo():
    rng = np.random.default_rng(RNG_SEED)
    for dist in (Beta(20, 2), Gamma(8.0, 210.0)):
        draws = dist.sample(rng, N_MC)
        se = math.sqrt(dist.var() / N_MC)
        assert abs(draws.mean() - dist.mean()) <= 5 * se                    # 5 Monte Carlo s.e.
        q = dist.ppf(0.3)
        assert abs((draws <= q).mean() - 0.3) <= 5 * math.sqrt(0.3 * 0.7 / N_MC)   # 5 s.e.


def _mixture_posterior_weights_by_quadrature(prior, likelihood, upper):
    """Posterior weights sum_k w_k int pi_k L / sum_j w_j int pi_j L by numerical integration."""
    mass = [w * integrate.quad(lambda v: c.pdf(v) * likelihood(v), 0, upper, epsabs=0, epsrel=1e-11, limit=200)[0]
            for w, c in zip(prior.weights, prior.components)]
    return np.array(mass) / sum(mass)


def test_beta_mixture_update_is_exact():
    prior = BetaMixture((0.8, 0.2), (Beta(14, 9), Beta(1, 1)))
    post = prior.update(2, 20)
    ref = _mixture_posterior_weights_by_quadrature(prior, lambda p: p ** 2 * (1 - p) ** 18, 1)
    assert np.array(post.weights) == pytest.approx(ref, abs=1e-10)
    assert post.components == (Beta(16, 27), Beta(3, 19))
    # the mixture posterior's cdf is the normalised prior x likelihood integral
    norm = integrate.quad(lambda p: prior.pdf(p) * p ** 2 * (1 - p) ** 18, 0, 1, epsrel=1e-12)[0]
    part = integrate.quad(lambda p: prior.pdf(p) * p ** 2 * (1 - p) ** 18, 0, 0.2, epsrel=1e-12)[0]
    assert post.cdf(0.2) == pytest.approx(part / norm, abs=1e-10)


def test_gamma_mixture_update_is_exact():
    prior = GammaMixture((0.5, 0.5), (Gamma(8, 200), Gamma(1, 25)))
    post = prior.update(12, 100.0)                                           # 12 deaths in 100 months
    ref = _mixture_posterior_weights_by_quadrature(prior, lambda lam: lam ** 12 * np.exp(-lam * 100.0), 2)
    assert np.array(post.weights) == pytest.approx(ref, abs=1e-10)
    assert post.components == (Gamma(20, 300), Gamma(13, 125))


def test_mixture_moments_cdf_quantiles_and_sampling():
    rng = np.random.default_rng(RNG_SEED + 1)
    for mix in (BetaMixture((0.3, 0.7), (Beta(2, 8), Beta(9, 3))), GammaMixture((0.6, 0.4), (Gamma(3, 60), Gamma(9, 100)))):
        m = sum(w * c.mean() for w, c in zip(mix.weights, mix.components))
        second = sum(w * (c.var() + c.mean() ** 2) for w, c in zip(mix.weights, mix.components))
        assert mix.mean() == pytest.approx(m, rel=1e-14) and mix.var() == pytest.approx(second - m * m, rel=1e-12)
        q = np.array([0.05, 0.5, 0.95])
        assert mix.cdf(mix.ppf(q)) == pytest.approx(q, abs=1e-12)
        draws = mix.sample(rng, N_MC)
        assert abs(draws.mean() - m) <= 5 * math.sqrt(mix.var() / N_MC)            # 5 Monte Carlo s.e.
        med = mix.ppf(0.5)
        assert abs((draws <= med).mean() - 0.5) <= 5 * math.sqrt(0.25 / N_MC)       # 5 s.e.


def test_effective_sample_sizes():
    assert Beta(14, 9).ess() == 23 and jeffreys().ess() == 1 and uniform().ess() == 2
    same = BetaMixture((0.5, 0.5), (Beta(14, 9), Beta(14, 9)))
    assert same.ess() == pytest.approx(23, rel=1e-12)                     # one component: a + b
    mix = BetaMixture((0.8, 0.2), (Beta(14, 9), Beta(1, 1)))
    m, v = mix.mean(), mix.var()
    matched = Beta(m * mix.ess(), (1 - m) * mix.ess())                     # moment-matched beta
    assert matched.mean() == pytest.approx(m, rel=1e-12) and matched.var() == pytest.approx(v, rel=1e-12)
    assert 2 < mix.ess() < 23                                              # robustification loses information
    g = GammaMixture((0.5, 0.5), (Gamma(8, 200), Gamma(8, 200)))
    assert g.ess() == pytest.approx(8, rel=1e-12)


def test_power_prior_a0_0_is_no_borrowing_and_a0_1_is_pooling():
    base = Beta(1, 1)
    assert power_prior_beta(13, 21, 0.0, base) == base
    assert power_prior_beta(13, 21, 1.0, base).update(19, 20) == base.update(13 + 19, 21 + 20)
    g0 = Gamma(0.5, 2.0)
    assert power_prior_gamma(8, 150.0, 0.0, g0) == g0
    assert power_prior_gamma(8, 150.0, 1.0, g0).update(3, 90.0) == g0.update(8 + 3, 150.0 + 90.0)
    half = power_prior_beta(13, 21, 0.5)
    assert (half.a, half.b) == (1 + 6.5, 1 + 4)


def test_robust_mixture_extremes_and_conflict():
    info = Beta(14, 9)
    assert robust_mixture(info, 0.0).update(5, 20).components[0] == info.update(5, 20)
    assert robust_mixture(info, 0.0).update(5, 20).weights[0] == 1.0
    mix = robust_mixture(info, 0.2)
    # the weight of the vague component rises with the conflict between the data and the history
    w = [mix.update(x, 20).weights[1] for x in (12, 8, 4, 0)]
    assert all(a < b for a, b in zip(w, w[1:]))
    g = robust_mixture(Gamma(8, 200), 0.3)
    assert g.components[1] == Gamma(1, 25) and g.weights == pytest.approx((0.7, 0.3))


def test_prob_greater_sum_equals_quadrature():
    for t, c in [(Beta(20, 2), Beta(14, 9)), (Beta(3, 7), Beta(5.5, 5)), (Beta(1.5, 4), Beta(2, 0.5)),
                 (Beta(40, 12), Beta(33, 17)), (Beta(0.5, 1), Beta(7, 2.5))]:
        assert prob_greater_sum(t, c) == pytest.approx(prob_greater_quad(t, c), abs=1e-11)


def test_prob_greater_matches_monte_carlo():
    rng = np.random.default_rng(RNG_SEED + 2)
    t = BetaMixture((0.7, 0.3), (Beta(20, 2), Beta(1, 1)))
    c = robust_mixture(Beta(14, 9), 0.2).update(13, 21)
    p = prob_greater(t, c)
    hits = (t.sample(rng, N_MC) > c.sample(rng, N_MC)).mean()
    assert abs(hits - p) <= 5 * math.sqrt(p * (1 - p) / N_MC)                 # 5 Monte Carlo s.e.


def test_ctd_mas_posterior_probability():
    # 19/20 alive on ruxolitinib vs 13/21 historical controls, uniform priors (docs/study.md)
    p = prob_greater(uniform().update(19, 20), uniform().update(13, 21))
    assert p == pytest.approx(prob_greater(uniform().update(19, 20), uniform().update(13, 21), method="quad"), abs=1e-11)
    assert round(p, 4) == 0.9942


def test_prob_greater_table_equals_scalar():
    posts_t = [jeffreys().update(x, 12) for x in range(13)]
    posts_c = [robust_mixture(Beta(14, 9), 0.2).update(x, 10) for x in range(11)]
    table = prob_greater_table(posts_t, posts_c)
    for i in range(0, 13, 3):
        for j in range(0, 11, 2):
            assert table[i, j] == pytest.approx(prob_greater(posts_t[i], posts_c[j]), abs=1e-10)


def test_prob_ratio_below_closed_form_and_monte_carlo():
    t, c = Gamma(3, 400.0), Gamma(9, 350.0)
    for margin in (0.5, 1.0, 1.3):
        f = stats.f.cdf(margin * (c.a * t.b) / (t.a * c.b), 2 * t.a, 2 * c.a)
        assert prob_ratio_below(t, c, margin) == pytest.approx(f, abs=1e-12)
    rng = np.random.default_rng(RNG_SEED + 3)
    mix_c = GammaMixture((0.5, 0.5), (c, Gamma(1, 30.0)))
    p = prob_ratio_below(t, mix_c, 0.8)
    hits = (t.sample(rng, N_MC) / mix_c.sample(rng, N_MC) < 0.8).mean()
    assert abs(hits - p) <= 5 * math.sqrt(p * (1 - p) / N_MC)                 # 5 Monte Carlo s.e.


beta_params = st.floats(0.3, 40.0)


@given(beta_params, beta_params, beta_params, beta_params)
def test_prob_greater_is_a_probability_and_symmetric(a1, b1, a2, b2):
    t, c = Beta(a1, b1), Beta(a2, b2)
    p, q = prob_greater(t, c), prob_greater(c, t)
    assert 0.0 <= p <= 1.0
    assert p + q == pytest.approx(1.0, abs=1e-9)                          # continuous posteriors: no ties


@given(st.integers(0, 19), st.integers(0, 20), st.sampled_from([uniform(), jeffreys(), Beta(2, 3)]))
def test_prob_greater_is_monotone_in_the_data(x_t, x_c, prior):
    base = prob_greater(prior.update(x_t, 20), prior.update(x_c, 20))
    assert prob_greater(prior.update(x_t + 1, 20), prior.update(x_c, 20)) >= base - 1e-12
    if x_c < 20:
        assert prob_greater(prior.update(x_t, 20), prior.update(x_c + 1, 20)) <= base + 1e-12


@given(st.floats(0.5, 30.0), st.floats(1.0, 500.0), st.floats(0.5, 30.0), st.floats(1.0, 500.0), st.floats(0.2, 3.0))
def test_hazard_ratio_probability_is_monotone_and_symmetric(a1, b1, a2, b2, margin):
    t, c = Gamma(a1, b1), Gamma(a2, b2)
    p = prob_ratio_below(t, c, margin)
    assert 0.0 <= p <= 1.0 and prob_ratio_below(t, c, margin * 1.1) >= p - 1e-12
    assert p + prob_ratio_below(c, t, 1.0 / margin) == pytest.approx(1.0, abs=1e-9)


def test_parse_beta_prior():
    assert parse_beta_prior("uniform") == Beta(1, 1) and parse_beta_prior(" Jeffreys ") == Beta(0.5, 0.5)
    assert parse_beta_prior("0.6,0.4") == Beta(0.6, 0.4)
    for bad in ("flat", "1", "0,1", "a,b", "-1,2"):
        with pytest.raises(InputError) as err:
            parse_beta_prior(bad)
        assert err.value.field == "prior"


@pytest.mark.parametrize("call, field", [
    (lambda: Beta(0, 1), "Beta.a"), (lambda: Gamma(1, float("inf")), "Gamma.b"),
    (lambda: Beta(1, 1).update(5, 4), "x"), (lambda: Beta(1, 1).update(-1, 4), "x"),
    (lambda: Gamma(1, 1).update(2, -1.0), "exposure"), (lambda: power_prior_beta(3, 10, 1.5), "a0"),
    (lambda: power_prior_gamma(3, 10.0, 0.5, Beta(1, 1)), "initial"),
    (lambda: BetaMixture((1.0,), (Gamma(1, 1),)), "BetaMixture.components"),
    (lambda: BetaMixture((0.0, 0.0), (Beta(1, 1), Beta(2, 2))), "BetaMixture.weights"),
    (lambda: robust_mixture(Beta(2, 2), 0.2, vague=Gamma(1, 1)), "vague"),
    (lambda: prob_greater(Gamma(1, 1), Beta(1, 1)), "post_t"), (lambda: prob_ratio_below(Gamma(1, 1), Gamma(1, 1), 0), "margin"),
    (lambda: prob_greater(Beta(1, 1), Beta(1, 1), method="mc"), "method"),
    (lambda: prob_greater_sum(Beta(0.5, 0.5), Beta(0.5, 1.5)), "post_t")])
def test_bad_arguments_are_input_errors(call, field):
    with pytest.raises(InputError) as err:
        call()
    assert err.value.field == field
