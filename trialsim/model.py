"""The disease model and the trial, as frozen validated dataclasses.

Time is in weeks from the first dose (per patient) or from the opening of the trial (calendar time).

The response process of one arm is a mover-stayer Markov chain on the states

    0 = NR (active disease, no response), 1 = PR (partial response), 2 = CR (complete remission), 3 = dead.

A share ``refractory_fraction`` of patients (the stayers) never leave NR; they die at the NR death hazard.
The others (the movers) go NR -> PR -> CR at constant rates, may relapse CR -> PR and PR -> NR at
``relapse_rate``, and die from every state at a state-specific hazard. Why a mixture: the study saw 9/20
partial responses at week 1 yet 4/20 non-responders at week 8, which no homogeneous constant-rate chain gives
(see ``docs/model.md``).

A :class:`ParametricArm` is the plain planning alternative: piecewise-exponential survival and nothing else.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Literal

import numpy as np

__all__ = [
    "STATES",
    "NR",
    "PR",
    "CR",
    "DEAD",
    "DISEASES",
    "ResponseProcess",
    "Taper",
    "Infection",
    "ArmModel",
    "ParametricArm",
    "BaselineMix",
    "DiseaseModel",
    "Accrual",
    "Trial",
    "check_fields",
    "check_model_and_trial",
    "expm",
]

STATES = ("NR", "PR", "CR", "dead")
NR, PR, CR, DEAD = 0, 1, 2, 3
DISEASES = ("AOSD", "SLE", "other")


# ------------------------------------------------------------------------------------- matrix exponential


def expm(a: np.ndarray) -> np.ndarray:
    """``scipy.linalg.expm`` (stacked arrays too) through an orthogonal similarity: ``H expm(H A H) H``.

    scipy 1.17's expm has a fast path for triangular matrices that loses accuracy when two diagonal entries
    nearly coincide (error 0.03 when equal); a generator without relapse is triangular and equal exit rates are
    a legitimate model. A Householder reflector ``H`` makes the matrix full, which avoids that path.
    """
    from scipy.linalg import expm as scipy_expm  # scipy is a core dependency; kept local so model stays light

    a = np.asarray(a, dtype=float)
    v = np.arange(1.0, a.shape[-1] + 1.0)
    h = np.eye(a.shape[-1]) - 2.0 * np.outer(v, v) / (v @ v)
    return h @ scipy_expm(h @ a @ h) @ h


# ---------------------------------------------------------------------------------------------- validation


def _fail(owner: str, name: str, rule: str, value: object) -> None:
    raise ValueError(f"`{owner}.{name}` {rule}; got {value!r}")


def _nonneg(owner: str, name: str, value: float) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value < 0:
        _fail(owner, name, "must be a finite number >= 0", value)


def _positive(owner: str, name: str, value: float) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value <= 0:
        _fail(owner, name, "must be a finite number > 0", value)


def _probability(owner: str, name: str, value: float, *, open_low: bool = False, open_high: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > 0 if open_low else value >= 0) and (value < 1 if open_high else value <= 1)
    if not ok:
        lo = "(0" if open_low else "[0"
        hi = "1)" if open_high else "1]"
        _fail(owner, name, f"must be a probability in {lo}, {hi}", value)


def check_fields(cls: type, mapping: dict, *, where: str | None = None) -> None:
    """Raise ``ValueError`` naming the first key of ``mapping`` that is not a field of dataclass ``cls``."""
    known = {f.name for f in fields(cls)}
    for key in mapping:
        if key not in known:
            owner = where or cls.__name__
            raise ValueError(f"unknown key `{key}` for {owner}; expected one of: {', '.join(sorted(known))}")


# ------------------------------------------------------------------------------------------ the disease


@dataclass(frozen=True, kw_only=True, slots=True)
class ResponseProcess:
    """Mover-stayer multi-state process NR -> PR -> CR with death from every state.

    Parameters
    ----------
    refractory_fraction
        Share of patients who never respond (stay in NR until death or the end of follow-up).
    rate_nr_pr, rate_pr_cr
        Transition rates of the responders, per week.
    relapse_rate
        Rate of CR -> PR and of PR -> NR, per week (0: no relapse).
    death_hazard_nr
        Death hazard in NR, per week (both responders and refractory patients).
    death_hazard_ratio_pr, death_hazard_ratio_cr
        Death hazard in PR and in CR relative to NR.
    """

    refractory_fraction: float = 0.0
    rate_nr_pr: float = 0.0
    rate_pr_cr: float = 0.0
    relapse_rate: float = 0.0
    death_hazard_nr: float = 0.0
    death_hazard_ratio_pr: float = 0.25
    death_hazard_ratio_cr: float = 0.1

    def __post_init__(self) -> None:
        me = "ResponseProcess"
        _probability(me, "refractory_fraction", self.refractory_fraction)
        for name in ("rate_nr_pr", "rate_pr_cr", "relapse_rate", "death_hazard_nr", "death_hazard_ratio_pr",
                     "death_hazard_ratio_cr"):
            _nonneg(me, name, getattr(self, name))

    def death_hazards(self, multiplier: float = 1.0) -> np.ndarray:
        """Death hazard in NR, PR, CR (per week), times a multiplier (e.g. a stratum hazard ratio)."""
        mu = self.death_hazard_nr * multiplier
        return np.array([mu, mu * self.death_hazard_ratio_pr, mu * self.death_hazard_ratio_cr])

    def generator(self, multiplier: float = 1.0) -> np.ndarray:
        """Intensity matrix (4 x 4, rows sum to 0) of the responders' chain on NR, PR, CR, dead."""
        d = self.death_hazards(multiplier)
        q = np.zeros((4, 4))
        q[NR, PR] = self.rate_nr_pr
        q[PR, CR] = self.rate_pr_cr
        q[CR, PR] = self.relapse_rate
        q[PR, NR] = self.relapse_rate
        q[NR, DEAD], q[PR, DEAD], q[CR, DEAD] = d
        np.fill_diagonal(q, -q.sum(axis=1))
        return q

    def refractory_generator(self, multiplier: float = 1.0) -> np.ndarray:
        """Intensity matrix of the stayers: NR -> dead only."""
        q = np.zeros((4, 4))
        q[NR, DEAD] = self.death_hazard_nr * multiplier
        q[NR, NR] = -q[NR, DEAD]
        return q

    def state_probabilities(self, times, multiplier: float = 1.0) -> np.ndarray:
        """P(state at t) for each t (array ``(len(times), 4)``), everyone starting in NR at time 0.

        Exact: the mixture of the two chains' transition matrices ``expm(Q t)``.
        """
        times = np.atleast_1d(np.asarray(times, dtype=float))
        out = np.empty((times.size, 4))
        q_move = self.generator(multiplier)
        pi = self.refractory_fraction
        stay_alive = np.exp(-self.death_hazard_nr * multiplier * times)  # the stayers' chain is NR -> dead only
        out[:] = (1 - pi) * expm(q_move[None] * times[:, None, None])[:, NR]  # stacked: one call for all t
        out[:, NR] += pi * stay_alive
        out[:, DEAD] += pi * (1 - stay_alive)
        return out

    def survival(self, times, multiplier: float = 1.0) -> np.ndarray:
        """P(alive at t)."""
        return 1.0 - self.state_probabilities(times, multiplier)[:, DEAD]


@dataclass(frozen=True, kw_only=True, slots=True)
class Taper:
    """Glucocorticoid dose (mg/kg/day) and its response-dependent taper.

    The starting dose is log-normal with median ``start_dose_median`` and log-scale standard deviation
    ``start_dose_sd_log``. At each scheduled assessment the dose is multiplied by
    ``exp(-rate * weight[state])``, where ``state`` is the response observed at that visit; between visits
    and after the last one it stays constant.
    """

    start_dose_median: float = 2.7
    start_dose_sd_log: float = 0.25
    rate: float = 0.2
    weight_nr: float = 0.25
    weight_pr: float = 1.0
    weight_cr: float = 1.5

    def __post_init__(self) -> None:
        me = "Taper"
        _positive(me, "start_dose_median", self.start_dose_median)
        for name in ("start_dose_sd_log", "rate", "weight_nr", "weight_pr", "weight_cr"):
            _nonneg(me, name, getattr(self, name))

    def log_factors(self) -> np.ndarray:
        """Log of the per-visit dose multiplier in NR, PR, CR."""
        return -self.rate * np.array([self.weight_nr, self.weight_pr, self.weight_cr])


@dataclass(frozen=True, kw_only=True, slots=True)
class Infection:
    """CMV infection: a hazard per week, optionally proportional to the current glucocorticoid dose.

    With ``dose_dependent`` the hazard at time t is ``hazard * dose(t) / reference_dose``.
    """

    hazard: float = 0.0
    dose_dependent: bool = False
    reference_dose: float = 2.7

    def __post_init__(self) -> None:
        _nonneg("Infection", "hazard", self.hazard)
        _positive("Infection", "reference_dose", self.reference_dose)
        if not isinstance(self.dose_dependent, bool):
            _fail("Infection", "dose_dependent", "must be true or false", self.dose_dependent)


@dataclass(frozen=True, kw_only=True, slots=True)
class ArmModel:
    """One arm of the full disease model: response and death, taper, infection."""

    response: ResponseProcess = field(default_factory=ResponseProcess)
    taper: Taper = field(default_factory=Taper)
    infection: Infection = field(default_factory=Infection)

    def __post_init__(self) -> None:
        for name, cls in (("response", ResponseProcess), ("taper", Taper), ("infection", Infection)):
            if not isinstance(getattr(self, name), cls):
                _fail("ArmModel", name, f"must be a {cls.__name__}", getattr(self, name))

    def survival(self, times, multiplier: float = 1.0) -> np.ndarray:
        return self.response.survival(times, multiplier)


@dataclass(frozen=True, kw_only=True, slots=True)
class ParametricArm:
    """Piecewise-exponential survival for generic planning (no response, taper or infection).

    ``hazards[k]`` applies on ``[breaks[k-1], breaks[k])`` with ``breaks[-1] = 0`` and the last piece open.
    Build one with :meth:`exponential`, :meth:`from_median`, :meth:`from_survival`, then
    :meth:`with_hazard_ratio` for the other arm.
    """

    hazards: tuple[float, ...] = (0.1,)
    breaks: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        me = "ParametricArm"
        object.__setattr__(self, "hazards", tuple(float(h) for h in self.hazards))
        object.__setattr__(self, "breaks", tuple(float(b) for b in self.breaks))
        if len(self.hazards) == 0:
            _fail(me, "hazards", "must hold at least one hazard", self.hazards)
        for h in self.hazards:
            _nonneg(me, "hazards", h)
        if len(self.breaks) != len(self.hazards) - 1:
            _fail(me, "breaks", f"must hold len(hazards) - 1 = {len(self.hazards) - 1} times", self.breaks)
        prev = 0.0
        for b in self.breaks:
            if not math.isfinite(b) or b <= prev:
                _fail(me, "breaks", "must be finite, positive and strictly increasing", self.breaks)
            prev = b

    @classmethod
    def exponential(cls, hazard: float) -> "ParametricArm":
        return cls(hazards=(hazard,))

    @classmethod
    def from_median(cls, median: float) -> "ParametricArm":
        _positive("ParametricArm", "median", median)
        return cls(hazards=(math.log(2) / median,))

    @classmethod
    def from_survival(cls, survival: float, at: float) -> "ParametricArm":
        _probability("ParametricArm", "survival", survival, open_low=True)
        _positive("ParametricArm", "at", at)
        return cls(hazards=(-math.log(survival) / at,))

    def with_hazard_ratio(self, hazard_ratio: float) -> "ParametricArm":
        _positive("ParametricArm", "hazard_ratio", hazard_ratio)
        return ParametricArm(hazards=tuple(h * hazard_ratio for h in self.hazards), breaks=self.breaks)

    def cumulative_hazard(self, times) -> np.ndarray:
        t = np.asarray(times, dtype=float)
        edges = np.concatenate(([0.0], self.breaks))
        upper = np.concatenate((self.breaks, [np.inf]))
        h = np.asarray(self.hazards)
        exposure = np.clip(t[..., None] - edges, 0.0, upper - edges)
        return exposure @ h

    def survival(self, times, multiplier: float = 1.0) -> np.ndarray:
        return np.exp(-multiplier * self.cumulative_hazard(times))

    def quantile_time(self, u, multiplier: float = 1.0) -> np.ndarray:
        """Death time with survival ``u`` (inverse of the survival function; inf past the last piece)."""
        target = -np.log(np.asarray(u, dtype=float)) / multiplier
        edges = np.concatenate(([0.0], self.breaks))
        h = np.asarray(self.hazards)
        cum_at_edges = self.cumulative_hazard(edges)
        k = np.searchsorted(cum_at_edges, target, side="right") - 1
        with np.errstate(divide="ignore", invalid="ignore"):
            t = edges[k] + (target - cum_at_edges[k]) / h[k]
        return np.where(h[k] > 0, t, np.inf)


Arm = ArmModel | ParametricArm


@dataclass(frozen=True, kw_only=True, slots=True)
class BaselineMix:
    """Baseline characteristics: sex and underlying disease (AOSD, SLE, other).

    ``death_hazard_ratio_by_disease`` multiplies every death hazard of a patient with that disease
    (1, 1, 1 by default: the abstract gives no outcome by disease).
    """

    female_fraction: float = 17 / 20
    disease_fractions: tuple[float, float, float] = (13 / 20, 4 / 20, 3 / 20)
    death_hazard_ratio_by_disease: tuple[float, float, float] = (1.0, 1.0, 1.0)

    def __post_init__(self) -> None:
        me = "BaselineMix"
        _probability(me, "female_fraction", self.female_fraction)
        object.__setattr__(self, "disease_fractions", tuple(float(p) for p in self.disease_fractions))
        object.__setattr__(self, "death_hazard_ratio_by_disease",
                           tuple(float(p) for p in self.death_hazard_ratio_by_disease))
        if len(self.disease_fractions) != len(DISEASES):
            _fail(me, "disease_fractions", f"must hold {len(DISEASES)} values (AOSD, SLE, other)",
                  self.disease_fractions)
        for p in self.disease_fractions:
            _probability(me, "disease_fractions", p)
        if abs(sum(self.disease_fractions) - 1.0) > 1e-9:
            _fail(me, "disease_fractions", "must sum to 1", self.disease_fractions)
        if len(self.death_hazard_ratio_by_disease) != len(DISEASES):
            _fail(me, "death_hazard_ratio_by_disease", f"must hold {len(DISEASES)} values",
                  self.death_hazard_ratio_by_disease)
        for r in self.death_hazard_ratio_by_disease:
            _positive(me, "death_hazard_ratio_by_disease", r)


@dataclass(frozen=True, kw_only=True, slots=True)
class DiseaseModel:
    """The arms of a model, their names, the baseline mix and the assessment schedule (weeks)."""

    arms: tuple[Arm, ...]
    arm_names: tuple[str, ...] = ("ruxolitinib", "control")
    baseline: BaselineMix = field(default_factory=BaselineMix)
    visit_times: tuple[float, ...] = tuple(float(w) for w in range(1, 9))

    def __post_init__(self) -> None:
        me = "DiseaseModel"
        object.__setattr__(self, "arms", tuple(self.arms))
        object.__setattr__(self, "arm_names", tuple(self.arm_names))
        object.__setattr__(self, "visit_times", tuple(float(v) for v in self.visit_times))
        if not self.arms:
            _fail(me, "arms", "must hold at least one arm", self.arms)
        for arm in self.arms:
            if not isinstance(arm, (ArmModel, ParametricArm)):
                _fail(me, "arms", "must hold ArmModel or ParametricArm objects", arm)
        if len(self.arm_names) != len(self.arms):
            _fail(me, "arm_names", f"must name each of the {len(self.arms)} arms", self.arm_names)
        prev = 0.0
        for v in self.visit_times:
            if not math.isfinite(v) or v <= prev:
                _fail(me, "visit_times", "must be positive, finite and strictly increasing", self.visit_times)
            prev = v

    @property
    def n_arms(self) -> int:
        return len(self.arms)

    @property
    def is_parametric(self) -> bool:
        """True when every arm is a :class:`ParametricArm` (survival only)."""
        return all(isinstance(a, ParametricArm) for a in self.arms)


# -------------------------------------------------------------------------------------------- the trial


@dataclass(frozen=True, kw_only=True, slots=True)
class Accrual:
    """Enrolment over calendar time.

    ``instant``: everyone enrols at time 0. ``poisson``: a Poisson process at ``rate`` patients per week.
    ``piecewise``: a Poisson process at ``rates[k]`` on ``[breaks[k-1], breaks[k])`` (``breaks[-1] = 0``, the
    last piece open-ended).
    """

    kind: Literal["instant", "poisson", "piecewise"] = "instant"
    rate: float = 1.0
    rates: tuple[float, ...] = ()
    breaks: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        me = "Accrual"
        if self.kind not in ("instant", "poisson", "piecewise"):
            _fail(me, "kind", "must be one of 'instant', 'poisson', 'piecewise'", self.kind)
        _positive(me, "rate", self.rate)
        object.__setattr__(self, "rates", tuple(float(r) for r in self.rates))
        object.__setattr__(self, "breaks", tuple(float(b) for b in self.breaks))
        if self.kind == "piecewise":
            if not self.rates:
                _fail(me, "rates", "must hold at least one rate for piecewise accrual", self.rates)
            for r in self.rates:
                _nonneg(me, "rates", r)
            if self.rates[-1] <= 0:
                _fail(me, "rates", "last rate must be > 0 so that enrolment ends", self.rates)
            if len(self.breaks) != len(self.rates) - 1:
                _fail(me, "breaks", f"must hold len(rates) - 1 = {len(self.rates) - 1} times", self.breaks)
            prev = 0.0
            for b in self.breaks:
                if not math.isfinite(b) or b <= prev:
                    _fail(me, "breaks", "must be positive, finite and strictly increasing", self.breaks)
                prev = b

    def piecewise(self) -> tuple[np.ndarray, np.ndarray]:
        """(rates, starts) of the piecewise-constant intensity; one piece for ``poisson``."""
        if self.kind == "piecewise":
            return np.asarray(self.rates), np.concatenate(([0.0], self.breaks))
        return np.array([self.rate]), np.array([0.0])


@dataclass(frozen=True, kw_only=True, slots=True)
class Trial:
    """A trial: size, allocation, randomisation, accrual, follow-up, loss to follow-up, analysis trigger.

    Parameters
    ----------
    n
        Patients enrolled in all arms together. Must be a multiple of ``sum(allocation)``.
    allocation
        Allocation ratio, one integer per arm of the model (``(1, 1)``; ``(2, 1)``; ``(1,)`` single arm).
    block_size
        Permuted-block size (a multiple of ``sum(allocation)``); ``None`` gives ``2 * sum(allocation)``.
    stratified
        Randomise within strata of underlying disease.
    accrual
        Enrolment process.
    follow_up
        Weeks each patient is followed from entry (the survival horizon).
    dropout_hazard
        Loss-to-follow-up hazard per week, one per arm.
    analysis
        ``complete``: analyse once every patient has completed follow-up (or died, or been lost);
        ``calendar``: at calendar time ``analysis_time``; ``events``: at the ``target_events``-th death.
        Patients still on study at the analysis are censored then.
    """

    n: int
    allocation: tuple[int, ...] = (1, 1)
    block_size: int | None = None
    stratified: bool = False
    accrual: Accrual = field(default_factory=Accrual)
    follow_up: float = 8.0
    dropout_hazard: tuple[float, ...] = (0.0, 0.0)
    analysis: Literal["complete", "calendar", "events"] = "complete"
    analysis_time: float | None = None
    target_events: int | None = None

    def __post_init__(self) -> None:
        me = "Trial"
        object.__setattr__(self, "allocation", tuple(self.allocation))
        object.__setattr__(self, "dropout_hazard", tuple(float(h) for h in self.dropout_hazard))
        for a in self.allocation:
            if not isinstance(a, (int, np.integer)) or isinstance(a, bool) or a < 1:
                _fail(me, "allocation", "must hold positive integers", self.allocation)
        total = sum(self.allocation)
        if not isinstance(self.n, (int, np.integer)) or isinstance(self.n, bool) or self.n < 1:
            _fail(me, "n", "must be a positive integer", self.n)
        if self.n % total:
            ratio = ":".join(str(a) for a in self.allocation)
            _fail(me, "n", f"must be a positive multiple of {total} for {ratio} allocation", self.n)
        if self.block_size is not None:
            if not isinstance(self.block_size, (int, np.integer)) or self.block_size < total \
                    or self.block_size % total:
                _fail(me, "block_size", f"must be a positive multiple of {total}", self.block_size)
        if not isinstance(self.accrual, Accrual):
            _fail(me, "accrual", "must be an Accrual", self.accrual)
        _positive(me, "follow_up", self.follow_up)
        if len(self.dropout_hazard) != len(self.allocation):
            _fail(me, "dropout_hazard", f"must hold one hazard per arm ({len(self.allocation)})",
                  self.dropout_hazard)
        for h in self.dropout_hazard:
            _nonneg(me, "dropout_hazard", h)
        if self.analysis not in ("complete", "calendar", "events"):
            _fail(me, "analysis", "must be one of 'complete', 'calendar', 'events'", self.analysis)
        if self.analysis == "calendar":
            if self.analysis_time is None:
                _fail(me, "analysis_time", "is required when analysis = 'calendar'", self.analysis_time)
            _positive(me, "analysis_time", self.analysis_time)
        if self.analysis == "events":
            e = self.target_events
            if not isinstance(e, (int, np.integer)) or isinstance(e, bool) or e < 1 or e > self.n:
                _fail(me, "target_events", f"must be an integer in 1..n ({self.n}) when analysis = 'events'", e)

    @property
    def n_arms(self) -> int:
        return len(self.allocation)

    @property
    def effective_block_size(self) -> int:
        return self.block_size if self.block_size is not None else 2 * sum(self.allocation)

    def n_per_arm(self) -> tuple[int, ...]:
        """Planned arm sizes (exact under unstratified permuted blocks when n fills whole ratio units)."""
        unit = self.n // sum(self.allocation)
        return tuple(a * unit for a in self.allocation)


def check_model_and_trial(model: DiseaseModel, trial: Trial) -> None:
    """What every engine checks first: the types, and one allocation entry per arm of the model."""
    if not isinstance(model, DiseaseModel):
        raise TypeError(f"`model` must be a DiseaseModel; got {type(model).__name__}")
    if not isinstance(trial, Trial):
        raise TypeError(f"`trial` must be a Trial; got {type(trial).__name__}")
    if trial.n_arms != model.n_arms:
        raise ValueError(f"`trial.allocation` must hold one entry per arm of the model ({model.n_arms}); "
                         f"got {trial.allocation!r}")
