"""Drawn truths made into models: each arm scaled so that its survival at the horizon equals the draw.

Assurance (:mod:`trialsim.design.assurance`) draws the true survival at the horizon of each arm (and, for a
response endpoint, the true response at the visit) from the posterior of the study's evidence. Each draw becomes a
model here:

- **CTD-MAS arm** (:class:`~trialsim.model.ArmModel`): every death hazard of the arm (NR, PR, CR, in every
  disease stratum) is multiplied by one factor ``m``, the root of

  ``S(h; m) = sum_j w_j [(1 - pi) S_mov(h; m c_j) + pi exp(-mu_NR m c_j h)] = s``,

  with ``S_mov(h; x) = 1 - [expm(Q(x) h)]_{NR, dead}`` the responders' survival (``Q(x)`` the generator with death
  hazards times ``x``), ``pi`` the refractory fraction, ``(w_j, c_j)`` the disease strata and their hazard
  multipliers (:meth:`~trialsim.model.BaselineMix.strata`). ``S`` falls strictly from 1 to 0 as ``m`` runs over
  ``(0, inf)``, so the root exists and is unique; it is found on ``log m`` by a bracket from a grid of ``m``
  and a vectorised Illinois (regula falsi) iteration, to ``|S - s| <= 1e-13``.
- **Parametric arm**: the exponential with ``S(h) = s``, hazard ``-log(s) / h``.
- **Response** (the treatment arm, response endpoints): the draw is ``q = P(responder at week w | alive at w)``. For
  CR + PR the lever is the refractory fraction ``pi`` (who never responds); for a fixed ``m`` the survival is
  linear in ``pi``, so ``pi(m) = (A - s) / (A - B)`` (``A``, ``B`` the responders' and non-responders' survival at
  ``h``) keeps ``S(h) = s`` exactly and one root in ``m`` gives ``R(w) / S(w) = q``. For CR alone the lever is the
  PR -> CR rate, with ``m`` re-solved for the survival at every step (nested roots). A draw beyond what the lever
  can reach (``q`` above the responders' own response) is set to the largest reachable value and counted.

The arms' other parameters (response rates, taper, infection) stay as calibrated: the study has no data on them
beyond the response panel of the ruxolitinib arm.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from ..exceptions import invalid
from ..model import CR, DEAD, NR, PR, ArmModel, DiseaseModel, ParametricArm, ResponseProcess
from ..model.numerics import expm

__all__ = ["ArmTruths", "arm_probabilities", "scale_survival", "scale_response", "truth_model"]

#: Largest error of a solved survival (or response ratio) against its target.
TOLERANCE = 1e-13
#: Grid of log death-hazard multipliers that brackets every root (e^-30 to e^14 times the calibrated hazards).
_LOG_GRID = np.linspace(-30.0, 14.0, 89)
_MAX_ITER = 200


@dataclass(frozen=True, kw_only=True)
class ArmTruths:
    """One arm's parameters for each of D draws.

    ``death_scale[d]`` multiplies every death hazard of a CTD-MAS arm (for a parametric arm it is the exponential
    hazard itself); ``refractory_fraction`` and ``rate_pr_cr`` are set (arrays) when a response lever moved them,
    else ``None``. ``clipped[d]`` marks a draw the lever could not reach (set to the nearest reachable value).
    """

    death_scale: np.ndarray
    refractory_fraction: np.ndarray | None = None
    rate_pr_cr: np.ndarray | None = None
    clipped: np.ndarray | None = None

    def arm(self, base, d: int):
        """The arm of draw ``d``: ``base`` with its death hazards scaled (and its lever set), or an exponential."""
        if isinstance(base, ParametricArm):
            return ParametricArm.exponential(float(self.death_scale[d]))
        process = base.response
        changes = {"death_hazard_nr": process.death_hazard_nr * float(self.death_scale[d])}
        if self.refractory_fraction is not None:
            changes["refractory_fraction"] = float(self.refractory_fraction[d])
        if self.rate_pr_cr is not None:
            changes["rate_pr_cr"] = float(self.rate_pr_cr[d])
        return replace(base, response=replace(process, **changes))

    def take(self, index) -> "ArmTruths":
        """The draws ``index`` only (a slice or an index array)."""
        def pick(a):
            return None if a is None else a[index]
        return ArmTruths(death_scale=self.death_scale[index], refractory_fraction=pick(self.refractory_fraction),
                         rate_pr_cr=pick(self.rate_pr_cr), clipped=pick(self.clipped))


def truth_model(model: DiseaseModel, arms: tuple[ArmTruths | None, ...], d: int) -> DiseaseModel:
    """``model`` with each arm ``i`` replaced by ``arms[i].arm(model.arms[i], d)`` (``None``: unchanged)."""
    new = tuple(a if t is None else t.arm(a, d) for a, t in zip(model.arms, arms))
    return replace(model, arms=new)


# ------------------------------------------------------------------------------------------ probabilities


def arm_probabilities(process: ResponseProcess, strata, times, *, scale,
                      rate_pr_cr=None) -> tuple[np.ndarray, np.ndarray]:
    """State probabilities of the responders and survival of the non-responders, for D parameter sets at once.

    Parameters
    ----------
    process
        The arm's calibrated response process.
    strata
        ``[(weight, hazard multiplier), ...]`` of the disease mix.
    times
        Weeks at which to evaluate (T values).
    scale, rate_pr_cr
        Arrays (D,): death hazard multiplier, and optionally the PR -> CR rate (default: the process's).

    Returns
    -------
    movers : ndarray (T, D, 4)
        ``P(state at t)`` of a responder (NR, PR, CR, dead), averaged over the strata.
    stayers : ndarray (T, D)
        ``P(alive at t)`` of a refractory patient, averaged over the strata.
    """
    scale = np.asarray(scale, dtype=float)
    d = scale.shape[0]
    b = np.full(d, process.rate_pr_cr) if rate_pr_cr is None else np.asarray(rate_pr_cr, dtype=float)
    weights = np.array([w for w, _ in strata])
    mult = np.array([c for _, c in strata])
    x = scale[:, None] * mult[None, :]                              # (D, J) death multiplier per stratum
    mu = process.death_hazards(1.0)
    q = np.zeros((d, mult.size, 4, 4))
    q[:, :, NR, PR] = process.rate_nr_pr
    q[:, :, PR, CR] = b[:, None]
    q[:, :, CR, PR] = process.relapse_rate
    q[:, :, PR, NR] = process.relapse_rate
    q[:, :, NR, DEAD] = mu[0] * x
    q[:, :, PR, DEAD] = mu[1] * x
    q[:, :, CR, DEAD] = mu[2] * x
    idx = np.arange(4)
    q[:, :, idx, idx] = -q.sum(axis=3)
    times = np.atleast_1d(np.asarray(times, dtype=float))
    movers = np.empty((times.size, d, 4))
    stayers = np.empty((times.size, d))
    for k, t in enumerate(times):
        rows = expm((q * t).reshape(-1, 4, 4))[:, NR, :].reshape(d, mult.size, 4)
        movers[k] = np.einsum("j,djs->ds", weights, rows)
        stayers[k] = np.exp(-mu[0] * x * t) @ weights
    return movers, stayers


# ------------------------------------------------------------------------------------------- root finding


def _illinois(f: Callable[[np.ndarray, np.ndarray], np.ndarray], lo: np.ndarray, hi: np.ndarray,
              f_lo: np.ndarray, f_hi: np.ndarray) -> np.ndarray:
    """Roots of D monotone functions at once, each bracketed by ``lo``, ``hi`` (``f_lo``, ``f_hi`` of opposite
    signs or zero), by the Illinois variant of regula falsi. ``f(x, index)`` evaluates the functions ``index`` at
    ``x``. Converged when ``|f| <= TOLERANCE`` or the bracket is below 1e-14 in ``x``."""
    lo, hi, f_lo, f_hi = (np.array(v, dtype=float) for v in (lo, hi, f_lo, f_hi))
    x = np.where(np.abs(f_lo) <= np.abs(f_hi), lo, hi)
    done = (np.abs(f_lo) <= TOLERANCE) | (np.abs(f_hi) <= TOLERANCE)
    side = np.zeros(lo.shape, dtype=np.int8)
    for _ in range(_MAX_ITER):
        act = np.flatnonzero(~done)
        if act.size == 0:
            break
        a, b, fa, fb = lo[act], hi[act], f_lo[act], f_hi[act]
        c = (a * fb - b * fa) / (fb - fa)
        bad = ~((c > np.minimum(a, b)) & (c < np.maximum(a, b)))
        c[bad] = 0.5 * (a[bad] + b[bad])
        fc = f(c, act)
        x[act] = c
        same = np.sign(fc) == np.sign(fa)                           # the root is between c and b
        lo[act] = np.where(same, c, a)
        f_lo[act] = np.where(same, fc, fa)
        hi[act] = np.where(same, b, c)
        f_hi[act] = np.where(same, fb, fc)
        # Illinois: halve the value kept twice in a row at the same end
        keep_b = same & (side[act] == 1)
        keep_a = ~same & (side[act] == -1)
        f_hi[act] = np.where(keep_b, f_hi[act] / 2, f_hi[act])
        f_lo[act] = np.where(keep_a, f_lo[act] / 2, f_lo[act])
        side[act] = np.where(same, 1, -1)
        done[act] = (np.abs(fc) <= TOLERANCE) | (np.abs(hi[act] - lo[act]) <= 1e-14 * np.maximum(1.0, np.abs(c)))
    return x


def _bracket(values: np.ndarray, targets: np.ndarray, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``k`` with ``values[k] >= target >= values[k + 1]`` on a decreasing ``values`` (clipped to the grid)."""
    k = np.searchsorted(-values, -targets, side="right") - 1
    return np.clip(k, 0, grid.size - 2), (targets > values[0]) | (targets < values[-1])


def _check_survival(field: str, s) -> np.ndarray:
    s = np.atleast_1d(np.asarray(s, dtype=float))
    if not np.all(np.isfinite(s) & (s > 0) & (s < 1)):
        raise invalid(field, "must hold survival probabilities in (0, 1)", s)
    return s


def scale_survival(arm, strata, horizon: float, survival) -> ArmTruths:
    """Per draw, the arm whose survival at ``horizon`` equals ``survival[d]`` (see the module docstring).

    Examples
    --------
    >>> from trialsim.model import default_model
    >>> model = default_model(8.0)
    >>> truths = scale_survival(model.arms[1], model.baseline.strata(), 8.0, [13 / 21, 0.5])
    >>> [round(float(v), 6) for v in truths.death_scale]          # the calibrated control arm, then a sicker one
    [1.0, 1.485716]
    """
    s = _check_survival("survival", survival)
    if isinstance(arm, ParametricArm):
        return ArmTruths(death_scale=-np.log(s) / horizon, clipped=np.zeros(s.shape, bool))
    process = arm.response
    if process.death_hazard_nr <= 0:
        raise invalid("ArmModel.response.death_hazard_nr", "must be > 0 to scale the arm's survival", 0.0)
    pi = process.refractory_fraction

    def surv(log_m: np.ndarray) -> np.ndarray:
        movers, stayers = arm_probabilities(process, strata, [horizon], scale=np.exp(log_m))
        return (1 - pi) * (1 - movers[0, :, DEAD]) + pi * stayers[0]

    grid_s = surv(_LOG_GRID)
    k, out = _bracket(grid_s, s, _LOG_GRID)
    log_m = _illinois(lambda x, i: surv(x) - s[i], _LOG_GRID[k], _LOG_GRID[k + 1], grid_s[k] - s, grid_s[k + 1] - s)
    return ArmTruths(death_scale=np.exp(log_m), clipped=out)


def _cr_pr_lever(process, strata, horizon, week, s, q) -> ArmTruths:
    """Refractory fraction and death scale with ``S(h) = s`` and ``P(CR or PR at w | alive at w) = q``."""
    times = [horizon] if week == horizon else [horizon, week]
    at_w = len(times) - 1

    def parts(log_m):
        movers, stayers = arm_probabilities(process, strata, times, scale=np.exp(log_m))
        return 1 - movers[0, :, DEAD], stayers[0], movers[at_w], stayers[at_w]

    def pi_of(a, b, i):
        return np.clip((a - s[i]) / (a - b), 0.0, 1.0)

    def ratio(log_m, i):
        a, b, mw, sw = parts(log_m)
        pi = pi_of(a, b, i)
        alive = (1 - pi) * (1 - mw[:, DEAD]) + pi * sw
        return (1 - pi) * (mw[:, PR] + mw[:, CR]) / alive - q[i]

    everyone = np.arange(s.size)
    # the ends of the feasible range: all refractory (pi = 1, no response) and all responders (pi = 0)
    movers = scale_survival(ArmModel(response=replace(process, refractory_fraction=0.0)), strata, horizon, s)
    stayers = scale_survival(ArmModel(response=replace(process, refractory_fraction=1.0)), strata, horizon, s)
    lo, hi = np.log(stayers.death_scale), np.log(movers.death_scale)
    f_lo, f_hi = -q, ratio(hi, everyone)
    clipped = f_hi < 0                                              # q above what responders alone give
    f_hi = np.where(clipped, 0.0, f_hi)
    log_m = _illinois(ratio, lo, hi, f_lo, f_hi)
    a, b, _, _ = parts(log_m)
    return ArmTruths(death_scale=np.exp(log_m), refractory_fraction=pi_of(a, b, everyone), clipped=clipped)


def _cr_lever(process, strata, horizon, week, s, q) -> ArmTruths:
    """PR -> CR rate and death scale with ``S(h) = s`` and ``P(CR at w | alive at w) = q`` (nested roots)."""
    base = process.rate_pr_cr if process.rate_pr_cr > 0 else 1e-3
    pi = process.refractory_fraction
    times = [horizon] if week == horizon else [horizon, week]
    at_w = len(times) - 1
    solved_m: dict[str, np.ndarray] = {}

    def survival_root(log_b, i):
        rate = np.exp(log_b)

        def surv(log_m, j):
            movers, stayers = arm_probabilities(process, strata, [horizon], scale=np.exp(log_m), rate_pr_cr=rate[j])
            return (1 - pi) * (1 - movers[0, :, DEAD]) + pi * stayers[0] - s[i][j]

        start = solved_m.get("last", np.zeros(s.size))[i]
        lo, hi = start - 0.5, start + 0.5
        every = np.arange(i.size)
        f_lo, f_hi = surv(lo, every), surv(hi, every)
        for _ in range(60):                                         # widen until the root is bracketed
            low_bad, high_bad = f_lo < 0, f_hi > 0
            if not (low_bad.any() or high_bad.any()):
                break
            lo = np.where(low_bad, lo - 2.0, lo)
            hi = np.where(high_bad, hi + 2.0, hi)
            f_lo, f_hi = surv(lo, every), surv(hi, every)
        return _illinois(surv, lo, hi, f_lo, f_hi)

    def ratio(log_b, i):
        log_m = survival_root(log_b, i)
        last = solved_m.setdefault("last", np.zeros(s.size))
        last[i] = log_m
        movers, stayers = arm_probabilities(process, strata, times, scale=np.exp(log_m), rate_pr_cr=np.exp(log_b))
        mw, sw = movers[at_w], stayers[at_w]
        return (1 - pi) * mw[:, CR] / ((1 - pi) * (1 - mw[:, DEAD]) + pi * sw) - q[i]

    everyone = np.arange(s.size)
    lo = np.full(s.size, math.log(base) - 25.0)
    hi = np.full(s.size, math.log(base) + 12.0)
    f_lo, f_hi = ratio(lo, everyone), ratio(hi, everyone)
    clipped = (f_hi < 0) | (f_lo > 0)
    f_hi, f_lo = np.where(f_hi < 0, 0.0, f_hi), np.where(f_lo > 0, 0.0, f_lo)
    log_b = _illinois(ratio, lo, hi, f_lo, f_hi)
    log_m = survival_root(log_b, everyone)
    return ArmTruths(death_scale=np.exp(log_m), rate_pr_cr=np.exp(log_b), clipped=clipped)


def scale_response(arm: ArmModel, strata, horizon: float, week: float, survival, response, level: str) -> ArmTruths:
    """Per draw, the arm with survival ``survival[d]`` at ``horizon`` and ``P(responder at week | alive then)``
    equal to ``response[d]``; the responders are CR + PR (``level = "cr_pr"``, lever: the refractory fraction) or
    CR (``"cr"``, lever: the PR -> CR rate). See the module docstring.

    Examples
    --------
    >>> from trialsim.model import default_model
    >>> model = default_model(8.0)
    >>> t = scale_response(model.arms[0], model.baseline.strata(), 8.0, 8.0, [0.95], [16 / 19], "cr_pr")
    >>> round(float(t.refractory_fraction[0]), 4), bool(t.clipped[0])
    (0.1675, False)
    """
    if not isinstance(arm, ArmModel):
        raise invalid("model.arms", "must be the CTD-MAS arm (ArmModel) for a response endpoint", type(arm).__name__)
    s = _check_survival("survival", survival)
    q = np.atleast_1d(np.asarray(response, dtype=float))
    if q.shape != s.shape or not np.all((q > 0) & (q < 1)):
        raise invalid("response", "must hold one probability in (0, 1) per survival draw", response)
    if level == "cr_pr":
        return _cr_pr_lever(arm.response, list(strata), float(horizon), float(week), s, q)
    if level == "cr":
        return _cr_lever(arm.response, list(strata), float(horizon), float(week), s, q)
    raise invalid("level", "must be 'cr_pr' or 'cr'", level)
