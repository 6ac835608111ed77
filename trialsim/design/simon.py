"""Simon's two-stage designs for a single-arm binary endpoint, by exact search.

Stage 1 treats ``n1`` patients and stops (accepting H0: ``p <= p0``) if ``X1 <= r1``; otherwise ``n - n1`` more
are treated and H0 is rejected if the total ``X1 + X2 > r``. With ``b(x; m, p)`` and ``B(x; m, p)`` the binomial
probability and distribution functions and ``n2 = n - n1``:

- probability of early termination ``PET(p) = B(r1; n1, p)``;
- probability of rejecting H0 ``R(p) = sum_{x1 = r1 + 1}^{n1} b(x1; n1, p) [1 - B(r - x1; n2, p)]``;
- expected sample size ``EN(p) = n1 + (1 - PET(p)) n2``.

A design is admissible when ``R(p0) <= alpha`` and ``R(p1) >= power`` (Simon's error constraints, exactly,
binomial). The *optimal* design minimises ``EN(p0)``; the *minimax* design minimises ``n`` and then ``EN(p0)``.

Search: every ``n`` up to ``n_max`` and every ``n1 < n``; for each ``(n1, n)`` the rejection probabilities of
all ``(r1, r)`` at once, from cumulative binomial tables (a reverse cumulative sum over ``x1``), and for each
``r1`` the smallest ``r >= r1`` meeting the alpha constraint (``R`` falls with ``r``, so it is the one with
the largest power; ``EN(p0)`` does not depend on ``r``). Ties: optimal by ``EN(p0)``, then smaller ``n``, then
smaller ``n1``; minimax by ``n``, then ``EN(p0)``, then smaller ``n1``. Constraints are compared with an
absolute tolerance of 1e-12 for rounding.

Pruning (exact): only ``r`` with ``P(Bin(n, p1) > r) >= power`` can meet the power, and an optimal design
needs ``n1 < EN(p0)`` of the best design found so far.

The default ``n_max`` is twice the exact single-stage sample size (the smallest ``n`` with an ``r`` such that
``P(X > r | p0) <= alpha`` and ``P(X > r | p1) >= power``) plus 5; a warning is raised when the optimum lies
within 5% of ``n_max``, as R's ``clinfun::ph2simon`` does.

Reference: Simon R. Optimal two-stage designs for phase II clinical trials. Controlled Clinical Trials
1989;10:1-10.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats

from ..exceptions import TrialsimWarning, invalid
from ..model.validation import check_level

__all__ = ["SimonDesign", "simon_design", "simon_oc", "single_stage_n"]

_TOL = 1e-12


def _prob(field: str, value) -> float:
    """A probability in (0, 1) (trialsim.model.validation)."""
    return check_level(field, value)


def _check_inputs(p0, p1, alpha, power) -> tuple[float, float, float, float]:
    p0, p1 = _prob("p0", p0), _prob("p1", p1)
    if p1 <= p0:
        raise invalid("p1", f"must be greater than p0 = {p0}", p1)
    alpha, power = _prob("alpha", alpha), _prob("power", power)
    if power <= alpha:
        raise invalid("power", f"must be greater than alpha = {alpha}", power)
    return p0, p1, alpha, power


@dataclass(frozen=True)
class SimonDesign:
    """A two-stage design and its exact operating characteristics under ``p0`` (``en0``, ``pet0``,
    ``alpha``: the attained type I error) and ``p1`` (``power``)."""

    r1: int
    n1: int
    r: int
    n: int
    en0: float
    pet0: float
    alpha: float
    power: float
    p0: float
    p1: float
    kind: str

    def to_dict(self) -> dict:
        """``{"r1", "n1", "r", "n", "en0", "pet0", "alpha", "power"}``."""
        return {"r1": self.r1, "n1": self.n1, "r": self.r, "n": self.n, "en0": self.en0, "pet0": self.pet0,
                "alpha": self.alpha, "power": self.power}


def simon_oc(r1: int, n1: int, r: int, n: int, p) -> dict:
    """Exact operating characteristics of the design ``(r1, n1, r, n)`` at response rate(s) ``p``.

    Returns ``{"reject": R(p), "pet": PET(p), "en": EN(p)}`` (floats, or arrays for an array ``p``).

    Examples
    --------
    >>> oc = simon_oc(1, 10, 5, 29, 0.1)          # Simon (1989) Table 1, p0 = 0.1, optimal
    >>> round(oc["pet"], 4), round(oc["en"], 4), round(oc["reject"], 4)
    (0.7361, 15.0141, 0.0471)
    """
    for field, value in (("n1", n1), ("n", n)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise invalid(field, "must be an integer >= 1", value)
    if n1 >= n:
        raise invalid("n1", f"must be less than n = {n}", n1)
    for field, value, top in (("r1", r1, n1), ("r", r, n)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value <= top:
            raise invalid(field, f"must be an integer in [0, {top}]", value)
    p_arr = np.asarray(p, dtype=float)
    if np.any(~np.isfinite(p_arr)) or np.any((p_arr < 0) | (p_arr > 1)):
        raise invalid("p", "must be in [0, 1]", p)
    x1 = np.arange(r1 + 1, n1 + 1)
    pp = p_arr[..., None]
    reject = np.sum(stats.binom.pmf(x1, n1, pp) * stats.binom.sf(r - x1, n - n1, pp), axis=-1)
    pet = stats.binom.cdf(r1, n1, p_arr)
    en = n1 + (1.0 - pet) * (n - n1)
    if p_arr.ndim == 0:
        return {"reject": float(reject), "pet": float(pet), "en": float(en)}
    return {"reject": reject, "pet": pet, "en": en}


def single_stage_n(p0: float, p1: float, alpha: float = 0.05, power: float = 0.8, n_max: int = 5000) -> tuple[int, int]:
    """Smallest exact single-stage ``(n, r)``: reject H0 if ``X > r``, ``P(X > r | p0) <= alpha`` and
    ``P(X > r | p1) >= power``.

    Examples
    --------
    >>> single_stage_n(0.1, 0.3)
    (25, 5)
    """
    p0, p1, alpha, power = _check_inputs(p0, p1, alpha, power)
    for n in range(1, n_max + 1):
        r = int(stats.binom.isf(alpha, n, p0))       # smallest r with P(X > r) <= alpha, up to rounding
        while r > 0 and stats.binom.sf(r - 1, n, p0) <= alpha + _TOL:
            r -= 1
        while stats.binom.sf(r, n, p0) > alpha + _TOL:
            r += 1
        if r < n and stats.binom.sf(r, n, p1) >= power - _TOL:
            return n, r
    raise invalid("n_max", "is too small for a single-stage design", n_max)


def _tables(n_max: int, p: float) -> tuple[np.ndarray, np.ndarray]:
    """``pmf[m, x] = b(x; m, p)`` and ``sf[m, k] = P(Bin(m, p) > k)`` for ``m, x, k`` in ``0..n_max``."""
    m = np.arange(n_max + 1)[:, None]
    x = np.arange(n_max + 1)[None, :]
    return stats.binom.pmf(x, m, p), stats.binom.sf(x, m, p)


def simon_design(p0: float, p1: float, alpha: float = 0.05, power: float = 0.8, kind: str = "optimal",
                 n_max: int | None = None) -> SimonDesign:
    """Simon's optimal or minimax two-stage design by exact search over ``n <= n_max``.

    Parameters
    ----------
    p0, p1
        Uninteresting and target response rates, ``0 < p0 < p1 < 1``.
    alpha, power
        Type I error bound under ``p0`` and power under ``p1`` (``beta = 1 - power``).
    kind
        ``"optimal"`` (minimum ``EN(p0)``) or ``"minimax"`` (minimum ``n``, then ``EN(p0)``).
    n_max
        Largest total sample size searched; default ``2 n_single + 5`` (see the module docstring).

    Examples
    --------
    >>> d = simon_design(0.1, 0.3)                  # Simon (1989) Table 1: 1/10, 5/29
    >>> d.r1, d.n1, d.r, d.n, round(d.en0, 4), round(d.pet0, 4)
    (1, 10, 5, 29, 15.0141, 0.7361)
    >>> simon_design(0.2, 0.4, 0.1, 0.9, kind="minimax").to_dict()["n"]   # clinfun::ph2simon example
    36
    """
    p0, p1, alpha, power = _check_inputs(p0, p1, alpha, power)
    if kind not in ("optimal", "minimax"):
        raise invalid("kind", "must be 'optimal' or 'minimax'", kind)
    if n_max is None:
        n_max = 2 * single_stage_n(p0, p1, alpha, power)[0] + 5
    if isinstance(n_max, bool) or not isinstance(n_max, (int, np.integer)) or not 2 <= n_max <= 1000:
        raise invalid("n_max", "must be an integer in [2, 1000]", n_max)
    n_max = int(n_max)
    pmf0, sf0 = _tables(n_max, p0)
    pmf1, sf1 = _tables(n_max, p1)
    cdf0 = np.cumsum(pmf0, axis=1)
    best = None                                     # (key, design tuple)
    for n in range(2, n_max + 1):
        if kind == "minimax" and best is not None:
            break                                   # the first n with a design is the minimax n
        # power bound: R(p1) <= P(Bin(n, p1) > r), so only r <= r_top can reach the power
        top = np.flatnonzero(sf1[n, :n] >= power - _TOL)
        if top.size == 0:
            continue
        r_all = np.arange(int(top[-1]) + 1)
        for n1 in range(1, n):
            if kind == "optimal" and best is not None and n1 >= best[0][0]:
                break                               # EN(p0) >= n1: no better design with this n1 or more
            n2 = n - n1
            x1 = np.arange(n1 + 1)
            k = r_all[None, :] - x1[:, None]        # r - x1, from -n1 to n
            ext0 = np.where(k < 0, 1.0, sf0[n2, np.clip(k, 0, n2)])
            ext1 = np.where(k < 0, 1.0, sf1[n2, np.clip(k, 0, n2)])
            # R[r1, r] = sum_{x1 > r1} b(x1) S(r - x1): reverse cumulative sums over x1, rows r1 = 0..n1-1
            rej0 = np.cumsum((pmf0[n1, :n1 + 1, None] * ext0)[::-1], axis=0)[::-1][1:]
            rej1 = np.cumsum((pmf1[n1, :n1 + 1, None] * ext1)[::-1], axis=0)[::-1][1:]
            ok = (rej0 <= alpha + _TOL) & (r_all[None, :] >= np.arange(n1)[:, None]) & (r_all[None, :] < n)
            has = ok.any(axis=1)
            if not has.any():
                continue
            r_min = np.argmax(ok, axis=1)
            rows = np.arange(n1)
            feasible = has & (rej1[rows, r_min] >= power - _TOL)
            if not feasible.any():
                continue
            r1 = int(np.flatnonzero(feasible)[-1])  # largest feasible r1: largest PET(p0), smallest EN(p0)
            pet0 = float(cdf0[n1, r1])
            en0 = n1 + (1.0 - pet0) * n2
            key = (en0, n, n1) if kind == "optimal" else (n, en0, n1)
            if best is None or key < best[0]:
                r = int(r_min[r1])
                best = (key, (r1, n1, r, n, en0, pet0, float(rej0[r1, r]), float(rej1[r1, r])))
    if best is None:
        raise invalid("n_max", "is too small: no two-stage design meets alpha and power", n_max)
    r1, n1, r, n, en0, pet0, a, pw = best[1]
    if kind == "optimal" and n >= 0.95 * n_max:
        warnings.warn(f"the optimal design's n = {n} is within 5% of n_max = {n_max}; "
                      "a larger n_max may find a better design", TrialsimWarning, stacklevel=2)
    return SimonDesign(r1=r1, n1=n1, r=r, n=n, en0=en0, pet0=pet0, alpha=a, power=pw, p0=p0, p1=p1, kind=kind)
