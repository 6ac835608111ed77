"""Predictive-probability monitoring of a single-arm binary endpoint (Lee and Liu, Clinical Trials 2008;5:93-106).

With prior ``p ~ Beta(a, b)`` (or a beta mixture), ``x`` responses in the first ``n`` patients and a maximum of
``N`` patients, the trial is a *success* at the end if ``P(p > p0 | X_N) > theta_T``. Because that posterior
probability increases with ``X_N``, success means ``X_N >= k*``, with ``k*`` the smallest final count that
passes. The *predictive probability* of success given the interim data is

``PP(x, n) = sum_{y=0}^{N-n} P(Y = y | x, n) 1[P(p > p0 | x + y, N) > theta_T] = P(Y >= k* - x | x, n)``,

``Y`` the number of responses in the ``m = N - n`` remaining patients, beta-binomial ``(m, a + x, b + n - x)``
under a beta prior (a mixture of beta-binomials with the posterior weights under a mixture prior). At each
interim look the trial stops for futility when ``PP < theta_L`` and, optionally, for efficacy when
``PP > theta_U``; ``PP`` increases with ``x``, so both rules are count boundaries.

Operating characteristics are exact: the distribution of the response count among trials still running is
carried from look to look by convolution with the binomial distribution of the new patients' responses, and
the mass crossing a boundary is removed (Lee and Liu's "exact computation").

Design search (after Lee and Liu's search over Nmax, theta_T and theta_L): for each maximum ``N`` in increasing order, every pair
``(theta_T, theta_L)`` of the grids; the design is the smallest ``N`` with a pair meeting the type I error
``alpha`` at ``p0`` and the power at ``p1``; among that ``N``'s pairs the one with the smallest expected sample
size under ``p0`` (then the larger power, then the smaller ``theta_T`` and ``theta_L``).

Defaults and why: monitoring after every patient from the 10th (continuous monitoring after a minimum number
of patients; give ``looks`` to change it); futility stopping only (``theta_U = None``; efficacy stopping is
optional); comparisons strict (``>``, ``<``); R's phase1b and ph2bayes count equality as success, which gives
the same values whenever no probability equals a threshold exactly.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np
from scipy import special, stats

from ..exceptions import invalid
from ..model.validation import check_count, check_level, check_probability
from ..stats.posteriors import Beta, BetaMixture, BinaryPrior

__all__ = ["final_success_threshold", "predictive_probability", "predictive_probabilities", "PredictiveDesign",
           "DesignSearchResult", "search_predictive_design"]


def _prob(field_name: str, value, *, closed: bool = False) -> float:
    """A probability in [0, 1] (``closed``) or in (0, 1) (trialsim.model.validation)."""
    return check_probability(field_name, value) if closed else check_level(field_name, value)


def _int(field_name: str, value, low: int, high: int | None = None) -> int:
    """An integer in ``low .. high`` (trialsim.model.validation)."""
    return check_count(field_name, value, minimum=low, maximum=high)


def _prior(prior) -> BinaryPrior:
    if not isinstance(prior, (Beta, BetaMixture)):
        raise invalid("prior", "must be a Beta or a BetaMixture", prior)
    return prior


def _components(prior: BinaryPrior) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if isinstance(prior, Beta):
        return np.array([1.0]), np.array([prior.a]), np.array([prior.b])
    return (np.array(prior.weights), np.array([c.a for c in prior.components]),
            np.array([c.b for c in prior.components]))


def final_success_threshold(n_max: int, p0: float, theta_t: float, prior: BinaryPrior | None = None) -> int:
    """``k*``: the smallest final response count ``k`` with ``P(p > p0 | k of n_max) > theta_t``
    (``n_max + 1`` if none).

    Examples
    --------
    >>> final_success_threshold(40, 0.6, 0.9, Beta(0.6, 0.4))   # Lee and Liu's example: 12 of the last 17
    28
    """
    n_max = _int("n_max", n_max, 1)
    p0, theta_t = _prob("p0", p0), _prob("theta_t", theta_t, closed=True)
    prior = _prior(Beta(1.0, 1.0) if prior is None else prior)
    for k in range(n_max + 1):                      # the posterior probability increases with k
        if prior.update(k, n_max).sf(p0) > theta_t:
            return k
    return n_max + 1


def predictive_probabilities(n: int, n_max: int, p0: float, theta_t: float, prior: BinaryPrior | None = None,
                             k_star: int | None = None) -> np.ndarray:
    """``PP(x, n)`` for every ``x = 0..n`` (vectorised over ``x``); see the module docstring."""
    n_max = _int("n_max", n_max, 1)
    n = _int("n", n, 0, n_max)
    prior = _prior(Beta(1.0, 1.0) if prior is None else prior)
    if k_star is None:
        k_star = final_success_threshold(n_max, p0, theta_t, prior)
    x = np.arange(n + 1)[:, None]
    w, a, b = _components(prior)
    m = n_max - n
    logw = np.log(w)[None, :] + stats.betabinom.logpmf(x, n, a[None, :], b[None, :])
    post_w = np.exp(logw - special.logsumexp(logw, axis=1, keepdims=True))
    tail = stats.betabinom.sf(k_star - x - 1, m, a[None, :] + x, b[None, :] + n - x) if m > 0 \
        else (x >= k_star).astype(float)
    return np.clip(np.sum(post_w * tail, axis=1), 0.0, 1.0)


def predictive_probability(x: int, n: int, n_max: int, p0: float, theta_t: float,
                           prior: BinaryPrior | None = None) -> float:
    """Predictive probability of final success given ``x`` responses in ``n`` patients (Lee and Liu 2008).

    Examples
    --------
    >>> round(predictive_probability(16, 23, 40, 0.6, 0.9, Beta(0.6, 0.4)), 4)   # Lee and Liu 2008, p. 97
    0.5656
    """
    n_max = _int("n_max", n_max, 1)
    n = _int("n", n, 0, n_max)
    x = _int("x", x, 0, n)
    return float(predictive_probabilities(n, n_max, p0, theta_t, prior)[x])


def _looks(looks, n_max: int, first_look: int) -> tuple[int, ...]:
    if looks is None:
        return tuple(range(max(1, first_look), n_max))
    out = tuple(sorted({_int("looks", v, 1, n_max - 1) for v in looks}))
    return out


@dataclass(frozen=True)
class PredictiveDesign:
    """A predictive-probability monitoring design.

    Parameters
    ----------
    n_max
        Maximum number of patients ``N``.
    p0
        Response rate of the standard treatment (``H0: p <= p0``).
    theta_t
        Final success threshold on ``P(p > p0 | data)``.
    theta_l
        Futility threshold: stop at an interim look when ``PP < theta_l``.
    theta_u
        Efficacy threshold: stop for success when ``PP > theta_u``; ``None``: no efficacy stopping.
    prior
        Beta or beta-mixture prior of ``p``; default ``Beta(1, 1)``.
    looks
        Interim looks (numbers of patients, below ``n_max``); default every patient from ``first_look``.

    Examples
    --------
    >>> d = PredictiveDesign(40, 0.2, theta_t=0.8, theta_l=0.1, theta_u=0.9, looks=(10, 20, 30))
    >>> d.k_star, d.futility_bounds, d.efficacy_bounds
    (10, (0, 2, 5), (4, 7, 9))
    """

    n_max: int
    p0: float
    theta_t: float
    theta_l: float
    theta_u: float | None = None
    prior: BinaryPrior = field(default_factory=lambda: Beta(1.0, 1.0))
    looks: Sequence[int] | None = None
    first_look: int = 10
    k_star: int = field(init=False, repr=False)
    futility_bounds: tuple[int, ...] = field(init=False, repr=False)
    efficacy_bounds: tuple[int, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        n_max = _int("n_max", self.n_max, 2)
        object.__setattr__(self, "n_max", n_max)
        object.__setattr__(self, "p0", _prob("p0", self.p0))
        object.__setattr__(self, "theta_t", _prob("theta_t", self.theta_t, closed=True))
        object.__setattr__(self, "theta_l", _prob("theta_l", self.theta_l, closed=True))
        if self.theta_u is not None:
            object.__setattr__(self, "theta_u", _prob("theta_u", self.theta_u, closed=True))
            if self.theta_u < self.theta_l:
                raise invalid("theta_u", f"must be >= theta_l = {self.theta_l}", self.theta_u)
        _prior(self.prior)
        _int("first_look", self.first_look, 1)
        looks = _looks(self.looks, n_max, self.first_look)
        object.__setattr__(self, "looks", looks)
        k_star = final_success_threshold(n_max, self.p0, self.theta_t, self.prior)
        fut, eff = [], []
        for n in looks:
            pp = predictive_probabilities(n, n_max, self.p0, self.theta_t, self.prior, k_star)
            fut.append(int(np.sum(pp < self.theta_l)) - 1)             # stop if x <= bound (-1: never)
            eff.append(n + 1 if self.theta_u is None else int(n + 1 - np.sum(pp > self.theta_u)))
        object.__setattr__(self, "k_star", k_star)
        object.__setattr__(self, "futility_bounds", tuple(fut))
        object.__setattr__(self, "efficacy_bounds", tuple(eff))

    def decision(self, x: int, n: int) -> str:
        """``"stop-futility"``, ``"stop-efficacy"`` or ``"continue"`` at a look; ``"success"`` or
        ``"failure"`` at ``n_max``; ``"continue"`` between looks."""
        n = _int("n", n, 1, self.n_max)
        x = _int("x", x, 0, n)
        if n == self.n_max:
            return "success" if x >= self.k_star else "failure"
        looks = self.looks
        assert looks is not None  # __post_init__ sets the looks (the default: every patient from first_look)
        if n not in looks:
            return "continue"
        j = looks.index(n)
        if x <= self.futility_bounds[j]:
            return "stop-futility"
        if x >= self.efficacy_bounds[j]:
            return "stop-efficacy"
        return "continue"

    def operating_characteristics(self, p: float) -> dict:
        """Exact operating characteristics at the true response rate ``p``.

        Returns ``reject`` (P(declare the treatment promising): efficacy stops plus final successes; the
        type I error at ``p0``, the power at ``p1``), ``pet`` (probability of stopping before ``n_max``),
        ``pet_futility``, ``pet_efficacy`` and ``en`` (expected number of patients).
        """
        p = _prob("p", p, closed=True)
        return _oc(self.looks, self.futility_bounds, self.efficacy_bounds, self.k_star, self.n_max, p)


@functools.lru_cache(maxsize=4096)
def _step_pmf(size: int, p: float) -> np.ndarray:
    return stats.binom.pmf(np.arange(size + 1), size, p)


def _oc(looks, fut, eff, k_star, n_max, p) -> dict:
    mass = np.array([1.0])                          # P(still running, x responses so far)
    n_prev, en, stop_f, stop_e = 0, 0.0, 0.0, 0.0
    for n, lo, hi in zip(looks, fut, eff):
        mass = np.convolve(mass, _step_pmf(n - n_prev, p))
        f = mass[:max(lo + 1, 0)].sum()
        e = mass[hi:].sum() if hi <= n else 0.0
        mass[:max(lo + 1, 0)] = 0.0
        if hi <= n:
            mass[hi:] = 0.0
        stop_f, stop_e, en, n_prev = stop_f + f, stop_e + e, en + n * (f + e), n
    mass = np.convolve(mass, _step_pmf(n_max - n_prev, p))
    final = mass.sum()
    success = mass[k_star:].sum() if k_star <= n_max else 0.0
    return {"reject": float(stop_e + success), "pet": float(stop_f + stop_e), "pet_futility": float(stop_f),
            "pet_efficacy": float(stop_e), "en": float(en + n_max * final)}


@dataclass(frozen=True)
class DesignSearchResult:
    """The chosen design, its operating characteristics at ``p0`` and ``p1``, and every feasible
    ``(theta_T, theta_L)`` pair at the chosen ``n_max`` with its characteristics."""

    design: PredictiveDesign
    oc0: dict
    oc1: dict
    feasible: tuple = ()


def search_predictive_design(p0: float, p1: float, alpha: float = 0.1, power: float = 0.9,
                             n_range: Iterable[int] = range(10, 61),
                             theta_t_grid: Iterable[float] = tuple(np.round(np.arange(0.80, 0.991, 0.01), 2)),
                             theta_l_grid: Iterable[float] = tuple(np.round(np.arange(0.001, 0.201, 0.001), 3)),
                             prior: BinaryPrior | None = None, first_look: int = 10,
                             theta_u: float | None = None) -> DesignSearchResult:
    """Smallest ``n_max`` (and its best ``theta_T``, ``theta_L``) meeting ``alpha`` at ``p0`` and ``power`` at
    ``p1`` (Lee and Liu 2008); see the module docstring for the choice among feasible pairs.

    Looks are every patient from ``first_look`` to ``n_max - 1``. Each ``(k*, boundaries)`` is evaluated
    once: many threshold pairs give the same boundaries.

    Examples
    --------
    >>> res = search_predictive_design(0.2, 0.4, 0.1, 0.9, n_range=range(30, 41),
    ...                                theta_t_grid=(0.85, 0.9), theta_l_grid=(0.01, 0.05))
    >>> d = res.design
    >>> d.n_max, d.theta_t, d.theta_l, round(res.oc0["reject"], 4), round(res.oc1["reject"], 4), round(res.oc0["en"], 2)
    (36, 0.9, 0.01, 0.0867, 0.9038, 25.83)
    """
    p0, p1 = _prob("p0", p0), _prob("p1", p1)
    if p1 <= p0:
        raise invalid("p1", f"must be greater than p0 = {p0}", p1)
    alpha, power = _prob("alpha", alpha), _prob("power", power)
    prior = _prior(Beta(1.0, 1.0) if prior is None else prior)
    t_grid = sorted({_prob("theta_t_grid", v, closed=True) for v in theta_t_grid})
    l_grid = sorted({_prob("theta_l_grid", v, closed=True) for v in theta_l_grid})
    sizes = sorted({_int("n_range", v, 2) for v in n_range})
    if not t_grid or not l_grid or not sizes:
        raise invalid("grids", "must each have at least one value", (len(t_grid), len(l_grid), len(sizes)))
    l_arr = np.array(l_grid)
    for n_max in sizes:
        looks = _looks(None, n_max, first_look)
        groups: dict = {}                              # PP depends on theta_T only through k*
        for theta_t in t_grid:
            k_star = final_success_threshold(n_max, p0, theta_t, prior)
            if k_star <= n_max:
                groups.setdefault(k_star, []).append(theta_t)
        feasible: list[tuple[float, float, dict[str, Any], dict[str, Any]]] = []  # theta_t, theta_l, OC h0, h1
        for k_star, thetas in groups.items():
            pps = [predictive_probabilities(n, n_max, p0, thetas[0], prior, k_star) for n in looks]
            effs = tuple(n + 1 if theta_u is None else int(n + 1 - np.sum(pp > theta_u))
                         for n, pp in zip(looks, pps))
            # PP increases with x: the futility bound for every theta_L at once is a sorted-array search
            futs = np.array([np.searchsorted(pp, l_arr, side="left") - 1 for pp in pps]).T.reshape(len(l_arr), -1)
            rows, inverse = np.unique(futs, axis=0, return_inverse=True)
            ocs = []
            for row in rows:
                oc0 = _oc(looks, tuple(int(v) for v in row), effs, k_star, n_max, p0)
                oc1 = _oc(looks, tuple(int(v) for v in row), effs, k_star, n_max, p1) \
                    if oc0["reject"] <= alpha + 1e-12 else None
                ocs.append((oc0, oc1))
            for i, theta_l in enumerate(l_grid):
                if theta_u is not None and theta_u < theta_l:
                    continue
                oc0, oc1 = ocs[int(np.ravel(inverse)[i])]
                if oc1 is not None and oc1["reject"] >= power - 1e-12:
                    feasible.extend((theta_t, theta_l, oc0, oc1) for theta_t in thetas)
        if feasible:
            theta_t, theta_l, oc0, oc1 = min(feasible, key=lambda f: (f[2]["en"], -f[3]["reject"], f[0], f[1]))
            design = PredictiveDesign(n_max, p0, theta_t, theta_l, theta_u, prior, looks=looks)
            return DesignSearchResult(design, oc0, oc1, tuple(feasible))
    raise invalid("n_range", "has no maximum sample size meeting alpha and power on these grids", (sizes[0], sizes[-1]))
