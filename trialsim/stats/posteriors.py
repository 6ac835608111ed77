"""Conjugate posteriors for binary and exponential-hazard data, their finite mixtures, the usual priors
(uniform, Jeffreys, power prior, robust mixture) and exact posterior probabilities of superiority.

Models
------
- Binary: ``x`` successes of ``n`` given ``p``; prior ``Beta(a, b)``; posterior ``Beta(a + x, b + n - x)``.
- Exponential hazard: ``d`` deaths in total exposure ``E`` (person-time) given hazard ``lambda``; the likelihood
  is ``lambda^d exp(-lambda E)``; prior ``Gamma(a, b)`` (shape ``a``, rate ``b``); posterior
  ``Gamma(a + d, b + E)``.
- Mixtures ``sum_k w_k pi_k``: each component is updated as above and its weight is multiplied by the
  component's marginal likelihood of the data, ``w_k' = w_k m_k / sum_j w_j m_j``, with ``m_k`` the
  beta-binomial probability of ``x`` (binary) or the negative-binomial (gamma-Poisson) probability of ``d``
  deaths in exposure ``E`` (exponential; the factor ``E^d / d!`` it carries is common to the components and
  cancels, so the weights are those of the exponential likelihood).

Effective sample size (ESS): ``a + b`` for a beta prior, ``a`` (deaths) for a gamma prior; for a mixture the
*moment-based* ESS, the ESS of the beta (gamma) with the mixture's mean and variance, as
``RBesT::ess(method = "moment")`` (Neuenschwander B, Weber S, Schmidli H, O'Hagan A. Predictively consistent
prior effective sample sizes. Biometrics 2020;76:578-587). It is not the Morita-Thall-Mueller ESS (Biometrics
2008;64:595-602), which can differ for mixtures.

References
----------
Ibrahim JG, Chen M-H. Power prior distributions for regression models. Stat Sci 2000;15:46-60.
Schmidli H, Gsteiger S, Roychoudhury S, O'Hagan A, Spiegelhalter D, Neuenschwander B. Robust meta-analytic-
predictive priors in clinical trials with historical control information. Biometrics 2014;70:1023-1032.
Cook JD. Exact calculation of beta inequalities. UT MD Anderson Cancer Center, Dept of Biostatistics technical
report, 2005.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, Self, Sequence, Union

import numpy as np
from scipy import integrate, optimize, special, stats

from ..exceptions import invalid
from ..model.validation import check_count, check_nonnegative, check_positive, check_probability

__all__ = ["Beta", "Gamma", "BetaMixture", "GammaMixture", "BinaryPrior", "HazardPrior", "uniform", "jeffreys",
           "parse_beta_prior", "power_prior_beta", "power_prior_gamma", "robust_mixture", "prob_greater",
           "prob_greater_sum", "prob_greater_quad", "prob_greater_table", "prob_ratio_below"]


def _out(value):
    """A 0-d result as a Python float, arrays unchanged."""
    arr = np.asarray(value, dtype=float)
    return float(arr) if arr.ndim == 0 else arr


# the package's validators (trialsim.model.validation), under the names this module uses
_positive, _nonneg, _unit = check_positive, check_nonnegative, check_probability


def _count(field: str, value, upper: int | None = None) -> int:
    """An integer >= 0 (at most ``upper``)."""
    return check_count(field, value, minimum=0, maximum=upper)


@dataclass(frozen=True)
class Beta:
    """Beta(a, b) distribution of a probability ``p``: prior or posterior of binomial data.

    Examples
    --------
    >>> post = Beta(1, 1).update(19, 20)        # uniform prior, 19 of 20 alive
    >>> post
    Beta(a=20.0, b=2.0)
    >>> round(post.mean(), 4), round(post.sf(0.62), 4), post.ess()
    (0.9091, 0.9994, 22.0)
    """

    a: float
    b: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "a", _positive("Beta.a", self.a))
        object.__setattr__(self, "b", _positive("Beta.b", self.b))

    def _dist(self):
        return stats.beta(self.a, self.b)

    def mean(self) -> float:
        """``a / (a + b)``."""
        return self.a / (self.a + self.b)

    def var(self) -> float:
        """``a b / ((a + b)^2 (a + b + 1))``."""
        s = self.a + self.b
        return self.a * self.b / (s * s * (s + 1.0))

    def pdf(self, p):
        return _out(self._dist().pdf(p))

    def cdf(self, p):
        """``P(p_random <= p)``, the regularised incomplete beta function ``I_p(a, b)``."""
        return _out(special.betainc(self.a, self.b, np.clip(p, 0.0, 1.0)))

    def sf(self, p):
        """``P(p_random > p) = I_{1-p}(b, a)`` (computed directly, no cancellation)."""
        return _out(special.betainc(self.b, self.a, 1.0 - np.clip(p, 0.0, 1.0)))

    def ppf(self, q):
        """Quantile: the ``p`` with ``cdf(p) = q``."""
        return _out(special.betaincinv(self.a, self.b, q))

    def sample(self, rng: np.random.Generator, size=None):
        """Draws from the distribution with the caller's ``numpy.random.Generator``."""
        return rng.beta(self.a, self.b, size)

    def ess(self) -> float:
        """Effective sample size ``a + b`` (prior successes plus failures)."""
        return self.a + self.b

    def update(self, x: int, n: int) -> "Beta":
        """Posterior after ``x`` successes in ``n`` trials: ``Beta(a + x, b + n - x)``."""
        n = _count("n", n)
        x = _count("x", x, n)
        return Beta(self.a + x, self.b + n - x)

    def log_marginal(self, x: int, n: int) -> float:
        """Log beta-binomial probability of ``x`` successes in ``n``: the marginal likelihood of the data."""
        n = _count("n", n)
        x = _count("x", x, n)
        return float(stats.betabinom.logpmf(x, n, self.a, self.b))

    def predictive_sf(self, k, m: int):
        """``P(Y > k)`` for ``m`` future trials, ``Y`` beta-binomial(m, a, b) (the posterior predictive)."""
        return _out(stats.betabinom.sf(k, m, self.a, self.b))


@dataclass(frozen=True)
class Gamma:
    """Gamma(a, b) distribution (shape ``a``, rate ``b``) of an exponential hazard ``lambda``.

    Examples
    --------
    >>> post = Gamma(1, 10).update(7, 200.0)    # 7 deaths in 200 person-months
    >>> post, round(post.mean(), 5), post.ess()
    (Gamma(a=8.0, b=210.0), 0.0381, 8.0)
    """

    a: float
    b: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "a", _positive("Gamma.a", self.a))
        object.__setattr__(self, "b", _positive("Gamma.b", self.b))

    def _dist(self):
        return stats.gamma(self.a, scale=1.0 / self.b)

    def mean(self) -> float:
        """``a / b``."""
        return self.a / self.b

    def var(self) -> float:
        """``a / b^2``."""
        return self.a / (self.b * self.b)

    def pdf(self, lam):
        return _out(self._dist().pdf(lam))

    def cdf(self, lam):
        """``P(lambda <= lam)``, the regularised lower incomplete gamma ``P(a, b lam)``."""
        return _out(special.gammainc(self.a, self.b * np.maximum(lam, 0.0)))

    def sf(self, lam):
        return _out(special.gammaincc(self.a, self.b * np.maximum(lam, 0.0)))

    def ppf(self, q):
        return _out(special.gammaincinv(self.a, q) / self.b)

    def sample(self, rng: np.random.Generator, size=None):
        return rng.gamma(self.a, 1.0 / self.b, size)

    def ess(self) -> float:
        """Effective sample size ``a``, in deaths (the rate ``b`` is the prior's exposure)."""
        return self.a

    def update(self, deaths: int, exposure: float) -> "Gamma":
        """Posterior after ``deaths`` in total ``exposure``: ``Gamma(a + d, b + E)``."""
        return Gamma(self.a + _count("deaths", deaths), self.b + _nonneg("exposure", exposure))

    def log_marginal(self, deaths: int, exposure: float) -> float:
        """Log negative-binomial probability of ``deaths`` in ``exposure`` (Poisson count with gamma rate):
        ``log[Gamma(a + d) / (Gamma(a) d!) (b / (b + E))^a (E / (b + E))^d]``."""
        d = _count("deaths", deaths)
        e = _nonneg("exposure", exposure)
        out = special.gammaln(self.a + d) - special.gammaln(self.a) - special.gammaln(d + 1.0)
        out += self.a * math.log(self.b / (self.b + e))
        return float(out + (d * math.log(e / (self.b + e)) if d > 0 else 0.0))


@dataclass(frozen=True)
class _Mixture:
    """Finite mixture ``sum_k w_k component_k``; the weights are normalised to sum 1."""

    weights: tuple[float, ...]
    components: tuple[Any, ...]
    _component: ClassVar[type] = object
    _name: ClassVar[str] = "Mixture"

    def __post_init__(self) -> None:
        comps = tuple(self.components)
        if not comps or not all(isinstance(c, self._component) for c in comps):
            raise invalid(f"{self._name}.components", f"must be a non-empty sequence of {self._component.__name__}",
                          self.components)
        w = tuple(_nonneg(f"{self._name}.weights", v) for v in self.weights)
        if len(w) != len(comps) or sum(w) <= 0:
            raise invalid(f"{self._name}.weights", "must be one weight >= 0 per component, not all 0", self.weights)
        total = math.fsum(w)
        object.__setattr__(self, "weights", tuple(v / total for v in w))
        object.__setattr__(self, "components", comps)

    def _sum(self, method: str, arg):
        return _out(sum(w * getattr(c, method)(arg) for w, c in zip(self.weights, self.components)))

    def mean(self) -> float:
        return math.fsum(w * c.mean() for w, c in zip(self.weights, self.components))

    def var(self) -> float:
        """``sum_k w_k (v_k + m_k^2) - m^2``."""
        m = self.mean()
        return math.fsum(w * (c.var() + (c.mean() - m) ** 2) for w, c in zip(self.weights, self.components))

    def pdf(self, x):
        return self._sum("pdf", x)

    def cdf(self, x):
        return self._sum("cdf", x)

    def sf(self, x):
        return self._sum("sf", x)

    def ppf(self, q):
        """Quantile by root finding, bracketed by the components' quantiles (the mixture cdf is their
        weighted mean, so its ``q``-quantile lies between their smallest and largest ``q``-quantiles)."""
        def one(qq: float) -> float:
            ends = [float(c.ppf(qq)) for c in self.components]
            lo, hi = min(ends), max(ends)
            if hi - lo <= 1e-15 * max(1.0, abs(hi)) or qq <= 0.0 or qq >= 1.0:
                return lo
            return optimize.brentq(lambda v: float(self.cdf(v)) - qq, lo, hi, xtol=1e-14, rtol=1e-13)
        out = np.vectorize(one, otypes=[float])(np.asarray(q, dtype=float))
        return float(out) if out.ndim == 0 else out

    def sample(self, rng: np.random.Generator, size=None):
        """Draws: a component index with probabilities ``weights``, then a draw from that component."""
        n = 1 if size is None else int(np.prod(size))
        which = rng.choice(len(self.components), size=n, p=self.weights)
        out = np.empty(n)
        for k, comp in enumerate(self.components):
            hit = which == k
            out[hit] = comp.sample(rng, int(hit.sum()))
        return float(out[0]) if size is None else out.reshape(size)

    def log_marginal(self, *data) -> float:
        terms = [math.log(w) + c.log_marginal(*data) for w, c in zip(self.weights, self.components) if w > 0]
        return float(special.logsumexp(terms))

    def update(self, *data: Any) -> Self:
        """Posterior mixture: components updated, weights times the components' marginal likelihoods."""
        logs = np.array([math.log(w) + c.log_marginal(*data) if w > 0 else -np.inf
                         for w, c in zip(self.weights, self.components)])
        w = np.exp(logs - special.logsumexp(logs))
        return type(self)(tuple(float(v) for v in w), tuple(c.update(*data) for c in self.components))


@dataclass(frozen=True)
class BetaMixture(_Mixture):
    """Mixture of beta distributions (e.g. a robust prior) for a probability ``p``.

    Examples
    --------
    >>> prior = BetaMixture((0.8, 0.2), (Beta(14, 9), Beta(1, 1)))   # 13/21 historical + 20% uniform
    >>> round(prior.ess(), 2)
    8.15
    >>> post = prior.update(2, 20)                                     # conflicting data: weight moves
    >>> [round(w, 3) for w in post.weights]
    [0.026, 0.974]
    """

    weights: tuple[float, ...]
    components: tuple[Beta, ...]
    _component = Beta
    _name = "BetaMixture"

    def ess(self) -> float:
        """Moment-based ESS: ``a + b`` of the beta with the mixture's mean ``m`` and variance ``v``,
        ``m (1 - m) / v - 1`` (Neuenschwander et al. 2020)."""
        m = self.mean()
        return m * (1.0 - m) / self.var() - 1.0

    def predictive_sf(self, k, m: int):
        """``P(Y > k)`` for ``m`` future trials under the mixture's beta-binomial predictive."""
        return _out(sum(w * c.predictive_sf(k, m) for w, c in zip(self.weights, self.components)))


@dataclass(frozen=True)
class GammaMixture(_Mixture):
    """Mixture of gamma distributions for an exponential hazard.

    Examples
    --------
    >>> prior = GammaMixture((0.5, 0.5), (Gamma(8, 200), Gamma(1, 25)))
    >>> round(prior.mean(), 4), round(prior.ess(), 3)
    (0.04, 1.778)
    """

    weights: tuple[float, ...]
    components: tuple[Gamma, ...]
    _component = Gamma
    _name = "GammaMixture"

    def ess(self) -> float:
        """Moment-based ESS in deaths: the shape ``m^2 / v`` of the gamma with the mixture's mean and
        variance (Neuenschwander et al. 2020)."""
        return self.mean() ** 2 / self.var()


BinaryPrior = Union[Beta, BetaMixture]
HazardPrior = Union[Gamma, GammaMixture]


def uniform() -> Beta:
    """The uniform prior ``Beta(1, 1)`` (ESS 2): every response rate equally likely."""
    return Beta(1.0, 1.0)


def jeffreys() -> Beta:
    """Jeffreys' prior ``Beta(1/2, 1/2)`` (ESS 1): invariant under reparametrisation."""
    return Beta(0.5, 0.5)


def parse_beta_prior(spec: str) -> Beta:
    """A beta prior from its name: ``"uniform"``, ``"jeffreys"`` or ``"A,B"``.

    Examples
    --------
    >>> parse_beta_prior("jeffreys"), parse_beta_prior("2, 3")
    (Beta(a=0.5, b=0.5), Beta(a=2.0, b=3.0))
    """
    text = str(spec).strip().lower()
    if text == "uniform":
        return uniform()
    if text == "jeffreys":
        return jeffreys()
    parts = text.split(",")
    try:
        a, b = (float(v) for v in parts)
    except ValueError:
        raise invalid("prior", "must be 'uniform', 'jeffreys' or 'A,B' with A, B > 0", spec) from None
    if not (a > 0 and b > 0 and math.isfinite(a) and math.isfinite(b)):
        raise invalid("prior", "must be 'uniform', 'jeffreys' or 'A,B' with A, B > 0", spec)
    return Beta(a, b)


def power_prior_beta(x0: int, n0: int, a0: float, initial: Beta | None = None) -> Beta:
    """Power prior from historical binomial data ``x0`` of ``n0`` discounted by a fixed ``a0`` in [0, 1]:
    ``Beta(a + a0 x0, b + a0 (n0 - x0))`` from the initial prior ``Beta(a, b)`` (default uniform).
    ``a0 = 0`` ignores the history, ``a0 = 1`` pools it (Ibrahim and Chen 2000).

    Examples
    --------
    >>> power_prior_beta(13, 21, 0.5)
    Beta(a=7.5, b=5.0)
    """
    n0 = _count("n0", n0)
    x0 = _count("x0", x0, n0)
    a0 = _unit("a0", a0)
    base = uniform() if initial is None else initial
    return Beta(base.a + a0 * x0, base.b + a0 * (n0 - x0))


def power_prior_gamma(d0: int, exposure0: float, a0: float, initial: Gamma) -> Gamma:
    """Power prior for an exponential hazard from ``d0`` historical deaths in ``exposure0``:
    ``Gamma(a + a0 d0, b + a0 E0)`` from the initial ``Gamma(a, b)``.

    Examples
    --------
    >>> power_prior_gamma(8, 150.0, 0.5, Gamma(0.5, 1.0))
    Gamma(a=4.5, b=76.0)
    """
    d0 = _count("d0", d0)
    e0 = _nonneg("exposure0", exposure0)
    a0 = _unit("a0", a0)
    if not isinstance(initial, Gamma):
        raise invalid("initial", "must be a Gamma prior", initial)
    return Gamma(initial.a + a0 * d0, initial.b + a0 * e0)


def robust_mixture(informative: Beta | Gamma, w_vague: float, vague: Beta | Gamma | None = None):
    """Robust mixture prior (Schmidli et al. 2014): ``(1 - w) informative + w vague``.

    The default vague component is ``Beta(1, 1)`` for a beta prior and the unit-information gamma
    ``Gamma(1, b / a)`` (one death, same mean) for a gamma prior. When the new data conflict with the
    informative component, the posterior weight moves to the vague one and the borrowing fades.

    Examples
    --------
    >>> robust_mixture(Beta(14, 9), 0.2)
    BetaMixture(weights=(0.8, 0.2), components=(Beta(a=14.0, b=9.0), Beta(a=1.0, b=1.0)))
    """
    w = _unit("w_vague", w_vague)
    if isinstance(informative, Beta):
        vague = uniform() if vague is None else vague
        if not isinstance(vague, Beta):
            raise invalid("vague", "must be a Beta like the informative component", vague)
        return BetaMixture((1.0 - w, w), (informative, vague))
    if isinstance(informative, Gamma):
        vague = Gamma(1.0, informative.b / informative.a) if vague is None else vague
        if not isinstance(vague, Gamma):
            raise invalid("vague", "must be a Gamma like the informative component", vague)
        return GammaMixture((1.0 - w, w), (informative, vague))
    raise invalid("informative", "must be a Beta or a Gamma", informative)


def _parts(dist, field: str) -> list[tuple[float, Beta]]:
    if isinstance(dist, Beta):
        return [(1.0, dist)]
    if isinstance(dist, BetaMixture):
        return list(zip(dist.weights, dist.components))
    raise invalid(field, "must be a Beta or a BetaMixture", dist)


def _is_int(v: float) -> bool:
    return v == math.floor(v) and v < 1e6


def _sum_formula(t: Beta, c: Beta) -> float:
    """``P(T > C)`` for integer ``t.a``: ``sum_{i < a_T} B(a_C + i, b_C + b_T) / ((b_T + i) B(1 + i, b_T)
    B(a_C, b_C))`` (Cook 2005; Miller 2015, 'Formulas for Bayesian A/B testing')."""
    i = np.arange(int(t.a), dtype=float)
    logs = (special.betaln(c.a + i, c.b + t.b) - np.log(t.b + i) - special.betaln(1.0 + i, t.b)
            - special.betaln(c.a, c.b))
    return float(np.exp(special.logsumexp(logs)))


def prob_greater_sum(post_t: Beta, post_c: Beta) -> float:
    """``P(p_T > p_C)`` for independent betas by the classical finite sum; needs one of ``a_T``, ``b_T``,
    ``a_C``, ``b_C`` to be an integer (the smallest is used, via ``P(T > C) = 1 - P(C > T)`` and the
    reflection ``p -> 1 - p``).

    Examples
    --------
    >>> round(prob_greater_sum(Beta(20, 2), Beta(14, 9)), 6)
    0.994215
    """
    for field, dist in (("post_t", post_t), ("post_c", post_c)):
        if not isinstance(dist, Beta):
            raise invalid(field, "must be a Beta", dist)
    options = []
    if _is_int(post_t.a):
        options.append((post_t.a, lambda: _sum_formula(post_t, post_c)))
    if _is_int(post_c.a):
        options.append((post_c.a, lambda: 1.0 - _sum_formula(post_c, post_t)))
    if _is_int(post_c.b):  # P(T > C) = P(1 - C > 1 - T)
        options.append((post_c.b, lambda: _sum_formula(Beta(post_c.b, post_c.a), Beta(post_t.b, post_t.a))))
    if _is_int(post_t.b):
        options.append((post_t.b, lambda: 1.0 - _sum_formula(Beta(post_t.b, post_t.a), Beta(post_c.b, post_c.a))))
    if not options:
        raise invalid("post_t", "needs an integer parameter in one of the two betas for the finite sum",
                      (post_t, post_c))
    return min(max(min(options, key=lambda o: o[0])[1](), 0.0), 1.0)


def prob_greater_quad(post_t: Beta, post_c: Beta) -> float:
    """``P(p_T > p_C)`` by adaptive quadrature (``scipy.integrate.quad``) on the quantile scale of ``p_T``:
    ``P(p_T > p_C) = int_0^1 F_C(F_T^{-1}(u)) du`` and ``P(p_C > p_T) = int_0^1 S_C(F_T^{-1}(u)) du``, bounded
    monotone integrands for any positive parameters. The smaller of the two (by the means) is integrated, with
    break points where the integrand crosses the levels 1e-14 ... 1 - 1e-14, so that a probability near 0 keeps
    its relative accuracy and a narrow transition is not missed.

    Examples
    --------
    >>> round(prob_greater_quad(Beta(20, 2), Beta(14, 9)), 6)
    0.994215
    """
    for field, dist in (("post_t", post_t), ("post_c", post_c)):
        if not isinstance(dist, Beta):
            raise invalid(field, "must be a Beta", dist)
    t_larger = post_t.mean() >= post_c.mean()
    tail = post_c.sf if t_larger else post_c.cdf
    levels = (1e-14, 1e-10, 1e-6, 1e-3, 0.05, 0.5, 0.95, 1 - 1e-3, 1 - 1e-6, 1 - 1e-10)
    points = sorted({u for u in (float(post_t.cdf(post_c.ppf(q))) for q in levels) if 1e-10 < u < 1.0 - 1e-10})
    val = integrate.quad(lambda u: float(tail(post_t.ppf(u))), 0.0, 1.0, points=points or None,
                         epsabs=1e-15, epsrel=1e-11, limit=1000, full_output=1)[0]
    val = min(max(val, 0.0), 1.0)
    return 1.0 - val if t_larger else val


def prob_greater(post_t: BinaryPrior, post_c: BinaryPrior, method: str = "auto") -> float:
    """``P(p_T > p_C | data)`` for independent beta (or beta-mixture) posteriors, exactly.

    A mixture pair is the weighted sum of its component pairs. ``method``: ``"sum"`` (finite sum, an integer
    parameter needed), ``"quad"`` (quadrature) or ``"auto"`` (the sum when possible). For continuous
    posteriors ``P(p_T > p_C) + P(p_C > p_T) = 1``.

    Examples
    --------
    >>> round(prob_greater(Beta(1, 1).update(19, 20), Beta(1, 1).update(13, 21)), 4)   # CTD-MAS, uniform priors
    0.9942
    """
    if method not in ("auto", "sum", "quad"):
        raise invalid("method", "must be 'auto', 'sum' or 'quad'", method)
    total = 0.0
    for wt, t in _parts(post_t, "post_t"):
        for wc, c in _parts(post_c, "post_c"):
            if method == "quad":
                p = prob_greater_quad(t, c)
            elif method == "sum" or any(_is_int(v) for v in (t.a, t.b, c.a, c.b)):
                p = prob_greater_sum(t, c)
            else:
                p = prob_greater_quad(t, c)
            total += wt * wc * p
    return min(max(total, 0.0), 1.0)


_GL_X, _GL_W = np.polynomial.legendre.leggauss(20)


def prob_greater_table(posts_t: Sequence[BinaryPrior], posts_c: Sequence[BinaryPrior],
                       panels: int | None = None) -> np.ndarray:
    """``P(p_T > p_C)`` for every pair of the two lists, as a matrix ``[len(posts_t), len(posts_c)]``.

    Vectorised: ``int_0^1 f_T(p) F_C(p) dp`` by composite 20-point Gauss-Legendre quadrature after the
    substitution ``p = (1 - cos(pi t)) / 2`` (which removes the ``p^(a - 1)`` end singularities for ``a >= 1/2``),
    one matrix product for the whole table. Checked against :func:`prob_greater` to 1e-10 in the tests;
    callers comparing with a threshold recompute the entries near it with :func:`prob_greater`.
    """
    if panels is None:
        size = max(d.a + d.b for post in list(posts_t) + list(posts_c) for _, d in _parts(post, "posts"))
        panels = int(min(4096, max(64, 12 * math.ceil(math.sqrt(size)))))
    edges = np.linspace(0.0, 1.0, panels + 1)
    half = np.diff(edges) / 2.0
    t = (edges[:-1, None] + half[:, None] * (_GL_X[None, :] + 1.0)).ravel()
    w = (half[:, None] * _GL_W[None, :]).ravel()
    p = (1.0 - np.cos(np.pi * t)) / 2.0
    w = w * (np.pi / 2.0) * np.sin(np.pi * t)
    keep = (p > 0.0) & (p < 1.0)
    p, w = p[keep], w[keep]
    dens = np.array([sum(wt * d.pdf(p) for wt, d in _parts(post, "posts_t")) for post in posts_t])
    cdfs = np.array([sum(wt * d.cdf(p) for wt, d in _parts(post, "posts_c")) for post in posts_c])
    return np.clip((dens * w[None, :]) @ cdfs.T, 0.0, 1.0)


def _gamma_parts(dist, field: str) -> list[tuple[float, Gamma]]:
    if isinstance(dist, Gamma):
        return [(1.0, dist)]
    if isinstance(dist, GammaMixture):
        return list(zip(dist.weights, dist.components))
    raise invalid(field, "must be a Gamma or a GammaMixture", dist)


def prob_ratio_below(post_t: HazardPrior, post_c: HazardPrior, margin: float = 1.0) -> float:
    """``P(lambda_T / lambda_C < margin | data)`` for independent gamma (or gamma-mixture) posteriors.

    With ``lambda_T ~ Gamma(a_T, b_T)`` and ``lambda_C ~ Gamma(a_C, b_C)``, ``X = b_T lambda_T`` and
    ``Y = b_C lambda_C`` are standard gammas and ``X / (X + Y) ~ Beta(a_T, a_C)``, so with
    ``c = margin b_T / b_C``: ``P = I_{c / (1 + c)}(a_T, a_C)``; equivalently ``(lambda_T / lambda_C)
    (a_C b_T) / (a_T b_C)`` is F-distributed with ``(2 a_T, 2 a_C)`` degrees of freedom.

    Examples
    --------
    >>> round(prob_ratio_below(Gamma(3, 400.0), Gamma(9, 350.0)), 4)    # hazard ratio below 1
    0.9805
    """
    m = _positive("margin", margin)
    total = 0.0
    for wt, t in _gamma_parts(post_t, "post_t"):
        for wc, c in _gamma_parts(post_c, "post_c"):
            ratio = m * t.b / c.b
            total += wt * wc * float(special.betainc(t.a, c.a, ratio / (1.0 + ratio)))
    return min(max(total, 0.0), 1.0)
