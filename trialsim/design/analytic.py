"""What a trial shows of a model, exactly: the quantities behind every analytic power.

From the model's exact survival functions (a :class:`~trialsim.model.ParametricArm`'s, or the multi-state chain's
matrix exponentials for an :class:`~trialsim.model.ArmModel`), averaged over the baseline disease mix, and the
trial's follow-up, dropout and accrual, up to the design's horizon (what the analysis uses): the probability of an
observed death, the exposure, the share of patients whose status at the horizon is known, the expected deaths and
the average hazard ratio. Each design (:mod:`trialsim.design.rules`) feeds them to the closed forms of
:mod:`trialsim.design.formulas` in its ``analytic_power`` method.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..exceptions import invalid
from ..model.validation import check_positive
from .formulas import binomial_power, two_proportion_power

__all__ = ["AnalyticPower", "arm_survival", "event_probability", "expected_events", "average_hazard_ratio",
           "resolve_horizon", "Observation", "observe", "deaths_by_arm", "response_probability", "reach_of",
           "TIME_TOLERANCE",
           "complete_case_power", "complete_case_binomial_power"]

_GRID_POINTS = 401
#: A patient followed to within this of the horizon has reached it (as the designs' analysis counts it)
TIME_TOLERANCE = 1e-9


@dataclass(frozen=True, kw_only=True, slots=True)
class AnalyticPower:
    """The closed-form answer beside a simulated power.

    Attributes
    ----------
    power
        The analytic power.
    method
        The formula that gave it.
    n_events_by_arm
        Expected deaths by the design's horizon in each group the analysis compares, in the order of
        :attr:`trialsim.design.rules.DesignOutcome.n_events_by_arm`: (treatment, control) for a two-arm design,
        (trial arm,) for a single-arm design, (trial arm, historical arm) for a historical control. The log-rank
        formulas use them; for the other tests they are the expected value of the simulated deaths.
    hazard_ratio
        The (average) hazard ratio treatment / comparator the formula used (``nan`` where none is used).
    """

    power: float
    method: str
    n_events_by_arm: tuple[float, ...] = ()
    hazard_ratio: float = float("nan")

    @property
    def n_events(self) -> float:
        """Expected deaths the analysis uses: the sum of :attr:`n_events_by_arm` (``nan`` if none)."""
        return float(sum(self.n_events_by_arm)) if self.n_events_by_arm else float("nan")


def arm_survival(model, arm: int, times) -> np.ndarray:
    """Marginal survival of ``model.arms[arm]`` at ``times`` (averaged over the baseline disease mix)."""
    t = np.atleast_1d(np.asarray(times, dtype=float))
    return sum(w * np.asarray(model.arms[arm].survival(t, m), dtype=float).reshape(t.shape)
               for w, m in model.baseline.strata())


@lru_cache(maxsize=256)
def _grid_survival(arm, strata: tuple[tuple[float, float], ...], horizon: float) -> np.ndarray:
    # Cached: sample-size searches ask for the same arm's survival curve at many n
    grid = np.linspace(0.0, horizon, _GRID_POINTS)
    # (the built-in sum starts from 0: an array unless there are no strata, which BaselineMix does not allow)
    return np.asarray(sum(w * np.asarray(arm.survival(grid, m), dtype=float).reshape(grid.shape)
                          for w, m in strata))


def _entry_times(trial) -> np.ndarray:
    """Typical entry times of the n patients: the (k - 1/2)-th quantile of the cumulative accrual intensity."""
    n = trial.n
    if trial.accrual.kind == "instant":
        return np.zeros(1)
    rates, starts = trial.accrual.piecewise()
    targets = np.arange(n) + 0.5
    ends = np.append(starts[1:], np.inf)
    cum = np.concatenate(([0.0], np.cumsum(rates[:-1] * np.diff(starts))))
    k = np.clip(np.searchsorted(cum, targets, side="right") - 1, 0, len(rates) - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = starts[k] + (targets - cum[k]) / rates[k]
    return np.minimum(out, ends[k])


def _windows(trial, limit: float) -> np.ndarray:
    """Weeks each typical patient can be observed, up to ``limit`` (<= the follow-up), before the analysis.

    The window of a patient entering at e is ``min(limit, analysis_time - e)`` for a calendar analysis and
    ``limit`` otherwise (``events`` analyses are treated as complete follow-up; the caller caps the count).
    """
    entry = _entry_times(trial)
    window = np.full(entry.shape, float(limit))
    if trial.analysis == "calendar":
        window = np.clip(trial.analysis_time - entry, 0.0, window)
    return window


def reach_of(trial, week: float) -> float:
    """Share of patients whose observation window reaches ``week`` (0 beyond the follow-up)."""
    if week > trial.follow_up + TIME_TOLERANCE:
        return 0.0
    return float(np.mean(_windows(trial, min(week, trial.follow_up)) >= week - TIME_TOLERANCE))


def resolve_horizon(trial, horizon: float | None, *, field: str = "horizon") -> float:
    """The analysis horizon in weeks from entry: ``trial.follow_up`` when ``None``, else 0 < horizon <= it."""
    if horizon is None:
        return float(trial.follow_up)
    h = check_positive(field, horizon)
    if h > trial.follow_up + TIME_TOLERANCE:
        raise invalid(field, f"must not exceed the trial's follow-up ({trial.follow_up:g} weeks)", horizon)
    return min(h, float(trial.follow_up))


@dataclass(frozen=True, kw_only=True, slots=True)
class Observation:
    """What is seen of one patient of an arm up to the horizon h (averaged over typical entry times).

    ``survival`` is S(h); ``deaths`` P(death observed by h); ``alive`` P(followed alive to h), i.e. known to be
    alive at h; ``exposure`` E[time observed up to h] (``nan`` when not computed); ``complete`` says that
    every patient's status at h is known (no dropout and no analysis before h).
    """

    survival: float
    deaths: float
    alive: float
    exposure: float
    complete: bool

    @property
    def known(self) -> float:
        """P(status at the horizon known): died by it, or followed alive to it."""
        return 1.0 if self.complete else self.deaths + self.alive

    @property
    def alive_if_known(self) -> float:
        """P(alive at the horizon | status known): what the complete-case proportion estimates."""
        if self.complete:
            return self.survival
        return self.alive / self.known if self.known > 0 else 0.0


def observe(model, trial, arm: int, horizon: float, *, dropout: float | None = None,
             exposure: bool = True) -> Observation:
    """Observation of a patient of ``model.arms[arm]`` under ``trial`` up to ``horizon`` (exact up to quadrature).

    Death competes with loss to follow-up (constant hazard eta); the window of a patient ends at
    ``min(horizon, window)`` (:func:`_windows`). With a step dS of the survival curve on a grid of [0, h],

    .. math:: P(\\text{death seen by } w) = \\int_0^w e^{-\\eta t}\\,(-dS(t)), \\quad
              E[\\text{time seen}] = \\int_0^w e^{-\\eta t} S(t)\\,dt,

    averaged over the typical patients' windows w; P(alive and followed to h) is
    :math:`S(h) e^{-\\eta h}` times the share of windows that reach h.
    """
    eta = trial.dropout_hazard[min(arm, len(trial.dropout_hazard) - 1)] if dropout is None else float(dropout)
    windows = _windows(trial, horizon)
    reach = float(np.mean(windows >= horizon - TIME_TOLERANCE))
    complete = eta == 0 and reach == 1.0
    s_h = float(arm_survival(model, arm, [horizon])[0])
    alive = s_h * math.exp(-eta * horizon) * reach
    if complete and not exposure:
        return Observation(survival=s_h, deaths=1.0 - s_h, alive=alive, exposure=float("nan"), complete=True)
    grid = np.linspace(0.0, horizon, _GRID_POINTS)
    surv = _grid_survival(model.arms[arm], tuple(model.baseline.strata()), horizon)
    mid = 0.5 * (grid[1:] + grid[:-1])
    keep = np.exp(-eta * mid)
    deaths = np.concatenate(([0.0], np.cumsum(keep * -np.diff(surv))))
    time_seen = np.concatenate(([0.0], np.cumsum(keep * 0.5 * (surv[1:] + surv[:-1]) * np.diff(grid))))
    seen = float(np.interp(windows, grid, time_seen).mean()) if exposure else float("nan")
    return Observation(survival=s_h, deaths=float(np.interp(windows, grid, deaths).mean()), alive=alive,
                        exposure=seen, complete=complete)


def event_probability(model, trial, arm: int, *, dropout: float | None = None, exposure: bool = True,
                      horizon: float | None = None) -> tuple[float, float]:
    """(P(death observed), E[time observed]) for a patient of ``arm`` under ``trial``, up to ``horizon``.

    Exact up to quadrature. Death competes with loss to follow-up (constant hazard ``dropout``, default the
    arm's) and the observation window of a patient is ``min(horizon, window)``, where the window ends at the
    follow-up or at a calendar analysis. ``horizon`` (weeks from entry, at most ``trial.follow_up``) defaults to
    the follow-up. ``events`` analyses are treated as complete follow-up (the caller caps the count).
    ``exposure=False`` skips the expected time (``nan``), which lets the common case (no dropout, every
    patient followed to the horizon) use the survival at the horizon alone instead of a whole curve.
    """
    seen = observe(model, trial, arm, resolve_horizon(trial, horizon), dropout=dropout, exposure=exposure)
    return seen.deaths, seen.exposure


def _cap(trial, deaths: tuple[float, ...]) -> tuple[float, ...]:
    """An event-driven analysis stops at ``target_events``: scale the arms' deaths to sum to at most it."""
    total = sum(deaths)
    if trial.analysis == "events" and total > trial.target_events:
        return tuple(d * trial.target_events / total for d in deaths)
    return tuple(float(d) for d in deaths)


def deaths_by_arm(trial, seen: list[Observation]) -> tuple[float, ...]:
    return _cap(trial, tuple(size * s.deaths for size, s in zip(trial.n_per_arm(), seen)))


def expected_events(model, trial, *, horizon: float | None = None) -> float:
    """Expected deaths observed in ``trial`` by ``horizon`` (default: the follow-up).

    Arms in allocation proportions; capped at ``target_events`` for event-driven analyses. See
    :func:`event_probability`.
    """
    h = resolve_horizon(trial, horizon)
    seen = [observe(model, trial, i, h, exposure=False) for i in range(trial.n_arms)]
    return float(sum(deaths_by_arm(trial, seen)))


def average_hazard_ratio(model, horizon: float, arm: int = 0, control: int = 1) -> float:
    """exp of the log ratio of cumulative hazards at ``horizon``: the exact HR for proportional hazards."""
    s = arm_survival(model, arm, [horizon])[0], arm_survival(model, control, [horizon])[0]
    return float(math.log(s[0]) / math.log(s[1]))


def response_probability(model, arm: int, week: float, level: str) -> float:
    states = sum(w * model.arms[arm].response.state_probabilities([week], m)[0] for w, m in model.baseline.strata())
    return float(states[2] + (states[1] if level == "cr_pr" else 0.0))


def complete_case_power(seen: tuple[Observation, Observation], sizes: tuple[float, float], *, alpha: float,
                         sided: int) -> float:
    """Two-proportion power on survival at the horizon, patients of unknown status left out."""
    n1, n2 = (size * s.known for size, s in zip(sizes, seen))
    if n1 <= 0 or n2 <= 0:
        return 0.0  # no patient's status known in a group: every trial is degenerate, none rejects
    return two_proportion_power(seen[0].alive_if_known, seen[1].alive_if_known, n1, n2, alpha=alpha, sided=sided)


def complete_case_binomial_power(n: int, p_null: float, seen: Observation, *, alpha: float, sided: int) -> float:
    """Exact binomial power of survival at the horizon when only the M patients of known status are tested.

    Each patient is known with probability q and then alive with probability p (:class:`Observation`), so
    :math:`M \\sim \\mathrm{Bin}(n, q)` and the power is :math:`\\sum_m P(M = m)\\,\\mathrm{power}(m, p)`
    (M = 0 is degenerate: no rejection). Exact when every patient has the same q (no calendar cut before the
    horizon); with staggered entry and a calendar cut q is the average over the patients.
    """
    if seen.complete:
        return binomial_power(n, p_null, seen.survival, alpha=alpha, sided=sided)
    sizes = np.arange(1, n + 1)
    from scipy.stats import binom  # noqa: PLC0415 - slow to import; binomial designs only

    weights = binom.pmf(sizes, n, seen.known)
    p = seen.alive_if_known
    return float(sum(w * binomial_power(int(m), p_null, p, alpha=alpha, sided=sided)
                     for m, w in zip(sizes, weights) if w > 1e-15))
