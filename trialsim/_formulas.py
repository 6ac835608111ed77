"""Analytic sample size and power: Schoenfeld, Freedman, Lachin-Foulkes, exact binomial, two proportions.

These are the closed-form answers that stand beside every simulated power (``power.py`` re-exports them).
They assume large samples (the log-rank statistic is normal with the stated mean and unit variance) and,
for Lachin-Foulkes, exponential survival and dropout with uniform accrual. ``docs/design.md`` explains why
they differ from simulation in small trials.

Conventions: ``allocation_ratio`` r is n_treatment / n_control; ``alpha`` is the total type I error of a
test with ``sided`` 1 or 2 sides (a two-sided test spends ``alpha / 2`` on each side).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
from scipy import special

__all__ = [
    "schoenfeld_events",
    "freedman_events",
    "schoenfeld_power",
    "lachin_foulkes",
    "LachinFoulkesResult",
    "binomial_power",
    "binomial_rejection_region",
    "binomial_pvalues",
    "two_proportion_power",
]


# ---------------------------------------------------------------------------------------------- validation


def _check_probability(name: str, value: float, *, open_low: bool = True, open_high: bool = True) -> float:
    ok = isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool)
    ok = ok and math.isfinite(value) and (value > 0 if open_low else value >= 0) and \
        (value < 1 if open_high else value <= 1)
    if not ok:
        lo, hi = ("(0" if open_low else "[0"), ("1)" if open_high else "1]")
        raise ValueError(f"`{name}` must be in {lo}, {hi}; got {value!r}")
    return float(value)


def _check_positive(name: str, value: float, *, allow_zero: bool = False) -> float:
    ok = isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool)
    ok = ok and math.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        rule = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"`{name}` must be a finite number {rule}; got {value!r}")
    return float(value)


def _check_sided(sided: int) -> int:
    if sided not in (1, 2) or isinstance(sided, bool):
        raise ValueError(f"`sided` must be 1 or 2; got {sided!r}")
    return int(sided)


def _binom():
    """scipy.stats.binom, imported when a binomial design needs it (scipy.stats is slow to import)."""
    from scipy.stats import binom

    return binom


def _z_alpha(alpha: float, sided: int) -> float:
    return float(special.ndtri(1.0 - alpha / sided))


def _events_iv(hazard_ratio, alpha, power, sided, allocation_ratio) -> tuple[float, float, float, int, float]:
    hr = _check_positive("hazard_ratio", hazard_ratio)
    if hr == 1.0:
        raise ValueError("`hazard_ratio` must differ from 1 (no effect needs infinitely many events); got 1.0")
    return (hr, _check_probability("alpha", alpha), _check_probability("power", power), _check_sided(sided),
            _check_positive("allocation_ratio", allocation_ratio))


# -------------------------------------------------------------------------------------- log-rank: events


def schoenfeld_events(hazard_ratio: float, *, alpha: float, power: float, sided: int = 1,
                      allocation_ratio: float = 1.0) -> float:
    """Events needed for the log-rank test to reach ``power`` (Schoenfeld 1981).

    Parameters
    ----------
    hazard_ratio
        Hazard ratio treatment / control under the alternative (> 0, != 1).
    alpha, power
        Type I error (total over ``sided`` sides) and target power.
    sided
        1 or 2. A two-sided test uses ``z_{1 - alpha/2}`` (the other tail is ignored, as usual).
    allocation_ratio
        r = n_treatment / n_control.

    Returns
    -------
    float
        The continuous number of events d (round up for a design).

    Notes
    -----
    .. math:: d = \\frac{(1 + r)^2}{r} \\frac{(z_{1-\\alpha/s} + z_{1-\\beta})^2}{(\\log \\mathrm{HR})^2}

    Under proportional hazards the log-rank statistic is approximately normal with unit variance and mean
    ``log(HR) sqrt(d r) / (1 + r)``.

    References
    ----------
    Schoenfeld D (1981). The asymptotic properties of nonparametric tests for comparing survival
    distributions. Biometrika 68, 316-319.

    Examples
    --------
    >>> round(schoenfeld_events(0.7, alpha=0.025, power=0.9), 6)
    330.377914
    """
    hr, alpha, power, sided, r = _events_iv(hazard_ratio, alpha, power, sided, allocation_ratio)
    z = _z_alpha(alpha, sided) + special.ndtri(power)
    return float((1 + r) ** 2 / r * z ** 2 / math.log(hr) ** 2)


def freedman_events(hazard_ratio: float, *, alpha: float, power: float, sided: int = 1,
                    allocation_ratio: float = 1.0) -> float:
    """Events needed for the log-rank test to reach ``power`` (Freedman 1982).

    Same arguments as :func:`schoenfeld_events`.

    Notes
    -----
    .. math:: d = \\frac{(z_{1-\\alpha/s} + z_{1-\\beta})^2 (1 + r\\,\\mathrm{HR})^2}{r (1 - \\mathrm{HR})^2}

    Freedman's approximation keeps the ratio of numbers at risk at its expected value under the alternative
    instead of 1:1; it asks for more events than Schoenfeld when HR < 1.

    References
    ----------
    Freedman LS (1982). Tables of the number of patients required in clinical trials using the logrank test.
    Statistics in Medicine 1, 121-129.

    Examples
    --------
    >>> round(freedman_events(0.7, alpha=0.025, power=0.9), 6)
    337.405029
    """
    hr, alpha, power, sided, r = _events_iv(hazard_ratio, alpha, power, sided, allocation_ratio)
    z = _z_alpha(alpha, sided) + special.ndtri(power)
    return float(z ** 2 * (1 + r * hr) ** 2 / (r * (1 - hr) ** 2))


def schoenfeld_power(hazard_ratio: float, n_events: float, *, alpha: float, sided: int = 1,
                     allocation_ratio: float = 1.0) -> float:
    """Power of the log-rank test with ``n_events`` events (Schoenfeld's normal approximation).

    Notes
    -----
    With :math:`\\delta = |\\log \\mathrm{HR}| \\sqrt{d r} / (1 + r)`, one-sided power is
    :math:`\\Phi(\\delta - z_{1-\\alpha})`; two-sided power counts rejection on either side,
    :math:`\\Phi(\\delta - z_{1-\\alpha/2}) + \\Phi(-\\delta - z_{1-\\alpha/2})`, so that it equals alpha
    when HR = 1 (as the simulated rejection rate does).
    """
    hr = _check_positive("hazard_ratio", hazard_ratio)
    d = _check_positive("n_events", n_events, allow_zero=True)
    alpha, sided = _check_probability("alpha", alpha), _check_sided(sided)
    r = _check_positive("allocation_ratio", allocation_ratio)
    delta = abs(math.log(hr)) * math.sqrt(d * r) / (1 + r)
    z = _z_alpha(alpha, sided)
    if sided == 1:
        return float(special.ndtr(delta - z))
    return float(special.ndtr(delta - z) + special.ndtr(-delta - z))


# ------------------------------------------------------------------------------------ Lachin-Foulkes


@dataclass(frozen=True, kw_only=True, slots=True)
class LachinFoulkesResult:
    """Sample size by Lachin and Foulkes (1986): continuous ``n_subjects`` and ``n_events``.

    ``event_probability`` holds P(event observed) in the control arm, the treatment arm and under the pooled
    hazard (the null), in that order.
    """

    n_subjects: float
    n_events: float
    event_probability: tuple[float, float, float]

    def n_subjects_integer(self, block: int = 2) -> int:
        """``n_subjects`` rounded up to a multiple of ``block`` (the allocation block)."""
        return int(block * math.ceil(self.n_subjects / block - 1e-12))


def _event_probability(hazard: float, dropout: float, accrual_time: float, study_time: float) -> float:
    """P(death observed before the analysis) with uniform entry on [0, R] and analysis at T (exponential)."""
    total = hazard + dropout
    share = hazard / total
    if accrual_time == 0.0:
        return share * -math.expm1(-total * study_time)
    # 1 - (exp(-g (T - R)) - exp(-g T)) / (g R), written with expm1 for accuracy when g R is small
    tail = math.exp(-total * (study_time - accrual_time)) * -math.expm1(-total * accrual_time)
    return share * (1.0 - tail / (total * accrual_time))


LachinFoulkesScale = Literal["log-hazard-ratio", "hazard-difference"]
_LF_SCALES = ("log-hazard-ratio", "hazard-difference")


def lachin_foulkes(lambda_control: float, lambda_treatment: float, *, accrual_time: float, study_time: float,
                   dropout_hazard: float = 0.0, alpha: float, power: float, sided: int = 1,
                   allocation_ratio: float = 1.0,
                   scale: LachinFoulkesScale = "log-hazard-ratio") -> LachinFoulkesResult:
    """Subjects and events for comparing two exponential hazards (Lachin and Foulkes 1986).

    Parameters
    ----------
    lambda_control, lambda_treatment
        Constant death hazards per unit time (> 0, different).
    accrual_time
        Patients enter uniformly over ``[0, accrual_time]`` (0: all at once).
    study_time
        Calendar time of the analysis (>= ``accrual_time``); the minimum follow-up is
        ``study_time - accrual_time``.
    dropout_hazard
        Constant loss-to-follow-up hazard, the same in both arms.
    alpha, power, sided, allocation_ratio
        As in :func:`schoenfeld_events` (r = n_treatment / n_control).
    scale
        ``"log-hazard-ratio"`` (default): the hazards are compared on the log scale, as
        ``gsDesign::nSurvival(type = "rr")`` (gsDesign's default). ``"hazard-difference"``: on their
        difference, as ``gsDesign::nSurvival(type = "rd", approx = FALSE)``.

    Returns
    -------
    LachinFoulkesResult
        Continuous ``n_subjects`` and ``n_events``. gsDesign prints ``2 * ceiling(n / 2)`` subjects
        (:meth:`LachinFoulkesResult.n_subjects_integer`) and ``ceiling(nEvents)`` events.

    Notes
    -----
    P is the probability of an observed death with uniform entry over [0, R], analysis at T and dropout
    hazard :math:`\\eta`:

    .. math::
        P(\\lambda) = \\frac{\\lambda}{\\lambda + \\eta}\\left(1 -
        \\frac{e^{-(\\lambda+\\eta)(T-R)} - e^{-(\\lambda+\\eta)T}}{(\\lambda+\\eta) R}\\right).

    With allocation fractions :math:`Q_T = r/(1+r)`, :math:`Q_C = 1/(1+r)` and the null hazard
    :math:`\\bar\\lambda = Q_C\\lambda_C + Q_T\\lambda_T`, the estimated hazard of each arm has variance
    :math:`\\phi(\\lambda) / (N Q)`. On the log-hazard-ratio scale
    :math:`\\phi(\\lambda) = 1 / P(\\lambda)` (the variance of :math:`\\log\\hat\\lambda`):

    .. math::
        N = \\frac{\\left(z_{1-\\alpha/s} / \\sqrt{P(\\bar\\lambda) Q_C Q_T} +
        z_{1-\\beta}\\sqrt{1/(Q_C P(\\lambda_C)) + 1/(Q_T P(\\lambda_T))}\\right)^2}
        {(\\log\\lambda_C - \\log\\lambda_T)^2}.

    On the hazard-difference scale :math:`\\phi(\\lambda) = \\lambda^2 / P(\\lambda)`:

    .. math::
        N = \\frac{\\left(z_{1-\\alpha/s}\\sqrt{\\phi(\\bar\\lambda)(1/Q_C + 1/Q_T)} +
        z_{1-\\beta}\\sqrt{\\phi(\\lambda_C)/Q_C + \\phi(\\lambda_T)/Q_T}\\right)^2}{(\\lambda_C - \\lambda_T)^2}.

    Either way the events are :math:`N (Q_C P(\\lambda_C) + Q_T P(\\lambda_T))`.

    References
    ----------
    Lachin JM, Foulkes MA (1986). Evaluation of sample size and power for analyses of survival with allowance
    for nonuniform patient entry, losses to follow-up, noncompliance, and stratification. Biometrics 42,
    507-519. gsDesign (Anderson K), ``R/gsSurvival.R``, function ``nSurvival``.
    """
    lc = _check_positive("lambda_control", lambda_control)
    lt = _check_positive("lambda_treatment", lambda_treatment)
    if lc == lt:
        raise ValueError(f"`lambda_treatment` must differ from `lambda_control`; got {lt!r} for both")
    accrual = _check_positive("accrual_time", accrual_time, allow_zero=True)
    study = _check_positive("study_time", study_time)
    if study < accrual:
        raise ValueError(f"`study_time` must be >= `accrual_time` ({accrual!r}); got {study!r}")
    eta = _check_positive("dropout_hazard", dropout_hazard, allow_zero=True)
    alpha, power = _check_probability("alpha", alpha), _check_probability("power", power)
    sided, r = _check_sided(sided), _check_positive("allocation_ratio", allocation_ratio)
    if scale not in _LF_SCALES:
        raise ValueError(f"`scale` must be 'log-hazard-ratio' or 'hazard-difference'; got {scale!r}")

    q_t = r / (1 + r)
    q_c = 1 - q_t
    pooled = q_c * lc + q_t * lt
    p_c, p_t, p_0 = (_event_probability(h, eta, accrual, study) for h in (lc, lt, pooled))
    # phi(lambda) under the null (pooled hazard), in the control arm and in the treatment arm
    if scale == "log-hazard-ratio":
        phi_0, phi_c, phi_t = 1 / p_0, 1 / p_c, 1 / p_t
        effect = math.log(lc / lt)
    else:
        phi_0, phi_c, phi_t = pooled ** 2 / p_0, lc ** 2 / p_c, lt ** 2 / p_t
        effect = lc - lt
    null_sd = math.sqrt(phi_0 * (1 / q_c + 1 / q_t))
    alt_sd = math.sqrt(phi_c / q_c + phi_t / q_t)
    root = _z_alpha(alpha, sided) * null_sd + special.ndtri(power) * alt_sd
    n = root ** 2 / effect ** 2
    return LachinFoulkesResult(n_subjects=float(n), n_events=float(n * (q_c * p_c + q_t * p_t)),
                               event_probability=(p_c, p_t, p_0))


# ------------------------------------------------------------------------------------ binary endpoints


def binomial_pvalues(n: int, p_null: float, *, sided: int = 1) -> np.ndarray:
    """Exact binomial p-values for every outcome x = 0..n of a test of ``p = p_null``.

    One-sided tests look for large x (H1: p > p_null): ``P(X >= x | p_null)``. Two-sided p-values are those
    of R's ``binom.test``: the total probability of the outcomes no more likely than x (relative tolerance
    1e-7).
    """
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"`n` must be a positive integer; got {n!r}")
    p0 = _check_probability("p_null", p_null)
    sided = _check_sided(sided)
    x = np.arange(n + 1)
    if sided == 1:
        return np.minimum(1.0, _binom().sf(x - 1, n, p0))
    pmf = _binom().pmf(x, n, p0)
    order = np.sort(pmf)
    cumulative = np.cumsum(order)
    idx = np.searchsorted(order, pmf * (1 + 1e-7), side="right") - 1
    return np.minimum(1.0, cumulative[idx])


def binomial_rejection_region(n: int, p_null: float, *, alpha: float, sided: int = 1) -> np.ndarray:
    """Boolean array over x = 0..n: True where the exact binomial test of ``p = p_null`` rejects at ``alpha``."""
    alpha = _check_probability("alpha", alpha)
    return binomial_pvalues(n, p_null, sided=sided) <= alpha


def binomial_power(n: int, p_null: float, p_alternative: float, *, alpha: float, sided: int = 1) -> float:
    """Exact power of the one-sample binomial test of ``p = p_null`` when the true rate is ``p_alternative``.

    Notes
    -----
    :math:`\\sum_{x \\in \\mathcal{R}} \\binom{n}{x} p_1^x (1-p_1)^{n-x}`, with the rejection region
    :math:`\\mathcal{R}` of :func:`binomial_rejection_region`. Power is not monotone in n (the saw-tooth of
    exact tests): the attained size jumps as the critical value moves by one.
    """
    reject = binomial_rejection_region(n, p_null, alpha=alpha, sided=sided)
    p1 = _check_probability("p_alternative", p_alternative, open_low=False, open_high=False)
    return float(_binom().pmf(np.arange(n + 1), n, p1)[reject].sum())


def two_proportion_power(p1: float, p2: float, n1: float, n2: float, *, alpha: float, sided: int = 2) -> float:
    """Normal-approximation power of the two-proportion test (pooled variance under the null).

    Notes
    -----
    With :math:`\\bar p = (n_1 p_1 + n_2 p_2)/(n_1 + n_2)`,
    :math:`\\sigma_0 = \\sqrt{\\bar p (1 - \\bar p)(1/n_1 + 1/n_2)}` (null) and
    :math:`\\sigma_1 = \\sqrt{p_1(1-p_1)/n_1 + p_2(1-p_2)/n_2}` (alternative), one-sided power is

    .. math:: \\Phi\\left(\\frac{|p_1 - p_2| - z_{1-\\alpha}\\,\\sigma_0}{\\sigma_1}\\right)

    and two-sided power counts rejection on either side,

    .. math:: \\Phi\\left(\\frac{|p_1 - p_2| - z_{1-\\alpha/2}\\,\\sigma_0}{\\sigma_1}\\right) +
              \\Phi\\left(\\frac{-|p_1 - p_2| - z_{1-\\alpha/2}\\,\\sigma_0}{\\sigma_1}\\right),

    so that it equals alpha when p1 = p2 (as the simulated rejection rate does). With equal n this is R's
    ``power.prop.test(strict = TRUE)`` (the first term alone is ``strict = FALSE``). It approximates the
    uncorrected chi-square test; Fisher's and Boschloo's exact tests are more conservative in small samples.
    """
    p1 = _check_probability("p1", p1, open_low=False, open_high=False)
    p2 = _check_probability("p2", p2, open_low=False, open_high=False)
    n1, n2 = _check_positive("n1", n1), _check_positive("n2", n2)
    alpha, sided = _check_probability("alpha", alpha), _check_sided(sided)
    pbar = (n1 * p1 + n2 * p2) / (n1 + n2)
    null_sd = math.sqrt(pbar * (1 - pbar) * (1 / n1 + 1 / n2))
    alt_sd = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    if alt_sd == 0.0:
        return 1.0 if p1 != p2 else float(alpha)
    shift = abs(p1 - p2)
    z = _z_alpha(alpha, sided)
    power = special.ndtr((shift - z * null_sd) / alt_sd)
    if sided == 2:
        power += special.ndtr((-shift - z * null_sd) / alt_sd)
    return float(power)


# ------------------------------------------------------------------- analytic power of a design on a model
#
# The quantities below come from the model's exact survival functions (ParametricArm.survival, or the
# multi-state chain's expm for ArmModel), averaged over the baseline disease mix, and from the trial's
# follow-up, dropout and accrual, all up to the design's horizon (what the analysis uses). They feed the
# closed forms above.

_GRID_POINTS = 401
_TIME_TOLERANCE = 1e-9  # as in designs.py: a patient followed to within 1e-9 of the horizon has reached it


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
        :attr:`trialsim.designs.DesignOutcome.n_events_by_arm`: (treatment, control) for a two-arm design,
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


def _strata(model) -> list[tuple[float, float]]:
    """(weight, death-hazard multiplier) of each underlying disease, merged when the multipliers agree."""
    mix = model.baseline
    merged: dict[float, float] = {}
    for p, m in zip(mix.disease_fractions, mix.death_hazard_ratio_by_disease):
        if p > 0:
            merged[m] = merged.get(m, 0.0) + p
    return [(w, m) for m, w in merged.items()]


def arm_survival(model, arm: int, times) -> np.ndarray:
    """Marginal survival of ``model.arms[arm]`` at ``times`` (averaged over the baseline disease mix)."""
    t = np.atleast_1d(np.asarray(times, dtype=float))
    return sum(w * np.asarray(model.arms[arm].survival(t, m), dtype=float).reshape(t.shape)
               for w, m in _strata(model))


@lru_cache(maxsize=256)
def _grid_survival(arm, strata: tuple[tuple[float, float], ...], horizon: float) -> np.ndarray:
    # Cached: sample-size searches ask for the same arm's survival curve at many n
    grid = np.linspace(0.0, horizon, _GRID_POINTS)
    return sum(w * np.asarray(arm.survival(grid, m), dtype=float).reshape(grid.shape) for w, m in strata)


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


def _reach(trial, week: float) -> float:
    """Share of patients whose observation window reaches ``week`` (0 beyond the follow-up)."""
    if week > trial.follow_up + _TIME_TOLERANCE:
        return 0.0
    return float(np.mean(_windows(trial, min(week, trial.follow_up)) >= week - _TIME_TOLERANCE))


def _resolve_horizon(trial, horizon: float | None) -> float:
    """The analysis horizon in weeks from entry: ``trial.follow_up`` when ``None``, else 0 < horizon <= it."""
    if horizon is None:
        return float(trial.follow_up)
    h = _check_positive("horizon", horizon)
    if h > trial.follow_up + _TIME_TOLERANCE:
        raise ValueError(f"`horizon` must not exceed the trial's follow-up ({trial.follow_up:g} weeks); "
                         f"got {horizon!r}")
    return min(h, float(trial.follow_up))


@dataclass(frozen=True, kw_only=True, slots=True)
class _Observation:
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


def _observe(model, trial, arm: int, horizon: float, *, dropout: float | None = None,
             exposure: bool = True) -> _Observation:
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
    reach = float(np.mean(windows >= horizon - _TIME_TOLERANCE))
    complete = eta == 0 and reach == 1.0
    s_h = float(arm_survival(model, arm, [horizon])[0])
    alive = s_h * math.exp(-eta * horizon) * reach
    if complete and not exposure:
        return _Observation(survival=s_h, deaths=1.0 - s_h, alive=alive, exposure=float("nan"), complete=True)
    grid = np.linspace(0.0, horizon, _GRID_POINTS)
    surv = _grid_survival(model.arms[arm], tuple(_strata(model)), horizon)
    mid = 0.5 * (grid[1:] + grid[:-1])
    keep = np.exp(-eta * mid)
    deaths = np.concatenate(([0.0], np.cumsum(keep * -np.diff(surv))))
    time_seen = np.concatenate(([0.0], np.cumsum(keep * 0.5 * (surv[1:] + surv[:-1]) * np.diff(grid))))
    seen = float(np.interp(windows, grid, time_seen).mean()) if exposure else float("nan")
    return _Observation(survival=s_h, deaths=float(np.interp(windows, grid, deaths).mean()), alive=alive,
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
    seen = _observe(model, trial, arm, _resolve_horizon(trial, horizon), dropout=dropout, exposure=exposure)
    return seen.deaths, seen.exposure


def _cap(trial, deaths: tuple[float, ...]) -> tuple[float, ...]:
    """An event-driven analysis stops at ``target_events``: scale the arms' deaths to sum to at most it."""
    total = sum(deaths)
    if trial.analysis == "events" and total > trial.target_events:
        return tuple(d * trial.target_events / total for d in deaths)
    return tuple(float(d) for d in deaths)


def _deaths_by_arm(trial, seen: list[_Observation]) -> tuple[float, ...]:
    return _cap(trial, tuple(size * s.deaths for size, s in zip(trial.n_per_arm(), seen)))


def expected_events(model, trial, *, horizon: float | None = None) -> float:
    """Expected deaths observed in ``trial`` by ``horizon`` (default: the follow-up).

    Arms in allocation proportions; capped at ``target_events`` for event-driven analyses. See
    :func:`event_probability`.
    """
    h = _resolve_horizon(trial, horizon)
    seen = [_observe(model, trial, i, h, exposure=False) for i in range(trial.n_arms)]
    return float(sum(_deaths_by_arm(trial, seen)))


def average_hazard_ratio(model, horizon: float, arm: int = 0, control: int = 1) -> float:
    """exp of the log ratio of cumulative hazards at ``horizon``: the exact HR for proportional hazards."""
    s = arm_survival(model, arm, [horizon])[0], arm_survival(model, control, [horizon])[0]
    return float(math.log(s[0]) / math.log(s[1]))


def _response_probability(model, arm: int, week: float, level: str) -> float:
    states = sum(w * model.arms[arm].response.state_probabilities([week], m)[0] for w, m in _strata(model))
    return float(states[2] + (states[1] if level == "cr_pr" else 0.0))


def _complete_case_power(seen: tuple[_Observation, _Observation], sizes: tuple[float, float], *, alpha: float,
                         sided: int) -> float:
    """Two-proportion power on survival at the horizon, patients of unknown status left out."""
    n1, n2 = (size * s.known for size, s in zip(sizes, seen))
    if n1 <= 0 or n2 <= 0:
        return 0.0  # no patient's status known in a group: every trial is degenerate, none rejects
    return two_proportion_power(seen[0].alive_if_known, seen[1].alive_if_known, n1, n2, alpha=alpha, sided=sided)


def _complete_case_binomial_power(n: int, p_null: float, seen: _Observation, *, alpha: float, sided: int) -> float:
    """Exact binomial power of survival at the horizon when only the M patients of known status are tested.

    Each patient is known with probability q and then alive with probability p (:class:`_Observation`), so
    :math:`M \\sim \\mathrm{Bin}(n, q)` and the power is :math:`\\sum_m P(M = m)\\,\\mathrm{power}(m, p)`
    (M = 0 is degenerate: no rejection). Exact when every patient has the same q (no calendar cut before the
    horizon); with staggered entry and a calendar cut q is the average over the patients.
    """
    if seen.complete:
        return binomial_power(n, p_null, seen.survival, alpha=alpha, sided=sided)
    sizes = np.arange(1, n + 1)
    weights = _binom().pmf(sizes, n, seen.known)
    p = seen.alive_if_known
    return float(sum(w * binomial_power(int(m), p_null, p, alpha=alpha, sided=sided)
                     for m, w in zip(sizes, weights) if w > 1e-15))


def design_power(model, trial, design) -> AnalyticPower:
    """Closed-form power of ``design`` applied to ``trial`` under ``model`` (see ``docs/design.md``).

    Everything is judged at the design's horizon h (default: the trial's follow-up), as the analysis is: the
    observation window of a patient is ``min(h, window)``, with the window cut by a calendar analysis.

    - log-rank (two arms or against a simulated historical arm): Schoenfeld with the expected number of
      deaths by h (:func:`expected_events`) and the average hazard ratio at h (:func:`average_hazard_ratio`);
    - survival at h as a binary endpoint: normal approximation to two proportions
      (:func:`two_proportion_power`) on the complete cases (patients censored alive before h left out: the
      proportion is P(alive at h | status known), the size n P(status known));
    - response at the visit: two proportions with P(responder observed) = P(CR [+ PR]) exp(-eta w) times the
      share of patients observed at the visit week w (non-responder imputation);
    - single arm, binomial: exact binomial power on the patients of known status at h;
    - single arm, one-sample log-rank: normal approximation with O ~ Poisson(expected deaths by h) against
      E = historical hazard x expected exposure up to h.
    """
    from .designs import HistoricalControlDesign, SingleArmDesign, TwoArmDesign

    run = design.prepare_trial(trial)
    horizon = _resolve_horizon(run, design.horizon)
    if isinstance(design, TwoArmDesign):
        return _two_arm_power(model, run, design, horizon)
    if isinstance(design, SingleArmDesign):
        return _single_arm_power(model, run, design, horizon)
    if isinstance(design, HistoricalControlDesign):
        return _historical_control_power(model, run, design, horizon)
    raise TypeError(f"`design` must be a TwoArmDesign, SingleArmDesign or HistoricalControlDesign; got {design!r}")


def _two_arm_power(model, trial, design, horizon: float) -> AnalyticPower:
    alpha, sided = design.alpha, design.sided
    seen = (_observe(model, trial, 0, horizon, exposure=False), _observe(model, trial, 1, horizon, exposure=False))
    deaths = _deaths_by_arm(trial, list(seen))
    sizes = trial.n_per_arm()
    if design.endpoint == "survival":
        a_t, a_c = trial.allocation
        hr = average_hazard_ratio(model, horizon)
        power = schoenfeld_power(hr, sum(deaths), alpha=alpha, sided=sided, allocation_ratio=a_t / a_c)
        return AnalyticPower(power=power, method="Schoenfeld", n_events_by_arm=deaths, hazard_ratio=hr)
    if design.endpoint == "survival_binary":
        return AnalyticPower(power=_complete_case_power(seen, sizes, alpha=alpha, sided=sided),
                             method="two proportions (normal)", n_events_by_arm=deaths)
    week = design.response_week
    reach = _reach(trial, week)
    p = [_response_probability(model, i, week, design.response_level) * math.exp(-trial.dropout_hazard[i] * week)
         * reach for i in (0, 1)]
    return AnalyticPower(power=two_proportion_power(p[0], p[1], sizes[0], sizes[1], alpha=alpha, sided=sided),
                         method="two proportions (normal)", n_events_by_arm=deaths)


def _historical_control_power(model, trial, design, horizon: float) -> AnalyticPower:
    alpha, sided = design.alpha, design.sided
    seen = _observe(model, trial, design.arm, horizon, exposure=False)
    # The historical cohort as the design simulates it: everyone followed to the horizon, no dropout
    history = design.historical_trial(trial)
    past = _observe(model, history, design.control_arm, horizon, exposure=False)
    deaths = (*_deaths_by_arm(trial, [seen]), *_deaths_by_arm(history, [past]))
    if design.test == "logrank":
        hr = average_hazard_ratio(model, horizon, design.arm, design.control_arm)
        power = schoenfeld_power(hr, sum(deaths), alpha=alpha, sided=sided, allocation_ratio=trial.n / history.n)
        return AnalyticPower(power=power, method="Schoenfeld", n_events_by_arm=deaths, hazard_ratio=hr)
    return AnalyticPower(power=_complete_case_power((seen, past), (trial.n, history.n), alpha=alpha, sided=sided),
                         method="two proportions (normal)", n_events_by_arm=deaths)


def _single_arm_power(model, trial, design, horizon: float) -> AnalyticPower:
    alpha, sided = design.alpha, design.sided
    seen = _observe(model, trial, design.arm, horizon, exposure=design.test == "logrank")
    deaths = _deaths_by_arm(trial, [seen])
    if design.test == "binomial":
        power = _complete_case_binomial_power(trial.n, design.null_survival, seen, alpha=alpha, sided=sided)
        return AnalyticPower(power=power, method="exact binomial", n_events_by_arm=deaths)
    # Z = (E - O) / sqrt(E) with O ~ Poisson(observed) and E at its expectation
    hazard = design.hazard_for(horizon)
    observed = deaths[0]
    expected = trial.n * hazard * seen.exposure
    hr = -math.log(seen.survival) / horizon / hazard
    if observed <= 0:
        return AnalyticPower(power=float(alpha), method="one-sample log-rank (normal)", n_events_by_arm=deaths,
                             hazard_ratio=hr)
    z = _z_alpha(alpha, sided)
    power = special.ndtr((expected - observed - z * math.sqrt(expected)) / math.sqrt(observed))
    if sided == 2:
        power += special.ndtr((observed - expected - z * math.sqrt(expected)) / math.sqrt(observed))
    return AnalyticPower(power=float(power), method="one-sample log-rank (normal)", n_events_by_arm=deaths,
                         hazard_ratio=hr)
