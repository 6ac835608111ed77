"""Simulated trials under a drawn truth, without death-time tables: the sampler of assurance runs.

The vectorised engine draws a CTD-MAS death time by inverting a table of its phase-type distribution, built once
per arm (:mod:`trialsim.model.phase_type`): right for one model and many trials, too slow for assurance, where
every one of a thousand drawn truths is a new model (a table takes about 0.05 s; two arms per draw). This sampler
draws the same death-time distribution another way, exactly and with no table:

The response process before death does not depend on the death hazards (in the Markov chain death only competes
with the response transitions), so a patient is a *latent* response path ``Z(t)`` on NR, PR, CR (stayers never
leave NR), killed when the cumulative death hazard ``int_0^t mu(Z(u)) du`` reaches ``E / c``, with ``E`` a unit
exponential and ``c`` the disease stratum's hazard multiplier. Along a path the cumulative hazard is piecewise
linear, so the death time is found segment by segment. The path's holding times and ``E`` do not depend on the
hazards, so a patient's death time under one truth is a monotone function of the truth (a sicker arm, an earlier
death), and a parametric arm dies at ``t`` with ``H(t) = E / c`` (``t = E / (lambda c)`` for an exponential).

Everything else is the vectorised engine's: the seed tree's component streams, baseline, permuted-block
randomisation and accrual (:mod:`trialsim.engines.enrolment`), loss to follow-up, the analysis cut and the
censoring codes (the engine's own observation step), and for ``detail=True`` the taper and infection along the
path (:mod:`trialsim.engines.paths`). Numbers are laid out patient by patient (:func:`patient_draws`), so a
larger trial appends patients to a smaller one (common random numbers across n). The two samplers agree in
distribution, not draw for draw (``tests/test_assurance_sampler.py``).
"""

from __future__ import annotations

import numpy as np

from ..engines.batch import NOT_OBSERVED, TrialBatch
from ..engines.enrolment import draw_baseline, draw_entry, randomise
from ..engines.paths import dose_paths, infection_times
from ..engines.seeding import patient_draws
from ..engines.vectorized import observe_follow_up
from ..model import CR, DEAD, NR, PR, ArmModel, DiseaseModel, ParametricArm, Trial, check_model_and_trial

__all__ = ["simulate_chunk", "ENGINE"]

ENGINE = "latent-path"
#: Holding times drawn per patient and block (NR -> PR -> CR needs two; relapses draw further blocks).
_BLOCK = 2
#: A jump time that never comes (beyond any horizon, finite).
_NEVER = 1e300


def simulate_chunk(model: DiseaseModel, trial: Trial, n_replicates: int, streams: dict[str, np.random.Generator],
                   *, detail: bool = False, first_replicate: int = 0) -> TrialBatch:
    """Draw ``n_replicates`` trials from the component ``streams``: a pure function of its arguments, with the
    contract of :func:`trialsim.engines.vectorized.simulate_chunk` (see the module docstring).

    Examples
    --------
    >>> from trialsim.engines.seeding import chunk_streams, root_sequence
    >>> from trialsim.model import default_model, default_trial
    >>> batch = simulate_chunk(default_model(8.0), default_trial(40), 500, chunk_streams(root_sequence(1), 0))
    >>> batch.time.shape, batch.engine
    ((500, 40), 'latent-path')
    """
    check_model_and_trial(model, trial)
    r, n = int(n_replicates), trial.n
    female, stratum = draw_baseline(model.baseline, r, n, streams["baseline"])
    arm = randomise(trial, stratum, streams["randomisation"])
    entry = draw_entry(trial.accrual, r, n, streams["accrual"])
    dropout = np.asarray(trial.dropout_hazard, dtype=float)
    lost = None
    if np.any(dropout > 0):
        with np.errstate(divide="ignore"):
            lost = patient_draws(streams["dropout"].standard_exponential, r, n) / dropout[arm]
    visits = np.asarray(model.visit_times, dtype=float)
    death, states = _deaths(model, float(trial.follow_up), arm, stratum, streams["response"], visits if detail else None)
    time, event, reason, cut = observe_follow_up(trial, entry, death, lost)
    extra = {}
    if detail:
        assert states is not None
        extra = _detail(model, float(trial.follow_up), arm, entry, death, lost, cut, event, states, streams)
    return TrialBatch(arm=arm, stratum=stratum, female=female, entry=entry, time=time, event=event,
                      censor_reason=reason, analysis_time=cut, arm_names=model.arm_names,
                      visit_times=model.visit_times, engine=ENGINE, first_replicate=int(first_replicate), **extra)


class _Blocks:
    """Per-patient numbers drawn block by block: block 0 from ``rng``, block k from its k-th spawned child (in
    order), each laid out patient by patient, so no patient's numbers depend on n or on who needed a block."""

    def __init__(self, rng: np.random.Generator, draw: str, r: int, n: int, first: np.ndarray | None = None) -> None:
        self.rng, self.draw, self.shape = rng, draw, (r, n)
        self.blocks = [self._take(rng) if first is None else first.reshape(-1, _BLOCK)]

    def _take(self, rng: np.random.Generator) -> np.ndarray:
        return patient_draws(getattr(rng, self.draw), *self.shape, _BLOCK).reshape(-1, _BLOCK)

    def column(self, jump: int, rows: np.ndarray) -> np.ndarray:
        while jump // _BLOCK >= len(self.blocks):
            self.blocks.append(self._take(self.rng.spawn(1)[0]))
        return self.blocks[jump // _BLOCK][rows, jump % _BLOCK]


def _deaths(model: DiseaseModel, horizon: float, arm: np.ndarray, stratum: np.ndarray, rng: np.random.Generator,
            visits: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Death time from entry of every patient (``inf``: none by the horizon) and, when ``visits`` is given, the
    true state at each visit (NR, PR, CR or dead).

    Each patient's numbers are four unit exponentials from one array (patient by patient): ``E``, the stayer's
    uniform ``1 - exp(-x)``, and the first two holding times; paths with relapse draw further blocks of holding
    times and destination uniforms from children of the stream.
    """
    r, n = arm.shape
    main, extra = rng.spawn(2)
    # drawn patient by patient (n, R, 4), then one copy to (4, R, n): each component contiguous
    draws = np.ascontiguousarray(main.standard_exponential((n, r, 2 + _BLOCK)).transpose(2, 1, 0))
    e = draws[0]
    mult = np.asarray(model.baseline.death_hazard_ratio_by_disease, dtype=float)
    budget = e / mult[stratum] if np.any(mult != 1.0) else e
    death = np.full((r, n), np.inf)
    states = None
    chain = np.array([isinstance(a, ArmModel) for a in model.arms])
    if chain.any():
        relapse = any(a.response.relapse_rate > 0 for a in model.arms if isinstance(a, ArmModel))
        if relapse:
            death, states = _relapsing(model, horizon, arm, budget, -np.expm1(-draws[1]), np.moveaxis(draws[2:], 0, -1), extra,
                                       visits)
        else:
            death, states = _one_way(model, horizon, arm, budget, draws[1], draws[2], draws[3], visits)
    for i, a in enumerate(model.arms):
        if isinstance(a, ParametricArm):
            mask = arm == i
            if len(a.hazards) == 1:
                with np.errstate(divide="ignore"):
                    death[mask] = budget[mask] / a.hazards[0]
            else:
                death[mask] = a.quantile_time(np.exp(-budget[mask]))
    if states is not None:
        states[death[..., None] <= visits] = DEAD
    return death, states


def _arm_table(model: DiseaseModel):
    """Per arm: response rates among NR, PR, CR (3 x 3), death hazards in NR, PR, CR, refractory fraction."""
    n_arms = len(model.arms)
    rates = np.zeros((n_arms, 3, 3))
    mu = np.zeros((n_arms, 3))
    refractory = np.zeros(n_arms)
    for i, a in enumerate(model.arms):
        if isinstance(a, ArmModel):
            p = a.response
            rates[i, NR, PR], rates[i, PR, CR] = p.rate_nr_pr, p.rate_pr_cr
            rates[i, CR, PR] = rates[i, PR, NR] = p.relapse_rate
            mu[i] = p.death_hazards(1.0)
            refractory[i] = p.refractory_fraction
    return rates, mu, refractory


def _one_way(model, horizon, arm, budget, stay_e, hold_1, hold_2, visits):
    """Paths NR -> PR -> CR without relapse, in closed form.

    A responder jumps at ``t1 = h1 / a`` and ``t2 = t1 + h2 / b``; a stayer (``stay_e < -log(1 - pi)``, i.e. its
    uniform ``1 - exp(-stay_e)`` below ``pi``) never does. The cumulative hazard ``H`` is linear on ``[0, s1]``,
    ``[s1, s2]``, ``[s2, inf)`` (``s = min(t, horizon)``) with slopes ``mu_NR, mu_PR, mu_CR``, and the death
    time is ``H^{-1}(E / c)``. When the slopes fall (responders die less, as calibrated) ``H`` is the minimum of
    its three lines, so ``H^{-1}`` is the maximum of their inverses; when they rise, the minimum. Either is
    branch-free arithmetic (selection by masks costs more than the arithmetic here). A death time beyond the
    horizon is left as it is: the observation step counts only deaths by the horizon.

    Each chain arm is computed for every patient with its scalar parameters; each patient then takes their
    own arm's."""
    chain = [i for i, a in enumerate(model.arms) if isinstance(a, ArmModel)]
    parts: list[tuple[int, np.ndarray, np.ndarray | None]] = []
    for i in chain:
        p = model.arms[i].response
        mu = p.death_hazards(1.0)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            # a stayer's jumps are put beyond any horizon (finite, so the arithmetic stays clear of inf)
            t1 = hold_1 * (1.0 / p.rate_nr_pr) + (stay_e < -np.log1p(-p.refractory_fraction)) * _NEVER
            t2 = t1 + hold_2 * (1.0 / p.rate_pr_cr)
            s1, s2 = np.minimum(t1, horizon), np.minimum(t2, horizon)
            falling, rising = mu[0] >= mu[1] >= mu[2] > 0, 0 < mu[0] <= mu[1] <= mu[2]
            if falling or rising:
                # the lines: H = mu0 t; H = mu0 s1 + mu1 (t - s1); H = mu0 s1 + mu1 (s2 - s1) + mu2 (t - s2)
                g1 = (mu[0] - mu[1]) * s1
                g2 = g1 + (mu[1] - mu[2]) * s2
                pick = np.maximum if falling else np.minimum
                at = pick(pick(budget * (1.0 / mu[0]), (budget - g1) * (1.0 / mu[1])), (budget - g2) * (1.0 / mu[2]))
            else:
                h1 = mu[0] * s1
                h2 = h1 + mu[1] * (s2 - s1)
                at = np.where(budget <= h1, budget / mu[0], np.where(budget <= h2, s1 + (budget - h1) / mu[1],
                                                                      s2 + (budget - h2) / mu[2]))
                at[budget > h2 + mu[2] * (horizon - s2)] = np.inf
        state = None
        if visits is not None:
            state = (visits >= t1[..., None]).view(np.int8) + (visits >= t2[..., None]).view(np.int8)
        parts.append((i, at, state))
    if len(parts) == len(model.arms) == 2:                         # two chain arms: blend without selection
        (_, d0, v0), (_, d1, v1) = parts
        second = arm == 1
        death = np.where(second, d1, d0)
        states = None if v0 is None or v1 is None else v0 + (v1 - v0) * second[..., None].view(np.int8)
        return death, states
    death = np.full(arm.shape, np.inf)
    states = np.zeros(arm.shape + (visits.size,), dtype=np.int8) if visits is not None else None
    for i, at, state in parts:
        mine = arm == i
        death[mine] = at[mine]
        if states is not None and state is not None:
            states[mine] = state[mine]
    return death, states


def _relapsing(model, horizon, arm, budget, stay_u, first, extra, visits):
    """Paths with relapse, jump by jump (any number of jumps before the horizon)."""
    r, n = arm.shape
    chain = np.asarray([isinstance(a, ArmModel) for a in model.arms])
    flat = np.flatnonzero(chain[arm.ravel()])
    hold_rng, dest_rng = extra.spawn(2)
    death_c, path = _chain_paths(model, horizon, arm.ravel()[flat], budget.ravel()[flat], stay_u.ravel()[flat],
                                 _Blocks(hold_rng, "standard_exponential", r, n, first=np.ascontiguousarray(first)),
                                 dest_rng, flat, visits)
    death = np.full((r, n), np.inf)
    death.ravel()[flat] = death_c
    states = None
    if visits is not None:
        states = np.zeros((r, n, visits.size), dtype=np.int8)
        states.reshape(-1, visits.size)[flat] = path
    return death, states


def _chain_paths(model, horizon, g, budget, stay_u, holding, dest_rng, flat, visits):
    """Latent paths of the chain patients (arm ``g``), killed at cumulative hazard ``budget``."""
    rates, mu, refractory = _arm_table(model)
    out = rates.sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        cum = np.cumsum(rates, axis=2) / out[:, :, None]
    branching = bool(np.any((rates > 0).sum(axis=2) > 1))
    destinations = _Blocks(dest_rng, "random", *holding.shape) if branching else None
    size = g.size
    death = np.full(size, np.inf)
    path = np.zeros((size, 0 if visits is None else visits.size), dtype=np.int8)
    stayer = stay_u < refractory[g]
    state = np.zeros(size, dtype=np.intp)
    clock = np.zeros(size)
    left = budget.copy()
    active = np.arange(size)
    jump = 0
    while active.size:
        ga, sa, ta = g[active], state[active], clock[active]
        rate = np.where(stayer[active], 0.0, out[ga, sa])
        with np.errstate(divide="ignore", invalid="ignore"):
            t_jump = ta + holding.column(jump, flat[active]) / rate
            end = np.minimum(t_jump, horizon)
            need = left[active] / mu[ga, sa]                         # time to death in this state
        dies = ta + need <= end
        death[active[dies]] = (ta + need)[dies]
        moves = ~dies & (t_jump <= horizon)
        left[active] -= mu[ga, sa] * (end - ta)
        active, ga, sa, t_new = active[moves], ga[moves], sa[moves], t_jump[moves]
        u = destinations.column(jump, flat[active]) if destinations is not None else np.full(active.size, 0.5)
        nxt = np.minimum((cum[ga, sa, :] <= u[:, None]).sum(axis=1), CR)
        state[active], clock[active] = nxt, t_new
        if visits is not None:
            path[active] = np.where(visits[None, :] >= t_new[:, None], nxt[:, None].astype(np.int8), path[active])
        jump += 1
    return death, path


def _detail(model, follow_up, arm, entry, death, lost, cut, event, states, streams) -> dict:
    """Observed response at each visit, best response, infection time and doses, as the vectorised engine
    reports them (:class:`~trialsim.engines.batch.TrialBatch`)."""
    r, n = arm.shape
    v = np.asarray(model.visit_times, dtype=float)
    chain = np.asarray([isinstance(a, ArmModel) for a in model.arms])[arm]
    z = patient_draws(streams["taper"].standard_normal, r, n)
    e_inf = patient_draws(streams["infection"].standard_exponential, r, n)
    dose_start, dose_true = dose_paths(model.arms, arm, states, z)
    infection = infection_times(model.arms, arm, dose_start, dose_true, v, e_inf)
    watch = np.minimum(follow_up, cut[:, None] - entry)
    if lost is not None:
        watch = np.minimum(watch, lost)
    in_window = (v <= follow_up) & (v <= (cut[:, None] - entry)[..., None])
    alive_seen = (v < death[..., None]) & (v <= watch[..., None]) & chain[..., None]
    dead_seen = event[..., None] & (death[..., None] <= v) & in_window & chain[..., None]
    response = np.where(alive_seen, states, NOT_OBSERVED).astype(np.int8)
    response[dead_seen] = DEAD
    best = np.where(response <= CR, response, NOT_OBSERVED).max(axis=2).astype(np.int8)
    enrolled = entry <= cut[:, None]
    return {"response": response, "best_response": best,
            "infection_time": np.where(chain & (infection < np.minimum(death, watch)), infection, np.inf),
            "dose_start": np.where(chain & enrolled, dose_start, np.nan),
            "dose": np.where(alive_seen, dose_true, np.nan)}

