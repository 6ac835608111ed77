"""Assurance: the probability that the trial succeeds given what is actually known, not at one point estimate.

The calibrated model takes the study's 19/20 and 13/21 at face value; 41 patients leave the truth uncertain
(the exact 95% interval of the control survival alone runs from 0.38 to 0.82). Assurance (O'Hagan, Stevens and
Campbell 2005) averages the power over that uncertainty:

``A = E_pi[ power(theta) ] = int power(theta) pi(theta | study) d theta``,

with ``theta`` the true survival at the horizon in each arm, drawn from the beta posteriors of the study's counts
under the *design prior* (Jeffreys ``Beta(1/2, 1/2)`` by default, or uniform, or ``A,B``): ``S_T ~ Beta(a + 19,
b + 1)``, ``S_C ~ Beta(a + 13, b + 8)``; for a response endpoint also the ruxolitinib arm's response at week 8
among the living, ``Beta(a + 16, b + 3)`` (CR + PR) or ``Beta(a + 6, b + 13)`` (CR). Each draw becomes a model
(:mod:`trialsim.design.truths`: the calibrated arm with its death hazards scaled so that the survival at the
horizon equals the draw, exactly; a parametric arm becomes the exponential with that survival).

Two-level Monte Carlo: ``D`` draws, ``R`` simulated trials under each (:mod:`trialsim.design.truth_sampler`),
``k_d`` successes. ``A_hat = (1 / D) sum_d k_d / R``; the draws are independent, so its variance is estimated by
``s^2 / D``, ``s^2`` the sample variance of the ``p_d = k_d / R``. That variance has two parts: the spread of the
true power over the draws, ``tau^2``, and the binomial noise within a draw, ``E[p (1 - p)] / R``, estimated by the
mean of ``p_d (1 - p_d) / (R - 1)``; ``tau^2`` is their difference. Both are reported.

``effect_scale`` F shrinks the log hazard ratio (the log ratio of cumulative hazards at the horizon) toward 0:
``S_T' = exp(log S_C (log S_T / log S_C)^F)``; for a response endpoint it also shrinks the log odds ratio of
response among the living at the visit.

Seeds: one root. The draws come from their own stream (spawn key ``DRAWS_KEY``), the trials of draw ``d`` from the
tree ``(TRIALS_KEY, d)``, cut in the engines' fixed chunks, so one seed fixes every number whatever the number of
workers, and neither depends on ``n`` (common random numbers across trial sizes: patient k of replicate r of
draw d gets the same numbers at every n). The power at the point estimate is :func:`trialsim.design.sizing.power`
of the model at the observed proportions with the root itself (what ``trialsim power --seed S`` prints).

References: O'Hagan A, Stevens JW, Campbell MJ. Assurance in clinical trial design. Pharmaceutical Statistics
2005;4:187-201. Spiegelhalter DJ, Abrams KR, Myles JP. Bayesian Approaches to Clinical Trials and Health-Care
Evaluation. Wiley 2004, section 6.5.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
from scipy import special

from ..engines.seeding import CHUNK_SIZE, Seed, chunk_bounds, chunk_streams, root_sequence, seed_record
from ..exceptions import invalid
from ..model import ArmModel, DiseaseModel, ParametricArm, Trial
from ..model.validation import check_choice, check_count, check_nonnegative, check_number
from ..stats.posteriors import Beta, parse_beta_prior, prob_greater
from . import truth_sampler
from .montecarlo import BACKENDS, SECONDARY_KEY, Backend, Engine, execute
from .bayes_design import BayesSingleArmDesign
from .rules import Design, SingleArmDesign, TwoArmDesign
from .truths import ArmTruths, arm_probabilities, scale_response, scale_survival, truth_model

__all__ = ["Evidence", "STUDY_EVIDENCE", "DesignPrior", "AssuranceResult", "assurance", "assurance_curve",
           "draw_truths", "shrink_effect", "two_level_estimate", "DRAWS_KEY", "TRIALS_KEY"]

#: Spawn keys of the draws' stream and of the trees of trials under each draw (clear of chunk indices and of
#: :data:`trialsim.design.montecarlo.SECONDARY_KEY`).
DRAWS_KEY = 3 * 2 ** 30
TRIALS_KEY = DRAWS_KEY + 1
#: Simulated trials per task handed to a worker (blocks of whole draws).
_TASK_TRIALS = 20_000


@dataclass(frozen=True, kw_only=True)
class Evidence:
    """The counts the truth is drawn from: alive at the horizon (ruxolitinib, historical control) and, among the
    ruxolitinib patients alive at ``response_week``, responders (CR or PR) and complete responders (CR)."""

    treatment: tuple[int, int] = (19, 20)
    control: tuple[int, int] = (13, 21)
    responders: tuple[int, int] = (16, 19)
    complete_responders: tuple[int, int] = (6, 19)
    response_week: float = 8.0

    def __post_init__(self) -> None:
        for name in ("treatment", "control", "responders", "complete_responders"):
            x, n = getattr(self, name)
            check_count(f"Evidence.{name}", n)
            check_count(f"Evidence.{name}", x, minimum=0, maximum=n)


#: Li et al., ACR Convergence 2025 (docs/study.md): 19/20 vs 13/21 alive; at week 8, 10 PR, 6 CR, 3 NR alive, 1 dead.
STUDY_EVIDENCE = Evidence()


@dataclass(frozen=True, kw_only=True)
class DesignPrior:
    """The design prior: ``Beta(a + k x, b + k (n - x))`` for ``x`` of ``n``, with ``(a, b)`` the prior
    pseudo-counts (``"jeffreys"``, ``"uniform"`` or ``"A,B"``) and ``k`` the ``concentration`` (1: the study as it
    is; a large ``k`` concentrates the prior at the observed proportion).

    Examples
    --------
    >>> DesignPrior().survival()
    (Beta(a=19.5, b=1.5), Beta(a=13.5, b=8.5))
    """

    name: str = "jeffreys"
    evidence: Evidence = STUDY_EVIDENCE
    concentration: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", str(self.name).strip().lower())
        _ = self.pseudo_counts
        check_number("DesignPrior.concentration", self.concentration, low=0.0, low_open=True)

    @property
    def pseudo_counts(self) -> Beta:
        try:
            return parse_beta_prior(self.name)
        except ValueError:
            raise invalid("DesignPrior.name", "must be 'jeffreys', 'uniform' or 'A,B' with A, B > 0",
                          self.name) from None

    def beta(self, x: int, n: int) -> Beta:
        base, k = self.pseudo_counts, self.concentration
        return Beta(base.a + k * x, base.b + k * (n - x))

    def survival(self) -> tuple[Beta, Beta]:
        """The posteriors of the survival at the horizon: (treatment, control)."""
        return self.beta(*self.evidence.treatment), self.beta(*self.evidence.control)

    def response(self, level: str) -> Beta:
        """The posterior of P(responder at the visit | alive): CR + PR (``"cr_pr"``) or CR (``"cr"``)."""
        return self.beta(*(self.evidence.responders if level == "cr_pr" else self.evidence.complete_responders))


def draw_truths(prior: DesignPrior, n_draws: int, rng: np.random.Generator, *,
                response_level: str | None = None) -> dict[str, np.ndarray]:
    """``n_draws`` truths: ``{"treatment", "control"}`` survival at the horizon and, with ``response_level``,
    ``"response"`` (P(responder | alive) in the treatment arm).

    Each draw is three uniforms ``u_d`` (one array ``(D, 3)``, row by row) through the posteriors' quantile
    functions (inversion: exactly one uniform per value), so draw ``d`` is the same whatever ``D``, whether the
    response is drawn or at which level, and different design priors are coupled (common random numbers)."""
    post_t, post_c = prior.survival()
    u = rng.random((int(n_draws), 3))
    out = {"treatment": np.asarray(post_t.ppf(u[:, 0])), "control": np.asarray(post_c.ppf(u[:, 1]))}
    if response_level is not None:
        out["response"] = np.asarray(prior.response(response_level).ppf(u[:, 2]))
    # a beta draw can round to 0 or 1; a survival or response probability of exactly 0 or 1 has no model
    return {k: np.clip(v, 1e-12, 1 - 1e-12) for k, v in out.items()}


def shrink_effect(treatment, control, factor: float):
    """Treatment survival with the log hazard ratio ``log(log S_T / log S_C)`` times ``factor``:
    ``exp(log S_C (log S_T / log S_C)^factor)`` (``factor`` 1: unchanged; 0: equal to the control).

    Examples
    --------
    >>> round(float(shrink_effect(0.95, 13 / 21, 0.5)), 4)      # hazard ratio 0.107 becomes 0.327
    0.8548
    """
    s_t, s_c = np.asarray(treatment, dtype=float), np.asarray(control, dtype=float)
    return np.exp(np.log(s_c) * (np.log(s_t) / np.log(s_c)) ** factor)


def _shrink_odds(treatment, control, factor: float) -> np.ndarray:
    return special.expit(special.logit(control) + factor * (special.logit(treatment) - special.logit(control)))


def two_level_estimate(successes: np.ndarray, trials_per_draw: int) -> dict[str, float]:
    """Assurance from ``successes[d]`` of ``R`` trials under each draw: the mean of ``p_d = k_d / R``, its standard
    error ``s / sqrt(D)`` (``s^2`` the sample variance of ``p_d``, which estimates both levels' variance), the
    within-draw variance ``mean p_d (1 - p_d) / (R - 1)`` and the between-draw standard deviation of the true power
    ``sqrt(max(s^2 - within, 0))``. What one draw (``s``) or one trial per draw (``within``) cannot estimate is NaN.

    Examples
    --------
    >>> two_level_estimate(np.array([80, 90, 50, 100]), 100)["assurance"]
    0.8
    """
    p = np.asarray(successes, dtype=float) / trials_per_draw
    d = p.size
    var = float(p.var(ddof=1)) if d > 1 else float("nan")
    within = float(np.mean(p * (1 - p)) / (trials_per_draw - 1)) if trials_per_draw > 1 else float("nan")
    return {"assurance": float(p.mean()), "standard_error": math.sqrt(var / d) if d > 1 else float("nan"),
            "within_draw_variance": within,
            "between_draw_sd": math.sqrt(max(var - within, 0.0)) if d > 1 and trials_per_draw > 1 else float("nan")}


@dataclass(frozen=True, kw_only=True)
class AssuranceResult:
    """Assurance of one design at one trial size, with its Monte Carlo error and what it rests on.

    Attributes
    ----------
    assurance, standard_error
        The power averaged over the drawn truths, and its two-level Monte Carlo standard error.
    between_draw_sd, within_draw_variance
        The spread of the true power across the draws; the binomial variance of one draw's estimate.
    power_quantiles
        The 10%, 50% and 90% quantiles of the per-draw power estimates (each carries its within-draw noise).
    probability_no_benefit, no_benefit_method
        The design prior's probability that the true effect is null or harmful, and how it was computed
        (``"exact"``: beta posteriors; ``"draws"``: the share of the draws).
    power_at_point_estimate, point_standard_error, analytic_power_at_point_estimate
        The simulated power of the model at the observed proportions (with the effect scale), its standard error
        and the design's closed form there.
    draw_powers, draws
        Per draw: the estimated power, and the drawn truths (``"treatment"``, ``"control"`` survival after the
        effect scale, ``"response"`` if drawn).
    n_clipped
        Draws a response lever could not reach (see :mod:`trialsim.design.truths`).
    """

    assurance: float
    standard_error: float
    between_draw_sd: float
    within_draw_variance: float
    power_quantiles: dict[str, float]
    probability_no_benefit: float
    no_benefit_method: str
    power_at_point_estimate: float
    point_standard_error: float
    analytic_power_at_point_estimate: float
    n: int
    n_draws: int
    trials_per_draw: int
    point_replicates: int
    seed: int
    spawn_key: tuple[int, ...]
    prior: str
    concentration: float
    effect_scale: float
    design: str
    mean_deaths: float
    n_clipped: int
    engine: str
    draw_powers: np.ndarray = field(repr=False, compare=False)
    draws: dict[str, np.ndarray] = field(repr=False, compare=False)
    elapsed_seconds: float = field(default=0.0, compare=False)

    def to_dict(self) -> dict:
        """The summary fields (no per-draw arrays, no timing), JSON-ready."""
        out = {k: v for k, v in asdict(self).items() if k not in ("draw_powers", "draws", "elapsed_seconds")}
        out["spawn_key"] = list(self.spawn_key)
        return out


# ------------------------------------------------------------------------------------------------ set-up


@dataclass(frozen=True, kw_only=True)
class _Setup:
    """Everything about an assurance run that does not depend on the trial size."""

    model: DiseaseModel
    design: Design
    prior: DesignPrior
    effect_scale: float
    horizon: float
    draws: dict[str, np.ndarray]
    arms: tuple[ArmTruths | None, ...]
    point: DiseaseModel
    no_benefit: tuple[float, str]
    root: np.random.SeedSequence
    n_clipped: int


def _response_level(design: Design) -> str | None:
    """The response level a design analyses (``None`` unless its endpoint is the response at a visit)."""
    return getattr(design, "response_level", "cr_pr") if getattr(design, "endpoint", None) == "response" else None


def _map(model: DiseaseModel, horizon: float, draws: dict[str, np.ndarray], level: str | None,
         week: float, effect_scale: float) -> tuple[tuple[ArmTruths, ArmTruths], dict[str, np.ndarray]]:
    """Each draw as arm parameters (treatment, control); the effect scale applied first."""
    strata = model.baseline.strata()
    s_c = draws["control"]
    s_t = shrink_effect(draws["treatment"], s_c, effect_scale)
    control = scale_survival(model.arms[1], strata, horizon, s_c)
    if level is None:
        return (scale_survival(model.arms[0], strata, horizon, s_t), control), {**draws, "treatment": s_t}
    q = draws["response"]
    rux, ctl = model.arms
    if not isinstance(rux, ArmModel) or not isinstance(ctl, ArmModel):
        raise invalid("model.arms", "must be CTD-MAS arms (ArmModel) for a response endpoint", type(rux).__name__)
    if effect_scale != 1.0:
        movers, stayers = arm_probabilities(ctl.response, strata, [week], scale=control.death_scale)
        pi = ctl.response.refractory_fraction
        responders = movers[0, :, 2] + (movers[0, :, 1] if level == "cr_pr" else 0.0)
        q_c = (1 - pi) * responders / ((1 - pi) * (1 - movers[0, :, 3]) + pi * stayers[0])
        q = np.clip(_shrink_odds(q, q_c, effect_scale), 1e-12, 1 - 1e-12)
    treatment = scale_response(rux, strata, horizon, week, s_t, q, level)
    return (treatment, control), {**draws, "treatment": s_t, "response": q}


def _unit_scale(truth: ArmTruths, base) -> ArmTruths | None:
    """``None`` (keep the model's own arm) when the point-estimate mapping left a CTD-MAS arm as calibrated."""
    if isinstance(base, ParametricArm) or truth.refractory_fraction is not None or truth.rate_pr_cr is not None:
        return truth
    return None if abs(float(truth.death_scale[0]) - 1.0) < 1e-9 else truth


def _no_benefit(model, design, prior, effect_scale, draws, arms, level, week) -> tuple[float, str]:
    """P(true effect null or harmful) under the design prior: exact for survival comparisons, else the draws."""
    post_t, post_c = prior.survival()
    fixed = getattr(design, "null_survival", None) if isinstance(design, (SingleArmDesign, BayesSingleArmDesign)) \
        else None
    if level is None and fixed is None:
        if effect_scale == 0:
            return 1.0, "exact"
        return 1.0 - prob_greater(post_t, post_c), "exact"    # S_T' <= S_C iff S_T <= S_C when F > 0
    if level is None:                                          # a single arm against a fixed rate
        if effect_scale == 1.0:
            return float(post_t.cdf(fixed)), "exact"
        return float(np.mean(draws["treatment"] <= fixed)), "draws"
    strata = model.baseline.strata()
    rates = []
    for arm, truth in zip(model.arms, arms):
        movers, _ = arm_probabilities(arm.response, strata, [week], scale=truth.death_scale,
                                      rate_pr_cr=truth.rate_pr_cr)
        pi = truth.refractory_fraction if truth.refractory_fraction is not None else arm.response.refractory_fraction
        rates.append((1 - pi) * (movers[0, :, 2] + (movers[0, :, 1] if level == "cr_pr" else 0.0)))
    return float(np.mean(rates[0] <= rates[1])), "draws"


def _setup(model, design, trial, *, prior, n_draws, effect_scale, horizon, seed) -> _Setup:
    if model.n_arms != 2:
        raise invalid("model.arms", "must hold two arms (treatment, control) to draw their truths", model.n_arms)
    horizon = float(trial.follow_up) if horizon is None else check_number("horizon", horizon, low=0.0,
                                                                          low_open=True)
    root = root_sequence(seed)
    level = _response_level(design)
    week = float(getattr(design, "response_week", prior.evidence.response_week))
    rng = np.random.default_rng(np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, DRAWS_KEY)))
    raw = draw_truths(prior, n_draws, rng, response_level=level)
    arms, draws = _map(model, horizon, raw, level, week, effect_scale)
    ev = prior.evidence
    point_draw = {"treatment": np.array([ev.treatment[0] / ev.treatment[1]]),
                  "control": np.array([ev.control[0] / ev.control[1]])}
    if level is not None:
        counts = ev.responders if level == "cr_pr" else ev.complete_responders
        point_draw["response"] = np.array([counts[0] / counts[1]])
    for key, value in point_draw.items():
        point_draw[key] = np.clip(value, 1e-12, 1 - 1e-12)
    point_arms, _ = _map(model, horizon, point_draw, level, week, effect_scale)
    point = truth_model(model, tuple(_unit_scale(t, a) for t, a in zip(point_arms, model.arms)), 0)
    clipped = sum(int(np.sum(t.clipped)) for t in arms if t is not None and t.clipped is not None)
    return _Setup(model=model, design=design, prior=prior, effect_scale=effect_scale, horizon=horizon, draws=draws,
                  arms=arms, point=point, no_benefit=_no_benefit(model, design, prior, effect_scale, draws, arms,
                                                                 level, week),
                  root=root, n_clipped=clipped)


# ------------------------------------------------------------------------------------------------ running


@dataclass(frozen=True)
class _Block:
    """What a worker returns for a block of draws: successes and deaths per draw."""

    successes: np.ndarray
    deaths: np.ndarray
    n_replicates: int


def _run_block(model: DiseaseModel, arms: tuple[ArmTruths | None, ...], trial: Trial, design: Design,
               entropy: int, spawn_key: tuple[int, ...], first: int, trials: int) -> _Block:
    """Simulate ``trials`` trials under each draw of the block (draws ``first``, ``first + 1``, ...)."""
    size = next(t.death_scale.size for t in arms if t is not None)
    successes = np.zeros(size, dtype=np.int64)
    deaths = np.zeros(size)
    for j in range(size):
        tree = (*spawn_key, TRIALS_KEY, first + j)
        pairs = design.simulated_trials(truth_model(model, arms, j), trial)
        for c, (start, stop) in enumerate(chunk_bounds(trials, CHUNK_SIZE)):
            batches = [truth_sampler.simulate_chunk(
                m, t, stop - start, chunk_streams(np.random.SeedSequence(
                    entropy, spawn_key=tree if k == 0 else (*tree, SECONDARY_KEY + k)), c),
                detail=design.needs_detail and k == 0, first_replicate=start) for k, (m, t) in enumerate(pairs)]
            outcome = design.analyse(batches, trial)
            successes[j] += int(outcome.success.sum())
            deaths[j] += float(outcome.n_events.sum())
    return _Block(successes=successes, deaths=deaths, n_replicates=size * trials)


def _workers(n_jobs, backend: str) -> int:
    """The number of workers ``n_jobs`` asks for (``None`` or -1: all cores), after checking the backend."""
    import os

    check_choice("backend", backend, BACKENDS)
    if n_jobs is None or n_jobs == -1:
        return os.cpu_count() or 1
    return check_count("n_jobs", n_jobs)


def _calibrated(design: Design, trial: Trial, root: np.random.SeedSequence, **options) -> Design:
    """A design whose boundaries are calibrated on simulated null trials (:mod:`trialsim.design.sequential`),
    calibrated once for ``trial`` on its own seed tree under the run's root, before any draw; others as they are."""
    if not getattr(design, "calibrate", False) or not hasattr(design, "calibrated"):
        return design
    from .sequential import CALIBRATION_KEY

    entropy, key = seed_record(root)
    wrapped: Any = design                      # a SequentialDesign (it has ``calibrate`` and ``calibrated``)
    wrapped = replace(wrapped, calibration_seed=(entropy, (*key, CALIBRATION_KEY)), calibrated_for=None)
    return wrapped.calibrated(trial, **options)


def _simulate(setup: _Setup, design: Design, trial: Trial, trials: int, *, n_jobs, backend, scheduler,
              progress) -> tuple[np.ndarray, float]:
    workers = _workers(n_jobs, backend)
    n_draws = next(t.death_scale.size for t in setup.arms if t is not None)
    per_task = max(1, _TASK_TRIALS // trials)
    entropy, spawn_key = seed_record(setup.root)
    tasks = []
    for first in range(0, n_draws, per_task):
        block = slice(first, min(first + per_task, n_draws))
        arms = tuple(None if t is None else t.take(block) for t in setup.arms)
        tasks.append((setup.model, arms, trial, design, entropy, spawn_key, first, trials))
    parts, _ = execute(_run_block, tasks, n_workers=workers, backend=backend, scheduler=scheduler,
                       progress=progress, total=n_draws * trials)
    successes = np.concatenate([p.successes for p in parts])
    deaths = float(np.concatenate([p.deaths for p in parts]).sum()) / (n_draws * trials)
    return successes, deaths


def _sized(trial: Trial | None, design: Design, n: int | None) -> Trial:
    if trial is None:
        from ..model import default_trial

        trial = default_trial(40)
    trial = design.prepare_trial(trial)
    return replace(trial, n=int(n)) if n is not None and n != trial.n else trial


def _result(setup: _Setup, trial: Trial, successes: np.ndarray, deaths: float, trials: int, point, *,
            elapsed: float) -> AssuranceResult:
    est = two_level_estimate(successes, trials)
    powers = successes / trials
    entropy, spawn_key = seed_record(setup.root)
    return AssuranceResult(
        assurance=est["assurance"], standard_error=est["standard_error"], between_draw_sd=est["between_draw_sd"],
        within_draw_variance=est["within_draw_variance"],
        power_quantiles={q: float(np.quantile(powers, float(q))) for q in ("0.1", "0.5", "0.9")},
        probability_no_benefit=setup.no_benefit[0], no_benefit_method=setup.no_benefit[1],
        power_at_point_estimate=point.power, point_standard_error=point.standard_error,
        analytic_power_at_point_estimate=point.analytic_power, n=int(trial.n), n_draws=int(successes.size),
        trials_per_draw=int(trials), point_replicates=point.n_replicates, seed=entropy, spawn_key=spawn_key,
        prior=setup.prior.name, concentration=setup.prior.concentration, effect_scale=setup.effect_scale,
        design=setup.design.describe(trial), mean_deaths=deaths, n_clipped=setup.n_clipped,
        engine=f"{truth_sampler.ENGINE} (point estimate: {point.engine})", draw_powers=powers,
        draws=setup.draws, elapsed_seconds=elapsed)


def assurance_curve(model: DiseaseModel | None = None, trial: Trial | None = None, design: Design | None = None, *,
                    sizes: Sequence[int], n_draws: int = 1000, trials_per_draw: int = 1000,
                    prior: str | DesignPrior = "jeffreys", effect_scale: float = 1.0, horizon: float | None = None,
                    point_replicates: int = 10_000, seed: Seed = None, n_jobs: int | None = None,
                    backend: Backend = "loky", scheduler: str | None = None, engine: Engine = "auto",
                    progress: Callable[[int, int], None] | None = None) -> list[AssuranceResult]:
    """Assurance at each trial size of ``sizes``, with the same drawn truths and the same trials' random numbers
    at every size (common random numbers: the curve is smooth and a step between sizes is estimated paired).
    Parameters as for :func:`assurance`."""
    import time

    from .sizing import power

    design = TwoArmDesign() if design is None else design
    n_draws = check_count("n_draws", n_draws)
    trials_per_draw = check_count("trials_per_draw", trials_per_draw)
    point_replicates = check_count("point_replicates", point_replicates)
    effect_scale = check_nonnegative("effect_scale", effect_scale)
    prior = prior if isinstance(prior, DesignPrior) else DesignPrior(name=prior)
    sized = [_sized(trial, design, n) for n in sizes]
    if not sized:
        raise invalid("sizes", "must hold at least one trial size", sizes)
    if model is None:
        from ..model import default_model

        model = default_model(float(sized[0].follow_up))
    setup = _setup(model, design, sized[0], prior=prior, n_draws=n_draws, effect_scale=effect_scale,
                   horizon=horizon, seed=seed)
    out = []
    for t in sized:
        began = time.perf_counter()
        run = _calibrated(design, t, setup.root, n_jobs=n_jobs, backend=backend, scheduler=scheduler)
        successes, deaths = _simulate(setup, run, t, trials_per_draw, n_jobs=n_jobs, backend=backend,
                                      scheduler=scheduler, progress=progress)
        point = power(setup.point, t, run, n_replicates=point_replicates, seed=setup.root, n_jobs=n_jobs,
                      backend=backend, scheduler=scheduler, engine=engine)
        out.append(_result(setup, t, successes, deaths, trials_per_draw, point,
                           elapsed=time.perf_counter() - began))
    return out


def assurance(model: DiseaseModel | None = None, trial: Trial | None = None, design: Design | None = None, *,
              n: int | None = None, n_draws: int = 1000, trials_per_draw: int = 1000,
              prior: str | DesignPrior = "jeffreys", effect_scale: float = 1.0, horizon: float | None = None,
              point_replicates: int = 10_000, seed: Seed = None, n_jobs: int | None = None,
              backend: Backend = "loky", scheduler: str | None = None, engine: Engine = "auto",
              progress: Callable[[int, int], None] | None = None) -> AssuranceResult:
    """Assurance of ``design`` for ``trial``: its power averaged over truths drawn from the study's evidence.

    Parameters
    ----------
    model
        The model whose arms give the shape of each truth (default: the calibrated CTD-MAS model at the trial's
        follow-up); arm 0 the treatment, arm 1 the control. Its survival at the horizon is replaced by the draws.
    trial, design, n
        As for :func:`trialsim.design.sizing.power` (defaults: 40 patients, 1:1, two-sided log-rank at 0.05).
    n_draws, trials_per_draw
        ``D`` truths, ``R`` simulated trials under each.
    prior
        The design prior's pseudo-counts, ``"jeffreys"`` (default), ``"uniform"`` or ``"A,B"``, or a
        :class:`DesignPrior` (other evidence, a concentration).
    effect_scale
        ``F >= 0``: the log hazard ratio times F (0.5: half as large); see the module docstring.
    horizon
        Week at which the evidence's survival counts are read (default: the trial's follow-up, as the calibrated
        model reads 19/20 and 13/21).
    point_replicates
        Simulated trials for the power at the point estimate.
    seed, n_jobs, backend, scheduler, engine, progress
        As for :func:`trialsim.design.sizing.power` (``engine`` applies to the point estimate; the draws use the
        table-free sampler of :mod:`trialsim.design.truth_sampler`).

    Returns
    -------
    AssuranceResult

    Examples
    --------
    >>> r = assurance(n=40, n_draws=40, trials_per_draw=100, point_replicates=2000, seed=1, n_jobs=1)
    >>> print(f"assurance {r.assurance:.2f} (s.e. {r.standard_error:.2f}); at the point estimate "
    ...       f"{r.power_at_point_estimate:.2f}; P(no benefit) {r.probability_no_benefit:.4f}")
    assurance 0.71 (s.e. 0.04); at the point estimate 0.76; P(no benefit) 0.0037
    """
    design = TwoArmDesign() if design is None else design
    t = _sized(trial, design, n)
    return assurance_curve(model, t, design, sizes=[t.n], n_draws=n_draws, trials_per_draw=trials_per_draw,
                           prior=prior, effect_scale=effect_scale, horizon=horizon,
                           point_replicates=point_replicates, seed=seed, n_jobs=n_jobs, backend=backend,
                           scheduler=scheduler, engine=engine, progress=progress)[0]
