"""Simon's two-stage designs (trialsim.design.simon) against published designs and an independent brute force.

Sources of the reference values (copied here):

- Simon R. Optimal two-stage designs for phase II clinical trials. Controlled Clinical Trials 1989;10:1-10,
  Table 1 (alpha 0.05, power 0.80, p1 = p0 + 0.2), optimal designs (r1/n1, r/n); for p0 = 0.1 EN0 15.0141 and
  PET0 0.7361 (docs/references.md, BIN-05).
- R package clinfun (github.com/veseshan/clinfun, reference page ``dev/reference/ph2simon.html``, the
  example output printed by ``ph2simon``): ``ph2simon(0.2, 0.4, 0.1, 0.1)`` -> optimal 3/17, 10/37,
  EN(p0) 26.02, PET(p0) 0.5489; minimax 3/19, 10/36, 28.26, 0.4551. ``ph2simon(0.2, 0.35, 0.05, 0.05,
  nmax = 150)`` -> optimal 11/50, 28/109, 67.07, 0.7107; minimax 15/68, 25/95, 75.44, 0.7244.

Simon's Table 1 also lists minimax designs; their printed values were not available to this project, so the
minimax search is checked against clinfun's printed minimax designs and against the brute force below.
"""

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, strategies as st

from trialsim.design.simon import SimonDesign, simon_design, simon_oc, single_stage_n
from trialsim.exceptions import InputError, TrialsimWarning

# Simon (1989) Table 1: p0 -> (r1, n1, r, n), optimal designs, alpha 0.05, power 0.80, p1 = p0 + 0.2.
SIMON_TABLE1_OPTIMAL = {0.1: (1, 10, 5, 29), 0.2: (3, 13, 12, 43), 0.3: (5, 15, 18, 46), 0.4: (7, 16, 23, 46),
                        0.5: (8, 15, 26, 43), 0.6: (7, 11, 30, 43), 0.7: (4, 6, 22, 27)}


@pytest.mark.parametrize("p0", sorted(SIMON_TABLE1_OPTIMAL))
def test_optimal_designs_equal_simon_table_1(p0):
    d = simon_design(p0, round(p0 + 0.2, 10), alpha=0.05, power=0.80)
    assert (d.r1, d.n1, d.r, d.n) == SIMON_TABLE1_OPTIMAL[p0]
    assert d.alpha <= 0.05 and d.power >= 0.80


def test_simon_table_1_en0_and_pet0_for_p0_0_1():
    d = simon_design(0.1, 0.3)
    assert d.en0 == pytest.approx(15.0141, abs=5e-5)    # printed to 4 decimals
    assert d.pet0 == pytest.approx(0.7361, abs=5e-5)
    assert d.to_dict() == {"r1": 1, "n1": 10, "r": 5, "n": 29, "en0": d.en0, "pet0": d.pet0,
                           "alpha": d.alpha, "power": d.power}


def test_clinfun_example_alpha_0_1_power_0_9():
    opt = simon_design(0.2, 0.4, 0.1, 0.9)
    mm = simon_design(0.2, 0.4, 0.1, 0.9, kind="minimax")
    assert (opt.r1, opt.n1, opt.r, opt.n) == (3, 17, 10, 37)
    assert (round(opt.en0, 2), round(opt.pet0, 4)) == (26.02, 0.5489)
    assert (mm.r1, mm.n1, mm.r, mm.n) == (3, 19, 10, 36)
    assert (round(mm.en0, 2), round(mm.pet0, 4)) == (28.26, 0.4551)


@pytest.mark.slow
def test_clinfun_example_alpha_0_05_power_0_95():
    opt = simon_design(0.2, 0.35, 0.05, 0.95, n_max=150)
    mm = simon_design(0.2, 0.35, 0.05, 0.95, kind="minimax", n_max=150)
    assert (opt.r1, opt.n1, opt.r, opt.n, round(opt.en0, 2), round(opt.pet0, 4)) == (11, 50, 28, 109, 67.07, 0.7107)
    assert (mm.r1, mm.n1, mm.r, mm.n, round(mm.en0, 2), round(mm.pet0, 4)) == (15, 68, 25, 95, 75.44, 0.7244)


def _binom_pmf(x: int, m: int, p: float) -> float:
    return math.comb(m, x) * p ** x * (1.0 - p) ** (m - x) if 0 <= x <= m else 0.0


def _reject(r1, n1, r, n, p) -> float:
    """Simon's equation for P(reject H0), as a plain double sum over (x1, x2)."""
    n2 = n - n1
    return sum(_binom_pmf(x1, n1, p) * _binom_pmf(x2, n2, p)
               for x1 in range(r1 + 1, n1 + 1) for x2 in range(n2 + 1) if x1 + x2 > r)


def _brute_force(p0, p1, alpha, power, n_max, kind):
    """Independent plain-loop search of every (r1, n1, r, n) with n <= n_max, 0 <= r1 < n1 < n, r1 <= r < n."""
    best = None
    for n in range(2, n_max + 1):
        if kind == "minimax" and best is not None:
            break
        for n1 in range(1, n):
            for r1 in range(n1):
                for r in range(r1, n):
                    a = _reject(r1, n1, r, n, p0)
                    if a > alpha + 1e-12:
                        continue
                    if _reject(r1, n1, r, n, p1) < power - 1e-12:
                        break                           # power falls with r
                    pet = sum(_binom_pmf(x, n1, p0) for x in range(r1 + 1))
                    en = n1 + (1 - pet) * (n - n1)
                    key = (en, n, n1, r) if kind == "optimal" else (n, en, n1, r)
                    if best is None or key < best[0]:
                        best = (key, (r1, n1, r, n))
    return best[1]


@pytest.mark.parametrize("p0, p1, n_max, kind", [(0.05, 0.25, 22, "optimal"), (0.05, 0.25, 22, "minimax"),
                                                 (0.1, 0.3, 26, "minimax"), (0.7, 0.9, 28, "optimal"),
                                                 (0.7, 0.9, 28, "minimax")])
def test_search_equals_brute_force(p0, p1, n_max, kind):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TrialsimWarning)
        d = simon_design(p0, p1, 0.05, 0.8, kind=kind, n_max=n_max)
    assert (d.r1, d.n1, d.r, d.n) == _brute_force(p0, p1, 0.05, 0.8, n_max, kind)


@pytest.mark.slow
def test_minimax_p0_0_2_equals_brute_force():
    d = simon_design(0.2, 0.4, kind="minimax")
    assert (d.r1, d.n1, d.r, d.n) == _brute_force(0.2, 0.4, 0.05, 0.8, 40, "minimax")


@given(st.integers(2, 30), st.data(), st.floats(0.01, 0.99))
def test_simon_oc_equals_the_double_sum(n, data, p):
    n1 = data.draw(st.integers(1, n - 1))
    r1 = data.draw(st.integers(0, n1))
    r = data.draw(st.integers(0, n))
    oc = simon_oc(r1, n1, r, n, p)
    assert oc["reject"] == pytest.approx(_reject(r1, n1, r, n, p), abs=1e-12)
    pet = sum(_binom_pmf(x, n1, p) for x in range(r1 + 1))
    assert oc["pet"] == pytest.approx(pet, abs=1e-12)
    assert oc["en"] == pytest.approx(n1 + (1 - pet) * (n - n1), rel=1e-12)
    assert 0.0 <= oc["reject"] <= 1.0 - oc["pet"] + 1e-12


def test_attained_errors_are_those_of_the_design():
    d = simon_design(0.3, 0.5, kind="minimax")
    assert d.alpha == pytest.approx(simon_oc(d.r1, d.n1, d.r, d.n, 0.3)["reject"], abs=1e-13)
    assert d.power == pytest.approx(simon_oc(d.r1, d.n1, d.r, d.n, 0.5)["reject"], abs=1e-13)
    assert isinstance(d, SimonDesign) and d.kind == "minimax"


def test_single_stage_n_is_the_smallest_exact_one_stage_design():
    n, r = single_stage_n(0.1, 0.3)
    from scipy import stats
    assert stats.binom.sf(r, n, 0.1) <= 0.05 and stats.binom.sf(r, n, 0.3) >= 0.8
    assert not any(stats.binom.sf(k, n - 1, 0.1) <= 0.05 and stats.binom.sf(k, n - 1, 0.3) >= 0.8
                   for k in range(n))


def test_warns_when_the_optimum_is_at_n_max():
    with pytest.warns(TrialsimWarning, match="n_max"):
        simon_design(0.1, 0.3, n_max=29)


@pytest.mark.parametrize("kwargs, field", [
    (dict(p0=0.3, p1=0.3), "p1"), (dict(p0=0.4, p1=0.2), "p1"), (dict(p0=0.0, p1=0.2), "p0"),
    (dict(p0=0.1, p1=1.2), "p1"), (dict(p0=0.1, p1=0.3, alpha=1.5), "alpha"),
    (dict(p0=0.1, p1=0.3, power=0.01, alpha=0.05), "power"), (dict(p0=0.1, p1=0.3, kind="best"), "kind"),
    (dict(p0=0.1, p1=0.3, n_max=10), "n_max"), (dict(p0=0.1, p1=0.3, n_max=2.5), "n_max"),
    (dict(p0=float("nan"), p1=0.3), "p0")])
def test_bad_input_is_an_input_error(kwargs, field):
    with pytest.raises(InputError) as err:
        simon_design(**kwargs)
    assert err.value.field == field
    assert str(err.value).startswith(f"`{field}` ")


@pytest.mark.parametrize("args, field", [((1, 10, 5, 10, 0.1), "n1"), ((11, 10, 5, 29, 0.1), "r1"),
                                         ((1, 10, 5, 29, 1.5), "p"), ((1, 10, 30, 29, 0.1), "r")])
def test_simon_oc_bad_input(args, field):
    with pytest.raises(InputError) as err:
        simon_oc(*args)
    assert err.value.field == field


def test_vector_p():
    oc = simon_oc(1, 10, 5, 29, np.array([0.1, 0.3]))
    assert oc["reject"].shape == (2,) and oc["reject"][1] >= 0.8


def test_ctd_mas_designs_in_docs_bayesian():
    # docs/bayesian.md, section 5: p0 = 13/21 rounded to 0.62, p1 = 0.85, alpha 0.05, power 0.80
    opt, mm = simon_design(0.62, 0.85), simon_design(0.62, 0.85, kind="minimax")
    assert (opt.r1, opt.n1, opt.r, opt.n, round(opt.en0, 2), round(opt.pet0, 3)) == (6, 9, 20, 27, 13.88, 0.729)
    assert (mm.r1, mm.n1, mm.r, mm.n, round(mm.en0, 2), round(mm.pet0, 3)) == (14, 19, 18, 24, 19.48, 0.904)
    assert single_stage_n(0.62, 0.85) == (25, 19)


# ----------------------------------------------------------------- simulated under the CTD-MAS model (monitoring)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["optimal", "minimax"])
@pytest.mark.parametrize("arm, endpoint", [(0, "survival_binary"), (1, "survival_binary"), (0, "response")])
def test_simulated_operating_characteristics_agree_with_the_exact_ones(kind, arm, endpoint):
    # every status is known at the horizon (no dropout), so each patient is a Bernoulli of the arm's rate and the
    # simulated trials must reproduce simon_oc at that rate (4 s.e.)
    from trialsim.design.monitoring import monitoring_oc

    design = simon_design(0.62, 0.85, kind=kind)
    oc = monitoring_oc(design, arm=arm, endpoint=endpoint, n_replicates=8000, seed=17, n_jobs=1)
    exact = simon_oc(design.r1, design.n1, design.r, design.n, oc.p)
    assert (oc.exact_reject, oc.exact_pet, oc.exact_en) == (exact["reject"], exact["pet"], exact["en"])
    assert abs(oc.reject - exact["reject"]) <= 4 * math.sqrt(exact["reject"] * (1 - exact["reject"]) / 8000)
    assert abs(oc.pet - exact["pet"]) <= 4 * math.sqrt(exact["pet"] * (1 - exact["pet"]) / 8000)
    assert abs(oc.en - exact["en"]) <= 4 * oc.en_standard_error + 1e-12


def test_monitoring_boundaries_of_a_simon_design():
    from trialsim.design.monitoring import boundaries

    d = simon_design(0.62, 0.85)
    assert boundaries(d) == ((9,), (6,), (10,), 21, 27)             # stop at <= 6 of 9; success > 20 of 27
    with pytest.raises(InputError):
        boundaries((6, 9, 20, 27))
