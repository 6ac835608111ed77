"""Power and sample size by simulation, with Monte Carlo error and the analytic answer beside it.

:func:`power` simulates R trials (:func:`trialsim.design.montecarlo.run`), applies the design's test to each and
reports the rejection rate with its Monte Carlo standard error ``sqrt(p (1 - p) / R)`` and a 95% Wilson
interval, the mean number of deaths and trial duration, and the closed-form power for the same trial (the
design's ``analytic_power``). :func:`sample_size` solves the same calculation for n.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from ..engines.seeding import Seed, root_sequence, seed_record
from ..exceptions import InputError, invalid
from ..model import DiseaseModel, Trial
from ..model.display import Tabular
from ..model.validation import MAX_N, check_count, check_level, check_type
from .analytic import AnalyticPower
from .rules import Design, DesignOutcome, SingleArmDesign, TwoArmDesign

if TYPE_CHECKING:  # montecarlo (and its joblib) is imported when a run starts
    from .montecarlo import Backend, Engine

__all__ = ["PowerResult", "SampleSizeResult", "power", "sample_size", "wilson_interval"]


def wilson_interval(successes: int, n: int, confidence_level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a simulated power (good near 0 and 1, unlike p +- 1.96 se)."""
    from ..stats import proportion_ci

    ci = proportion_ci(successes, n, method="wilson", confidence_level=confidence_level)
    return float(ci.ci_low), float(ci.ci_high)


@dataclass(frozen=True, kw_only=True, slots=True)
class PowerResult(Tabular):
    """Simulated power of one design at one trial size, with its Monte Carlo error.

    Attributes
    ----------
    power, standard_error, ci_low, ci_high
        Rejection rate over the replicates, its Monte Carlo standard error ``sqrt(p (1 - p) / R)`` and a 95%
        Wilson interval.
    n, n_replicates, seed, spawn_key
        Patients in the trial, simulated trials, and the root seed that reproduces them
        (``SeedSequence(seed, spawn_key=spawn_key)``; the spawn key is empty unless the run was seeded with a
        spawned ``SeedSequence``, and then the integer seed alone repeats it).
    groups
        The groups the analysis compares: the two arms of a randomised design, the trial arm of a single-arm
        design, the trial arm and the historical arm of a historical-control design.
    mean_deaths, mean_deaths_by_arm, mean_duration
        Deaths the analysis uses (by the design's horizon, at the analysis), the mean over the simulated trials,
        in all and per group; and the mean calendar time of the analysis (weeks).
    analytic_power, analytic_method, analytic_deaths, analytic_deaths_by_arm, hazard_ratio
        The closed-form power for the same trial, the formula, the expected deaths by the horizon (in all and
        per group) and the hazard ratio it used.
    n_degenerate
        Replicates whose statistic was degenerate (no deaths, an empty arm); they count as not rejecting.
    """

    power: float
    standard_error: float
    ci_low: float
    ci_high: float
    n: int
    n_replicates: int
    seed: int
    spawn_key: tuple[int, ...]
    groups: tuple[str, ...]
    mean_deaths: float
    mean_deaths_by_arm: tuple[float, ...]
    mean_duration: float
    analytic_power: float
    analytic_method: str
    analytic_deaths: float
    analytic_deaths_by_arm: tuple[float, ...]
    hazard_ratio: float
    n_successes: int
    n_degenerate: int
    design: str
    alpha: float
    sided: int
    engine: str
    elapsed_seconds: float = field(default=0.0, compare=False)

    def to_dict(self) -> dict:
        """The fields as a dict; the per-group deaths keyed by group."""
        out = asdict(self)
        for key in ("mean_deaths_by_arm", "analytic_deaths_by_arm"):
            out[key] = dict(zip(self.groups, out[key]))
        return out


@dataclass(frozen=True, kw_only=True, slots=True)
class SampleSizeResult(Tabular):
    """Smallest trial size whose simulated power reaches the target.

    ``n`` is a multiple of the allocation block; ``power_at_n`` reaches ``target_power`` and ``power_below``
    (at ``n_below = n - block``) does not, each with its Monte Carlo standard error. Both come from the same
    replicates (common random numbers: the trial at n is the trial at n - block with patients added), so their
    difference ``power_difference`` is estimated paired, with ``standard_error_difference`` (the standard
    error of the mean per-replicate difference), far smaller than the two standard errors would give
    unpaired. ``analytic_n`` is the smallest size whose analytic power reaches the
    target. For exact tests whose power is a saw-tooth in n, ``n_smallest`` is the smallest working n and
    ``n_stable`` the smallest n from which every larger n (checked up to ``checked_up_to``) works; both from the
    exact power (``None`` for other designs). ``mean_deaths_at_n`` and ``analytic_deaths_at_n`` are the simulated
    mean and the formula's expectation of the deaths the analysis uses at n. ``evaluations`` lists every (n,
    replicates, power, se) simulated.
    """

    n: int
    target_power: float
    power_at_n: float
    standard_error_at_n: float
    n_below: int
    power_below: float
    standard_error_below: float
    analytic_n: int | None
    analytic_power_at_n: float
    mean_deaths_at_n: float
    analytic_deaths_at_n: float
    power_difference: float
    standard_error_difference: float
    n_replicates: int
    seed: int
    spawn_key: tuple[int, ...]
    block: int
    design: str
    n_smallest: int | None = None
    n_stable: int | None = None
    checked_up_to: int | None = None
    evaluations: tuple[tuple[int, int, float, float], ...] = ()
    converged: bool = True
    note: str = ""

    def to_dict(self) -> dict:
        out = asdict(self)
        out["evaluations"] = [dict(zip(("n", "n_replicates", "power", "standard_error"), row))
                              for row in self.evaluations]
        return out


def _default_model(trial: Trial | None) -> DiseaseModel:
    from ..model import default_model

    return default_model(float(trial.follow_up) if trial is not None else 8.0)


def _check_arguments(model, trial, design, progress) -> None:
    """The public functions' object arguments: ``TypeError`` naming the argument (not an ``AttributeError``
    from deep inside the run)."""
    if model is not None:
        check_type("model", model, DiseaseModel)
    if trial is not None:
        check_type("trial", trial, Trial)
    if design is not None and (isinstance(design, type) or not all(
            callable(getattr(design, name, None)) for name in
            ("prepare_trial", "simulated_trials", "analyse", "analytic_power"))):  # an instance, not the class
        raise TypeError(f"`design` must be a design such as TwoArmDesign, SingleArmDesign or HistoricalControlDesign "
                        f"(got {type(design).__name__})")
    if progress is not None and not callable(progress):
        raise TypeError(f"`progress` must be callable as progress(done, total) or None (got {type(progress).__name__})")


def power(model: DiseaseModel | None = None, trial: Trial | None = None, design: Design | None = None, *,
          n: int | None = None, n_replicates: int = 10_000, seed: Seed = None, n_jobs: int | None = None,
          backend: Backend = "loky", scheduler: str | None = None, engine: Engine = "auto",
          progress: Callable[[int, int], None] | None = None, timeout: float | None = None) -> PowerResult:
    """Simulated power of ``design`` for ``trial`` under ``model``.

    Parameters
    ----------
    model
        Disease model (default: the calibrated CTD-MAS model at the trial's horizon).
    trial
        Trial (default: :func:`trialsim.model.default_trial` with ``n`` patients, 40 if not given).
    design
        Analysis rule (default: :class:`~trialsim.design.rules.TwoArmDesign`, log-rank, two-sided 0.05).
    n
        Trial size; replaces ``trial.n`` when both are given.
    n_replicates, seed, n_jobs, backend, scheduler, engine, progress, timeout
        Passed to :func:`trialsim.design.montecarlo.run`.

    Returns
    -------
    PowerResult

    Raises
    ------
    TypeError
        When ``model``, ``trial``, ``design`` or ``progress`` is not what it must be.
    InputError
        For a bad value (and a run that cannot fit in memory), naming the argument or field.

    Notes
    -----
    Power is the share of simulated trials whose test rejects at ``alpha``; its Monte Carlo standard error is
    :math:`\\sqrt{\\hat p (1 - \\hat p) / R}`. The analytic power beside it uses the model's exact survival
    functions and the closed forms of :mod:`trialsim.design.formulas`, through the design's ``analytic_power``.

    Examples
    --------
    >>> from trialsim.model import DiseaseModel, ParametricArm, Trial
    >>> arms = (ParametricArm.from_survival(0.95, 8.0), ParametricArm.from_survival(0.62, 8.0))
    >>> model = DiseaseModel(arms=arms, arm_names=("treatment", "control"))
    >>> result = power(model, Trial(n=40), n_replicates=2000, seed=1, n_jobs=1)
    >>> print(f"simulated {result.power:.2f} (s.e. {result.standard_error:.3f}), Schoenfeld {result.analytic_power:.3f}")
    simulated 0.7... (s.e. 0.009), Schoenfeld 0.905
    """
    from .montecarlo import run

    _check_arguments(model, trial, design, progress)
    n_replicates = check_count("n_replicates", n_replicates)
    if n is not None:
        check_count("n", n)
    design = TwoArmDesign() if design is None else design
    if trial is None:
        from ..model import default_trial

        trial = default_trial(40)
    # A single-arm design runs a one-arm trial: convert first, so that any n is accepted there
    trial = design.prepare_trial(trial)
    if n is not None and n != trial.n:
        trial = replace(trial, n=n)
    model = _default_model(trial) if model is None else model
    mc = run(model, trial, design, n_replicates=n_replicates, seed=seed, n_jobs=n_jobs, backend=backend,
             scheduler=scheduler, engine=engine, progress=progress, keep_outcomes=False, timeout=timeout)
    analytic = design.analytic_power(model, trial)
    return _summarise(mc, model, trial, design, analytic)


def _summarise(mc, model: DiseaseModel, trial: Trial, design: Design, analytic: AnalyticPower) -> PowerResult:
    out = mc.summary
    r = out.n_replicates
    k = out.n_successes
    p = k / r
    low, high = wilson_interval(k, r)
    return PowerResult(power=p, standard_error=math.sqrt(p * (1 - p) / r), ci_low=low, ci_high=high,
                       n=int(trial.n), n_replicates=r, seed=mc.seed, spawn_key=mc.spawn_key,
                       groups=design.groups(model), mean_deaths=out.mean_events,
                       mean_deaths_by_arm=out.mean_events_by_arm, mean_duration=out.mean_duration,
                       analytic_power=analytic.power, analytic_method=analytic.method,
                       analytic_deaths=analytic.n_events, analytic_deaths_by_arm=analytic.n_events_by_arm,
                       hazard_ratio=analytic.hazard_ratio, n_successes=k, n_degenerate=out.n_degenerate,
                       design=design.describe(trial), alpha=design.alpha, sided=design.sided, engine=mc.engine,
                       elapsed_seconds=mc.elapsed_seconds)


# ------------------------------------------------------------------------------------------- sample size


def _sized(template: Trial, n: int) -> Trial:
    changes: dict = {"n": int(n)}
    if template.analysis == "events":
        assert template.target_events is not None  # Trial requires it for an events-driven analysis
        if template.target_events > n:
            raise invalid("n", f"must be at least the target number of events ({template.target_events})", n)
    return replace(template, **changes)


def _analytic_n(model, template, design, target, block, n_lo, n_max) -> tuple[int | None, float]:
    """Smallest multiple of ``block`` in [n_lo, n_max] whose analytic power reaches ``target``."""
    n = n_lo
    while n <= n_max:
        value = design.analytic_power(model, _sized(template, n)).power
        if value >= target:
            return n, value
        n += block
    return None, float("nan")


def _exact_sawtooth(model, template, design, target, n_max) -> tuple[int | None, int | None, int]:
    """(smallest n that works, smallest n from which all larger n up to the bound work, the bound)."""
    first = None
    powers = {}
    for n in range(1, n_max + 1):
        powers[n] = design.analytic_power(model, _sized(template, n)).power
        if first is None and powers[n] >= target:
            first = n
            break
    if first is None:
        return None, None, n_max
    bound = min(n_max, max(2 * first, first + 50))
    for n in range(first + 1, bound + 1):
        powers[n] = design.analytic_power(model, _sized(template, n)).power
    stable = bound
    while stable - 1 >= first and powers[stable - 1] >= target:
        stable -= 1
    return first, stable, bound


def sample_size(model: DiseaseModel | None = None, design: Design | None = None, *, target_power: float = 0.8,
                trial: Trial | None = None, n_replicates: int = 10_000, seed: Seed = None,
                n_min: int | None = None, n_max: int = 2000, n_jobs: int | None = None, backend: Backend = "loky",
                scheduler: str | None = None, engine: Engine = "auto",
                progress: Callable[[int, int], None] | None = None, timeout: float | None = None) -> SampleSizeResult:
    """Smallest n (a multiple of the allocation block) whose simulated power reaches ``target_power``.

    Parameters
    ----------
    model, design
        As in :func:`power` (defaults: the calibrated CTD-MAS model, two-arm log-rank).
    target_power
        Power to reach, in (0, 1).
    trial
        Template trial (its ``n`` is ignored; default: :func:`trialsim.model.default_trial`).
    n_replicates
        Replicates of the final confirmation at n and at n - block (the search uses at most 2,000).
    seed
        Root seed (an integer, a ``SeedSequence``, a ``Generator`` or ``None``), the same at every n: patient k
        of replicate r gets the same numbers at every n (common random numbers across n).
    n_min, n_max
        Search range (``n_min`` default: one block, or the target events for event-driven analyses); ``n_max``
        at most :data:`trialsim.model.validation.MAX_N`.
    n_jobs, backend, scheduler, engine, progress, timeout
        Passed to :func:`trialsim.design.montecarlo.run`.

    Returns
    -------
    SampleSizeResult

    Notes
    -----
    The search starts at the analytic n, brackets the answer with doubling steps and bisects it with
    modest replicates, then walks one block at a time at full replicates until the power at n reaches the
    target and the power at n - block does not. Every n uses the same root, so the trial at n is the trial at
    n - block with patients added, replicate by replicate: the two powers come from paired replicates, and the
    step between them is estimated with the paired standard error reported beside it. Still, the answer is
    exact only up to the Monte Carlo error.

    For the single-arm exact binomial design the power is a saw-tooth in n: the result also reports, from the
    exact power, the smallest n that works (``n_smallest``) and the smallest n from which every larger n works
    (``n_stable``).
    """
    from .montecarlo import run

    _check_arguments(model, trial, design, progress)
    target_power = check_level("target_power", target_power)
    n_replicates = check_count("n_replicates", n_replicates, minimum=2)  # the paired step's s.e. needs two
    check_count("n_max", n_max, maximum=MAX_N)
    if trial is None:
        from ..model import default_trial

        trial = default_trial(40)
    model = _default_model(trial) if model is None else model
    design = TwoArmDesign() if design is None else design
    template = design.prepare_trial(trial)
    block = sum(template.allocation)
    floor = block
    if template.analysis == "events":
        assert template.target_events is not None  # as in _sized
        floor = block * math.ceil(template.target_events / block)
    n_lo = floor if n_min is None else max(floor, block * math.ceil(n_min / block))
    n_max = check_count("n_max", n_max, minimum=n_lo)
    n_hi = block * (int(n_max) // block)
    _check_search_memory(model, template, design, n_hi, n_replicates, engine, backend)
    # One root at every n: patient k of replicate r draws the same numbers whatever n is
    root = root_sequence(seed)
    entropy, spawn_key = seed_record(root)
    cache: dict[tuple[int, int], DesignOutcome] = {}

    def outcome(n: int, reps: int) -> DesignOutcome:
        """Per-replicate outcomes at trial size n (``reps`` replicates)."""
        key = (n, reps)
        if key not in cache:
            mc = run(model, _sized(template, n), design, n_replicates=reps, seed=root, n_jobs=n_jobs,
                     backend=backend, scheduler=scheduler, engine=engine, progress=progress, keep_outcomes=True,
                     timeout=timeout)
            assert mc.outcome is not None
            cache[key] = mc.outcome
        return cache[key]

    def successes(n: int, reps: int) -> np.ndarray:
        return outcome(n, reps).success

    def simulate(n: int, reps: int) -> tuple[float, float]:
        p = float(successes(n, reps).mean())
        return p, math.sqrt(p * (1 - p) / reps)

    analytic_n, _ = _analytic_n(model, template, design, target_power, block, n_lo, n_hi)
    n_smallest = n_stable = checked = None
    exact = isinstance(design, SingleArmDesign) and design.test == "binomial" and \
        template.analysis == "complete" and not any(template.dropout_hazard)
    if exact:
        n_smallest, n_stable, checked = _exact_sawtooth(model, template, design, target_power, n_hi)

    coarse = min(n_replicates, 2000)
    start = analytic_n if analytic_n is not None else n_lo
    start = min(max(start, n_lo), n_hi)
    n, converged = _search(simulate, start, coarse, n_replicates, target_power, block, n_lo, n_hi)
    p_n, se_n = simulate(n, n_replicates)
    below = n - block
    p_b = se_b = step = se_step = float("nan")
    if below >= n_lo:
        p_b, se_b = simulate(below, n_replicates)
        paired = successes(n, n_replicates).astype(float) - successes(below, n_replicates)
        step, se_step = float(paired.mean()), float(paired.std(ddof=1) / math.sqrt(n_replicates))
    note = ""
    if not converged:
        note = (f"the simulated power does not reach {target_power:g} for n <= {n_hi}" if p_n < target_power
                else "the search stopped before the power at n - block fell below the target")
    analytic_at_n = design.analytic_power(model, _sized(template, n))
    evaluations = tuple(sorted((k[0], k[1], *simulate(*k)) for k in cache))
    return SampleSizeResult(n=n, target_power=float(target_power), power_at_n=p_n, standard_error_at_n=se_n,
                            n_below=below, power_below=p_b, standard_error_below=se_b, power_difference=step,
                            standard_error_difference=se_step, analytic_n=analytic_n,
                            analytic_power_at_n=analytic_at_n.power,
                            mean_deaths_at_n=float(outcome(n, n_replicates).n_events.mean()),
                            analytic_deaths_at_n=analytic_at_n.n_events, n_replicates=n_replicates, seed=entropy,
                            spawn_key=spawn_key,
                            block=block, design=design.describe(template), n_smallest=n_smallest, n_stable=n_stable,
                            checked_up_to=checked, evaluations=evaluations, converged=converged, note=note)


def _check_search_memory(model, template, design, n_hi, n_replicates, engine, backend) -> None:
    """Before the search: a chunk at the largest n searched must fit in memory (else ``n_max`` is named with what
    fits), and so must the outcomes the search keeps (two trial sizes at ``n_replicates`` and a few at 2,000)."""
    from .montecarlo import choose_engine
    from .resources import check_memory

    largest = _sized(template, n_hi)
    pairs = [(m, t, choose_engine(m, t, detail=design.needs_detail and k == 0, engine=engine))
             for k, (m, t) in enumerate(design.simulated_trials(model, largest))]
    try:  # the search keeps the outcomes at n and n - block, and at a few more sizes while it searches
        check_memory(pairs, n_replicates=n_replicates, workers=1, keep_outcomes=True, chunks_here=backend != "dask",
                     outcomes_per_replicate=4)
    except InputError as exc:
        if exc.field != "Trial.n":
            raise
        raise InputError(str(exc).replace("`Trial.n`", "`n_max`", 1), field="n_max", value=exc.value,
                         rule=exc.rule) from None


def _search(simulate, start: int, coarse: int, full: int, target: float, block: int, n_lo: int,
            n_hi: int) -> tuple[int, bool]:
    """Bracket and bisect with ``coarse`` replicates, then settle with ``full`` replicates. Returns (n, ok)."""
    def reaches(n: int, reps: int) -> bool:
        return simulate(n, reps)[0] >= target

    # Bracket with doubling steps: lo fails (or lies below the range), hi reaches
    step = block
    if reaches(start, coarse):
        hi = start
        while True:
            lo = hi - step
            if lo < n_lo:
                lo = n_lo - block
                break
            if not reaches(lo, coarse):
                break
            hi, step = lo, 2 * step
    else:
        lo = start
        while True:
            hi = lo + step
            if hi >= n_hi:
                hi = n_hi
                if not reaches(hi, coarse):
                    return n_hi, False
                break
            if reaches(hi, coarse):
                break
            lo, step = hi, 2 * step
    # Bisect on multiples of block: invariant lo fails (or lo < n_lo), hi reaches
    while hi - lo > block:
        mid = lo + block * ((hi - lo) // (2 * block))
        if reaches(mid, coarse):
            hi = mid
        else:
            lo = mid
    # Settle at full replicates: n reaches, n - block does not. The two powers come from the same replicates
    # (common random numbers), so the step between them, on which this decision turns, is estimated paired.
    n = hi
    for _ in range(50):
        if not reaches(n, full):
            if n + block > n_hi:
                return n, False
            n += block
            continue
        if n - block >= n_lo and reaches(n - block, full):
            n -= block
            continue
        return n, True
    return n, False
