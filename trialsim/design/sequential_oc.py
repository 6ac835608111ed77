"""Simulated operating characteristics of a trial with looks: power, stopping at each look, expected deaths,
patients and duration, each with its Monte Carlo error.

:func:`sequential_power` runs a :class:`~trialsim.design.sequential.SequentialDesign` through
:func:`trialsim.design.montecarlo.run` (one seed fixes every number, whatever the workers), keeping the
per-replicate outcomes, and reports per look the probability of stopping there for efficacy and for futility
(at the last look: of ending without rejecting H0), each with its standard error ``sqrt(p (1 - p) / R)``, the mean
deaths analysed there, and whether its efficacy bound can be crossed at all with the deaths planned there
(:func:`~trialsim.design.sequential.max_logrank_z`). Under the null (``model`` = :func:`~trialsim.design.
sequential.null_model`) the efficacy stops are the simulated type I error spent at each look.

Calibrated designs are calibrated first, on null trials of their own seed tree (spawn key
:data:`~trialsim.design.sequential.CALIBRATION_KEY` under the run's root); ``check_alpha=True`` then estimates the
alpha they achieve at each look on a third, independent set of null trials (spawn key :data:`CHECK_KEY`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from ..engines.seeding import Seed, root_sequence, seed_record
from ..model import DiseaseModel, Trial
from ..model.validation import check_count
from .sequential import CALIBRATION_KEY, Calibration, Looks, SequentialDesign, SequentialOutcome, max_logrank_z, \
    null_model
from .rules import TwoArmDesign
from .sizing import PowerResult, wilson_interval

if TYPE_CHECKING:  # montecarlo (and its joblib) is imported when a run starts
    from .montecarlo import Backend, Engine

__all__ = ["LookResult", "SequentialPowerResult", "sequential_power", "CHECK_KEY"]

#: Spawn key, under a run's root, of the independent null trials that check a calibrated design's alpha.
CHECK_KEY = CALIBRATION_KEY + 1


@dataclass(frozen=True, kw_only=True, slots=True)
class LookResult:
    """One look of a simulated trial with looks.

    ``information_fraction``, ``efficacy_z``, ``futility_z`` (``None`` where there is none): the bounds as applied
    (two-sided: reject at ``|z| >= efficacy_z``). ``planned_deaths``: the deaths planned at the look (an event
    look's trigger), or expected there under the planning model (a calendar look; the final look of a trial
    without an event target). ``max_attainable_z`` and ``reachable``: the largest log-rank z those deaths allow
    (all in the control arm, rounded to whole deaths; both arms tried when two-sided) and whether the efficacy
    bound is within it. ``happened``: share of trials that reached the look before stopping and before their final
    analysis came. ``mean_deaths``: deaths analysed at the look, mean over the trials where it happened.
    ``efficacy_stop``/``futility_stop``: probability of stopping at the look for efficacy / futility (the last
    look: ending without rejecting), with standard errors. ``calibrated_alpha``: alpha spent at the look on the
    calibration replicates (calibrated designs); ``checked_alpha`` with ``checked_alpha_se``: the same on
    independent null trials (with ``check_alpha``).
    """

    information_fraction: float
    efficacy_z: float
    futility_z: float | None
    planned_deaths: float
    look_time: float | None
    max_attainable_z: float
    reachable: bool
    happened: float
    mean_deaths: float
    efficacy_stop: float
    efficacy_stop_se: float
    futility_stop: float
    futility_stop_se: float
    calibrated_alpha: float | None = None
    checked_alpha: float | None = None
    checked_alpha_se: float | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class SequentialPowerResult:
    """Simulated power of a trial with looks.

    ``result``: the :class:`~trialsim.design.sizing.PowerResult` (power = P(stop for efficacy at some look); deaths
    and duration at the stop; analytic power by the group-sequential recursion at Schoenfeld's drift).
    ``looks``: one :class:`LookResult` per look. ``mean_enrolled`` with ``mean_enrolled_se``: patients enrolled
    when the trial stopped. ``mean_deaths_se``, ``mean_duration_se``: standard errors of the means in ``result``.
    ``target_events`` and ``short_of_events``: an event-driven trial's target and the number of trials that
    reached their final analysis with fewer deaths (follow-up ended, or the maximum duration came, first).
    ``calibration``: how the efficacy bounds were calibrated (``None``: normal theory).
    """

    result: PowerResult
    looks: tuple[LookResult, ...]
    mean_enrolled: float
    mean_enrolled_se: float
    mean_deaths_se: float
    mean_duration_se: float
    target_events: int | None
    short_of_events: int
    calibration: Calibration | None
    efficacy: str
    futility: str | None
    binding: bool
    sequential: bool
    elapsed_seconds: float = field(default=0.0, compare=False)

    def to_dict(self) -> dict:
        """``PowerResult.to_dict()`` plus ``looks`` (when the design has looks), ``mean_enrolled`` and the rest."""
        out = self.result.to_dict()
        keys = ("information_fraction", "efficacy_z", "futility_z", "mean_deaths", "efficacy_stop",
                "efficacy_stop_se", "futility_stop", "futility_stop_se")
        if self.sequential:
            out["looks"] = [{k: getattr(look, k) for k in keys} for look in self.looks]
        out["mean_enrolled"] = self.mean_enrolled
        out["target_events"] = self.target_events
        out["short_of_events"] = self.short_of_events
        if self.sequential:
            calibration = None if self.calibration is None else {
                k: v for k, v in asdict(self.calibration).items() if k not in ("upper",)}
            out["sequential"] = {
                "efficacy": self.efficacy, "futility": self.futility, "binding": self.binding,
                "calibrated": self.calibration is not None, "calibration": calibration,
                **{k: [getattr(look, k) for look in self.looks]
                   for k in ("planned_deaths", "look_time", "max_attainable_z", "reachable", "happened",
                             "calibrated_alpha", "checked_alpha", "checked_alpha_se")},
                "mean_enrolled_se": self.mean_enrolled_se, "mean_deaths_se": self.mean_deaths_se,
                "mean_duration_se": self.mean_duration_se}
        return out


def _se(p: float, r: int) -> float:
    return math.sqrt(max(p * (1.0 - p), 0.0) / r)


def _mean_se(x: np.ndarray) -> float:
    return float(x.std(ddof=1) / math.sqrt(x.size)) if x.size > 1 else float("nan")


def _reach(design: SequentialDesign, trial: Trial, looks: Looks) -> list[tuple[float, bool]]:
    """(largest attainable z, bound within it) per look, from the deaths planned there."""
    if not isinstance(design.base, TwoArmDesign) or design.base.endpoint != "survival":
        return [(math.nan, True)] * looks.n_looks
    n_t, n_c = trial.n_per_arm()
    out = []
    for planned, bound in zip(looks.planned_deaths, looks.upper):
        d = int(math.floor(planned + 0.5))
        if d < 1:
            out.append((0.0, False))
            continue
        z_max = max_logrank_z(d, n_c, n_t)
        if design.sided == 2:
            z_max = max(z_max, max_logrank_z(d, n_t, n_c))
        out.append((z_max, bool(bound <= z_max + 1e-12)))
    return out


def _power_result(mc, outcome: SequentialOutcome, model: DiseaseModel, trial: Trial,
                  design: SequentialDesign) -> PowerResult:
    r = outcome.n_replicates
    k = int(outcome.success.sum())
    p = k / r
    low, high = wilson_interval(k, r)
    analytic = design.analytic_power(model, trial)
    by_arm = outcome.n_events_by_arm.mean(axis=0)
    return PowerResult(power=p, standard_error=_se(p, r), ci_low=low, ci_high=high, n=int(trial.n), n_replicates=r,
                       seed=mc.seed, spawn_key=mc.spawn_key, groups=design.groups(model),
                       mean_deaths=float(outcome.n_events.mean()), mean_deaths_by_arm=tuple(float(x) for x in by_arm),
                       mean_duration=float(outcome.duration.mean()), analytic_power=analytic.power,
                       analytic_method=analytic.method, analytic_deaths=analytic.n_events,
                       analytic_deaths_by_arm=analytic.n_events_by_arm, hazard_ratio=analytic.hazard_ratio,
                       n_successes=k, n_degenerate=int(outcome.degenerate.sum()), design=design.describe(trial),
                       alpha=design.alpha, sided=design.sided, engine=mc.engine, elapsed_seconds=mc.elapsed_seconds)


def sequential_power(model: DiseaseModel, trial: Trial, design: SequentialDesign, *, n_replicates: int = 10_000,
                     seed: Seed = None, n_jobs: int | None = None, backend: Backend = "loky",
                     scheduler: str | None = None, engine: Engine = "auto",
                     progress: Callable[[int, int], None] | None = None,
                     check_alpha: bool = False) -> SequentialPowerResult:
    """Simulated power and stopping probabilities of ``design`` for ``trial`` under ``model``.

    Parameters
    ----------
    model
        The model simulated (the planning model for power; :func:`~trialsim.design.sequential.null_model` of it
        for the type I error). The looks stay where ``design.model`` plans them.
    trial, design
        The trial and its analysis with looks.
    n_replicates, seed, n_jobs, backend, scheduler, engine, progress
        As for :func:`trialsim.design.montecarlo.run`; a calibrated design calibrates on as many null trials as
        ``design.calibration_replicates``, from the seed tree ``CALIBRATION_KEY`` under ``seed``'s root.
    check_alpha
        For a calibrated design, also simulate ``n_replicates`` independent null trials (spawn key
        :data:`CHECK_KEY`) and report the alpha achieved at each look with its standard error.

    Returns
    -------
    SequentialPowerResult

    Notes
    -----
    Power is the share of trials stopped for efficacy, with standard error :math:`\\sqrt{p(1-p)/R}`; the same for
    every per-look stopping probability. Means (deaths, patients, duration at the stop) have the standard error
    of a mean of R independent trials.

    Examples
    --------
    >>> from trialsim.model import DiseaseModel, ParametricArm, Trial
    >>> control = ParametricArm.from_survival(0.62, at=8.0)
    >>> model = DiseaseModel(arms=(control.with_hazard_ratio(0.5), control), arm_names=("treatment", "control"))
    >>> trial = Trial(n=200, analysis="events", target_events=60, follow_up=52.0)
    >>> design = SequentialDesign(base=TwoArmDesign(alpha=0.025, sided=1), model=model, fractions=(0.5, 1.0))
    >>> res = sequential_power(model, trial, design, n_replicates=2000, seed=1, n_jobs=1)
    >>> [look.planned_deaths for look in res.looks], round(res.looks[0].efficacy_z, 3)
    ([30.0, 60.0], 2.963)
    """
    from .montecarlo import run

    n_replicates = check_count("n_replicates", n_replicates)
    root = root_sequence(seed)
    entropy, key = seed_record(root)
    trial = design.prepare_trial(trial)
    design = replace(design, engine=engine)
    if design.calibrate:
        design = replace(design, calibration_seed=(entropy, (*key, CALIBRATION_KEY)), calibrated_for=None)
        design = design.calibrated(trial, n_jobs=n_jobs, backend=backend, scheduler=scheduler, progress=progress)
    # a SequentialDesign is a design as montecarlo.run takes one (simulated_trials, needs_detail, analyse)
    mc = run(model, trial, design, n_replicates=n_replicates, seed=root, n_jobs=n_jobs, backend=backend,
             scheduler=scheduler, engine=engine, progress=progress, keep_outcomes=True)
    outcome = mc.outcome
    assert isinstance(outcome, SequentialOutcome)
    looks = design.resolve(trial)
    checked: list[tuple[float | None, float | None]] = [(None, None)] * looks.n_looks
    if check_alpha and design.calibrate:
        null = run(null_model(design.model), trial, design, n_replicates=n_replicates,
                   seed=np.random.SeedSequence(entropy, spawn_key=(*key, CHECK_KEY)), n_jobs=n_jobs, backend=backend,
                   scheduler=scheduler, engine=engine, progress=progress, keep_outcomes=True).outcome
        assert isinstance(null, SequentialOutcome)
        for k in range(looks.n_looks):
            a = float(np.mean(null.success & (null.stop_look == k)))
            checked[k] = (a, _se(a, null.n_replicates))
    r = outcome.n_replicates
    rows = []
    reach = _reach(design, trial, looks)
    cal = looks.calibration
    for k in range(looks.n_looks):
        at = outcome.stop_look == k
        eff = float(np.mean(outcome.success & at))
        fut = float(np.mean(~outcome.success & at))
        seen = np.isfinite(outcome.look_deaths[:, k])
        lower = looks.lower[k] if design.sided == 1 else -math.inf
        futility_z = None if not math.isfinite(lower) else lower
        if design.sided == 1 and design.futility is not None and k == looks.n_looks - 1:
            futility_z = looks.upper[k]
        rows.append(LookResult(
            information_fraction=looks.fractions[k], efficacy_z=looks.upper[k], futility_z=futility_z,
            planned_deaths=looks.planned_deaths[k], look_time=looks.times[k], max_attainable_z=reach[k][0],
            reachable=reach[k][1], happened=float(seen.mean()),
            mean_deaths=float(outcome.look_deaths[seen, k].mean()) if seen.any() else math.nan,
            efficacy_stop=eff, efficacy_stop_se=_se(eff, r), futility_stop=fut, futility_stop_se=_se(fut, r),
            calibrated_alpha=None if cal is None else cal.achieved_alpha[k],
            checked_alpha=checked[k][0], checked_alpha_se=checked[k][1]))
    events = trial.target_events if trial.analysis == "events" else None
    enrolled = outcome.n_enrolled.astype(float)
    return SequentialPowerResult(
        result=_power_result(mc, outcome, model, trial, design), looks=tuple(rows), mean_enrolled=float(enrolled.mean()),
        mean_enrolled_se=_mean_se(enrolled), mean_deaths_se=_mean_se(outcome.n_events.astype(float)),
        mean_duration_se=_mean_se(outcome.duration), target_events=events,
        short_of_events=int(outcome.short_of_events.sum()), calibration=cal, efficacy=design.efficacy,
        futility=design.futility, binding=design.binding,
        sequential=isinstance(design.base, TwoArmDesign) and design.base.endpoint == "survival",
        elapsed_seconds=mc.elapsed_seconds)
