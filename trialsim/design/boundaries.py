"""Group-sequential boundaries computed exactly by recursive numerical integration.

The look statistics follow the canonical joint distribution (Jennison and Turnbull 2000, section 3.1): at
information fractions ``0 < t_1 < ... < t_K = 1``, ``Z_k ~ N(theta sqrt(t_k), 1)`` and
``Cov(Z_j, Z_k) = sqrt(t_j / t_k)`` for j <= k; ``theta``, the *drift*, is the mean of ``Z_K``. Crossing
probabilities come from the recursion of Armitage, McPherson and Rowe (1969) on the grid of Jennison and
Turnbull (2000, section 19.2) that gsDesign uses: ``6 r - 1`` points per look centred on the mean, Simpson's
rule on the points and their midpoints. With ``r = 18`` (gsDesign's default) the recursion reproduces gsDesign
to 1e-10; the default ``r = 32`` is accurate to about 1e-7 in z (error ~ r^-4; ``docs/sequential.md``).

Conventions: ``alpha`` is the total type I error; ``sided = 2`` is the symmetric two-sided design (gsDesign
``test.type = 2``) spending ``alpha / 2`` on each side. Power is the probability of crossing the upper
(efficacy) bound under the design drift.

Examples
--------
>>> d = group_sequential_design([0.5, 1.0], alpha=0.025, power=0.9, efficacy="ld-of")
>>> [round(z, 4) for z in d.efficacy_z], round(d.inflation_factor, 4)
([2.9626, 1.9686], 1.0034)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from scipy import optimize, special

from ..exceptions import invalid
from ..model.display import Tabular, records_table
from ..model.validation import check_level

__all__ = [
    "Spending",
    "parse_spending",
    "cumulative_spending",
    "CrossingProbabilities",
    "crossing_probabilities",
    "bounds_from_spending",
    "GroupSequentialDesign",
    "group_sequential_design",
]

GRID_R = 32
_EFFICACY = ("of", "pocock", "wt:DELTA", "ld-of", "ld-pocock", "hsd:GAMMA", "kd:RHO", "haybittle-peto")
_FUTILITY = ("ld-of", "ld-pocock", "hsd:GAMMA", "kd:RHO", "z:VALUES")
_SPENDING = ("ld-of", "ld-pocock", "hsd", "kd")
_XTOL = 1e-13
_ZMAX = 40.0


# ------------------------------------------------------------------------------------------------ spending


@dataclass(frozen=True)
class Spending:
    """A parsed boundary specification.

    ``family`` is one of ``of``, ``pocock``, ``wt``, ``ld-of``, ``ld-pocock``, ``hsd``, ``kd``,
    ``haybittle-peto`` and ``z``; ``parameter`` is the Wang-Tsiatis Delta, the HSD gamma, the Kim-DeMets rho,
    the Haybittle-Peto interim z (3 unless given) or the tuple of fixed futility z values; ``text`` is the
    specification as given.
    """

    family: str
    parameter: float | tuple[float, ...] | None
    text: str

    @property
    def is_spending_function(self) -> bool:
        """Whether the bounds come from a spending function (Lan and DeMets 1983)."""
        return self.family in _SPENDING


def _value(sp: Spending) -> float:
    """The parameter of a one-number family (wt, hsd, kd, haybittle-peto), as :func:`parse_spending` sets it."""
    if isinstance(sp.parameter, bool) or not isinstance(sp.parameter, (int, float)):
        raise invalid("spending", f"needs one number as the parameter of family {sp.family!r}", sp.parameter)
    return float(sp.parameter)


def _z_values(sp: Spending) -> tuple[float, ...]:
    """The fixed futility z values of family ``z``, as :func:`parse_spending` sets them."""
    if not isinstance(sp.parameter, tuple):
        raise invalid("futility", "needs a tuple of z values as the parameter of family 'z'", sp.parameter)
    return sp.parameter


def _number(field: str, spec: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise invalid(field, "has a parameter that is not a number", spec) from None
    if not math.isfinite(value):
        raise invalid(field, "has a parameter that is not finite", spec)
    return value


def parse_spending(spec: str, *, role: str = "efficacy") -> Spending:
    """Parse a boundary specification for the efficacy or the futility bound.

    Efficacy: ``of``, ``pocock``, ``wt:DELTA`` (-0.5 <= Delta <= 1), ``ld-of``, ``ld-pocock``,
    ``hsd:GAMMA`` (-40 <= gamma <= 40), ``kd:RHO`` (0 < rho <= 50), ``haybittle-peto`` (or
    ``haybittle-peto:Z``, interim z > 0, 3 by default). Futility: the four spending families or ``z:V1,V2,...``
    (one z per interim look). Ranges are gsDesign's (``sfHSD``, ``sfPower``) and rpact's (``deltaWT``).

    Examples
    --------
    >>> parse_spending("hsd:-4")
    Spending(family='hsd', parameter=-4.0, text='hsd:-4')
    >>> parse_spending("z:0,0.5", role="futility").parameter
    (0.0, 0.5)
    >>> parse_spending("obf")
    Traceback (most recent call last):
    ...
    trialsim.exceptions.InputError: `efficacy` must be one of of, pocock, wt:DELTA, ld-of, ld-pocock, \
hsd:GAMMA, kd:RHO, haybittle-peto (got 'obf')
    """
    if role not in ("efficacy", "futility"):
        raise invalid("role", "must be 'efficacy' or 'futility'", role)
    allowed = _EFFICACY if role == "efficacy" else _FUTILITY
    if not isinstance(spec, str):
        raise invalid(role, "must be a string such as " + repr(allowed[3]), spec)
    text = spec.strip().lower()
    name, _, arg = text.partition(":")
    names = {a.partition(":")[0]: a for a in allowed}
    if name not in names:
        raise invalid(role, "must be one of " + ", ".join(allowed), spec)
    wants_arg = ":" in names[name]
    if wants_arg and not arg:
        raise invalid(role, f"needs a parameter: {names[name]}", spec)
    if not wants_arg and arg and name != "haybittle-peto":
        raise invalid(role, f"takes no parameter ({name})", spec)
    if name == "z":
        values = tuple(_number(role, spec, v) for v in arg.split(","))
        return Spending("z", values, spec)
    if name == "haybittle-peto":
        z = _number(role, spec, arg) if arg else 3.0
        if z <= 0:
            raise invalid(role, "needs an interim z > 0", spec)
        return Spending(name, z, spec)
    if not wants_arg:
        return Spending(name, None, spec)
    value = _number(role, spec, arg)
    ranges = {"wt": (-0.5, 1.0, "between -0.5 and 1"), "hsd": (-40.0, 40.0, "between -40 and 40"),
              "kd": (0.0, 50.0, "> 0 and <= 50")}
    lo, hi, rule = ranges[name]
    if not (lo < value <= hi if name == "kd" else lo <= value <= hi):
        raise invalid(role, f"needs a parameter {rule}", spec)
    return Spending(name, value, spec)


def cumulative_spending(spec: str | Spending, total: float, fractions) -> np.ndarray:
    """Cumulative error spent by information fraction ``t`` for a spending-function family.

    - ``ld-of`` (Lan-DeMets O'Brien-Fleming type): ``2 - 2 Phi(z_{1 - a/2} / sqrt(t))``;
    - ``ld-pocock`` (Lan-DeMets Pocock type): ``a log(1 + (e - 1) t)``;
    - ``hsd:gamma`` (Hwang, Shih and DeCani 1990): ``a (1 - exp(-gamma t)) / (1 - exp(-gamma))``, ``a t`` at
      gamma = 0;
    - ``kd:rho`` (Kim and DeMets 1987, power family): ``a t^rho``;

    where ``a`` is ``total``. Every family spends exactly ``total`` at ``t = 1``.

    Examples
    --------
    >>> cumulative_spending("ld-of", 0.025, [0.5, 1.0]).round(12).tolist()
    [0.001525322758, 0.025]
    >>> cumulative_spending("ld-pocock", 0.025, [0.5]).round(12).tolist()
    [0.015502862674]
    """
    sp = spec if isinstance(spec, Spending) else parse_spending(spec)
    t = np.clip(np.asarray(fractions, dtype=float), 0.0, 1.0)
    if sp.family == "ld-of":
        out = 2.0 * special.ndtr(-special.ndtri(1.0 - total / 2.0) / np.sqrt(np.maximum(t, 1e-300)))
    elif sp.family == "ld-pocock":
        out = total * np.log1p((math.e - 1.0) * t)
    elif sp.family == "hsd":
        g = _value(sp)
        out = total * t if g == 0 else total * np.expm1(-g * t) / math.expm1(-g)
    elif sp.family == "kd":
        out = total * t ** _value(sp)
    else:
        raise invalid("spending", "must be a spending-function family (ld-of, ld-pocock, hsd, kd)", sp.text)
    return np.where(t >= 1.0, total, np.where(t <= 0.0, 0.0, out))


# ----------------------------------------------------------------------------------------------- recursion


def _grid(r: int, mu: float, a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
    """Jennison and Turnbull's grid on (a, b) around the mean ``mu`` with Simpson weights (gsDesign gridpts)."""
    if a >= b:
        return np.zeros(1), np.zeros(1)
    i = np.arange(1, 6 * r, dtype=float)
    x = mu + np.where(i < r, -3.0 - 4.0 * np.log(r / i),
                      np.where(i <= 5 * r, -3.0 + 3.0 * (i - r) / (2.0 * r), 3.0 + 4.0 * np.log(r / (6 * r - i))))
    pts = x[(x > a) & (x < b)]
    if a >= x[0]:
        pts = np.concatenate(([a], pts))
    if b <= x[-1]:
        pts = np.concatenate((pts, [b]))
    if pts.size < 2:
        return np.zeros(1), np.zeros(1)
    d = np.diff(pts)
    z = np.empty(2 * pts.size - 1)
    z[0::2], z[1::2] = pts, (pts[:-1] + pts[1:]) / 2.0
    w = np.zeros_like(z)
    w[0:-1:2] += d / 6.0
    w[2::2] += d / 6.0
    w[1::2] = 2.0 * d / 3.0
    return z, w


class _Stage:
    """The sub-density of Z_{k-1} on the continuation region, seen from look k (J&T 19.2)."""

    __slots__ = ("h", "scale", "shift", "mu")

    def __init__(self, z: np.ndarray, h: np.ndarray, t_prev: float, t: float, drift: float) -> None:
        dt = t - t_prev
        self.h = h
        self.scale = math.sqrt(t / dt)
        self.shift = (z * math.sqrt(t_prev) + drift * dt) / math.sqrt(dt)
        self.mu = drift * math.sqrt(t)

    @classmethod
    def start(cls, t: float, drift: float) -> "_Stage":
        return cls(np.zeros(1), np.ones(1), 0.0, t, drift)

    def upper(self, b: float) -> float:
        """P(Z_k >= b and no earlier boundary crossed)."""
        return 0.0 if b == math.inf else float(self.h @ special.ndtr(self.shift - b * self.scale))

    def lower(self, a: float) -> float:
        """P(Z_k <= a and no earlier boundary crossed)."""
        return 0.0 if a == -math.inf else float(self.h @ special.ndtr(a * self.scale - self.shift))

    def next(self, a: float, b: float, t: float, t_next: float, drift: float, r: int) -> "_Stage":
        """The stage of look k + 1, continuing at look k on (a, b)."""
        z, w = _grid(r, self.mu, a, b)
        x = z[:, None] * self.scale - self.shift[None, :]
        h = w * (np.exp(-0.5 * x * x) @ self.h) * (self.scale / math.sqrt(2.0 * math.pi))
        return _Stage(z, h, t, t_next, drift)


def _solve(f, target: float, lo: float, hi: float, field: str, look: int) -> float:
    """The root of the monotone ``f(x) = target`` on [lo, hi]."""
    flo, fhi = f(lo) - target, f(hi) - target
    if flo == 0.0:
        return lo
    if np.sign(flo) == np.sign(fhi):
        raise invalid(field, f"cannot be met at look {look} (spending more than is left to spend)", target)
    return float(optimize.brentq(lambda x: f(x) - target, lo, hi, xtol=_XTOL, rtol=4 * np.finfo(float).eps))


@dataclass(frozen=True)
class CrossingProbabilities:
    """Per-look probabilities of stopping at each bound (no earlier crossing), and the expected fraction.

    ``upper[k]`` = P(no crossing before look k, Z_k >= upper bound); ``lower[k]`` likewise below the lower
    bound; ``expected_fraction`` = sum over looks of t_k P(stop at k), the last look taking what is left.
    """

    upper: np.ndarray
    lower: np.ndarray
    expected_fraction: float


def _fractions(fractions) -> np.ndarray:
    try:
        t = np.asarray(fractions, dtype=float)
    except (TypeError, ValueError):
        raise invalid("information_fractions", "must be a list of numbers", fractions) from None
    shown = t.tolist()
    for rule, bad in (("must be a non-empty list of numbers", t.ndim != 1 or t.size == 0),
                      ("must be in (0, 1]", not np.all((t > 0) & (t <= 1 + 1e-12))),
                      ("must be increasing", np.any(np.diff(t) <= 0)),
                      ("must end at 1", abs(t[-1] - 1.0) > 1e-12 if t.ndim == 1 and t.size else False)):
        if bad:
            raise invalid("information_fractions", rule, shown)
    t[-1] = 1.0
    return t


def _bound_array(field: str, values, k: int, fill: float) -> np.ndarray:
    if values is None:
        return np.full(k, fill)
    v = np.array([fill if x is None else x for x in values], dtype=float)
    if v.shape != (k,) or np.any(np.isnan(v)):
        raise invalid(field, f"must have one bound per look ({k}), None or +-inf where there is none",
                      list(values))
    return v


def crossing_probabilities(information_fractions, upper, lower=None, *, drift: float = 0.0,
                           r: int = GRID_R) -> CrossingProbabilities:
    """Probabilities of crossing the given bounds at each look, at any drift.

    Parameters
    ----------
    information_fractions
        ``t_1 < ... < t_K = 1``.
    upper, lower
        z bounds per look; ``lower`` None (or -inf at a look) where there is none, ``upper`` +inf where there
        is none. For a two-sided design pass ``lower = -upper``.
    drift
        ``theta``, the mean of ``Z_K``; ``Z_k`` has mean ``theta sqrt(t_k)``.

    Examples
    --------
    >>> p = crossing_probabilities([1.0], [1.959963984540054])
    >>> round(float(p.upper[0]), 12)
    0.025
    >>> p = crossing_probabilities([0.5, 1.0], [2.796511, 1.977432], drift=0.0)
    >>> round(float(p.upper.sum()), 5)
    0.025
    """
    t = _fractions(information_fractions)
    k = t.size
    b = _bound_array("upper", upper, k, math.inf)
    a = _bound_array("lower", lower, k, -math.inf)
    if np.any(a > b):
        raise invalid("lower", "must not exceed the upper bound at any look", a.tolist())
    up, lo = np.zeros(k), np.zeros(k)
    stage = _Stage.start(t[0], drift)
    for j in range(k):
        up[j], lo[j] = stage.upper(b[j]), stage.lower(a[j])
        if j < k - 1:
            stage = stage.next(a[j], b[j], t[j], t[j + 1], drift, r)
    stop = up + lo
    stop[-1] = 1.0 - stop[:-1].sum()
    return CrossingProbabilities(up, lo, float(t @ stop))


def bounds_from_spending(information_fractions, cumulative_alpha, *, futility_z=None, binding: bool = False,
                         sided: int = 1, r: int = GRID_R) -> np.ndarray:
    """Efficacy z bounds spending a given cumulative alpha at each look (any user spending).

    A look with no new alpha gets the bound +inf. With ``binding`` futility z bounds (one per look, None
    where there is none) the alpha is computed with the trial stopping at them; otherwise they are ignored.
    For ``sided = 2`` the cumulative alpha is two-sided and the lower bound is ``-upper``.

    Examples
    --------
    >>> bounds_from_spending([0.5, 1.0], [0.0, 0.025]).round(6).tolist()
    [inf, 1.959964]
    """
    t = _fractions(information_fractions)
    k = t.size
    if sided not in (1, 2) or isinstance(sided, bool):
        raise invalid("sided", "must be 1 or 2", sided)
    cum = np.asarray(cumulative_alpha, dtype=float)
    if cum.shape != (k,) or np.any(np.diff(np.concatenate(([0.0], cum))) < 0) or cum[-1] >= 1 or cum[-1] <= 0:
        raise invalid("cumulative_alpha", "must be non-decreasing, one per look, ending in (0, 1)",
                      np.asarray(cumulative_alpha).tolist())
    fut = _bound_array("futility_z", futility_z, k, -math.inf) if binding else np.full(k, -math.inf)
    b = np.empty(k)
    stage, spent = _Stage.start(t[0], 0.0), 0.0
    for j in range(k):
        b[j] = _efficacy_bound(stage, cum[j] - spent, sided, fut[j], j + 1)
        spent += stage.upper(b[j]) + (stage.lower(-b[j]) if sided == 2 else 0.0)
        if j < k - 1:
            a = -b[j] if sided == 2 else fut[j]
            stage = stage.next(a, b[j], t[j], t[j + 1], 0.0, r)
    return b


def _efficacy_bound(stage: _Stage, target: float, sided: int, floor: float, look: int) -> float:
    """The z bound spending ``target`` at this look (both tails when two-sided)."""
    if target <= 1e-300:
        return math.inf
    if sided == 2:
        return _solve(lambda x: stage.upper(x) + stage.lower(-x), target, 0.0, _ZMAX, "alpha", look)
    return _solve(stage.upper, target, max(floor, -_ZMAX), _ZMAX, "alpha", look)


# ------------------------------------------------------------------------------------------------- designs


@dataclass(frozen=True)
class _Plan:
    t: np.ndarray
    eff: Spending
    fut: Spending | None
    alpha: float
    beta: float
    sided: int
    binding: bool
    r: int


@dataclass(frozen=True)
class _Run:
    lower: np.ndarray      # futility bound per look (-inf where none; the last is -inf)
    upper: np.ndarray      # efficacy bound per look
    power: float           # P(cross the upper bound) at the drift of the run
    alpha: float           # type I error as designed (futility counted only when binding)
    crossed: int           # first look whose futility bound reached the efficacy bound (0: none)
    short: int             # first look where binding futility left less than the alpha to spend (0: none)


def _run(plan: _Plan, theta: float | None, c: float | None) -> _Run:
    """Bounds look by look at drift ``theta`` (None: efficacy only) and Wang-Tsiatis constant ``c``."""
    t, k, eff = plan.t, plan.t.size, plan.eff
    spends = eff.is_spending_function
    cum_a = plan.sided * cumulative_spending(eff, plan.alpha / plan.sided, t) if spends else None
    cum_b = cumulative_spending(plan.fut, plan.beta, t) if plan.fut and plan.fut.is_spending_function else None
    a, b = np.full(k, -math.inf), np.empty(k)
    st0 = _Stage.start(t[0], 0.0)
    st1 = _Stage.start(t[0], theta) if theta is not None else None
    spent0 = spent1 = power = 0.0
    crossed = short = 0
    for j in range(k):
        if eff.family in ("of", "pocock", "wt"):
            assert c is not None  # the caller solves the Wang-Tsiatis constant for these families
            delta = 0.0 if eff.family == "of" else 0.5 if eff.family == "pocock" else _value(eff)
            b[j] = c * t[j] ** (delta - 0.5)
        elif eff.family == "haybittle-peto" and j < k - 1:
            b[j] = _value(eff)
        else:
            target = (cum_a[j] if cum_a is not None else plan.alpha) - spent0
            if target <= 0 and eff.family == "haybittle-peto":
                raise invalid("efficacy", f"spends more than alpha = {plan.alpha:g} at the interims", eff.text)
            floor = 0.0 if plan.sided == 2 else -_ZMAX
            if st0.upper(floor) + (st0.lower(-floor) if plan.sided == 2 else 0.0) <= target:
                b[j], short = floor, short or j + 1
            else:
                b[j] = _efficacy_bound(st0, target, plan.sided, floor, j + 1)
        spent0 += st0.upper(b[j]) + (st0.lower(-b[j]) if plan.sided == 2 else 0.0)
        if st1 is not None and plan.fut is not None and j < k - 1:
            if plan.fut.family == "z":
                a[j] = _z_values(plan.fut)[j]
            else:
                assert cum_b is not None  # every futility family but z is a spending function
                target = cum_b[j] - spent1
                if target <= 1e-300:
                    a[j] = -math.inf
                elif st1.lower(b[j]) <= target:
                    a[j] = b[j]
                else:
                    a[j] = _solve(st1.lower, target, -_ZMAX, b[j], "power", j + 1)
            if a[j] >= b[j] and not crossed:
                crossed = j + 1
            a[j] = min(a[j], b[j])
            spent1 += st1.lower(a[j])
        if st1 is not None:
            power += st1.upper(b[j])
        if j < k - 1:
            lo = -b[j] if plan.sided == 2 else -math.inf
            lo0 = a[j] if plan.binding and plan.fut is not None else lo
            st0 = st0.next(lo0, b[j], t[j], t[j + 1], 0.0, plan.r)
            if st1 is not None:
                assert theta is not None  # st1 is the stage at drift theta
                st1 = st1.next(max(lo, a[j]), b[j], t[j], t[j + 1], theta, plan.r)
    return _Run(a, b, power, spent0, crossed, short)


def _root(f, x0: float, step: float, lo_limit: float, hi_limit: float, field: str) -> float:
    """Root of an increasing ``f``, bracketed outwards from ``x0``."""
    lo, hi = x0, x0 + step
    flo, fhi = f(lo), f(hi)
    while flo > 0 and lo > lo_limit:
        lo, hi, fhi = max(lo - step, lo_limit), lo, flo
        flo, step = f(lo), step * 2
    while fhi < 0 and hi < hi_limit:
        lo, flo, hi = hi, fhi, min(hi + step, hi_limit)
        fhi, step = f(hi), step * 2
    if flo > 0 or fhi < 0:
        raise invalid(field, "leaves no solution for the design (searched between these values)", (lo, hi))
    return float(optimize.brentq(f, lo, hi, xtol=_XTOL, rtol=4 * np.finfo(float).eps))


@dataclass(frozen=True)
class GroupSequentialDesign(Tabular):
    """A solved group-sequential design: bounds, spending and operating characteristics per look.

    Per look (tuples of length K): ``information_fractions``; ``efficacy_z`` (upper bound; the lower bound of a
    two-sided design is its negative); ``futility_z`` (None without futility; at the last look it equals the
    efficacy bound, where the trial ends either way); ``nominal_p`` = 1 - Phi(efficacy_z) (one-sided);
    ``cumulative_alpha``, the type I error spent by the look as designed (a non-binding futility bound is
    ignored); ``cumulative_beta``, P(stopped without rejecting H0 by the look) under the design drift; and the
    probabilities of stopping at the look for efficacy (rejecting H0, both tails when two-sided) and for
    futility (at the last look: not rejecting), under H0 and under the design drift, every bound obeyed.

    ``drift`` is the mean of Z_K under the design alternative that gives ``power``; ``inflation_factor`` =
    (drift / (z_{1-alpha/sided} + z_{1-beta}))^2, the maximum information over that of the fixed design with the
    same alpha and power; ``expected_information_h0``/``_h1`` are expected information over the fixed design's.
    """

    information_fractions: tuple[float, ...]
    efficacy_z: tuple[float, ...]
    futility_z: tuple[float | None, ...]
    nominal_p: tuple[float, ...]
    cumulative_alpha: tuple[float, ...]
    cumulative_beta: tuple[float, ...]
    efficacy_crossing_h0: tuple[float, ...]
    efficacy_crossing_h1: tuple[float, ...]
    futility_crossing_h0: tuple[float, ...]
    futility_crossing_h1: tuple[float, ...]
    drift: float
    inflation_factor: float
    expected_information_h0: float
    expected_information_h1: float
    alpha: float
    power: float
    sided: int
    efficacy: str
    futility: str | None
    binding: bool
    r: int = GRID_R

    def stopping_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """(lower, upper) z bounds per look as the trial applies them: stop and reject H0 at Z_k >= upper (or
        Z_k <= lower when two-sided); stop for futility at Z_k <= lower (one-sided). -inf where no lower bound."""
        up = np.array(self.efficacy_z)
        if self.sided == 2:
            return -up, up
        return np.array([-math.inf if z is None else z for z in self.futility_z]), up

    def crossing_probabilities(self, drift: float) -> CrossingProbabilities:
        """Per-look crossing probabilities of this design's bounds at another drift (every bound obeyed)."""
        lower, upper = self.stopping_bounds()
        return crossing_probabilities(self.information_fractions, upper, lower, drift=drift, r=self.r)

    def _table(self) -> tuple[list[str], list[list[Any]]]:
        return records_table(self.to_dict()["looks"])

    def to_dict(self) -> dict:
        """The design as plain data (JSON-ready; futility_z null where there is none)."""
        keys = ("information_fraction", "efficacy_z", "futility_z", "nominal_p", "cumulative_alpha",
                "cumulative_beta", "efficacy_crossing_h0", "efficacy_crossing_h1", "futility_crossing_h0",
                "futility_crossing_h1")
        cols = (self.information_fractions, self.efficacy_z, self.futility_z, self.nominal_p,
                self.cumulative_alpha, self.cumulative_beta, self.efficacy_crossing_h0, self.efficacy_crossing_h1,
                self.futility_crossing_h0, self.futility_crossing_h1)
        looks = [dict(zip(keys, row)) for row in zip(*cols)]
        return {"looks": looks, "inflation_factor": self.inflation_factor,
                "expected_information_h0": self.expected_information_h0,
                "expected_information_h1": self.expected_information_h1}


def group_sequential_design(information_fractions: Sequence[float], *, alpha: float = 0.025, power: float = 0.9,
                            efficacy: str = "ld-of", futility: str | None = None, binding: bool = False,
                            sided: int = 1, r: int = GRID_R) -> GroupSequentialDesign:
    """Solve a group-sequential design: efficacy and futility bounds, drift for the power, characteristics.

    Efficacy bounds (``efficacy``): ``of``/``pocock``/``wt:DELTA`` are Wang-Tsiatis bounds ``c t_k^(Delta-1/2)``
    (O'Brien-Fleming ``c / sqrt(t_k)``, Pocock constant ``c``; with unequal spacing the information-fraction
    form, as gsDesign and rpact), ``c`` solved so the type I error is exactly ``alpha``;
    ``haybittle-peto`` is z = 3 at every interim and the final bound spending what is left; the spending
    families spend ``cumulative_spending(efficacy, alpha / sided, t) * sided``.
    Futility (one-sided only): ``z:V1,...`` fixes the interim bounds; a spending family spends beta =
    1 - power under the design drift, the drift being iterated until the final futility and efficacy bounds
    meet (gsDesign ``test.type`` 3/4, rpact ``typeBetaSpending``). With ``binding = False`` (default) the
    efficacy bounds ignore futility when alpha is computed (gsDesign test.type 4, rpact bindingFutility
    FALSE); with ``binding = True`` the trial is assumed to stop at every futility bound (test.type 3).
    A futility bound at or above the efficacy bound at an interim is an error.

    Examples
    --------
    >>> d = group_sequential_design([1/3, 2/3, 1], efficacy="hsd:-4", futility="hsd:-2")
    >>> [round(z, 4) for z in d.efficacy_z], [round(z, 4) for z in d.futility_z]
    ([3.0107, 2.5465, 1.9992], [-0.2387, 0.9411, 1.9992])
    >>> round(d.inflation_factor, 4)
    1.0699
    """
    t = _fractions(information_fractions)
    alpha = check_level("alpha", alpha)
    power = check_level("power", power)
    if sided not in (1, 2) or isinstance(sided, bool):
        raise invalid("sided", "must be 1 or 2", sided)
    if power <= alpha / sided:
        raise invalid("power", f"must exceed alpha / sided ({alpha / sided:g})", power)
    if not isinstance(r, (int, np.integer)) or isinstance(r, bool) or not 4 <= r <= 100:
        raise invalid("r", "must be an integer between 4 and 100", r)
    eff = parse_spending(efficacy, role="efficacy")
    fut = None if futility is None else parse_spending(futility, role="futility")
    if fut is not None and sided == 2:
        raise invalid("futility", "is not supported with two-sided designs (sided = 2)", futility)
    if fut is not None and fut.family == "z" and len(_z_values(fut)) != t.size - 1:
        raise invalid("futility", f"must give one z per interim look ({t.size - 1})", futility)
    fut = None if t.size == 1 else fut
    plan = _Plan(t, eff, fut, alpha, 1.0 - power, sided, bool(binding), int(r))
    z0 = float(special.ndtri(1.0 - alpha / sided) + special.ndtri(power))

    wang_tsiatis = eff.family in ("of", "pocock", "wt")
    nested = wang_tsiatis and plan.binding and fut is not None and fut.family != "z"
    guess = [float(special.ndtri(1.0 - alpha / sided))]

    def constant(theta: float | None) -> float | None:
        if not wang_tsiatis:
            return None
        guess[0] = _root(lambda c: alpha - _run(plan, theta, c).alpha, guess[0], 0.05, 1e-3, 100.0, "efficacy")
        return guess[0]

    c_fixed = None if nested else constant(z0 if plan.binding else None)
    theta = _root(lambda th: _run(plan, th, constant(th) if nested else c_fixed).power - power,
                  z0, 0.1, 1e-6, 100.0, "power")
    c = constant(theta) if nested else c_fixed
    run = _run(plan, theta, c)
    if run.crossed:
        raise invalid("futility", f"reaches the efficacy bound at look {run.crossed}", futility)
    if run.short:
        raise invalid("futility", f"stops so many trials that alpha cannot be spent at look {run.short} "
                      "(use binding=False or spend beta later)", futility)
    return _characteristics(plan, run, theta, z0, power, efficacy, futility)


def _characteristics(plan: _Plan, run: _Run, theta: float, z0: float, power: float, efficacy: str,
                     futility: str | None) -> GroupSequentialDesign:
    t, k, b = plan.t, plan.t.size, run.upper
    has_fut = plan.fut is not None
    lower = -b if plan.sided == 2 else run.lower.copy()
    if has_fut:
        lower[-1] = b[-1]
    design_lower = lower if (plan.binding or plan.sided == 2) else None
    spent = crossing_probabilities(t, b, design_lower, drift=0.0, r=plan.r)
    alpha_inc = spent.upper + (spent.lower if plan.sided == 2 else 0.0)
    p0 = crossing_probabilities(t, b, lower, drift=0.0, r=plan.r)
    p1 = crossing_probabilities(t, b, lower, drift=theta, r=plan.r)

    def split(p: CrossingProbabilities) -> tuple[np.ndarray, np.ndarray]:
        eff = p.upper + (p.lower if plan.sided == 2 else 0.0)
        fut = np.zeros(k) if plan.sided == 2 else p.lower.copy()
        fut[-1] = 1.0 - eff.sum() - fut[:-1].sum()
        return eff, fut

    (e0, f0), (e1, f1) = split(p0), split(p1)
    inflation = (theta / z0) ** 2
    fz = tuple(float(x) if has_fut and x > -math.inf else None for x in lower) if plan.sided == 1 else (None,) * k
    tup = lambda x: tuple(float(v) for v in x)  # noqa: E731
    return GroupSequentialDesign(
        information_fractions=tup(t), efficacy_z=tup(b), futility_z=fz, nominal_p=tup(special.ndtr(-b)),
        cumulative_alpha=tup(np.cumsum(alpha_inc)), cumulative_beta=tup(np.cumsum(f1)),
        efficacy_crossing_h0=tup(e0), efficacy_crossing_h1=tup(e1), futility_crossing_h0=tup(f0),
        futility_crossing_h1=tup(f1), drift=float(theta), inflation_factor=float(inflation),
        expected_information_h0=float(inflation * p0.expected_fraction),
        expected_information_h1=float(inflation * p1.expected_fraction),
        alpha=plan.alpha, power=power, sided=plan.sided, efficacy=efficacy, futility=futility,
        binding=plan.binding, r=plan.r)
