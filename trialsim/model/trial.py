"""The trial: size, allocation and randomisation, accrual, follow-up, dropout, analysis trigger, maximum duration.

Time is calendar time, in weeks from the opening of the trial, except ``follow_up``, which runs from each
patient's entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from ..exceptions import invalid
from .disease import DiseaseModel
from .study import DEFAULT_HORIZON_WEEKS
from .validation import (check_choice, check_count, check_flag, check_increasing, check_nonnegative, check_numbers,
                         check_positive, check_type)

__all__ = ["Accrual", "Trial", "check_model_and_trial", "default_trial"]


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
        check_choice("Accrual.kind", self.kind, ("instant", "poisson", "piecewise"))
        check_positive("Accrual.rate", self.rate)
        if self.kind != "piecewise":
            if self.rates or self.breaks:
                raise invalid("Accrual.rates", "applies to kind = 'piecewise' only", self.rates or self.breaks)
            return
        rates = check_numbers("Accrual.rates", self.rates, check_nonnegative)
        if rates[-1] <= 0:
            raise invalid("Accrual.rates", "must end with a rate > 0, so that enrolment ends", self.rates)
        if len(tuple(self.breaks)) != len(rates) - 1:
            raise invalid("Accrual.breaks", f"must hold len(rates) - 1 = {len(rates) - 1} times", self.breaks)
        object.__setattr__(self, "rates", rates)
        object.__setattr__(self, "breaks", check_increasing("Accrual.breaks", self.breaks))

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
        ``calendar``: at calendar time ``analysis_time``; ``events``: at the ``target_events``-th death (or,
        if fewer deaths ever occur, once every patient has completed follow-up). Patients still on study at
        the analysis are censored then.
    max_duration
        Calendar week by which the trial ends whatever its trigger (``None``: no limit): the analysis is at
        ``min(trigger, max_duration)``, patients still on study then are censored, and patients who would
        have entered later are never enrolled. A calendar ``analysis_time`` must not exceed it.

    Notes
    -----
    ``follow_up`` is each patient's follow-up; it need not equal the survival horizon of the model or of the
    design (where survival is read as a binary endpoint). With a long follow-up an ``events`` trial runs until
    its ``target_events``-th death, as rpact's ``getSimulationSurvival`` simulates an event-driven trial.
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
    max_duration: float | None = None

    def __post_init__(self) -> None:
        allocation = self.allocation
        if isinstance(allocation, (str, bytes)) or not isinstance(allocation, (tuple, list)) or not allocation:
            raise invalid("Trial.allocation", "must hold one positive integer per arm", allocation)
        object.__setattr__(self, "allocation", tuple(check_count("Trial.allocation", a) for a in allocation))
        total = sum(self.allocation)
        n = check_count("Trial.n", self.n)
        if n % total:
            ratio = ":".join(str(a) for a in self.allocation)
            raise invalid("Trial.n", f"must be a multiple of {total} for allocation {ratio}", self.n)
        if self.block_size is not None:
            block = check_count("Trial.block_size", self.block_size)
            if block % total:
                raise invalid("Trial.block_size", f"must be a multiple of {total}", self.block_size)
        check_flag("Trial.stratified", self.stratified)
        check_type("Trial.accrual", self.accrual, Accrual)
        check_positive("Trial.follow_up", self.follow_up)
        object.__setattr__(self, "dropout_hazard", check_numbers("Trial.dropout_hazard", self.dropout_hazard,
                                                                 check_nonnegative, length=len(self.allocation)))
        check_choice("Trial.analysis", self.analysis, ("complete", "calendar", "events"))
        if self.analysis == "calendar":
            if self.analysis_time is None:
                raise invalid("Trial.analysis_time", "is required when analysis = 'calendar'", None)
            check_positive("Trial.analysis_time", self.analysis_time)
        elif self.analysis_time is not None:
            raise invalid("Trial.analysis_time", "applies to analysis = 'calendar' only", self.analysis_time)
        if self.analysis == "events":
            if self.target_events is None:
                raise invalid("Trial.target_events", "is required when analysis = 'events'", None)
            check_count("Trial.target_events", self.target_events, maximum=n)
        elif self.target_events is not None:
            raise invalid("Trial.target_events", "applies to analysis = 'events' only", self.target_events)
        if self.max_duration is not None:
            check_positive("Trial.max_duration", self.max_duration)
            # analysis_time is set exactly when the analysis is calendar (checked above)
            if self.analysis_time is not None and self.analysis_time > self.max_duration:
                raise invalid("Trial.analysis_time", f"must not exceed the maximum duration ({self.max_duration:g} "
                              "weeks)", self.analysis_time)

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
    check_type("model", model, DiseaseModel)
    check_type("trial", trial, Trial)
    if trial.n_arms != model.n_arms:
        raise invalid("Trial.allocation", f"must hold one entry per arm of the model ({model.n_arms})",
                      trial.allocation)


def default_trial(n: int = 40, **changes: Any) -> Trial:
    """The default prospective trial: 1:1, everyone enrolled at once, followed 8 weeks, analysed when complete."""
    base = Trial(n=n, allocation=(1, 1), accrual=Accrual(kind="instant"), follow_up=DEFAULT_HORIZON_WEEKS,
                 dropout_hazard=(0.0, 0.0), analysis="complete")
    return replace(base, **changes) if changes else base
