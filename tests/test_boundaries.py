"""trialsim.design.boundaries against rpact, gsDesign, SAS PROC SEQDESIGN, East and published constants; against
an independent integration (quadrature, scipy's multivariate normal, Monte Carlo of the canonical Brownian
motion); and by properties. docs/sequential.md describes the method.

Sources (values copied below, with the call that printed them):

- RPACT-GS: rpact (github.com/rpact-com/rpact), tests/testthat/test-f_design_group_sequential.R and
  tests/testthat/test-f_design_group_sequential_beta_spending.R at commit b101e4be0a7dcecb136232419c699b7655c9edba
  (the last commit before "Unit tests removed", 2024-10-17). rpact prints 8 significant digits.
- GSD-REG: gsDesign (github.com/keaven/gsDesign), tests/testthat/test-normal-density-constant-regression.R
  (gsBound, gsBound1, gsProbability with r = 18; gsDesign's own tolerance 1e-8/1e-9).
- GSD-SNAP: gsDesign, tests/testthat/_snaps/independent-test-gsBoundSummary.md (gsBoundSummary, 4 decimals).
- GSD-EAST: gsDesign, tests/testthat/test-independent-test-gsDelta.R and test-independent-test-plotASN.R
  (benchmarks from East 6.5, tests/benchmarks/gsqplot.cywx and gsDelta.cywx).
- SAS: gsDesign, tests/benchmarks/SAS_nsurv_01.sas and SAS_nsurv_01.htm (PROC SEQDESIGN, 5 decimals).
- GS-01: docs/references.md (Jennison and Turnbull 2000, Tables 2.1 and 2.3; Lan and DeMets 1983).
"""

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, optimize, special
from scipy.stats import multivariate_normal, norm

from trialsim.design.boundaries import (
    GRID_R,
    bounds_from_spending,
    crossing_probabilities,
    cumulative_spending,
    group_sequential_design,
    parse_spending,
)
from trialsim.exceptions import InputError

Z_TOL = 1e-6        # rpact's 8 significant digits; we agree to < 1.5e-7 (7.6e-7 after a look spending 2e-10)
P_TOL = 1e-8        # probabilities and cumulative alpha/beta


def close(got, expected, atol):
    got, expected = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    assert got.shape == expected.shape
    assert np.max(np.abs(got - expected)) <= atol, (got.tolist(), expected.tolist())


# ------------------------------------------------------------------------------------------ rpact (RPACT-GS)


def test_rpact_x0_classical_obrien_fleming_k3():
    # getDesignInverseNormal() (defaults kMax = 3, alpha = 0.025, typeOfDesign = "OF"; same bounds as
    # getDesignGroupSequential)
    d = group_sequential_design([1 / 3, 2 / 3, 1], alpha=0.025, efficacy="of")
    close(d.efficacy_z, [3.4710914, 2.4544323, 2.0040356], Z_TOL)
    close(d.cumulative_alpha, [0.00025917372, 0.0071600594, 0.02499999], P_TOL)
    close(d.nominal_p, [0.00025917372, 0.0070553616, 0.022533125], P_TOL)


def test_rpact_x1_hsd_gamma0_unequal_spacing_and_characteristics():
    # getDesignInverseNormal(kMax = 3, informationRates = c(0.2, 0.4, 1), alpha = 0.03, sided = 1, beta = 0.14,
    #   typeOfDesign = "asHSD", gammaA = 0); getDesignCharacteristics(x1)
    d = group_sequential_design([0.2, 0.4, 1], alpha=0.03, power=0.86, efficacy="hsd:0")
    close(d.efficacy_z, [2.5121443, 2.4228747, 2.0280392], Z_TOL)
    close(d.cumulative_alpha, [0.006, 0.012, 0.03], P_TOL)
    assert d.drift ** 2 == pytest.approx(9.4594101, rel=1e-7)                 # shift
    assert d.inflation_factor == pytest.approx(1.0788327, rel=1e-7)
    close(np.cumsum(d.efficacy_crossing_h1), [0.12783451, 0.34055165, 0.86], 1e-7)   # power
    assert d.expected_information_h1 == pytest.approx(0.83081135, rel=1e-7)  # averageSampleNumber1
    assert d.expected_information_h0 == pytest.approx(1.0697705, rel=1e-7)   # averageSampleNumber0


def test_rpact_x2_hsd_beta_spending_non_binding():
    # getDesignInverseNormal(kMax = 3, informationRates = c(0.2, 0.4, 1), alpha = 0.07, sided = 1, beta = 0.14,
    #   typeOfDesign = "asHSD", gammaA = -1, typeBetaSpending = "bsHSD", gammaB = -2)  (bindingFutility FALSE)
    d = group_sequential_design([0.2, 0.4, 1], alpha=0.07, power=0.86, efficacy="hsd:-1", futility="hsd:-2")
    assert not d.binding
    close(d.efficacy_z, [2.364813, 2.1928805, 1.5660474], Z_TOL)
    close(d.futility_z[:2], [-1.1063623, -0.35992439], Z_TOL)
    close(d.cumulative_alpha, [0.0090195874, 0.020036136, 0.07], P_TOL)
    close(d.cumulative_beta, [0.010777094, 0.026854629, 0.14], P_TOL)
    assert d.drift ** 2 == pytest.approx(7.1015942, rel=1e-7)
    assert d.inflation_factor == pytest.approx(1.0869177, rel=1e-7)
    close(d.efficacy_crossing_h1, [0.12038953, 0.20856311, 0.53104735], 1e-7)   # rejectionProbabilities
    close(d.futility_crossing_h1[:2], [0.010777094, 0.016077535], P_TOL)         # futilityProbabilities
    assert d.expected_information_h1 == pytest.approx(0.82636428, rel=1e-7)
    assert d.expected_information_h0 == pytest.approx(0.79471657, rel=1e-7)


def test_rpact_x3_kim_demets_both_bounds():
    # getDesignInverseNormal(kMax = 3, informationRates = c(0.3, 0.7, 1), alpha = 0.03, sided = 1, beta = 0.34,
    #   typeOfDesign = "asKD", gammaA = 2.2, typeBetaSpending = "bsKD", gammaB = 3.2)
    d = group_sequential_design([0.3, 0.7, 1], alpha=0.03, power=0.66, efficacy="kd:2.2", futility="kd:3.2")
    close(d.efficacy_z, [2.8594012, 2.2435708, 1.9735737], Z_TOL)
    close(d.futility_z[:2], [-1.1558435, 0.72836893], Z_TOL)
    close(d.cumulative_alpha, [0.0021222083, 0.013687904, 0.03], P_TOL)
    close(d.cumulative_beta, [0.0072155083, 0.1085907, 0.34], P_TOL)
    assert d.drift ** 2 == pytest.approx(5.551371, rel=1e-7)
    assert d.inflation_factor == pytest.approx(1.0555891, rel=1e-7)
    close(d.efficacy_crossing_h1, [0.058336437, 0.33990957, 0.261754], 1e-7)
    assert d.expected_information_h1 == pytest.approx(0.86740735, rel=1e-7)
    assert d.expected_information_h0 == pytest.approx(0.75480974, rel=1e-7)


@pytest.mark.parametrize("k, fractions, binding, efficacy_z, futility_z", [
    # getDesignGroupSequential(kMax = 3 or 4, alpha = 0.13, beta = 0.41, typeOfDesign = "asOF",
    #   typeBetaSpending = "bsKD", informationRates = ..., gammaB = 2.5, bindingFutility = ...)   (x7a, x7b)
    (3, [0.4, 0.75, 1], False, [2.1280732, 1.4368565, 1.2468994], [-0.83725762, 0.35992547]),
    (4, [0.4, 0.75, 0.85, 1], False, [2.1280732, 1.4368565, 1.422873, 1.2970881],
     [-0.82676531, 0.3743303, 0.65077266]),
    (3, [0.4, 0.75, 1], True, [2.1280732, 1.4362896, 1.2218662], [-0.84937686, 0.34328914]),
    (4, [0.4, 0.75, 0.85, 1], True, [2.1280732, 1.4362706, 1.4203748, 1.2576258],
     [-0.84247693, 0.35276055, 0.62744509]),
])
def test_rpact_x7_ld_of_with_kim_demets_futility(k, fractions, binding, efficacy_z, futility_z):
    d = group_sequential_design(fractions, alpha=0.13, power=0.59, efficacy="ld-of", futility="kd:2.5",
                                binding=binding)
    close(d.efficacy_z, efficacy_z, Z_TOL)
    close(d.futility_z[:-1], futility_z, Z_TOL)
    assert d.futility_z[-1] == d.efficacy_z[-1]
    expected_alpha = [0.016665509, 0.080406163, 0.10053322, 0.13] if k == 4 else [0.016665509, 0.080406163, 0.13]
    expected_beta = [0.041489083, 0.19972711, 0.27310596, 0.41] if k == 4 else [0.041489083, 0.19972711, 0.41]
    close(d.cumulative_alpha, expected_alpha, P_TOL)
    close(d.cumulative_beta, expected_beta, P_TOL)


def test_rpact_x6a_ld_pocock_efficacy():
    # getDesignGroupSequential(kMax = 3, alpha = 0.13, typeOfDesign = "asP", informationRates = c(0.35, 0.7, 1),
    #   bindingFutility = FALSE, ...): non-binding, so the efficacy bounds do not depend on the futility bound
    d = group_sequential_design([0.35, 0.7, 1], alpha=0.13, power=0.7, efficacy="ld-pocock")
    close(d.efficacy_z, [1.5446617, 1.4828682, 1.4620058], Z_TOL)
    close(d.cumulative_alpha, [0.061214062, 0.10266465, 0.13], P_TOL)


def test_rpact_x9_haybittle_peto_k4():
    # getDesignGroupSequential(kMax = 4, alpha = 0.025, typeOfDesign = "HP")
    d = group_sequential_design([0.25, 0.5, 0.75, 1], alpha=0.025, efficacy="haybittle-peto")
    close(d.efficacy_z, [3, 3, 3, 1.9827514], Z_TOL)
    close(d.cumulative_alpha, [0.001349898, 0.0024617416, 0.0033695882, 0.025], P_TOL)


def test_rpact_user_spending_and_no_early_efficacy_with_binding_futility():
    # x5: getDesignGroupSequential(typeOfDesign = "asUser", userAlphaSpending = c(0.01, 0.02, 0.03, 0.05))
    close(bounds_from_spending([0.25, 0.5, 0.75, 1], [0.01, 0.02, 0.03, 0.05]),
          [2.3263479, 2.2192994, 2.1201347, 1.8189562], Z_TOL)
    # x16: getDesignGroupSequential(typeOfDesign = "noEarlyEfficacy", futilityBounds = c(0, 0.5, 1),
    #   bindingFutility = TRUE): critical values c(Inf, Inf, Inf, 1.8848634)
    b = bounds_from_spending([0.25, 0.5, 0.75, 1], [0, 0, 0, 0.025], futility_z=[0, 0.5, 1, None], binding=True)
    assert np.all(np.isinf(b[:3]))
    assert b[3] == pytest.approx(1.8848634, abs=Z_TOL)
    # x15 (non-binding, kMax = 3): the final bound is the fixed design's 1.959964
    assert bounds_from_spending([1 / 3, 2 / 3, 1], [0, 0, 0.025])[-1] == pytest.approx(1.959964, abs=Z_TOL)


@pytest.mark.parametrize("fractions, alpha, efficacy, efficacy_z", [
    # test-f_design_group_sequential_beta_spending.R, two-sided designs with non-binding futility (their
    # efficacy bounds do not depend on the futility bound): (1) asKD gammaA 2.5; (9) asKD gammaA 1.44;
    # (7) asOF. getDesignGroupSequential(informationRates = ..., alpha = ..., sided = 2, typeOfDesign = ...)
    ([0.3, 0.4, 0.8, 1], 0.05, "kd:2.5", [3.0276355, 2.8984727, 2.2289649, 2.0639032]),
    ([0.35, 0.55, 0.8, 1], 0.035, "kd:1.44", [2.6641472, 2.5781312, 2.4084661, 2.3291234]),
    ([0.15, 0.4, 0.8, 1], 0.025, "ld-of", [6.3431527, 3.7800251, 2.5620799, 2.2927506]),
])
def test_rpact_two_sided_spending(fractions, alpha, efficacy, efficacy_z):
    d = group_sequential_design(fractions, alpha=alpha, sided=2, efficacy=efficacy)
    close(d.efficacy_z, efficacy_z, Z_TOL)
    assert d.cumulative_alpha[-1] == pytest.approx(alpha, abs=1e-12)


def test_rpact_two_sided_extreme_tail_differs_and_quadrature_settles_it():
    # beta_spending.R (3): informationRates = c(0.15, 0.25, 0.8, 1), alpha = 0.025, sided = 2, "asOF":
    # criticalValues c(6.3431527, 4.8600403, 2.560259, 2.292451), alphaSpent c(2.2511014e-10, 1.1742122e-06, ...)
    d = group_sequential_design([0.15, 0.25, 0.8, 1], alpha=0.025, sided=2, efficacy="ld-of")
    close(d.cumulative_alpha, [2.2511014e-10, 1.1742122e-06, 0.01045986, 0.025], 1e-11 + 1e-7 * 0.025)
    close([d.efficacy_z[i] for i in (0, 2, 3)], [6.3431527, 2.560259, 2.292451], Z_TOL)
    # At look 2 rpact prints 4.8600403; spending the same 1.17e-6 gives 4.8599552, and so does an adaptive
    # quadrature of P(|Z_1| < b_1, |Z_2| >= b_2) written here from the bivariate normal.
    assert d.efficacy_z[1] == pytest.approx(4.8600403, abs=1e-4)
    t1, t2, b1 = 0.15, 0.25, d.efficacy_z[0]

    def two_tails(b2):
        s = math.sqrt(t2 - t1)

        def integrand(z):
            return norm.pdf(z) * (norm.sf((b2 * math.sqrt(t2) - z * math.sqrt(t1)) / s)
                                  + norm.cdf((-b2 * math.sqrt(t2) - z * math.sqrt(t1)) / s))

        return integrate.quad(integrand, -b1, b1, epsabs=1e-16, epsrel=1e-13, limit=400)[0]

    target = d.cumulative_alpha[1] - d.cumulative_alpha[0]
    exact = optimize.brentq(lambda b: two_tails(b) - target, 4, 6, xtol=1e-12)
    assert d.efficacy_z[1] == pytest.approx(exact, abs=1e-7)


# ------------------------------------------------------------------------------------------------- gsDesign

LOOKS4 = [0.25, 0.5, 0.75, 1.0]


def test_gsdesign_gsbound_regression_same_grid():
    # GSD-REG: gsBound(I = c(0.25, 0.5, 0.75, 1), trueneg = c(0.01, 0.02, 0.03, 0.04),
    #   falsepos = c(0.005, 0.01, 0.015, 0.02), tol = 1e-8, r = 18): the bounds a, b cross with these
    #   probabilities; on gsDesign's grid (r = 18) we agree to 1e-9, on ours (r = 32) to gsDesign's accuracy.
    a = [-2.32634787404084, -1.96818185313167, -1.67671154533665, -1.41871200118752]
    b = [2.5758293035489, 2.25986082564025, 2.00956238688048, 1.79397591800809]
    for r, tol in ((18, 1e-9), (GRID_R, 1e-8)):
        p = crossing_probabilities(LOOKS4, b, a, drift=0.0, r=r)
        close(p.upper, [0.005, 0.01, 0.015, 0.02], tol)
        close(p.lower, [0.01, 0.02, 0.03, 0.04], tol)


def test_gsdesign_gsbound1_regression_with_drift():
    # GSD-REG: gsBound1(theta = 0.35, I = c(0.25, 0.5, 0.75, 1), a = c(-2.8, -2.4, -2.1, -1.96),
    #   probhi = c(0.002, 0.006, 0.012, 0.02), tol = 1e-8, r = 18) -> b and problo. Drift = theta sqrt(I_K).
    b = [3.05316173909548, 2.71771590385463, 2.4436403142931, 2.19873543003778]
    p = crossing_probabilities(LOOKS4, b, [-2.8, -2.4, -2.1, -1.96], drift=0.35, r=18)
    close(p.upper, [0.002, 0.006, 0.012, 0.02], 1e-9)
    close(p.lower, [0.00146494273922955, 0.00358821454505199, 0.00597577248693223, 0.00579998523854975], 1e-9)


def test_gsdesign_gsprobability_regression_classical_of_two_sided():
    # GSD-REG: d <- gsDesign(k = 4, test.type = 2, sfu = "OF", alpha = 0.025, beta = 0.2);
    #   gsProbability(k = 4, theta = c(-0.2, 0, 0.3), n.I = d$n.I, a = d$lower$bound, b = d$upper$bound, r = 18)
    #   (n.fix = 1, so n.I = inflation * t and the drift is theta sqrt(n.I[4])).
    upper = [[1.66400022856292e-05, 0.00131497939619109, 0.00518530133766029, 0.00895618146440017],
             [2.57634255827315e-05, 0.00208457724169985, 0.00834554793644277, 0.0145441105183363],
             [4.87333522297357e-05, 0.0040153716903915, 0.0161524792689938, 0.0279995912619114]]
    lower = [[3.95012721949405e-05, 0.00324246173719493, 0.0130536432925157, 0.0227249203543359],
             [2.57634255827315e-05, 0.00208457724169985, 0.00834554793644276, 0.0145441105183363],
             [1.33240065689145e-05, 0.00103696987534739, 0.00404355061406175, 0.0069268941635626]]
    en = [1.01680169602634, 1.01740020212267, 1.01604286351769]
    d = group_sequential_design(LOOKS4, alpha=0.05, power=0.8, sided=2, efficacy="of", r=18)
    for theta, up, lo, expected_n in zip((-0.2, 0.0, 0.3), upper, lower, en):
        p = d.crossing_probabilities(theta * math.sqrt(d.inflation_factor))
        close(p.upper, up, 1e-9)
        close(p.lower, lo, 1e-9)
        assert d.inflation_factor * p.expected_fraction == pytest.approx(expected_n, abs=1e-7)
    # O'Brien-Fleming shape: c / sqrt(t_k); gsDesign solves c to 1e-6 (uniroot tol), so the sum of its upper
    # probabilities is alpha to ~1e-9; ours is exact
    assert np.ptp(np.array(d.efficacy_z) * np.sqrt(LOOKS4)) < 1e-12
    assert sum(upper[1]) == pytest.approx(0.025, abs=1e-8)


@pytest.mark.parametrize("fractions, futility, efficacy_z, futility_z, cross_h0, cross_h1", [
    # GSD-SNAP: gsBoundSummary(gsDesign(nFixSurv = 0, k = 5, test.type = 1, n.fix = 1)) (sfHSD gamma -4,
    #   alpha 0.025, beta 0.1): Z and cumulative P(Cross) if delta = 0 and delta = 1
    ([0.2, 0.4, 0.6, 0.8, 1], None, [3.2527, 2.9860, 2.6917, 2.3737, 2.0253], None,
     [0.0006, 0.0018, 0.0047, 0.0110, 0.0250], [0.0370, 0.1883, 0.4530, 0.7229, 0.9000]),
    # gsBoundSummary(gsDesign(nFixSurv = 3, k = 5, test.type = 4, n.fix = 1)) (lower: sfHSD gamma -2,
    #   non-binding): the probabilities assume every bound stops the trial
    ([0.2, 0.4, 0.6, 0.8, 1], "hsd:-2", [3.2527, 2.9860, 2.6917, 2.3737, 2.0253],
     [-0.9016, -0.0367, 0.6945, 1.3603, 2.0253],
     [0.0006, 0.0018, 0.0047, 0.0109, 0.0226], [0.0417, 0.2096, 0.4902, 0.7556, 0.9000]),
    # gsBoundSummary(gsDesign(nFixSurv = 0, delta = .3, delta1 = .3)) (k = 3, test.type = 4)
    ([1 / 3, 2 / 3, 1], "hsd:-2", [3.0107, 2.5465, 1.9992], [-0.2387, 0.9411, 1.9992],
     [0.0013, 0.0062, 0.0233], [0.1412, 0.5815, 0.9000]),
    # gsBoundSummary(gsDesign(k = 2, n.fix = n.fix, delta1 = log(.15 / .3), endpoint = "Binomial"))
    ([0.5, 1], "hsd:-2", [2.7500, 1.9811], [0.4122, 1.9811], [0.0030, 0.0239], [0.3412, 0.9000]),
])
def test_gsdesign_bound_summaries(fractions, futility, efficacy_z, futility_z, cross_h0, cross_h1):
    d = group_sequential_design(fractions, alpha=0.025, power=0.9, efficacy="hsd:-4", futility=futility)
    half = 5e-5 + 1e-9          # printed to 4 decimals
    close(d.efficacy_z, efficacy_z, half)
    if futility_z is not None:
        close(d.futility_z, futility_z, half)
    close(np.cumsum(d.efficacy_crossing_h0), cross_h0, half)
    close(np.cumsum(d.efficacy_crossing_h1), cross_h1, half)


def test_gsdesign_k3_information_and_futility_probabilities():
    # GSD-SNAP, gsDesign(nFixSurv = 0, delta = .3, delta1 = .3): Information 41.64, 83.27, 124.91 (the fixed
    #   design needs ((z_0.975 + z_0.9) / 0.3)^2); futility P(Cross) cumulative 0.4057, 0.8347, 0.9767 (H0) and
    #   0.0148, 0.0437, 0.1000 (H1)
    d = group_sequential_design([1 / 3, 2 / 3, 1], efficacy="hsd:-4", futility="hsd:-2")
    fixed = ((special.ndtri(0.975) + special.ndtri(0.9)) / 0.3) ** 2
    close(fixed * d.inflation_factor * np.array(d.information_fractions), [41.64, 83.27, 124.91], 0.005)
    close(np.cumsum(d.futility_crossing_h0), [0.4057, 0.8347, 0.9767], 5e-5 + 1e-9)
    close(np.cumsum(d.futility_crossing_h1), [0.0148, 0.0437, 0.1000], 5e-5 + 1e-9)


def test_east_k2_ld_of_effect_scale_and_expected_sample_size():
    # GSD-EAST: x <- gsDesign(k = 2, test.type = 1, alpha = 0.025, beta = 0.1, delta1 = 0.3, sfu = sfLDOF);
    #   gsDelta(z = x$upper$bound, i = 1:2, x = x) = 0.38709581, 0.18188158 (East 6.5), z_k / sqrt(n.I[k])
    d = group_sequential_design([0.5, 1], alpha=0.025, power=0.9, efficacy="ld-of")
    fixed = ((special.ndtri(0.975) + special.ndtri(0.9)) / 0.3) ** 2
    n_i = fixed * d.inflation_factor * np.array([0.5, 1.0])
    close(np.array(d.efficacy_z) / np.sqrt(n_i), [0.38709581, 0.18188158], 1e-6)
    # plotASN(gsDesign(..., sfu = sfLDOF, n.fix = 466.9965809)): E{N} 467.1517045, 438.103876, 409.427932 at
    #   delta 0.06, 0.24, 0.3 (design delta 0.3), East 6.5, checked there to 1e-2
    for delta, en in ((0.06, 467.1517045), (0.24, 438.103876), (0.3, 409.427932)):
        p = d.crossing_probabilities(d.drift * delta / 0.3)
        assert 466.9965809 * d.inflation_factor * p.expected_fraction == pytest.approx(en, abs=1e-3)


# ------------------------------------------------------------------------------------ SAS and classical constants


def test_sas_seqdesign_ld_of_two_sided_k4():
    # SAS: proc seqdesign; design nstages=4 method=errfuncobf; (alpha 0.05 two-sided, beta 0.1): boundary
    #   4.33263, 2.96333, 2.35902, 2.01409; drift 3.27101; max information 101.8279% of the fixed sample; ASN
    #   101.2586% (null) and 77.73131% (alternative).
    d = group_sequential_design(LOOKS4, alpha=0.05, power=0.9, sided=2, efficacy="ld-of")
    close([d.efficacy_z[0], d.efficacy_z[3]], [4.33263, 2.01409], 5e-6 + 1e-9)
    # At looks 2 and 3 SAS is 2e-4 and 2e-5 away from the exact bounds 2.963132 and 2.359044 (our recursion
    # agrees with an adaptive quadrature to 1e-7 at look 2: test_rpact_two_sided_extreme_tail... does the same
    # check); SAS's own integration tolerance, not rounding.
    close(d.efficacy_z[1:3], [2.96333, 2.35902], 2.5e-4)
    assert d.drift == pytest.approx(3.27101, abs=5e-6)
    assert d.inflation_factor == pytest.approx(1.018279, abs=5e-5)
    assert d.expected_information_h0 == pytest.approx(1.012586, abs=5e-5)
    assert d.expected_information_h1 == pytest.approx(0.7773131, abs=5e-5)


@pytest.mark.parametrize("k, pocock, obf", [(2, 2.178, 1.977), (3, 2.289, 2.004), (4, 2.361, 2.024),
                                            (5, 2.413, 2.040)])
def test_classical_constants(k, pocock, obf):
    # GS-01: two-sided alpha 0.05, equal spacing; Pocock constant C_P(K), O'Brien-Fleming C_B(K) sqrt(K / k)
    t = np.arange(1, k + 1) / k
    p = group_sequential_design(t, alpha=0.05, sided=2, efficacy="pocock")
    o = group_sequential_design(t, alpha=0.05, sided=2, efficacy="of")
    close(p.efficacy_z, np.full(k, pocock), 5e-4 + 1e-9)
    close(o.efficacy_z, obf * np.sqrt(k / np.arange(1, k + 1)), 5e-4 * math.sqrt(k) + 1e-9)
    assert p.cumulative_alpha[-1] == pytest.approx(0.05, abs=1e-12)


def test_lan_demets_spending_values():
    # GS-01: a = 0.025, t = 0.5
    assert cumulative_spending("ld-of", 0.025, [0.5])[0] == pytest.approx(0.001525322758, abs=1e-12)
    assert cumulative_spending("ld-pocock", 0.025, [0.5])[0] == pytest.approx(0.015502862674, abs=1e-12)
    t = np.array([0.0, 0.3, 1.0])
    close(cumulative_spending("hsd:0", 0.1, t), 0.1 * t, 1e-15)
    close(cumulative_spending("hsd:-4", 0.1, t), 0.1 * (1 - np.exp(4 * t)) / (1 - np.exp(4)), 1e-15)
    close(cumulative_spending("kd:3", 0.1, t), 0.1 * t ** 3, 1e-15)


# ---------------------------------------------------------------------------------------- independent checks


def _mvn(t, drift):
    t = np.asarray(t, dtype=float)
    cov = np.sqrt(np.minimum.outer(t, t) / np.maximum.outer(t, t))
    return multivariate_normal(mean=drift * np.sqrt(t), cov=cov, maxpts=2_000_000, abseps=1e-9, releps=1e-9)


@pytest.mark.parametrize("drift", [0.0, 2.1])
def test_crossing_probabilities_equal_multivariate_normal_rectangles(drift):
    # P(a_j < Z_j < b_j for j < k, Z_k >= b_k) as a rectangle probability of the canonical joint normal (Genz's
    # algorithm in scipy), K = 2 and 3, with and without a lower bound
    t, b, a = [0.3, 0.6, 1.0], [2.8, 2.4, 2.0], [-0.5, 0.3, -np.inf]
    p = crossing_probabilities(t, b, a, drift=drift)
    assert p.upper[0] == pytest.approx(norm.sf(b[0] - drift * math.sqrt(t[0])), abs=1e-14)
    k2 = _mvn(t[:2], drift).cdf([b[0], np.inf], lower_limit=[a[0], b[1]])
    k3 = _mvn(t, drift).cdf([b[0], b[1], np.inf], lower_limit=[a[0], a[1], b[2]])
    low2 = _mvn(t[:2], drift).cdf([b[0], a[1]], lower_limit=[a[0], -np.inf])
    close([p.upper[1], p.upper[2], p.lower[1]], [k2, k3, low2], 2e-7)
    q = crossing_probabilities(t, b, None, drift=drift)
    k3_open = _mvn(t, drift).cdf([b[0], b[1], np.inf], lower_limit=[-np.inf, -np.inf, b[2]])
    assert q.upper[2] == pytest.approx(k3_open, abs=2e-7)


@pytest.mark.slow
def test_design_against_monte_carlo_of_the_brownian_motion():
    # A naive check: simulate the score process S(t) = theta t + W(t) at the looks (independent increments),
    # Z_k = S(t_k) / sqrt(t_k), apply the bounds; every crossing probability within 5 standard errors.
    d = group_sequential_design([0.2, 0.45, 0.7, 1.0], alpha=0.025, power=0.85, efficacy="hsd:-2",
                                futility="ld-pocock", binding=True)
    lower, upper = d.stopping_bounds()
    t = np.array(d.information_fractions)
    rng = np.random.default_rng(20240611)
    n = 1_000_000
    for drift, eff, fut in ((0.0, d.efficacy_crossing_h0, d.futility_crossing_h0),
                            (d.drift, d.efficacy_crossing_h1, d.futility_crossing_h1)):
        s = np.cumsum(rng.standard_normal((n, t.size)) * np.sqrt(np.diff(t, prepend=0.0)) + drift * np.diff(
            t, prepend=0.0), axis=1)
        z = s / np.sqrt(t)
        alive = np.ones(n, dtype=bool)
        for k in range(t.size):
            up = alive & (z[:, k] >= upper[k])
            lo = alive & ~up & (z[:, k] <= lower[k]) if k < t.size - 1 else alive & ~up
            for got, p in ((up.mean(), eff[k]), (lo.mean(), fut[k])):
                assert abs(got - p) <= 5 * math.sqrt(p * (1 - p) / n) + 1e-12, (drift, k, got, p)
            alive &= ~(up | lo)


def test_recursion_accuracy_against_a_finer_grid():
    # The grid error falls as r^-4 (docs/sequential.md): r = 32 is within 2e-7 in z of r = 64
    for kw in (dict(efficacy="ld-of"), dict(efficacy="ld-pocock", futility="ld-of")):
        d = group_sequential_design([0.05, 0.1, 0.4, 1.0], **kw)
        fine = group_sequential_design([0.05, 0.1, 0.4, 1.0], r=64, **kw)
        close(d.efficacy_z, fine.efficacy_z, 2e-7)
        assert d.drift == pytest.approx(fine.drift, abs=4e-7)


# ----------------------------------------------------------------------------------------------- properties

FRACTIONS = st.lists(st.floats(0.05, 0.95), min_size=1, max_size=4, unique=True).map(
    lambda xs: sorted(xs) + [1.0]).filter(lambda t: min(np.diff([0.0] + t)) > 0.03)
EFFICACY = st.sampled_from(["of", "pocock", "wt:0.25", "ld-of", "ld-pocock", "hsd:-4", "hsd:1", "kd:1", "kd:3",
                            "haybittle-peto"])
FUTILITY = st.sampled_from([None, "ld-of", "ld-pocock", "hsd:-2", "kd:2"])


@settings(max_examples=25)
@given(t=FRACTIONS, efficacy=EFFICACY, alpha=st.floats(0.01, 0.1), factor=st.floats(1.1, 2.0),
       sided=st.sampled_from([1, 2]))
def test_more_alpha_lowers_every_bound(t, efficacy, alpha, factor, sided):
    lo = group_sequential_design(t, alpha=alpha, efficacy=efficacy, sided=sided)
    hi = group_sequential_design(t, alpha=alpha * factor, efficacy=efficacy, sided=sided)
    assert np.all(np.array(hi.efficacy_z) < np.array(lo.efficacy_z) + 1e-9)


@settings(max_examples=30)
@given(t=FRACTIONS, efficacy=EFFICACY, futility=FUTILITY, binding=st.booleans(), power=st.floats(0.6, 0.95))
def test_design_spends_exactly_alpha_and_beta(t, efficacy, futility, binding, power):
    d = group_sequential_design(t, alpha=0.025, power=power, efficacy=efficacy, futility=futility, binding=binding)
    assert np.all(np.diff(d.cumulative_alpha) >= -1e-15) and d.cumulative_alpha[-1] == pytest.approx(0.025, abs=1e-10)
    assert np.all(np.diff(d.cumulative_beta) >= -1e-15)
    assert d.cumulative_beta[-1] == pytest.approx(1 - power, abs=1e-9)
    assert sum(d.efficacy_crossing_h1) == pytest.approx(power, abs=1e-9)
    # with the trial stopping at every bound the type I error is alpha if binding, at most alpha otherwise
    assert sum(d.efficacy_crossing_h0) <= 0.025 + 1e-10
    if binding or futility is None:
        assert sum(d.efficacy_crossing_h0) == pytest.approx(0.025, abs=1e-10)
    for p in (d.efficacy_crossing_h0, d.futility_crossing_h0, d.efficacy_crossing_h1, d.futility_crossing_h1):
        assert min(p) >= -1e-12
    assert sum(d.efficacy_crossing_h0) + sum(d.futility_crossing_h0) == pytest.approx(1.0, abs=1e-12)
    assert d.inflation_factor >= 1 - 1e-7      # the recursion's accuracy; 1 exactly in theory
    assert d.expected_information_h1 <= d.inflation_factor + 1e-12
    if futility is not None:
        lower, upper = d.stopping_bounds()
        assert np.all(lower[:-1] < upper[:-1]) and lower[-1] == upper[-1]


@settings(max_examples=15)
@given(t=FRACTIONS, efficacy=st.sampled_from(["ld-of", "hsd:-4", "kd:2", "of", "haybittle-peto"]))
def test_binding_futility_lowers_the_efficacy_bounds(t, efficacy):
    if len(t) < 2:
        return
    free = group_sequential_design(t, efficacy=efficacy, futility="hsd:-2")
    bound = group_sequential_design(t, efficacy=efficacy, futility="hsd:-2", binding=True)
    assert bound.efficacy_z[-1] < free.efficacy_z[-1]
    assert np.all(np.array(bound.efficacy_z) <= np.array(free.efficacy_z) + 1e-9)


@pytest.mark.parametrize("sided, alpha", [(1, 0.025), (2, 0.05), (1, 0.1)])
@pytest.mark.parametrize("efficacy", ["of", "pocock", "ld-of", "hsd:-4", "kd:3", "haybittle-peto"])
def test_one_look_is_the_fixed_design(sided, alpha, efficacy):
    futility = "ld-of" if sided == 1 else None      # a futility bound has no interim to act at: dropped
    d = group_sequential_design([1.0], alpha=alpha, power=0.8, sided=sided, efficacy=efficacy, futility=futility)
    z = special.ndtri(1 - alpha / sided)
    assert d.efficacy_z[0] == pytest.approx(z, abs=1e-10)
    assert d.drift == pytest.approx(z + special.ndtri(0.8), abs=1e-9)
    assert d.inflation_factor == pytest.approx(1.0, abs=1e-9)
    assert d.futility_z == (None,)


def test_shapes_of_the_classical_families():
    t = np.array([0.2, 0.5, 0.9, 1.0])
    for efficacy, delta in (("of", 0.0), ("pocock", 0.5), ("wt:0.3", 0.3)):
        d = group_sequential_design(t, efficacy=efficacy)
        assert np.ptp(np.array(d.efficacy_z) / t ** (delta - 0.5)) < 1e-12
    hp = group_sequential_design(t, efficacy="haybittle-peto:3.29")
    assert hp.efficacy_z[:3] == (3.29, 3.29, 3.29)


def test_wang_tsiatis_with_binding_beta_spending_futility():
    # the constant c and the drift are solved together: alpha is exact with the trial stopping at futility
    d = group_sequential_design([0.3, 0.6, 1.0], efficacy="pocock", futility="hsd:-2", binding=True)
    p0 = d.crossing_probabilities(0.0)
    assert p0.upper.sum() == pytest.approx(0.025, abs=1e-10)
    assert np.ptp(d.efficacy_z) < 1e-12
    assert d.cumulative_beta[:2] == pytest.approx(list(cumulative_spending("hsd:-2", 0.1, [0.3, 0.6])), abs=1e-10)


def test_two_sided_design_is_symmetric():
    d = group_sequential_design([0.5, 1.0], alpha=0.05, sided=2, efficacy="ld-of")
    lower, upper = d.stopping_bounds()
    assert np.array_equal(lower, -upper)
    p0 = d.crossing_probabilities(0.0)
    close(p0.upper, p0.lower, 1e-15)
    close(np.cumsum(p0.upper + p0.lower), d.cumulative_alpha, 1e-12)
    assert d.futility_z == (None, None)


# ---------------------------------------------------------------------------------------- errors and output


@pytest.mark.parametrize("kwargs, field, words", [
    (dict(information_fractions=[0.5, 0.4, 1]), "information_fractions", "must be increasing"),
    (dict(information_fractions=[0.0, 1]), "information_fractions", "in (0, 1]"),
    (dict(information_fractions=[0.5, 1.5]), "information_fractions", "in (0, 1]"),
    (dict(information_fractions=[0.5, 0.9]), "information_fractions", "must end at 1"),
    (dict(efficacy="obrien"), "efficacy", "must be one of"),
    (dict(efficacy="hsd:-41"), "efficacy", "between -40 and 40"),
    (dict(efficacy="kd:-1"), "efficacy", "> 0"),
    (dict(efficacy="hsd"), "efficacy", "needs a parameter"),
    (dict(futility="pocock"), "futility", "must be one of"),
    (dict(futility="z:0,1"), "futility", "one z per interim"),
    (dict(futility="z:3"), "futility", "reaches the efficacy bound at look 1"),
    (dict(futility="ld-of", sided=2), "futility", "two-sided"),
    (dict(alpha=0.0), "alpha", "(0, 1)"),
    (dict(power=0.01), "power", "must exceed alpha"),
    (dict(sided=3), "sided", "1 or 2"),
    (dict(r=2), "r", "between 4 and 100"),
])
def test_bad_arguments_name_the_field(kwargs, field, words):
    kwargs = {"information_fractions": [0.5, 1.0], **kwargs}
    with pytest.raises(InputError) as err:
        group_sequential_design(**kwargs)
    assert err.value.field == field and words in str(err.value)
    assert str(err.value).startswith(f"`{field}` ")


def test_parse_spending_and_crossing_probability_arguments():
    assert parse_spending("HSD:-4").parameter == -4.0
    assert parse_spending("haybittle-peto").parameter == 3.0
    with pytest.raises(InputError, match="not a number"):
        parse_spending("z:a,b", role="futility")
    with pytest.raises(InputError, match="spending-function family"):
        cumulative_spending("of", 0.025, [0.5])
    with pytest.raises(InputError, match="one bound per look"):
        crossing_probabilities([0.5, 1], [2.0])
    with pytest.raises(InputError, match="must not exceed the upper bound"):
        crossing_probabilities([0.5, 1], [2.0, 2.0], [2.5, None])


def test_to_dict_is_plain_json():
    d = group_sequential_design([0.4, 1.0], efficacy="ld-of", futility="ld-of")
    out = json.loads(json.dumps(d.to_dict()))
    assert set(out) == {"looks", "inflation_factor", "expected_information_h0", "expected_information_h1"}
    assert [set(look) for look in out["looks"]] == [{
        "information_fraction", "efficacy_z", "futility_z", "nominal_p", "cumulative_alpha", "cumulative_beta",
        "efficacy_crossing_h0", "efficacy_crossing_h1", "futility_crossing_h0", "futility_crossing_h1"}] * 2
    assert out["looks"][0]["efficacy_z"] == d.efficacy_z[0]
    assert json.loads(json.dumps(group_sequential_design([0.4, 1.0]).to_dict()))["looks"][0]["futility_z"] is None
