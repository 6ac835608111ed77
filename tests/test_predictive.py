"""Predictive-probability monitoring (trialsim.design.predictive) against published values, exact path
enumeration and simulation.

Reference values (copied here) and their sources:

- Lee JJ, Liu DD. A predictive probability design for phase II cancer clinical trials. Clinical Trials
  2008;5:93-106, p. 97 (Table 1): x = 16 of n = 23, Nmax = 40, prior Beta(0.6, 0.4), p0 = 0.6, theta_T = 0.9:
  PP = 0.5656, and 12 responses in the remaining 17 patients are needed (quoted in the R package ph2bayes,
  ``man/predprob.Rd`` "p. 97, PP = 0.5656", github.com/nshi-stat/ph2bayes; and in the R package phase1b,
  github.com/Genentech/phase1b, ``examples/predprob.R``).
- phase1b ``tests/testthat/test-predprob.R``: the example above to 7 digits, 0.5655589; with a mixture prior
  3:1 of Beta(1, 1) and Beta(25, 15), x = 20 of 23: 0.987443066689065, with the predictive density and the
  posterior probabilities of each final count (rounded to 4 decimals, copied below).
- phase1b ``tests/testthat/test-postprob.R``: P(p > 0.6 | 16 of 23, Beta(0.6, 0.4)) = 0.8359808; with the
  mixture 1:1 of Beta(0.6, 0.4) and Beta(1, 1), 10 of 23: 0.05559802.
- phase1b ``tests/testthat/test-boundsPredprob.R``: looks 10, 20, 30, 40, p0 = 0.2, tT = 0.8, phiL = 0.1,
  phiU = 0.9, Beta(1, 1): futility counts xL = 0, 2, 5, 9 (posterior 0.0859, 0.1787, 0.3931, 0.704) and
  efficacy counts xU = 4, 7, 9, 10 (posterior 0.9496, 0.9569, 0.9254, 0.8177).
- R package ph2bye, ``PredP(16, 23, 40, 1, 1, 0.5, 0.9)`` = 0.8871897 (its example output on rdrr.io,
  rdrr.io/cran/ph2bye/man/PredP.html).
- R package ph2bayes, ``stopbound_pred(0.05, "futility", 40, 0.6, 1.4, 0.3, 0.85)``: the futility bound first
  takes the values 0, 1, ..., 9 at n = 4, 8, 11, 14, 17, 20, 22, 25, 27, 29 (its example output on rdrr.io,
  rdrr.io/cran/ph2bayes/man/stopbound_pred.html; the printout is cut after n = 29 there).

The operating characteristics and the design (Nmax, theta_T, theta_L) of Lee and Liu's worked design
(p0 0.2, p1 0.4, alpha 0.1, power 0.9) were not available to this project; the recursion is checked against
exact enumeration of all response sequences and against simulation, and the search against a direct search.
"""

import itertools

import numpy as np
import pytest
from hypothesis import given, strategies as st

from trialsim.design.predictive import (PredictiveDesign, final_success_threshold, predictive_probabilities,
                                        predictive_probability, search_predictive_design)
from trialsim.exceptions import InputError
from trialsim.stats.posteriors import Beta, BetaMixture


def test_lee_liu_example_predictive_probability():
    pp = predictive_probability(16, 23, 40, 0.6, 0.9, Beta(0.6, 0.4))
    assert pp == pytest.approx(0.5655589, abs=5e-8)        # phase1b, 7 digits
    assert round(pp, 4) == 0.5656                           # Lee and Liu 2008, p. 97
    assert final_success_threshold(40, 0.6, 0.9, Beta(0.6, 0.4)) - 16 == 12
    assert predictive_probability(16, 23, 40, 0.6, 0.8, Beta(0.6, 0.4)) > pp


def test_lee_liu_example_posterior_probability():
    assert Beta(0.6, 0.4).update(16, 23).sf(0.6) == pytest.approx(0.8359808, abs=5e-8)


def test_mixture_prior_predictive_probability_phase1b():
    prior = BetaMixture((3, 1), (Beta(1, 1), Beta(25, 15)))
    assert predictive_probability(20, 23, 40, 0.6, 0.9, prior) == pytest.approx(0.987443066689065, abs=1e-12)
    density = [0, 0, 0, 0, 1e-4, 3e-4, 0.0011, 0.0031, 0.008, 0.0177, 0.0348, 0.0613, 0.0973, 0.1394, 0.1783,
               0.1964, 0.1708, 0.0913]
    posterior = [0.156, 0.2352, 0.3303, 0.4359, 0.5449, 0.65, 0.7447, 0.8244, 0.8871, 0.9327, 0.9634, 0.9821,
                 0.9923, 0.9972, 0.9991, 0.9998, 1, 1]
    post = prior.update(20, 23)
    y = np.arange(18)
    pmf = post.predictive_sf(y - 1, 17) - post.predictive_sf(y, 17)
    assert np.round(pmf, 4) == pytest.approx(density, abs=1e-12)
    assert [round(prior.update(20 + k, 40).sf(0.6), 4) for k in y] == pytest.approx(posterior, abs=1e-12)


def test_mixture_prior_posterior_probability_phase1b():
    prior = BetaMixture((1, 1), (Beta(0.6, 0.4), Beta(1, 1)))
    assert prior.update(10, 23).sf(0.6) == pytest.approx(0.05559802, abs=5e-9)


def test_ph2bye_predp_example():
    assert predictive_probability(16, 23, 40, 0.5, 0.9, Beta(1, 1)) == pytest.approx(0.8871897, abs=5e-8)


def test_boundaries_equal_phase1b_bounds_predprob():
    d = PredictiveDesign(40, 0.2, theta_t=0.8, theta_l=0.1, theta_u=0.9, looks=(10, 20, 30))
    assert d.futility_bounds == (0, 2, 5) and d.efficacy_bounds == (4, 7, 9)
    assert d.k_star == 10                                   # final: xL = 9 fails, xU = 10 succeeds
    post_l = [Beta(1, 1).update(x, n).sf(0.2) for x, n in zip((0, 2, 5, 9), (10, 20, 30, 40))]
    post_u = [Beta(1, 1).update(x, n).sf(0.2) for x, n in zip((4, 7, 9, 10), (10, 20, 30, 40))]
    assert np.round(post_l, 4) == pytest.approx([0.0859, 0.1787, 0.3931, 0.704], abs=1e-12)
    assert np.round(post_u, 4) == pytest.approx([0.9496, 0.9569, 0.9254, 0.8177], abs=1e-12)


def test_futility_bounds_equal_ph2bayes_stopbound_pred():
    d = PredictiveDesign(40, 0.3, theta_t=0.85, theta_l=0.05, prior=Beta(0.6, 1.4), looks=range(1, 40))
    first = {}
    for n, bound in zip(d.looks, d.futility_bounds):
        first.setdefault(bound, n)
    assert [first[b] for b in range(10)] == [4, 8, 11, 14, 17, 20, 22, 25, 27, 29]
    assert first.get(-1) == 1                               # ph2bayes prints NA at n = 1 (no stopping)


def _enumerate(design: PredictiveDesign, p: float) -> dict:
    """Exact characteristics by walking every response sequence (2^n_max of them)."""
    out = {"reject": 0.0, "pet": 0.0, "en": 0.0}
    for seq in itertools.product((0, 1), repeat=design.n_max):
        prob = p ** sum(seq) * (1 - p) ** (design.n_max - sum(seq))
        x = 0
        for n, s in enumerate(seq, start=1):
            x += s
            dec = design.decision(x, n)
            if dec != "continue":
                break
        out["reject"] += prob * (dec in ("success", "stop-efficacy"))
        out["pet"] += prob * dec.startswith("stop")
        out["en"] += prob * n
    return out


@pytest.mark.parametrize("theta_u", [None, 0.95])
@pytest.mark.parametrize("p", [0.2, 0.45])
def test_recursion_equals_enumeration_of_all_sequences(theta_u, p):
    d = PredictiveDesign(12, 0.2, theta_t=0.85, theta_l=0.1, theta_u=theta_u, prior=Beta(0.2, 0.8),
                         looks=(3, 5, 6, 8, 10, 11))
    oc, ex = d.operating_characteristics(p), _enumerate(d, p)
    for key in ex:
        assert oc[key] == pytest.approx(ex[key], abs=1e-12)
    assert oc["pet"] == pytest.approx(oc["pet_futility"] + oc["pet_efficacy"], abs=1e-15)


def _simulate(design: PredictiveDesign, p: float, reps: int, rng) -> dict:
    seqs = rng.random((reps, design.n_max)) < p
    counts = np.cumsum(seqs, axis=1)
    running = np.ones(reps, bool)
    reject = np.zeros(reps, bool)
    size = np.full(reps, design.n_max)
    for n, lo, hi in zip(design.looks, design.futility_bounds, design.efficacy_bounds):
        x = counts[:, n - 1]
        stop_f, stop_e = running & (x <= lo), running & (x >= hi)
        reject |= stop_e
        size[stop_f | stop_e] = n
        running &= ~(stop_f | stop_e)
    reject |= running & (counts[:, -1] >= design.k_star)
    return {"reject": reject, "en": size}


@pytest.mark.slow
def test_recursion_agrees_with_simulation():
    rng = np.random.default_rng(20080093)
    d = PredictiveDesign(36, 0.2, theta_t=0.9, theta_l=0.01, theta_u=0.99, prior=Beta(0.2, 0.8))
    for p in (0.2, 0.4):
        oc, sim = d.operating_characteristics(p), _simulate(d, p, 100_000, rng)
        se = np.sqrt(oc["reject"] * (1 - oc["reject"]) / 100_000)
        assert abs(sim["reject"].mean() - oc["reject"]) <= 4 * se         # 4 standard errors
        se_n = sim["en"].std() / np.sqrt(100_000)
        assert abs(sim["en"].mean() - oc["en"]) <= 4 * se_n


def test_design_search_meets_constraints_and_is_smallest():
    grids = dict(theta_t_grid=(0.85, 0.9, 0.95), theta_l_grid=(0.001, 0.01, 0.05, 0.1))
    res = search_predictive_design(0.2, 0.4, 0.1, 0.9, n_range=range(25, 45), prior=Beta(0.2, 0.8), **grids)
    d = res.design
    assert res.oc0["reject"] <= 0.1 and res.oc1["reject"] >= 0.9
    assert res.oc0 == d.operating_characteristics(0.2)
    feasible_en = []
    for n_max in range(25, d.n_max + 1):                    # direct search through PredictiveDesign
        for tt in grids["theta_t_grid"]:
            for tl in grids["theta_l_grid"]:
                cand = PredictiveDesign(n_max, 0.2, tt, tl, prior=Beta(0.2, 0.8))
                a, pw = cand.operating_characteristics(0.2), cand.operating_characteristics(0.4)
                ok = a["reject"] <= 0.1 and pw["reject"] >= 0.9
                assert not (ok and n_max < d.n_max), (n_max, tt, tl)
                if ok:
                    feasible_en.append(a["en"])
    assert res.oc0["en"] == pytest.approx(min(feasible_en), abs=1e-12)
    assert {(f[0], f[1]) for f in res.feasible} and all(f[2]["reject"] <= 0.1 for f in res.feasible)


@given(st.integers(1, 39), st.data(), st.floats(0.05, 0.95), st.floats(0.5, 0.99))
def test_predictive_probability_in_unit_interval_and_monotone(n, data, p0, theta_t):
    prior = data.draw(st.sampled_from([Beta(1, 1), Beta(0.5, 0.5), BetaMixture((0.7, 0.3), (Beta(9, 5), Beta(1, 1)))]))
    pp = predictive_probabilities(n, 40, p0, theta_t, prior)
    assert np.all((pp >= 0) & (pp <= 1))
    assert np.all(np.diff(pp) >= -1e-12)                    # more responses never lower PP
    x = data.draw(st.integers(0, n))
    direct = sum(float(prior.update(x, n).predictive_sf(y - 1, 40 - n) - prior.update(x, n).predictive_sf(y, 40 - n))
                 for y in range(41 - n) if prior.update(x + y, 40).sf(p0) > theta_t)
    assert pp[x] == pytest.approx(direct, abs=1e-12)        # the definition, summed term by term


@pytest.mark.parametrize("kwargs, field", [
    (dict(n_max=40, p0=0.2, theta_t=0.9, theta_l=0.5, theta_u=0.3), "theta_u"),
    (dict(n_max=40, p0=1.2, theta_t=0.9, theta_l=0.1), "p0"),
    (dict(n_max=40, p0=0.2, theta_t=1.9, theta_l=0.1), "theta_t"),
    (dict(n_max=40, p0=0.2, theta_t=0.9, theta_l=0.1, looks=(10, 40)), "looks"),
    (dict(n_max=1, p0=0.2, theta_t=0.9, theta_l=0.1), "n_max"),
    (dict(n_max=40, p0=0.2, theta_t=0.9, theta_l=0.1, prior=(1, 1)), "prior")])
def test_bad_design_input(kwargs, field):
    with pytest.raises(InputError) as err:
        PredictiveDesign(**kwargs)
    assert err.value.field == field


def test_bad_search_and_pp_input():
    with pytest.raises(InputError) as err:
        search_predictive_design(0.4, 0.2)
    assert err.value.field == "p1"
    with pytest.raises(InputError) as err:
        predictive_probability(24, 23, 40, 0.6, 0.9)
    assert err.value.field == "x"
    with pytest.raises(InputError) as err:
        search_predictive_design(0.2, 0.4, n_range=range(5, 8), theta_t_grid=(0.9,), theta_l_grid=(0.01,))
    assert err.value.field == "n_range"


@pytest.mark.slow
def test_ctd_mas_numbers_in_docs_bayesian():
    # docs/bayesian.md, section 6
    assert final_success_threshold(25, 0.62, 0.9) == 19
    assert round(predictive_probability(9, 10, 25, 0.62, 0.9), 3) == 0.907
    assert round(predictive_probability(6, 10, 25, 0.62, 0.9), 3) == 0.085
    res = search_predictive_design(0.62, 0.85, 0.05, 0.8, n_range=range(15, 61))
    d = res.design
    assert (d.n_max, d.theta_t, d.theta_l, d.k_star) == (24, 0.9, 0.154, 19)
    assert d.futility_bounds[0] == 6 and d.futility_bounds[-1] == 17 and d.looks[-1] == 23
    assert (round(res.oc0["reject"], 4), round(res.oc1["reject"], 3)) == (0.0473, 0.802)
    assert (round(res.oc0["pet"], 3), round(res.oc1["pet"], 3)) == (0.941, 0.185)
    assert (round(res.oc0["en"], 1), round(res.oc1["en"], 1)) == (12.5, 22.2)


@pytest.mark.slow
@pytest.mark.parametrize("arm", [0, 1])
def test_simulated_under_the_ctd_mas_model_agrees_with_the_exact_recursion(arm):
    # the design of docs/bayesian.md section 6 (N = 24, theta_T 0.90, theta_L 0.154), each patient alive at week 8 or
    # not (everyone followed): a Bernoulli of the arm's survival, so the recursion at that rate is exact (4 s.e.)
    import math

    from trialsim.design.monitoring import boundaries, monitoring_oc

    design = PredictiveDesign(24, 0.62, 0.90, 0.154)
    looks, fut, eff, k_star, n_max = boundaries(design)
    assert (looks[0], fut[:2], k_star, n_max) == (10, (6, 7), 19, 24)
    oc = monitoring_oc(design, arm=arm, n_replicates=8000, seed=5, n_jobs=1)
    exact = design.operating_characteristics(oc.p)
    assert abs(oc.reject - exact["reject"]) <= 4 * math.sqrt(exact["reject"] * (1 - exact["reject"]) / 8000)
    assert abs(oc.pet - exact["pet"]) <= 4 * math.sqrt(exact["pet"] * (1 - exact["pet"]) / 8000)
    assert abs(oc.en - exact["en"]) <= 4 * oc.en_standard_error + 1e-12
