"""Bayesian decision rules for binary endpoints and their exact frequentist operating characteristics.

Two-arm rule: with independent priors ``p_T ~ pi_T`` and ``p_C ~ pi_C`` (beta or beta mixtures; ``pi_C`` may
borrow historical controls through a power prior or a robust mixture) and ``x_T`` of ``n_T``, ``x_C`` of ``n_C``
favourable outcomes (response, alive at the horizon), the trial is a success when

``P(p_T > p_C | x_T, x_C) > threshold``.

Its frequentist probability of success at true rates ``(p_T, p_C)`` is exact by enumeration of all tables:
``sum_{x_T, x_C} b(x_T; n_T, p_T) b(x_C; n_C, p_C) 1[success(x_T, x_C)]``, a bilinear form in the two
binomial probability vectors with the success table computed once. The type I error is this at
``p_T = p_C = p`` (a function of ``p``, the nuisance control rate); the power at the alternative.

Prior-data conflict: when the control prior borrows, the type I error and the power depend on how far the
true control rate is from the historical one; :func:`conflict_oc` evaluates them over a grid of true control
rates, with the prior's effective sample size.

Single-arm rule: success when ``P(p_T > p_C | x_T) > threshold`` with ``p_C`` either a fixed rate ``p0`` or a
historical prior (e.g. ``Beta(1 + 13, 1 + 8)`` from 13 of 21 historical controls alive) and no concurrent
control: success is ``x_T >= k*`` and the probability of success is ``P(Bin(n, p) >= k*)``.

Defaults and why: uniform ``Beta(1, 1)`` analysis priors (ESS 2, small against 20 patients per arm); strict
``>`` comparison with the threshold (a threshold of 0.975 then behaves like a one-sided 2.5% test with flat
priors); table entries within 1e-9 of the threshold are recomputed with the exact scalar formula.

References: Berry SM, Carlin BP, Lee JJ, Mueller P. Bayesian Adaptive Methods for Clinical Trials. CRC 2010;
Schmidli H et al. Biometrics 2014;70:1023-1032 (robust priors, prior-data conflict).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from ..exceptions import invalid
from ..model.validation import check_count, check_level
from ..stats.posteriors import (Beta, BetaMixture, BinaryPrior, power_prior_beta, prob_greater,
                                       prob_greater_table, robust_mixture, uniform)

__all__ = ["borrowing_prior", "BinaryBayesRule", "ConflictOC", "conflict_oc", "SingleArmBayesRule"]

_POLISH = 1e-9


def _prior(field_name: str, prior) -> BinaryPrior:
    if not isinstance(prior, (Beta, BetaMixture)):
        raise invalid(field_name, "must be a Beta or a BetaMixture", prior)
    return prior


def _size(field_name: str, value) -> int:
    """An arm size in 1..5000 (trialsim.model.validation)."""
    return check_count(field_name, value, minimum=1, maximum=5000)


def _threshold(value) -> float:
    """A threshold in (0, 1) (trialsim.model.validation)."""
    return check_level("threshold", value)


def _rates(field_name: str, p) -> np.ndarray:
    arr = np.asarray(p, dtype=float)
    if np.any(~np.isfinite(arr)) or np.any((arr < 0.0) | (arr > 1.0)):
        raise invalid(field_name, "must be in [0, 1]", p)
    return arr


def _ess(prior: BinaryPrior) -> float:
    return float(prior.ess())


def borrowing_prior(method: str = "none", *, x0: int | None = None, n0: int | None = None, a0: float = 1.0,
                    w_vague: float = 0.2, initial: BinaryPrior | None = None,
                    vague: Beta | None = None) -> BinaryPrior:
    """The control arm's analysis prior, borrowing ``x0`` of ``n0`` historical controls or not.

    ``method``: ``"none"`` (the ``initial`` prior, default uniform), ``"power"`` (power prior with fixed ``a0``:
    ``Beta(a + a0 x0, b + a0 (n0 - x0))``) or ``"robust"`` (Schmidli et al. 2014: weight ``1 - w_vague`` on
    the power prior, ``w_vague`` on ``vague``, default ``Beta(1, 1)``).

    Examples
    --------
    >>> borrowing_prior("power", x0=13, n0=21, a0=0.5)
    Beta(a=7.5, b=5.0)
    >>> round(borrowing_prior("robust", x0=13, n0=21, w_vague=0.2).ess(), 2)
    8.15
    """
    initial = uniform() if initial is None else _prior("initial", initial)
    if method == "none":
        return initial
    if method not in ("power", "robust"):
        raise invalid("method", "must be 'none', 'power' or 'robust'", method)
    if x0 is None or n0 is None:
        raise invalid("x0", f"and n0 are needed for the {method} prior", (x0, n0))
    if not isinstance(initial, Beta):
        raise invalid("initial", "must be a Beta for a power prior", initial)
    informative = power_prior_beta(x0, n0, a0, initial)
    return informative if method == "power" else robust_mixture(informative, w_vague, vague)


@dataclass(frozen=True)
class BinaryBayesRule:
    """Two-arm rule: success when ``P(p_T > p_C | data) > threshold``.

    Examples
    --------
    >>> rule = BinaryBayesRule(20, 21, 0.975)
    >>> round(rule.posterior_probability(19, 13), 4), rule.success(19, 13)     # CTD-MAS numbers
    (0.9942, True)
    >>> round(rule.type_i_error(0.62), 4), round(rule.power(0.95, 0.62), 3)
    (0.0249, 0.745)
    """

    n_t: int
    n_c: int
    threshold: float
    prior_t: BinaryPrior = field(default_factory=uniform)
    prior_c: BinaryPrior = field(default_factory=uniform)
    probabilities: np.ndarray = field(init=False, repr=False, compare=False)
    decisions: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "n_t", _size("n_t", self.n_t))
        object.__setattr__(self, "n_c", _size("n_c", self.n_c))
        object.__setattr__(self, "threshold", _threshold(self.threshold))
        _prior("prior_t", self.prior_t), _prior("prior_c", self.prior_c)
        posts_t = [self.prior_t.update(x, self.n_t) for x in range(self.n_t + 1)]
        posts_c = [self.prior_c.update(x, self.n_c) for x in range(self.n_c + 1)]
        table = prob_greater_table(posts_t, posts_c)
        for i, j in zip(*np.nonzero(np.abs(table - self.threshold) < _POLISH)):
            table[i, j] = prob_greater(posts_t[i], posts_c[j])
        table.setflags(write=False)
        decisions = table > self.threshold
        decisions.setflags(write=False)
        object.__setattr__(self, "probabilities", table)
        object.__setattr__(self, "decisions", decisions)

    def posterior_probability(self, x_t: int, x_c: int) -> float:
        """``P(p_T > p_C | x_T, x_C)``, exactly (:func:`trialsim.stats.posteriors.prob_greater`)."""
        x_t, x_c = self._counts(x_t, x_c)
        return prob_greater(self.prior_t.update(x_t, self.n_t), self.prior_c.update(x_c, self.n_c))

    def success(self, x_t: int, x_c: int) -> bool:
        x_t, x_c = self._counts(x_t, x_c)
        return bool(self.decisions[x_t, x_c])

    def _counts(self, x_t, x_c) -> tuple[int, int]:
        for name, x, n in (("x_t", x_t, self.n_t), ("x_c", x_c, self.n_c)):
            if isinstance(x, bool) or not isinstance(x, (int, np.integer)) or not 0 <= x <= n:
                raise invalid(name, f"must be an integer in [0, {n}]", x)
        return int(x_t), int(x_c)

    def success_probability(self, p_t, p_c):
        """Exact ``P(success)`` at true rates ``p_t``, ``p_c`` (scalars or broadcastable arrays)."""
        pt, pc = np.broadcast_arrays(_rates("p_t", p_t), _rates("p_c", p_c))
        bt = stats.binom.pmf(np.arange(self.n_t + 1), self.n_t, pt[..., None])
        bc = stats.binom.pmf(np.arange(self.n_c + 1), self.n_c, pc[..., None])
        out = np.einsum("...i,ij,...j->...", bt, self.decisions.astype(float), bc)
        return float(out) if out.ndim == 0 else out

    def type_i_error(self, p):
        """``P(success | p_T = p_C = p)``."""
        return self.success_probability(p, p)

    def power(self, p_t, p_c):
        return self.success_probability(p_t, p_c)

    def max_type_i_error(self, grid=None) -> tuple[float, float]:
        """The largest type I error over the common rate ``p`` (default grid 0.001..0.999 by 0.001) and
        where it is reached."""
        grid = np.linspace(0.001, 0.999, 999) if grid is None else _rates("grid", grid)
        err = np.atleast_1d(self.type_i_error(grid))
        k = int(np.argmax(err))
        return float(err[k]), float(np.atleast_1d(grid)[k])

    def ess(self) -> dict:
        """The analysis priors' effective sample sizes (moment-based for mixtures)."""
        return {"treatment": _ess(self.prior_t), "control": _ess(self.prior_c)}


@dataclass(frozen=True)
class ConflictOC:
    """Operating characteristics over true control rates: ``type_i_error[k]`` at ``p_T = p_C = p_c[k]``,
    ``power[k]`` at ``p_T = p_t[k]`` (NaN where ``p_t`` would exceed 1), with the priors' ESS and means."""

    p_c: np.ndarray
    p_t: np.ndarray
    type_i_error: np.ndarray
    power: np.ndarray
    ess_treatment: float
    ess_control: float
    prior_mean_control: float

    def rows(self) -> list[dict]:
        return [{"p_c": float(a), "p_t": float(b), "type_i_error": float(c), "power": float(d)}
                for a, b, c, d in zip(self.p_c, self.p_t, self.type_i_error, self.power)]


def conflict_oc(rule: BinaryBayesRule, p_c_grid, delta: float | None = None, p_t=None) -> ConflictOC:
    """Type I error and power of ``rule`` as the true control rate runs over ``p_c_grid`` (prior-data
    conflict when ``rule.prior_c`` borrows). The alternative is ``p_T = p_C + delta`` or the given ``p_t``.

    Examples
    --------
    >>> borrow = BinaryBayesRule(20, 20, 0.975, prior_c=borrowing_prior("power", x0=13, n0=21, a0=1.0))
    >>> oc = conflict_oc(borrow, [0.45, 0.62, 0.8], delta=0.15)
    >>> [round(float(v), 3) for v in oc.type_i_error], round(oc.ess_control, 1)   # conflict inflates at 0.8
    ([0.002, 0.016, 0.086], 23.0)
    """
    if not isinstance(rule, BinaryBayesRule):
        raise invalid("rule", "must be a BinaryBayesRule", rule)
    pc = np.atleast_1d(_rates("p_c_grid", p_c_grid))
    if (delta is None) == (p_t is None):
        raise invalid("delta", "or p_t (one of them) defines the alternative", (delta, p_t))
    if p_t is None:
        if isinstance(delta, bool) or not isinstance(delta, (int, float)) or not math.isfinite(delta):
            raise invalid("delta", "must be a finite number", delta)
        pt = pc + float(delta)
    else:
        pt = np.broadcast_to(np.atleast_1d(np.asarray(p_t, dtype=float)), pc.shape).copy()
        _rates("p_t", np.clip(pt, -1, 2))
    valid = (pt >= 0.0) & (pt <= 1.0)
    power = np.full(pc.shape, np.nan)
    power[valid] = rule.success_probability(pt[valid], pc[valid])
    return ConflictOC(p_c=pc, p_t=pt, type_i_error=np.atleast_1d(rule.type_i_error(pc)), power=power,
                      ess_treatment=_ess(rule.prior_t), ess_control=_ess(rule.prior_c),
                      prior_mean_control=float(rule.prior_c.mean()))


@dataclass(frozen=True)
class SingleArmBayesRule:
    """Single-arm rule: success when ``P(p_T > p_C | x of n) > threshold``, ``p_C`` a fixed rate or a prior
    (historical controls, no concurrent ones).

    Examples
    --------
    >>> rule = SingleArmBayesRule(20, 0.975, control=Beta(14, 9))     # 13/21 historical, uniform prior
    >>> rule.k_star, round(rule.posterior_probability(19), 4), round(rule.success_probability(0.62), 4)
    (18, 0.9942, 0.006)
    """

    n: int
    threshold: float
    control: float | BinaryPrior
    prior: BinaryPrior = field(default_factory=uniform)
    k_star: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "n", _size("n", self.n))
        object.__setattr__(self, "threshold", _threshold(self.threshold))
        _prior("prior", self.prior)
        if not isinstance(self.control, (Beta, BetaMixture)):
            if isinstance(self.control, bool) or not isinstance(self.control, (int, float)) \
                    or not 0.0 < self.control < 1.0:
                raise invalid("control", "must be a rate in (0, 1), a Beta or a BetaMixture", self.control)
        k = next((x for x in range(self.n + 1) if self.posterior_probability(x) > self.threshold), self.n + 1)
        object.__setattr__(self, "k_star", k)       # the probability increases with x

    def posterior_probability(self, x: int) -> float:
        if isinstance(x, bool) or not isinstance(x, (int, np.integer)) or not 0 <= x <= self.n:
            raise invalid("x", f"must be an integer in [0, {self.n}]", x)
        post = self.prior.update(int(x), self.n)
        if isinstance(self.control, (Beta, BetaMixture)):
            return prob_greater(post, self.control)
        return float(post.sf(float(self.control)))

    def success_probability(self, p):
        """``P(X >= k*)`` for ``X ~ Bin(n, p)``: the type I error at null rates, the power at alternatives."""
        out = stats.binom.sf(self.k_star - 1, self.n, _rates("p", p))
        return float(out) if np.ndim(out) == 0 else out
