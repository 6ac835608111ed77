"""The disease model: response, death, taper and infection of each arm, the baseline mix, as frozen dataclasses.

Time is in weeks from the first dose.

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
from dataclasses import dataclass, field

import numpy as np

from ..exceptions import invalid
from .numerics import expm
from .validation import (check_flag, check_increasing, check_nonnegative, check_numbers, check_positive,
                         check_probability, check_type)

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
    "Arm",
]

STATES = ("NR", "PR", "CR", "dead")
NR, PR, CR, DEAD = 0, 1, 2, 3
DISEASES = ("AOSD", "SLE", "other")


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
        check_probability("ResponseProcess.refractory_fraction", self.refractory_fraction)
        for name in ("rate_nr_pr", "rate_pr_cr", "relapse_rate", "death_hazard_nr", "death_hazard_ratio_pr",
                     "death_hazard_ratio_cr"):
            check_nonnegative(f"ResponseProcess.{name}", getattr(self, name))

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
        check_positive("Taper.start_dose_median", self.start_dose_median)
        for name in ("start_dose_sd_log", "rate", "weight_nr", "weight_pr", "weight_cr"):
            check_nonnegative(f"Taper.{name}", getattr(self, name))

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
        check_nonnegative("Infection.hazard", self.hazard)
        check_positive("Infection.reference_dose", self.reference_dose)
        check_flag("Infection.dose_dependent", self.dose_dependent)


@dataclass(frozen=True, kw_only=True, slots=True)
class ArmModel:
    """One arm of the full disease model: response and death, taper, infection."""

    response: ResponseProcess = field(default_factory=ResponseProcess)
    taper: Taper = field(default_factory=Taper)
    infection: Infection = field(default_factory=Infection)

    def __post_init__(self) -> None:
        for name, cls in (("response", ResponseProcess), ("taper", Taper), ("infection", Infection)):
            check_type(f"ArmModel.{name}", getattr(self, name), cls)

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
        hazards = check_numbers("ParametricArm.hazards", self.hazards, check_nonnegative)
        if len(tuple(self.breaks)) != len(hazards) - 1:
            raise invalid("ParametricArm.breaks", f"must hold len(hazards) - 1 = {len(hazards) - 1} times",
                          self.breaks)
        object.__setattr__(self, "hazards", hazards)
        object.__setattr__(self, "breaks", check_increasing("ParametricArm.breaks", self.breaks))

    @classmethod
    def exponential(cls, hazard: float) -> "ParametricArm":
        return cls(hazards=(hazard,))

    @classmethod
    def from_median(cls, median: float) -> "ParametricArm":
        return cls(hazards=(math.log(2) / check_positive("ParametricArm.median", median),))

    @classmethod
    def from_survival(cls, survival: float, at: float) -> "ParametricArm":
        survival = check_probability("ParametricArm.survival", survival, open_low=True)
        return cls(hazards=(-math.log(survival) / check_positive("ParametricArm.at", at),))

    def with_hazard_ratio(self, hazard_ratio: float) -> "ParametricArm":
        hazard_ratio = check_positive("ParametricArm.hazard_ratio", hazard_ratio)
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
        check_probability("BaselineMix.female_fraction", self.female_fraction)
        fractions = check_numbers("BaselineMix.disease_fractions", self.disease_fractions, check_probability,
                                  length=len(DISEASES))
        if abs(sum(fractions) - 1.0) > 1e-9:
            raise invalid("BaselineMix.disease_fractions", "must sum to 1", self.disease_fractions)
        ratios = check_numbers("BaselineMix.death_hazard_ratio_by_disease", self.death_hazard_ratio_by_disease,
                               check_positive, length=len(DISEASES))
        object.__setattr__(self, "disease_fractions", fractions)
        object.__setattr__(self, "death_hazard_ratio_by_disease", ratios)

    def strata(self) -> list[tuple[float, float]]:
        """``(weight, death-hazard multiplier)`` of the underlying diseases present, merged where the multipliers
        agree: what averages a survival curve over the mix with the fewest evaluations."""
        merged: dict[float, float] = {}
        for weight, multiplier in zip(self.disease_fractions, self.death_hazard_ratio_by_disease):
            if weight > 0:
                merged[multiplier] = merged.get(multiplier, 0.0) + weight
        return [(weight, multiplier) for multiplier, weight in merged.items()]


@dataclass(frozen=True, kw_only=True, slots=True)
class DiseaseModel:
    """The arms of a model, their names, the baseline mix and the assessment schedule (weeks)."""

    arms: tuple[Arm, ...]
    arm_names: tuple[str, ...] = ("ruxolitinib", "control")
    baseline: BaselineMix = field(default_factory=BaselineMix)
    visit_times: tuple[float, ...] = tuple(float(w) for w in range(1, 9))

    def __post_init__(self) -> None:
        object.__setattr__(self, "arms", tuple(self.arms))
        object.__setattr__(self, "arm_names", tuple(self.arm_names))
        if not self.arms:
            raise invalid("DiseaseModel.arms", "must hold at least one arm", self.arms)
        for arm in self.arms:
            check_type("DiseaseModel.arms", arm, (ArmModel, ParametricArm))
        if len(self.arm_names) != len(self.arms) or not all(isinstance(a, str) for a in self.arm_names):
            raise invalid("DiseaseModel.arm_names", f"must name each of the {len(self.arms)} arms", self.arm_names)
        check_type("DiseaseModel.baseline", self.baseline, BaselineMix)
        object.__setattr__(self, "visit_times", check_increasing("DiseaseModel.visit_times", self.visit_times))

    @property
    def n_arms(self) -> int:
        return len(self.arms)

    @property
    def is_parametric(self) -> bool:
        """True when every arm is a :class:`ParametricArm` (survival only)."""
        return all(isinstance(a, ParametricArm) for a in self.arms)
