"""Survival trials with interim looks, analytically: events, calendar times and subjects per look.

Like rpact's ``getSampleSizeSurvival`` with a group-sequential design (``typeOfComputation = "Schoenfeld"``,
its default) and SAS PROC SEQDESIGN's ``twosamplesurvival`` model: exponential survival in both arms,
exponential dropout, uniform accrual at ``accrual_rate`` over ``accrual_time``, the final analysis
``follow_up`` after the end of accrual. The maximum number of events is Schoenfeld's (1981) times the
design's inflation factor,

    D_max = (1 + r)^2 / r * (theta / log HR)^2 = D_fixed * inflation,

where ``theta`` is the design drift and ``r`` = n_treatment / n_control, so the information at look k is
``d_k r / (1 + r)^2`` with ``d_k = t_k D_max`` events. (gsDesign's ``gsSurv`` uses Lachin and Foulkes (1986)
instead, which gives slightly different numbers.) Each look happens when the expected number of events
reaches ``d_k``; ``docs/sequential.md`` has the formulas, and the log-rank bound a handful of deaths can reach
(``max_attainable_logrank_z``).

Examples
--------
>>> from .boundaries import group_sequential_design
>>> gs = group_sequential_design([0.5, 1.0], alpha=0.025, power=0.8, efficacy="of")
>>> s = survival_design(gs, hazard_ratio=0.5, control_hazard=0.02, accrual_time=12, follow_up=6)
>>> round(s.max_events, 4), round(s.accrual_rate, 4), [round(t, 4) for t in s.analysis_time]
(65.8545, 33.8726, [11.755, 18.0])
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize

from .boundaries import GroupSequentialDesign
from ..exceptions import invalid
from ..model.display import Tabular, records_table
from ..model.validation import check_nonnegative, check_positive

__all__ = ["SurvivalDesign", "survival_design", "expected_events_by_time", "max_attainable_logrank_z",
           "boundary_reachable"]


def expected_events_by_time(t, *, accrual_rate: float, accrual_time: float, hazards: tuple[float, float],
                    dropouts: tuple[float, float] = (0.0, 0.0), allocation_ratio: float = 1.0) -> np.ndarray:
    """Expected deaths by calendar time ``t`` (both arms), uniform accrual from time 0.

    For arm j with event hazard ``l_j``, dropout hazard ``e_j`` (``s_j = l_j + e_j``) and share ``p_j``
    (``r / (1 + r)`` treatment, ``1 / (1 + r)`` control), a patient entering at ``u`` has died by ``t`` with
    probability ``l_j / s_j (1 - exp(-s_j (t - u)))``; integrating over entry times ``u`` in ``[0, m]``,
    ``m = min(t, accrual_time)``:

        D(t) = accrual_rate sum_j p_j l_j / s_j [m - (exp(-s_j (t - m)) - exp(-s_j t)) / s_j].

    ``hazards`` and ``dropouts`` are (control, treatment).

    Examples
    --------
    >>> float(expected_events_by_time(1e6, accrual_rate=10, accrual_time=3, hazards=(0.1, 0.05)).round(9))
    30.0
    """
    t = np.asarray(t, dtype=float)
    m = np.minimum(t, accrual_time)
    r = allocation_ratio
    total = np.zeros_like(t)
    for share, lam, eta in ((1 / (1 + r), hazards[0], dropouts[0]), (r / (1 + r), hazards[1], dropouts[1])):
        s = lam + eta
        total = total + share * lam / s * (m - (np.exp(-s * (t - m)) - np.exp(-s * t)) / s)
    return accrual_rate * total


@dataclass(frozen=True)
class SurvivalDesign(Tabular):
    """A survival design with looks: per-look events, calendar times, subjects and bounds.

    Per look: ``information_fractions``, ``events`` (expected deaths triggering the look), ``analysis_time``
    (calendar time from the first patient in), ``subjects`` (enrolled by then), ``efficacy_z``, ``futility_z``
    and ``efficacy_hazard_ratio``, the observed hazard ratio at which the log-rank z equals the efficacy
    bound, ``exp(-+ z (1 + r) / sqrt(r d_k))``. Overall: ``max_events``, ``fixed_events`` (Schoenfeld, no
    looks), ``n_subjects``, ``accrual_time``, ``accrual_rate``, ``follow_up`` and the group-sequential
    ``design``.
    """

    design: GroupSequentialDesign
    hazard_ratio: float
    control_hazard: float
    dropout_hazards: tuple[float, float]
    allocation_ratio: float
    accrual_time: float
    accrual_rate: float
    follow_up: float
    max_events: float
    fixed_events: float
    n_subjects: float
    information_fractions: tuple[float, ...]
    events: tuple[float, ...]
    analysis_time: tuple[float, ...]
    subjects: tuple[float, ...]
    efficacy_z: tuple[float, ...]
    futility_z: tuple[float | None, ...]
    efficacy_hazard_ratio: tuple[float, ...]

    @property
    def inflation_factor(self) -> float:
        """Maximum events over the fixed design's (the group-sequential design's inflation factor)."""
        return self.design.inflation_factor

    def _table(self) -> tuple[list[str], list[list[Any]]]:
        return records_table(self.to_dict()["looks"])

    def to_dict(self) -> dict:
        """The design as plain data (JSON-ready)."""
        keys = ("information_fraction", "events", "analysis_time", "subjects", "efficacy_z", "futility_z",
                "efficacy_hazard_ratio")
        rows = zip(self.information_fractions, self.events, self.analysis_time, self.subjects, self.efficacy_z,
                   self.futility_z, self.efficacy_hazard_ratio)
        return {"looks": [dict(zip(keys, row)) for row in rows], "max_events": self.max_events,
                "n_subjects": self.n_subjects, "accrual_time": self.accrual_time, "accrual_rate": self.accrual_rate,
                "inflation_factor": self.inflation_factor}


def _positive(field: str, value: float, *, zero: bool = False) -> float:
    return check_nonnegative(field, value) if zero else check_positive(field, value)


def _control_hazard(control_hazard, control_median, control_survival) -> float:
    given = [x is not None for x in (control_hazard, control_median, control_survival)]
    if sum(given) != 1:
        raise invalid("control_hazard", "give exactly one of control_hazard, control_median, control_survival",
                      (control_hazard, control_median, control_survival))
    if control_hazard is not None:
        return _positive("control_hazard", control_hazard)
    if control_median is not None:
        return math.log(2.0) / _positive("control_median", control_median)
    try:
        surv, horizon = control_survival
    except (TypeError, ValueError):
        raise invalid("control_survival", "must be (probability surviving, time)", control_survival) from None
    if not (isinstance(surv, (int, float)) and 0 < surv < 1):
        raise invalid("control_survival", "must have a survival probability in (0, 1)", control_survival)
    return -math.log(surv) / _positive("control_survival", horizon)


def survival_design(design: GroupSequentialDesign, *, hazard_ratio: float, control_hazard: float | None = None,
                    control_median: float | None = None, control_survival: tuple[float, float] | None = None,
                    accrual_time: float | None = None, accrual_rate: float | None = None,
                    follow_up: float | None = None, dropout_hazard: float = 0.0,
                    dropout_hazard_treatment: float | None = None,
                    allocation_ratio: float = 1.0) -> SurvivalDesign:
    """Events, calendar times and subjects for a group-sequential log-rank design with exponential arms.

    Parameters
    ----------
    design
        The boundaries (``group_sequential_design``); its drift and alpha, power and sides set the events.
    hazard_ratio
        Treatment over control, != 1 (below 1: treatment better).
    control_hazard, control_median, control_survival
        Exactly one: the control arm's hazard, its median survival (``log 2 / median``) or
        ``(S, t)``, the probability of surviving to time ``t`` (``-log S / t``).
    accrual_time, accrual_rate, follow_up
        Exactly two: the third is solved. With time and follow-up the rate is whatever gives the maximum
        events at ``accrual_time + follow_up``; with rate and follow-up, the accrual time; with time and rate,
        the follow-up (an error if ``accrual_rate * accrual_time`` patients cannot give the events, or give
        them before accrual ends).
    dropout_hazard, dropout_hazard_treatment
        Exponential dropout hazard in the control arm and (if given, else the same) the treatment arm; a
        dropout proportion ``q`` by time ``t`` is the hazard ``-log(1 - q) / t``.
    allocation_ratio
        ``r`` = n_treatment / n_control.

    Examples
    --------
    SAS PROC SEQDESIGN (control median 20 months, hazard ratio 0.5, 6 patients a month for 25 months,
    two-sided Lan-DeMets O'Brien-Fleming at alpha 0.05, power 0.9) gives a follow-up of 24.74524 months and
    looks at 18.3766, 27.0531, 36.6750 and 49.7452 months:

    >>> from .boundaries import group_sequential_design
    >>> gs = group_sequential_design([0.25, 0.5, 0.75, 1], alpha=0.05, power=0.9, sided=2)
    >>> s = survival_design(gs, hazard_ratio=0.5, control_median=20, accrual_rate=6, accrual_time=25)
    >>> round(s.follow_up, 4), round(s.max_events, 2), [round(t, 3) for t in s.analysis_time]
    (24.7452, 89.08, [18.377, 27.053, 36.675, 49.745])
    """
    if not isinstance(design, GroupSequentialDesign):
        raise invalid("design", "must be a GroupSequentialDesign", type(design).__name__)
    hr = _positive("hazard_ratio", hazard_ratio)
    if hr == 1.0:
        raise invalid("hazard_ratio", "must differ from 1", hazard_ratio)
    lam_c = _control_hazard(control_hazard, control_median, control_survival)
    hazards = (lam_c, hr * lam_c)
    eta_c = _positive("dropout_hazard", dropout_hazard, zero=True)
    eta_t = eta_c if dropout_hazard_treatment is None else _positive("dropout_hazard_treatment",
                                                                     dropout_hazard_treatment, zero=True)
    r = _positive("allocation_ratio", allocation_ratio)
    given = {k: v for k, v in (("accrual_time", accrual_time), ("accrual_rate", accrual_rate),
                               ("follow_up", follow_up)) if v is not None}
    if len(given) != 2:
        raise invalid("accrual_time", "give exactly two of accrual_time, accrual_rate, follow_up", given)
    for k, v in given.items():
        _positive(k, v, zero=(k == "follow_up"))

    scale = (1 + r) ** 2 / r / math.log(hr) ** 2
    d_max = scale * design.drift ** 2
    d_fixed = d_max / design.inflation_factor

    def events(t: float, rate: float, a_time: float) -> float:
        return float(expected_events_by_time(t, accrual_rate=rate, accrual_time=a_time, hazards=hazards,
                                             dropouts=(eta_c, eta_t), allocation_ratio=r))

    # exactly two of the three are given (checked above)
    if accrual_rate is None:
        assert accrual_time is not None and follow_up is not None
        a_time, f_up = float(accrual_time), float(follow_up)
        rate = d_max / events(a_time + f_up, 1.0, a_time)
        total = a_time + f_up
    elif accrual_time is None:
        assert follow_up is not None
        rate, f_up = float(accrual_rate), float(follow_up)
        a_time = _increasing_root(lambda a: events(a + f_up, rate, a) - d_max, "accrual_rate", rate)
        total = a_time + f_up
    else:
        rate, a_time = float(accrual_rate), float(accrual_time)
        n = rate * a_time
        ceiling = n * sum(p * lam / (lam + eta) for p, lam, eta in
                          ((1 / (1 + r), hazards[0], eta_c), (r / (1 + r), hazards[1], eta_t)))
        if ceiling <= d_max * (1 + 1e-9):
            raise invalid("accrual_time", f"with this rate enrols {n:g} patients, who give at most {ceiling:.4g} "
                          f"of the {d_max:.4g} events needed", accrual_time)
        if events(a_time, rate, a_time) >= d_max:
            raise invalid("accrual_time", f"is longer than needed: the {d_max:.4g} events are expected before "
                          "accrual ends", accrual_time)
        total = _increasing_root(lambda t: events(t, rate, a_time) - d_max, "accrual_time", accrual_time, a_time)
        f_up = total - a_time

    t_frac = np.array(design.information_fractions)
    d_look = t_frac * d_max
    times = [_increasing_root(lambda t, d=d: events(t, rate, a_time) - d, "follow_up", f_up) for d in d_look[:-1]]
    times.append(total)
    z = np.array(design.efficacy_z)
    sign = 1.0 if hr > 1 else -1.0
    hr_bound = np.exp(sign * z * (1 + r) / np.sqrt(r * d_look))
    tup = lambda x: tuple(float(v) for v in x)  # noqa: E731
    return SurvivalDesign(
        design=design, hazard_ratio=hr, control_hazard=lam_c, dropout_hazards=(eta_c, eta_t), allocation_ratio=r,
        accrual_time=a_time, accrual_rate=rate, follow_up=f_up, max_events=float(d_max),
        fixed_events=float(d_fixed), n_subjects=rate * a_time, information_fractions=tup(t_frac),
        events=tup(d_look), analysis_time=tup(times), subjects=tup(rate * np.minimum(times, a_time)),
        efficacy_z=tup(z), futility_z=design.futility_z, efficacy_hazard_ratio=tup(hr_bound))


def _increasing_root(f, field: str, value, lo: float = 0.0) -> float:
    """Root of an increasing ``f`` on (lo, inf)."""
    hi = max(2 * lo, 1.0)
    while f(hi) < 0:
        hi *= 2
        if hi > 1e12:
            raise invalid(field, "leaves the maximum events out of reach", value)
    return float(optimize.brentq(f, lo, hi, xtol=1e-12, rtol=4 * np.finfo(float).eps))


# --------------------------------------------------------------------------------- small numbers of deaths


def max_attainable_logrank_z(n_deaths: int, n_per_arm: int | None = None) -> float:
    """The largest |z| the log-rank test can reach with ``n_deaths`` deaths in a 1:1 trial.

    With ``n`` patients per arm, nobody censored before the ``d``-th death and distinct death times, |z| is
    largest when every death is in the same arm. The j-th such death (j = 0, ..., d - 1) happens with
    ``n - j`` at risk in that arm and ``n`` in the other, and contributes ``O - E = n / (2n - j)`` and variance
    ``n (n - j) / (2n - j)^2``, so

        z_max = sum_j n / (2n - j) / sqrt(sum_j n (n - j) / (2n - j)^2).

    ``n_per_arm = None`` is the limit of equal numbers at risk at every death (large arms): each death adds
    1/2 and 1/4, and ``z_max = sqrt(d)``. Finite arms reach more, because the arm with the deaths is depleted:
    ``z_max`` falls with ``n`` from its largest value at ``n = d`` (2.7101 for d = 4) to ``sqrt(d)``. A
    boundary above ``z_max`` cannot be crossed with ``d`` deaths whatever the data: with 4 deaths an
    O'Brien-Fleming interim bound of 2.8 is out of reach for any arm size. (Tied deaths can exceed this
    slightly: ``d`` deaths at one time in one arm give ``sqrt(d (2n - 1) / (2n - d))``; so can heavy
    censoring in one arm before the deaths.)

    Examples
    --------
    >>> max_attainable_logrank_z(4)
    2.0
    >>> round(max_attainable_logrank_z(4, n_per_arm=10), 4)
    2.1828
    """
    if not isinstance(n_deaths, (int, np.integer)) or isinstance(n_deaths, bool) or n_deaths < 1:
        raise invalid("n_deaths", "must be a positive integer", n_deaths)
    if n_per_arm is None:
        return math.sqrt(n_deaths)
    if not isinstance(n_per_arm, (int, np.integer)) or isinstance(n_per_arm, bool) or n_per_arm < n_deaths:
        raise invalid("n_per_arm", f"must be an integer >= n_deaths ({n_deaths})", n_per_arm)
    n, j = float(n_per_arm), np.arange(n_deaths, dtype=float)
    total = 2 * n - j
    return float(np.sum(n / total) / math.sqrt(np.sum(n * (n - j) / total ** 2)))


def boundary_reachable(z_bound: float, n_deaths: int, n_per_arm: int | None = None) -> bool:
    """Whether a one-sided log-rank boundary ``z_bound`` can be crossed with ``n_deaths`` deaths.

    Examples
    --------
    >>> boundary_reachable(2.8, 4), boundary_reachable(1.96, 4)
    (False, True)
    """
    return bool(z_bound <= max_attainable_logrank_z(n_deaths, n_per_arm) + 1e-12)
