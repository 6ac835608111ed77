"""The fast engine: the discrete-event engine's model drawn for a batch of trials at once with numpy.

It returns the same :class:`~trialsim.engines.batch.TrialBatch` contract as :mod:`trialsim.engines.des`, and the
contract test suite (``tests/test_engines_contract.py``) checks that the two agree in distribution.

What it draws, per replicate (one random stream per component, :mod:`trialsim.engines.seeding`):

- ``baseline``: sex and underlying disease (stratum) of each patient;
- ``randomisation``: permuted blocks in enrolment order (within disease when the trial is stratified), one
  uniformly chosen arrangement per block;
- ``accrual``: calendar entry times (instant, Poisson, piecewise Poisson by time change);
- ``response``: the death time. For survival designs (``detail=False``) it is drawn by inversion, one uniform
  per patient: under the mover-stayer Markov chain the death time is phase-type, its distribution function
  is computed exactly once per (arm, stratum multiplier, horizon) and tabulated (:mod:`trialsim.model.phase_type`).
  With ``detail=True`` the chain is simulated jump by jump, so the state at each visit is known;
- ``taper``, ``infection`` (``detail=True`` only): starting dose and infection time;
- ``dropout``: time of loss to follow-up (only when some arm has a dropout hazard).

Then the analysis: follow-up runs from entry to ``min(death, follow_up, lost, data cut)``; the data cut is at
the end of follow-up (``complete``), at a calendar date (``calendar``) or at the calendar time of the
``target_events``-th death (``events``; at the end of follow-up if fewer deaths ever occur), and never after
the trial's ``max_duration`` (patients who would enter later are never enrolled: time 0, reason data cut).

Conventions where two times coincide (only possible for designed times, e.g. a calendar cut equal to the
follow-up of patients enrolled at time 0): completed follow-up wins over the data cut as the censoring reason;
a visit at the exact time of the cut is observed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TypedDict

import numpy as np

from . import seeding
from .seeding import POOL_SIZE, JumpPools, patient_draws
from ..model.phase_type import response_death_table, sample_from_tables
from .enrolment import draw_baseline, draw_entry, randomise
from .paths import dose_paths, infection_times, simulate_paths
from .batch import LOST, NOT_OBSERVED, TrialBatch
from ..exceptions import invalid
from ..model.validation import check_count
from ..model import DEAD, DISEASES, ArmModel, DiseaseModel, ParametricArm, Trial, check_model_and_trial

__all__ = ["ENGINE", "simulate", "simulate_chunk", "supports", "unsupported_reason", "observe_follow_up"]

ENGINE = "vectorized"
_ACCRUALS = ("instant", "poisson", "piecewise")
_ANALYSES = ("complete", "calendar", "events")


# ------------------------------------------------------------------------------------------- public API


def unsupported_reason(model: DiseaseModel, trial: Trial, *, detail: bool = False) -> str | None:
    """Why this engine cannot run ``(model, trial)``, or ``None`` when it implements everything needed.

    The engine implements every field of the current model and trial; this guards against a model or trial
    feature added later (for instance a rule that depends on the trial's own history) that only the
    discrete-event engine states.
    """
    if not isinstance(model, DiseaseModel) or not isinstance(trial, Trial):
        return "only DiseaseModel and Trial objects are supported"
    for arm in model.arms:
        if type(arm) not in (ArmModel, ParametricArm):
            return f"arm type {type(arm).__name__} is not implemented"
    if trial.accrual.kind not in _ACCRUALS:
        return f"accrual kind {trial.accrual.kind!r} is not implemented"
    if trial.analysis not in _ANALYSES:
        return f"analysis trigger {trial.analysis!r} is not implemented"
    if not isinstance(detail, bool):
        return "`detail` must be true or false"
    return None


def supports(model: DiseaseModel, trial: Trial, *, detail: bool = False) -> bool:
    """True when the vectorised engine implements everything ``(model, trial)`` needs (``--engine auto``)."""
    return unsupported_reason(model, trial, detail=detail) is None


def simulate(model: DiseaseModel, trial: Trial, *, n_replicates: int = 1, seed: seeding.Seed = None,
             detail: bool = False, progress: Callable[[int, int], None] | None = None,
             **engine_opts) -> TrialBatch:
    """Simulate ``n_replicates`` trials with the vectorised engine.

    Parameters
    ----------
    model, trial
        The disease model and the trial design (``trial.n_arms`` must equal ``model.n_arms``).
    n_replicates
        Number of simulated trials.
    seed
        ``int``, ``SeedSequence``, ``Generator`` or ``None`` (fresh entropy); the result records what repeats
        it (:func:`trialsim.engines.seeding.root_sequence`).
    detail
        Also draw the response at each visit, best response, infection and doses.
    progress
        Called as ``progress(done, total)`` (replicates) after each chunk.

    Returns
    -------
    TrialBatch
        Replicates first; ``seed`` holds the root entropy and ``engine`` is ``"vectorized"``.

    Notes
    -----
    Replicates are drawn in fixed chunks of :data:`trialsim.engines.seeding.CHUNK_SIZE`; chunk ``c`` uses the streams
    :func:`trialsim.engines.seeding.chunk_streams` ``(root, c)``, so any chunk can be drawn alone and the result does
    not depend on how chunks are spread over workers. ``detail=True`` draws the death time along the simulated
    path instead of by inversion: the same distribution, but different numbers for the same seed.

    Examples
    --------
    >>> from trialsim.model import DiseaseModel, ParametricArm, Trial
    >>> control = ParametricArm.from_survival(0.62, at=8.0)
    >>> model = DiseaseModel(arms=(control.with_hazard_ratio(0.107), control))
    >>> batch = simulate(model, Trial(n=40), n_replicates=3, seed=1)
    >>> batch.time.shape, batch.engine
    ((3, 40), 'vectorized')
    """
    _check(model, trial, detail)
    if engine_opts:
        raise TypeError(f"unknown option(s) for the vectorized engine: {', '.join(sorted(engine_opts))}")
    n_replicates = check_count("n_replicates", n_replicates)
    root = seeding.root_sequence(seed)
    batches = []
    for c, (start, stop) in enumerate(seeding.chunk_bounds(int(n_replicates))):
        batches.append(simulate_chunk(model, trial, stop - start, seeding.chunk_streams(root, c), detail=detail,
                                      first_replicate=start))
        if progress is not None:
            progress(stop, int(n_replicates))
    joined = batches[0] if len(batches) == 1 else TrialBatch.concatenate(batches)
    entropy, spawn_key = seeding.seed_record(root)
    return replace(joined, seed=entropy, spawn_key=spawn_key)


def simulate_chunk(model: DiseaseModel, trial: Trial, n_replicates: int, streams: dict[str, np.random.Generator],
                   *, detail: bool = False, first_replicate: int = 0) -> TrialBatch:
    """Draw one chunk of ``n_replicates`` trials from the component ``streams`` (a pure function of its inputs).

    This is the unit of work :mod:`trialsim.design.montecarlo` runs in parallel; see :func:`simulate`.
    """
    _check(model, trial, detail)
    plan = _plan(model, trial)
    r, n = int(n_replicates), trial.n
    female, stratum = draw_baseline(model.baseline, r, n, streams["baseline"])
    arm = randomise(trial, stratum, streams["randomisation"])
    entry = draw_entry(trial.accrual, r, n, streams["accrual"])
    lost = _lost(plan, arm, streams["dropout"])

    state_at_visit: np.ndarray | None = None
    if detail and plan.has_chain:
        death, state_at_visit = _paths(plan, arm, stratum, streams["response"])
    else:
        death = _death_times(plan, arm, stratum, streams["response"])

    time, event, reason, cut = observe_follow_up(trial, entry, death, lost)
    details = _detail(plan, arm, entry, death, lost, cut, event, state_at_visit, streams) if detail else _Detail()
    return TrialBatch(arm=arm, stratum=stratum, female=female, entry=entry, time=time, event=event,
                      censor_reason=reason, analysis_time=cut, **details, arm_names=model.arm_names,
                      visit_times=model.visit_times, engine=ENGINE, first_replicate=int(first_replicate))


# ------------------------------------------------------------------------------------------------ plan


def _check(model: DiseaseModel, trial: Trial, detail: bool) -> None:
    check_model_and_trial(model, trial)
    reason = unsupported_reason(model, trial, detail=detail)
    if reason is not None:
        raise invalid("engine", f"'vectorized' cannot run this design: {reason}", "vectorized")


@dataclass(frozen=True, kw_only=True, slots=True)
class _Plan:
    """Everything about (model, trial) that does not depend on the random draws, computed once."""

    model: DiseaseModel
    follow_up: float
    multipliers: np.ndarray          # (3,) death hazard multiplier per stratum
    by_stratum: bool                 # some multiplier differs from 1: the stratum matters for death
    has_chain: bool                  # some arm is an ArmModel
    exp_rates: np.ndarray | None     # (n_arms, 3) exponential rate per (arm, stratum) if all arms are 1-piece
    quantiles: np.ndarray | None     # (C, M + 1) stacked death-time tables of ArmModel arms
    scales: np.ndarray | None        # (C,) nodes / F(T)
    limits: np.ndarray | None        # (C,) nodes of each row (float)
    dropout: np.ndarray              # (n_arms,) loss-to-follow-up hazards
    visit_times: np.ndarray


@functools.lru_cache(maxsize=64)
def _plan(model: DiseaseModel, trial: Trial) -> _Plan:
    arms = model.arms
    mult = np.asarray(model.baseline.death_hazard_ratio_by_disease, dtype=float)
    by_stratum = bool(np.any(mult != 1.0))
    n_mult = len(DISEASES) if by_stratum else 1
    exp_rates = None
    parametric = [a for a in arms if isinstance(a, ParametricArm)]
    if len(parametric) == len(arms) and all(len(a.hazards) == 1 for a in parametric):
        exp_rates = np.array([[a.hazards[0] * m for m in mult] for a in parametric])
    quantiles = scales = limits = None
    has_chain = any(isinstance(a, ArmModel) for a in arms)
    if has_chain:
        # combo c = arm * n_mult + stratum; each table keeps its own node count (so that one arm's draws never
        # depend on another arm's parameters) inside rows padded to the widest
        tables = [response_death_table(a.response, float(mult[s] if by_stratum else 1.0), float(trial.follow_up))
                  if isinstance(a, ArmModel) else None for a in arms for s in range(n_mult)]
        width = max(t.n_nodes for t in tables if t is not None) + 1
        quantiles = np.full((len(tables), width), np.inf)
        limits = np.ones(len(tables))
        scales = np.full(len(tables), np.inf)
        for c, t in enumerate(tables):
            if t is not None:
                quantiles[c, :t.n_nodes + 1] = t.quantiles
                limits[c], scales[c] = t.n_nodes, t.scale
    return _Plan(model=model, follow_up=float(trial.follow_up), multipliers=mult, by_stratum=by_stratum,
                 has_chain=has_chain, exp_rates=exp_rates, quantiles=quantiles, scales=scales, limits=limits,
                 dropout=np.asarray(trial.dropout_hazard, dtype=float),
                 visit_times=np.asarray(model.visit_times, dtype=float))


# ----------------------------------------------------------------------------------------- death times


def _death_times(plan: _Plan, arm: np.ndarray, stratum: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Death time from entry of every patient, one random draw each (``inf``: no death by the horizon)."""
    r, n = arm.shape
    if plan.exp_rates is not None:  # all arms exponential: t = E / (lambda * multiplier)
        e = patient_draws(rng.standard_exponential, r, n)
        with np.errstate(divide="ignore"):
            mean = 1.0 / plan.exp_rates  # inf for a zero hazard: no death
        death = e * (mean[arm, stratum] if plan.by_stratum else np.take(mean[:, 0], arm))
        if np.isinf(mean).any():  # e = 0 would give inf * 0 = nan
            death[np.isnan(death)] = np.inf
        return death
    if not plan.has_chain:  # all parametric, some piecewise
        return _parametric_death(plan, arm, stratum, patient_draws(rng.standard_exponential, r, n))
    u = patient_draws(rng.random, r, n)
    which = arm.astype(np.intp) * len(DISEASES) + stratum if plan.by_stratum else arm
    # _plan builds the tables whenever some arm is an ArmModel (has_chain)
    assert plan.quantiles is not None and plan.scales is not None and plan.limits is not None
    death = sample_from_tables(plan.quantiles, plan.scales, plan.limits, which, u)
    if not all(isinstance(a, ArmModel) for a in plan.model.arms):  # mixed model: parametric arms exactly
        para = _parametric_death(plan, arm, stratum, -np.log1p(-u))
        chain = np.asarray([isinstance(a, ArmModel) for a in plan.model.arms])[arm]
        death = np.where(chain, death, para)
    return death


def _parametric_death(plan: _Plan, arm: np.ndarray, stratum: np.ndarray, e: np.ndarray) -> np.ndarray:
    """Piecewise-exponential death times by inverting the cumulative hazard at ``e / multiplier``."""
    out = np.full(arm.shape, np.inf)
    target = e / plan.multipliers[stratum] if plan.by_stratum else e
    for i, a in enumerate(plan.model.arms):  # loop over arms, not patients
        if isinstance(a, ParametricArm):
            mask = arm == i
            out[mask] = a.quantile_time(np.exp(-target[mask]))
    return out


def _lost(plan: _Plan, arm: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    if not np.any(plan.dropout > 0):
        return None
    with np.errstate(divide="ignore"):
        return patient_draws(rng.standard_exponential, *arm.shape) / plan.dropout[arm]


def _paths(plan: _Plan, arm: np.ndarray, stratum: np.ndarray,
           rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Death times and true states at the visits from jump-by-jump chain paths (ArmModel arms)."""
    arms = plan.model.arms
    n_arms, n_strata = len(arms), len(DISEASES)
    # generator index g = (arm * 3 + stratum) * 2 + stayer
    gens = np.zeros((n_arms * n_strata * 2, 4, 4))
    stayer_share = np.zeros(n_arms)
    for i, a in enumerate(arms):
        if isinstance(a, ArmModel):
            stayer_share[i] = a.response.refractory_fraction
            for s in range(n_strata):
                m = float(plan.multipliers[s])
                gens[(i * n_strata + s) * 2] = a.response.generator(m)
                gens[(i * n_strata + s) * 2 + 1] = a.response.refractory_generator(m)
    r, n = arm.shape
    pools = JumpPools(rng, r, n)
    flat_arm, flat_stratum = arm.ravel(), stratum.ravel()
    chain = np.asarray([isinstance(a, ArmModel) for a in arms])[flat_arm]
    stayer = pools.stayer_u.ravel() < stayer_share[flat_arm]
    which = (flat_arm.astype(np.intp) * n_strata + flat_stratum) * 2 + stayer
    idx = np.flatnonzero(chain)
    death_c, states_c = simulate_paths(gens, which[idx], plan.follow_up, plan.visit_times, pools, idx)
    death = np.full(flat_arm.size, np.inf)
    states = np.zeros((flat_arm.size, plan.visit_times.size), dtype=np.int8)
    death[idx], states[idx] = death_c, states_c
    if idx.size < flat_arm.size:  # parametric arms of a mixed model: the first pooled exponential
        para = ~chain
        death[para] = _parametric_death(plan, flat_arm[para], flat_stratum[para],
                                        pools.exponentials.reshape(-1, POOL_SIZE)[para, 0])
    return death.reshape(arm.shape), states.reshape(arm.shape + (plan.visit_times.size,))


# --------------------------------------------------------------------------------------------- analysis


def observe_follow_up(trial: Trial, entry: np.ndarray, death: np.ndarray,
                      lost: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Time, event, censoring reason and the calendar time of the analysis (data cut) of each replicate."""
    horizon = trial.follow_up
    end = np.minimum(death, horizon)
    died = death <= horizon
    if lost is not None:
        died &= death < lost
        end = np.minimum(end, lost)
    finish = end if trial.accrual.kind == "instant" else entry + end  # calendar end of follow-up
    complete = finish.max(axis=1)
    limit = trial.max_duration
    if trial.analysis == "complete" and (limit is None or not (complete > limit).any()):
        reason = (~died).view(np.int8)  # DIED = 0, END_OF_FOLLOW_UP = 1
        if lost is not None:
            reason[~died & (lost < horizon)] = LOST
        return end, died, reason, complete
    if trial.analysis == "complete":
        cut = complete
    elif trial.analysis == "calendar":
        assert trial.analysis_time is not None  # Trial requires it for a calendar analysis
        cut = np.full(entry.shape[0], float(trial.analysis_time))
    else:
        assert trial.target_events is not None  # ... and target_events for an events-driven one
        k = int(trial.target_events)
        calendar_death = np.where(died, entry + death, np.inf)
        kth = np.partition(calendar_death, k - 1, axis=1)[:, k - 1]
        cut = np.where(np.isfinite(kth), kth, complete)
    if limit is not None:  # the trial ends by its maximum duration whatever its trigger
        cut = np.minimum(cut, float(limit))
    at = cut[:, None]
    # compare calendar times computed the same way, so the target-th death is counted exactly
    event = entry + death <= at
    event &= died
    beyond = finish > at  # strictly: a cut that coincides with the end of follow-up is not a cut
    time = at - entry
    np.maximum(time, 0.0, out=time)
    # cut - entry can round up by one ulp: step down so that entry + time <= cut holds exactly
    over = entry + time > at
    over &= beyond
    if over.any():
        over &= entry <= at
        while over.any():
            np.nextafter(time, -np.inf, out=time, where=over)
            over &= entry + time > at
    time = np.where(event, death, np.where(beyond, time, end))
    # reason: END_OF_FOLLOW_UP (1) or LOST (2), DATA_CUT (3) where cut, DIED (0) where the death is seen
    reason = beyond.view(np.int8) << 1
    reason += 1
    if lost is not None:
        reason += (lost < horizon) & ~beyond
    reason *= ~event
    return time, event, reason, cut


class _Detail(TypedDict, total=False):
    """The detail fields of a :class:`TrialBatch` (all of them with ``detail=True``, none without)."""

    response: np.ndarray
    best_response: np.ndarray
    infection_time: np.ndarray
    dose_start: np.ndarray
    dose: np.ndarray


def _detail(plan: _Plan, arm: np.ndarray, entry: np.ndarray, death: np.ndarray, lost: np.ndarray | None,
            cut: np.ndarray, event: np.ndarray, state_at_visit: np.ndarray | None,
            streams: dict[str, np.random.Generator]) -> _Detail:
    """Observed response at each visit, best response, infection time and doses (see :mod:`trialsim.engines.batch`)."""
    r, n = arm.shape
    v = plan.visit_times
    arms = plan.model.arms
    chain = np.asarray([isinstance(a, ArmModel) for a in arms])[arm]
    if state_at_visit is None:  # no ArmModel arm at all
        state_at_visit = np.zeros((r, n, v.size), dtype=np.int8)
    z = patient_draws(streams["taper"].standard_normal, r, n)
    e_inf = patient_draws(streams["infection"].standard_exponential, r, n)
    dose_start, dose_true = dose_paths(arms, arm, state_at_visit, z)
    infection = infection_times(arms, arm, dose_start, dose_true, v, e_inf)

    # end of observation of a living patient: horizon, loss to follow-up, data cut
    watch = np.minimum(plan.follow_up, cut[:, None] - entry)
    if lost is not None:
        watch = np.minimum(watch, lost)
    in_window = (v <= plan.follow_up) & (v <= (cut[:, None] - entry)[..., None])
    alive_seen = (v < death[..., None]) & (v <= watch[..., None]) & chain[..., None]
    dead_seen = event[..., None] & (death[..., None] <= v) & in_window & chain[..., None]
    response = np.where(alive_seen, state_at_visit, NOT_OBSERVED).astype(np.int8)
    response[dead_seen] = DEAD
    best = np.where(response <= 2, response, NOT_OBSERVED).max(axis=2).astype(np.int8)
    dose = np.where(alive_seen, dose_true, np.nan)
    infection = np.where(chain & (infection < np.minimum(death, watch)), infection, np.inf)
    enrolled = entry <= cut[:, None]  # patients enrolled after the data cut were never seen
    return _Detail(response=response, best_response=best, infection_time=infection,
                   dose_start=np.where(chain & enrolled, dose_start, np.nan), dose=dose)
