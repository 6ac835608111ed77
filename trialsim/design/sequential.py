"""Group-sequential trials by simulation: interim looks, stopping boundaries, and boundaries calibrated to the
simulated null distribution of the log-rank statistic.

A :class:`SequentialDesign` wraps an analysis rule (a :class:`~trialsim.design.rules.TwoArmDesign` on survival,
log-rank) with K looks. Look k < K comes at a planned number of deaths ``d_k`` (the ``d_k``-th death the
analysis uses, in calendar time) or at a calendar week ``T_k``; look K is the trial's own final analysis (complete
follow-up, a calendar date, or the E-th death, and never after the trial's maximum duration). At each look the
log-rank z (stratified when randomisation is) is computed on the data as they stood then (patients enrolled by
then, censored at the look: :mod:`trialsim.design.looks`), and the trial stops for efficacy when
``z >= b_k`` (``|z| >= b_k`` two-sided) or for futility when ``z <= a_k``. Patients not enrolled at a stop are
never enrolled; the trial's deaths, patients and duration are those of the look where it stopped.

Both engines simulate each trial to its final analysis and the design reads every look off those data, which is
exact (a look sees what a trial cut then would have seen) and engine-agnostic.

Planned looks. ``fractions`` are information fractions ``t_k`` (deaths at look k over deaths at the final look),
the fractions the boundaries are computed at (:func:`trialsim.design.boundaries.group_sequential_design`). The
planned deaths at interim k are ``d_k = round(t_k D)``, where D is the target E of an event-driven trial, or else
the expected deaths at the final analysis under the *planning* model (the alternative the protocol was written
for: under a simulated null the looks stay where the protocol put them). With ``look_times`` the looks are at
calendar weeks, the last being the final analysis, and the fractions (unless given) are the expected deaths by
each week over those by the last.

Small trials. With a handful of deaths the log-rank statistic is discrete and bounded
(:func:`~trialsim.design.survival_sizing.max_attainable_logrank_z`): an interim bound may be out of reach, and the
normal-theory bounds need not hold their alpha. ``calibrate=True`` replaces the efficacy bounds by bounds that
spend the design's cumulative alpha at each look under the *simulated* null distribution of the statistic itself
(both arms the planning model's control arm), on replicates from their own seed tree (spawn key
:data:`CALIBRATION_KEY` under the run's root), independent of those that then estimate power.

With one look and no calibration the design is the wrapped design, unchanged: same test, same numbers, bit for
bit.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING

import numpy as np
from scipy import special

from ..engines.batch import TrialBatch
from ..exceptions import InputError, invalid
from ..model import DiseaseModel, Trial
from ..model.validation import check_count, check_flag, check_increasing, check_level, check_type
from .analytic import AnalyticPower, resolve_horizon
from .boundaries import GroupSequentialDesign, crossing_probabilities, group_sequential_design, parse_spending
from .looks import data_at, death_look_times, logrank_z_at, used_deaths
from .rules import Design, DesignOutcome, HistoricalControlDesign, SingleArmDesign, TwoArmDesign

if TYPE_CHECKING:  # montecarlo (and its joblib) is imported when a calibration runs
    from .montecarlo import Backend, Engine

__all__ = ["SequentialDesign", "SequentialOutcome", "Looks", "Calibration", "CALIBRATION_KEY", "SCENARIO_KEYS",
           "null_model", "with_looks", "calibrate_bounds", "max_logrank_z"]

#: Spawn key, under a run's root, of the seed tree whose null trials calibrate the boundaries.
CALIBRATION_KEY = 2 ** 30


def null_model(model: DiseaseModel) -> DiseaseModel:
    """The null hypothesis of a two-arm model: both arms are its control arm (arm 1), names kept."""
    check_type("model", model, DiseaseModel)
    if model.n_arms != 2:
        raise invalid("model", "must have two arms (treatment, control) for a null model", model.n_arms)
    return replace(model, arms=(model.arms[1], model.arms[1]))


def max_logrank_z(n_deaths: int, n_dying_arm: int, n_other_arm: int) -> float:
    """The largest log-rank z with ``n_deaths`` deaths, all in one arm of ``n_dying_arm`` patients.

    The j-th death (j = 0, ..., d - 1) comes with ``n_a - j`` at risk in the dying arm and ``n_b`` in the other
    (distinct death times, nobody censored before), contributing ``O - E = n_b / (n_a + n_b - j)`` and
    variance ``(n_a - j) n_b / (n_a + n_b - j)^2``, so

        z_max = sum_j n_b / (N - j) / sqrt(sum_j (n_a - j) n_b / (N - j)^2),   N = n_a + n_b.

    With ``n_a = n_b`` it is :func:`~trialsim.design.survival_sizing.max_attainable_logrank_z`; with unequal
    arms the bound depends on which arm dies (``inf`` when ``n_deaths`` exceeds that arm: not assessed).
    """
    d, n_a, n_b = check_count("n_deaths", n_deaths), check_count("n_dying_arm", n_dying_arm), \
        check_count("n_other_arm", n_other_arm)
    if d > n_a:
        return math.inf
    j = np.arange(d, dtype=float)
    total = n_a + n_b - j
    return float(np.sum(n_b / total) / math.sqrt(np.sum((n_a - j) * n_b / total ** 2)))


# -------------------------------------------------------------------------------------------- outcomes


@dataclass(frozen=True, kw_only=True, slots=True)
class SequentialOutcome(DesignOutcome):
    """Per-replicate results of a trial with looks (on top of :class:`DesignOutcome`).

    ``success`` is a stop for efficacy at some look; ``n_events``, ``n_events_by_arm`` and ``duration`` are the
    deaths and the calendar time of the look where the trial stopped; ``pvalue`` is the nominal p-value of the
    statistic there (not a sequentially adjusted p-value); ``degenerate`` is a degenerate final statistic.

    Attributes
    ----------
    look_z, look_deaths, look_time : ndarray (R, K)
        The z statistic, the deaths analysed and the calendar time at each look; NaN where the look did not
        happen (after the stop, or the trial at its final analysis before the look came; degenerate interim
        statistics, which never stop a trial, are NaN in ``look_z``).
    stop_look : ndarray of int (R,)
        Index of the look where the trial stopped (K - 1: it reached the final analysis).
    futility : ndarray of bool (R,)
        Stopped for futility at an interim look.
    n_enrolled : ndarray of int (R,)
        Patients enrolled when the trial stopped.
    short_of_events : ndarray of bool (R,)
        An event-driven trial reached its final analysis with fewer deaths than its target (at the end of
        follow-up, or at the maximum duration); always False for other triggers.
    """

    look_z: np.ndarray
    look_deaths: np.ndarray
    look_time: np.ndarray
    stop_look: np.ndarray
    futility: np.ndarray
    n_enrolled: np.ndarray
    short_of_events: np.ndarray


# ----------------------------------------------------------------------------------------- the looks


@dataclass(frozen=True, kw_only=True, slots=True)
class Calibration:
    """Efficacy bounds calibrated on simulated null trials.

    ``upper`` per look (``inf``: no bound spends the look's alpha on these replicates); ``targets`` the
    cumulative alpha the design spends by each look; ``crossed`` the calibration trials that first cross at each
    look (so ``crossed / n_replicates`` is the alpha achieved in-sample, at most the target by construction);
    ``seed``, ``spawn_key`` the calibration tree (``SeedSequence(seed, spawn_key=spawn_key)``).
    """

    upper: tuple[float, ...]
    targets: tuple[float, ...]
    crossed: tuple[int, ...]
    n_replicates: int
    seed: int
    spawn_key: tuple[int, ...]

    @property
    def achieved_alpha(self) -> tuple[float, ...]:
        """Alpha spent at each look on the calibration replicates."""
        return tuple(c / self.n_replicates for c in self.crossed)


@dataclass(frozen=True, kw_only=True, slots=True)
class Looks:
    """A design's looks resolved for one trial.

    ``fractions`` (information, the boundaries' ``t_k``); ``deaths``: the death that triggers each interim look
    (``None`` for calendar looks and the final look); ``times``: the calendar week of calendar looks (else
    ``None``); ``planned_deaths``: deaths planned (event looks) or expected (calendar looks, the final look of a
    trial without an event target) at each look under the planning model; ``lower``/``upper``: the z bounds as
    applied (``-inf``/``inf`` where none; two-sided: ``lower = -upper``); ``boundaries``: the normal-theory
    design; ``calibration``: how the efficacy bounds were calibrated (``None``: normal theory).
    """

    fractions: tuple[float, ...]
    deaths: tuple[int | None, ...]
    times: tuple[float | None, ...]
    planned_deaths: tuple[float, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    boundaries: GroupSequentialDesign
    calibration: Calibration | None = None

    @property
    def n_looks(self) -> int:
        return len(self.fractions)


def calibrate_bounds(z: np.ndarray, targets, *, sided: int, lower=None, binding: bool = False
                     ) -> tuple[tuple[float, ...], tuple[int, ...]]:
    """Efficacy bounds spending ``targets`` (cumulative alpha per look) on simulated null statistics ``z`` (R, K).

    Look by look, among the trials that have not stopped (crossed before, or, with ``binding``, fallen to the
    futility bound ``lower``), the bound is the smallest that lets at most ``floor(targets[k] R) - (trials
    crossed before)`` trials cross, placed half-way between the two observed values it separates (``|z|`` when
    ``sided = 2``); ``inf`` when even the largest value is held by too many trials (a discrete statistic whose top
    atom is too heavy: no bound can spend the look's alpha). NaN (a look that did not happen) never crosses.
    Returns (bounds, trials first crossing at each look).
    """
    z = np.asarray(z, dtype=float)
    r, k_looks = z.shape
    stat = np.abs(z) if sided == 2 else z
    running = np.ones(r, dtype=bool)
    bounds, crossed, total = [], [], 0
    for k in range(k_looks):
        allowed = int(math.floor(float(targets[k]) * r + 1e-9)) - total
        values = stat[running & np.isfinite(stat[:, k]), k]
        b = _threshold(values, allowed)
        cross = running & (stat[:, k] >= b)
        crossed.append(int(cross.sum()))
        total += crossed[-1]
        running &= ~cross
        if binding and lower is not None and k < k_looks - 1:
            running &= ~(z[:, k] <= lower[k])
        bounds.append(b)
    return tuple(bounds), tuple(crossed)


def _threshold(values: np.ndarray, allowed: int) -> float:
    """Smallest mid-point bound b with #{values >= b} <= allowed."""
    if allowed <= 0 or values.size == 0:
        return math.inf
    v = np.sort(values)[::-1]
    if allowed >= v.size:
        return float(v[-1])
    j = int(np.count_nonzero(v > v[allowed]))  # values strictly above the (allowed+1)-th largest
    return math.inf if j == 0 else float((v[j - 1] + v[allowed]) / 2)


# ----------------------------------------------------------------------------------------- the design


@dataclass(frozen=True, kw_only=True)
class SequentialDesign:
    """An analysis rule with interim looks and stopping boundaries (a design: ``power`` and ``sample_size`` take it).

    Parameters
    ----------
    base
        The analysis rule; more than one look (or calibration) needs a :class:`TwoArmDesign` on survival
        (log-rank). Its ``alpha`` and ``sided`` are the design's.
    model
        The planning model: the alternative the protocol's death counts are planned under (for a simulation
        under the null, still the alternative).
    fractions
        Information fractions ``0 < t_1 < ... < t_K = 1``; ``None``: one look (the fixed design), or with
        ``look_times`` the expected deaths by each look over those by the last.
    look_times
        Calendar weeks of the K looks, the last being the final analysis (the trial is analysed then).
    efficacy, futility, binding, design_power
        Boundaries (:func:`~trialsim.design.boundaries.group_sequential_design`); ``design_power`` is the power
        the boundaries are planned for (beta spending and the H1 characteristics).
    calibrate, calibration_replicates, calibration_seed
        Calibrate the efficacy bounds on ``calibration_replicates`` simulated null trials drawn from the seed
        tree ``SeedSequence(*calibration_seed)`` (entropy, spawn key; :func:`trialsim.design.sequential_oc.
        sequential_power` sets it from the run's root).
    engine
        Engine of the calibration runs.
    bounds
        (lower, upper) z bounds per look that replace the boundaries' (set by :meth:`calibrated`).
    """

    base: Design
    model: DiseaseModel
    fractions: tuple[float, ...] | None = None
    look_times: tuple[float, ...] | None = None
    efficacy: str = "ld-of"
    futility: str | None = None
    binding: bool = False
    design_power: float = 0.8
    calibrate: bool = False
    calibration_replicates: int = 10_000
    calibration_seed: tuple[int, tuple[int, ...]] | None = None
    engine: Engine = "auto"
    bounds: tuple[tuple[float, ...], tuple[float, ...]] | None = None
    calibrated_for: Trial | None = None
    calibration: Calibration | None = field(default=None, compare=False)
    record: bool = False  # analyse every look of every trial, stop none (calibration runs)

    def __post_init__(self) -> None:
        me = "SequentialDesign"
        check_type(f"{me}.base", self.base, (TwoArmDesign, SingleArmDesign, HistoricalControlDesign))
        check_type(f"{me}.model", self.model, DiseaseModel)
        if self.look_times is not None:
            times = check_increasing("look_times", self.look_times)
            object.__setattr__(self, "look_times", times)
        if self.fractions is None and self.look_times is None:
            object.__setattr__(self, "fractions", (1.0,))
        if self.fractions is not None:
            try:
                values = tuple(float(f) for f in self.fractions)
            except (TypeError, ValueError):
                raise invalid("information_fractions", "must be a list of numbers", self.fractions) from None
            object.__setattr__(self, "fractions", values)
            if self.look_times is not None and len(values) != len(self.look_times):
                raise invalid("look_times", f"must give one week per look ({len(values)})", self.look_times)
        parse_spending(self.efficacy, role="efficacy")
        if self.futility is not None:
            parse_spending(self.futility, role="futility")
        check_flag(f"{me}.binding", self.binding)
        check_level("power", self.design_power)
        check_flag("calibrate", self.calibrate)
        check_count("calibration_replicates", self.calibration_replicates, minimum=100)
        if self.n_looks > 1 or self.calibrate:
            if not (isinstance(self.base, TwoArmDesign) and self.base.endpoint == "survival"):
                raise invalid("information_fractions", "apply to the two-arm log-rank design only (looks and "
                              "calibration analyse the log-rank statistic)", list(self.fractions or self.look_times or ()))
        if self.fractions is not None:  # the boundaries now, so that a bad specification fails at once
            self.boundaries_at(self.fractions)

    # -- what a design exposes (montecarlo.run, sizing.power, sizing.sample_size) --------------------------

    @property
    def n_looks(self) -> int:
        return len(self.fractions) if self.fractions is not None else len(self.look_times or ())

    @property
    def alpha(self) -> float:
        return self.base.alpha

    @property
    def sided(self) -> int:
        return self.base.sided

    @property
    def horizon(self) -> float | None:
        return self.base.horizon

    @property
    def needs_detail(self) -> bool:
        return self.base.needs_detail

    @property
    def trivial(self) -> bool:
        """One look, normal-theory bound: the wrapped design itself."""
        return self.n_looks == 1 and not self.calibrate and self.bounds is None and not self.record

    def groups(self, model: DiseaseModel) -> tuple[str, ...]:
        return self.base.groups(model)

    def describe(self, trial: Trial | None = None) -> str:
        text = self.base.describe(trial)
        if self.trivial:
            return text
        bounds = self.efficacy + (f", futility {self.futility}{' binding' if self.binding else ''}"
                                  if self.futility else "")
        calibrated = ", calibrated to the simulated null" if self.calibrate else ""
        return f"{text}, {self.n_looks} looks ({bounds}{calibrated})"

    def prepare_trial(self, trial: Trial) -> Trial:
        """The trial as the design runs it: with look times, analysed at the last of them."""
        trial = self.base.prepare_trial(trial)
        if self.look_times is None:
            return trial
        last = self.look_times[-1]
        if trial.max_duration is not None and last > trial.max_duration:
            raise invalid("look_times", f"must not exceed the maximum duration ({trial.max_duration:g} weeks)",
                          self.look_times)
        if trial.analysis == "events":
            raise invalid("look_times", "exclude an event-driven final analysis (the last look time is the final "
                          "analysis)", self.look_times)
        return replace(trial, analysis="calendar", analysis_time=last, target_events=None)

    def simulated_trials(self, model: DiseaseModel, trial: Trial) -> list[tuple[DiseaseModel, Trial]]:
        return self.base.simulated_trials(model, self.prepare_trial(trial))

    def analytic_power(self, model: DiseaseModel, trial: Trial) -> AnalyticPower:
        """The wrapped design's analytic power; with looks, the exact group-sequential power of the bounds at
        Schoenfeld's drift ``-log(HR) sqrt(D r) / (1 + r)`` (D expected deaths at the final analysis, r the
        allocation ratio), by the recursion of :mod:`~trialsim.design.boundaries`."""
        trial = self.prepare_trial(trial)
        fixed = self.base.analytic_power(model, trial)
        if self.trivial:
            return fixed
        looks = self.resolve(trial)
        a_t, a_c = trial.allocation
        r = a_t / a_c
        drift = -math.log(fixed.hazard_ratio) * math.sqrt(fixed.n_events * r) / (1 + r)
        p = crossing_probabilities(looks.fractions, looks.upper, looks.lower, drift=drift)
        power = float(p.upper.sum() + (p.lower.sum() if self.sided == 2 else 0.0))
        return AnalyticPower(power=power, method="group-sequential recursion, Schoenfeld drift",
                             n_events_by_arm=fixed.n_events_by_arm, hazard_ratio=fixed.hazard_ratio)

    # -- the looks -----------------------------------------------------------------------------------------

    def boundaries_at(self, fractions) -> GroupSequentialDesign:
        return group_sequential_design(fractions, alpha=self.alpha, power=self.design_power, efficacy=self.efficacy,
                                       futility=self.futility, binding=self.binding, sided=self.sided)

    def resolve(self, trial: Trial) -> Looks:
        """The looks for ``trial`` (as :meth:`prepare_trial` gives it): planned deaths or times, fractions and
        bounds (calibrated when asked, once per trial and process)."""
        return _resolve(self, trial)

    def calibrated(self, trial: Trial, *, n_jobs: int | None = 1, backend: Backend = "loky",
                   scheduler: str | None = None, progress=None) -> SequentialDesign:
        """This design with its efficacy bounds calibrated for ``trial`` (itself without ``calibrate``)."""
        trial = self.prepare_trial(trial)
        if not self.calibrate or self.calibrated_for == trial:
            return self
        looks = _planned(self, trial)
        cal = _calibrate(self, trial, looks, n_jobs=n_jobs, backend=backend, scheduler=scheduler, progress=progress)
        lower = looks.lower if self.sided == 1 else tuple(-b for b in cal.upper)
        return replace(self, bounds=(lower, cal.upper), calibrated_for=trial, calibration=cal)

    # -- the analysis --------------------------------------------------------------------------------------

    def analyse(self, batches: list[TrialBatch], trial: Trial) -> SequentialOutcome:
        """Every trial of ``batches[0]`` through its looks (:class:`SequentialOutcome`)."""
        batch = batches[0]
        events = trial.target_events if trial.analysis == "events" else None
        short = batch.event.sum(axis=1) < events if events is not None else np.zeros(batch.n_replicates, bool)
        if self.trivial:
            out = self.base.analyse(batches, trial)
            enrolled = (batch.entry <= batch.analysis_time[:, None]).sum(axis=1)
            r = out.n_replicates
            return SequentialOutcome(**{f.name: getattr(out, f.name) for f in fields(DesignOutcome)},
                                     look_z=np.full((r, 1), np.nan), look_deaths=out.n_events[:, None].astype(float),
                                     look_time=out.duration[:, None].copy(), stop_look=np.zeros(r, dtype=np.int64),
                                     futility=np.zeros(r, dtype=bool), n_enrolled=enrolled, short_of_events=short)
        return _analyse_looks(self, batch, trial, self.resolve(trial), short)


#: Keys of a scenario's ``[design]`` table that give its looks, and the :class:`SequentialDesign` field of each.
SCENARIO_KEYS = {"looks": "fractions", "look_times": "look_times", "spending": "efficacy", "futility": "futility",
                 "binding": "binding", "calibrate_boundaries": "calibrate", "design_power": "design_power"}
#: The field an error names -> the scenario key.
_KEY_OF_FIELD = {"information_fractions": "looks", "look_times": "look_times", "efficacy": "spending",
                 "futility": "futility", "SequentialDesign.binding": "binding", "calibrate": "calibrate_boundaries",
                 "power": "design_power", "alpha": "alpha", "sided": "sided"}


def with_looks(base: Design, model: DiseaseModel, keys: dict) -> Design | SequentialDesign:
    """``base`` with the looks given by a scenario's ``[design]`` keys (:data:`SCENARIO_KEYS`); ``base`` itself
    when there are none. Errors name the key (``looks must be increasing (got [0.6, 0.5, 1.0])``)."""
    if not keys:
        return base
    if not isinstance(base, (TwoArmDesign, SingleArmDesign, HistoricalControlDesign)):
        raise invalid(next(iter(keys)), "applies to the two-arm log-rank design", type(base).__name__)
    values = {SCENARIO_KEYS[k]: v for k, v in keys.items()}
    for name in ("fractions", "look_times"):
        if isinstance(values.get(name), list):
            values[name] = tuple(values[name])
    try:
        return SequentialDesign(base=base, model=model, **values)
    except InputError as exc:
        key = _KEY_OF_FIELD.get(exc.field or "")
        if key is None or exc.rule is None:
            raise
        raise invalid(key, exc.rule, exc.value) from None


def _planned(design: SequentialDesign, trial: Trial) -> Looks:
    """Fractions, planned deaths or times, and the normal-theory bounds for ``trial``."""
    k = design.n_looks
    if design.look_times is not None:
        times = design.look_times
        expected = [_expected_deaths(design, replace(trial, analysis="calendar", analysis_time=t, target_events=None))
                    for t in times]
        fractions = design.fractions or tuple(e / expected[-1] for e in expected)
        deaths: tuple[int | None, ...] = (None,) * k
        planned = tuple(expected)
        time_of: tuple[float | None, ...] = tuple(times)
    else:
        assert design.fractions is not None  # set in __post_init__ whenever there are no look times
        fractions = design.fractions
        events = trial.target_events
        total = float(events) if trial.analysis == "events" and events is not None else _expected_deaths(design, trial)
        # at least one death; a look planned at or beyond the final look's deaths comes with it (it never happens)
        counts = [max(1, int(math.floor(f * total + 0.5))) for f in fractions[:-1]]
        deaths = (*counts, None)
        planned = (*map(float, counts), total)
        time_of = (None,) * k
    gs = design.boundaries_at(fractions)
    lower, upper = gs.stopping_bounds()
    if design.sided == 2:
        lower = -upper
    return Looks(fractions=tuple(gs.information_fractions), deaths=deaths, times=time_of, planned_deaths=planned,
                 lower=tuple(float(x) for x in lower), upper=tuple(float(x) for x in upper), boundaries=gs)


def _expected_deaths(design: SequentialDesign, trial: Trial) -> float:
    """Expected deaths at the final analysis of ``trial`` under the planning model (capped by the maximum
    duration, as a calendar analysis then)."""
    if trial.max_duration is not None and trial.analysis == "complete":
        trial = replace(trial, analysis="calendar", analysis_time=trial.max_duration)
    return float(design.base.analytic_power(design.model, trial).n_events)


@functools.lru_cache(maxsize=32)
def _resolve(design: SequentialDesign, trial: Trial) -> Looks:
    if design.calibrate and design.calibrated_for != trial and not design.record:
        design = design.calibrated(trial)
    looks = _planned(design, trial)
    if design.bounds is None or design.record:
        return looks
    lower, upper = design.bounds
    if len(lower) != looks.n_looks or len(upper) != looks.n_looks:
        raise invalid("bounds", f"must hold one lower and one upper bound per look ({looks.n_looks})", design.bounds)
    return replace(looks, lower=tuple(lower), upper=tuple(upper), calibration=design.calibration)


def _calibrate(design: SequentialDesign, trial: Trial, looks: Looks, *, n_jobs, backend, scheduler,
               progress) -> Calibration:
    """Simulate null trials on the calibration tree and calibrate the efficacy bounds on their statistics."""
    from .montecarlo import run

    if design.calibration_seed is None:
        raise invalid("calibration_seed", "is required to calibrate (the seed tree of the null trials)", None)
    entropy, key = design.calibration_seed
    root = np.random.SeedSequence(entropy, spawn_key=tuple(key))
    recorder = replace(design, calibrate=False, bounds=None, record=True)
    # a SequentialDesign is a design as montecarlo.run takes one (simulated_trials, needs_detail, analyse)
    mc = run(null_model(design.model), trial, recorder, n_replicates=design.calibration_replicates,
             seed=root,
             n_jobs=n_jobs, backend=backend, scheduler=scheduler, engine=design.engine, progress=progress,
             keep_outcomes=True)
    outcome = mc.outcome
    assert isinstance(outcome, SequentialOutcome)
    targets = looks.boundaries.cumulative_alpha
    upper, crossed = calibrate_bounds(outcome.look_z, targets, sided=design.sided,
                                      lower=looks.lower if design.sided == 1 else None, binding=design.binding)
    return Calibration(upper=upper, targets=tuple(targets), crossed=crossed, n_replicates=mc.n_replicates,
                       seed=mc.seed, spawn_key=mc.spawn_key)


def _analyse_looks(design: SequentialDesign, batch: TrialBatch, trial: Trial, looks: Looks,
                   short: np.ndarray) -> SequentialOutcome:
    """Each trial through its looks; with ``design.record`` every look of every trial, stopping none."""
    base = design.base
    assert isinstance(base, TwoArmDesign)
    r, k_looks = batch.n_replicates, looks.n_looks
    h = resolve_horizon(trial, base.horizon, field="TwoArmDesign.horizon")
    horizon = h if h < trial.follow_up else None
    strata = batch.stratum if base.stratified_for(trial) else None
    final = np.asarray(batch.analysis_time, dtype=float)
    entry, time, event, arm = batch.entry, batch.time, batch.event, batch.arm
    ended_by = entry + time

    tau = np.empty((r, k_looks))
    tau[:, -1] = final
    triggers = [(k, d) for k, d in enumerate(looks.deaths[:-1]) if d is not None]
    if triggers:
        tau[:, [k for k, _ in triggers]] = death_look_times(used_deaths(batch, horizon), ended_by,
                                                            [d for _, d in triggers])
    for k in range(k_looks - 1):
        if looks.times[k] is not None:
            tau[:, k] = looks.times[k]

    look_z = np.full((r, k_looks), np.nan)
    look_deaths = np.full((r, k_looks), np.nan)
    stop_look = np.full(r, k_looks - 1, dtype=np.int64)
    efficacy, futility = np.zeros(r, dtype=bool), np.zeros(r, dtype=bool)
    deaths_by_arm = np.zeros((r, 2), dtype=np.int64)
    degenerate = np.zeros(r, dtype=bool)
    running = np.ones(r, dtype=bool)
    upper, lower = looks.upper, looks.lower
    for k in range(k_looks):
        last = k == k_looks - 1
        live = running if last else running & (tau[:, k] < final)  # a look at or after the final one is not one
        rows = np.flatnonzero(live)
        if rows.size == 0:
            continue
        every = rows.size == r

        def take(a: np.ndarray) -> np.ndarray:
            return a if every else a[rows]

        if last:
            t_k, e_k = take(time), take(event)
        else:
            t_k, e_k = data_at(take(entry), take(time), take(event), take(tau[:, k]), take(ended_by))
        z, deg, by_arm = logrank_z_at(t_k, e_k, take(arm), None if strata is None else take(strata), horizon)
        look_deaths[rows, k] = by_arm.sum(axis=1)
        look_z[rows, k] = z if last else np.where(deg, np.nan, z)
        if design.record:
            continue
        stat = np.abs(z) if design.sided == 2 else z
        cross = stat >= upper[k]
        if last:
            stop = np.ones(rows.size, dtype=bool)
            cross &= ~deg
            degenerate[rows] = deg
        else:
            cross &= ~deg
            stop = cross | (~deg & (z <= lower[k]))
            futility[rows[stop & ~cross]] = True
        done = rows[stop]
        stop_look[done] = k
        efficacy[rows[cross]] = True
        deaths_by_arm[done] = by_arm[stop]
        running[done] = False
    index = np.arange(r)
    stop_z = look_z[index, stop_look]
    stop_z = np.where(np.isnan(stop_z), 0.0, stop_z)
    pvalue = special.ndtr(-stop_z) if design.sided == 1 else 2.0 * special.ndtr(-np.abs(stop_z))
    pvalue = np.where(degenerate, 1.0, pvalue)
    duration = tau[index, stop_look]
    enrolled = (entry <= duration[:, None]).sum(axis=1)
    look_time = np.where(np.isfinite(look_deaths), tau, np.nan)
    return SequentialOutcome(success=efficacy, pvalue=pvalue, n_events=deaths_by_arm.sum(axis=1), duration=duration,
                             degenerate=degenerate, n_events_by_arm=deaths_by_arm, look_z=look_z,
                             look_deaths=look_deaths, look_time=look_time, stop_look=stop_look, futility=futility,
                             n_enrolled=enrolled, short_of_events=short & (stop_look == k_looks - 1))
