"""The discrete-event engine: a simulated trial, event by event, with simpy.

The reference engine. Each simulated trial is a set of simpy processes in one :class:`simpy.Environment`:

- an *accrual* process that enrols patients at their calendar entry times;
- the patients (below), who end at death, at the end of follow-up, when lost to follow-up or at the data cut;
- for a calendar analysis, a *data cut* process that fires at the analysis date. For an events-driven
  analysis the patient whose death is the ``target_events``-th one sets the cut. A trial with a
  ``max_duration`` has a data cut process at that date too, for trials whose own trigger has not come by then.

Several trials share one environment (they never interact; it saves the per-environment overhead and keeps
the event heap short). State lives in per-environment objects, never at module level.

What is scheduled
-----------------
Full mode (``detail=True`` or ``events_log=True``): the accrual process starts one *patient* process per
patient, a generator that moves through the multi-state model (NR -> PR -> CR, death from every state),
attends the scheduled assessments (where the response is observed and the glucocorticoid dose adjusted), may
catch CMV and may be lost to follow-up, with one timeout per event: every transition, visit, infection,
death, end of follow-up or loss is a simpy event, and each writes its event-log row when it happens.

Survival-only mode (neither): what is observed is each patient's time, event and censoring reason, and the
data cut. Between enrolment and death nothing can observe a patient's moves between living states (no
visits, no infection, no log), so the events scheduled are only those that can change what is observed:

- the accrual process's timeouts, one per distinct entry time (enrolment, and where it stops at the cut);
- one *death* event per patient who dies before the end of their follow-up: at enrolment the accrual process
  walks the patient's chain in plain Python with the same pooled numbers as the patient process and
  schedules a timeout to the death, with a handler that counts the death, sets the events-driven cut at the
  ``target_events``-th one, or censors the patient at the cut if the cut came first;
- the calendar cut process, as in full mode.

A survivor's end of follow-up (or loss) changes nothing another process can see, so it is recorded at
enrolment with the clock value its event would have had; after the run, a survivor whose end comes later on
the clock than the cut (the calendar date, or the clock of the death that set the events-driven cut) is
censored at the cut, as its process would have been.

Why the results are the same, bit for bit: the draws are those of full mode (all drawn up front, below), and
the walk repeats the patient process's arithmetic, including its clock: the clock after each transition is
the clock before plus ``t - u``, as the process's timeouts add it, so a death event fires, and a survivor's end
is compared with the cut, at exactly the clock value of full mode, and events are ordered as they were. Where
no single delay from the enrolment clock lands on that value (the sum falls half-way between two floats: a
few deaths in ten thousand with random entry times, none with instant accrual), that patient gets the
full-mode patient process instead. What can still differ is the order of two events of different patients at
exactly the same clock value, a tie of continuous times (probability zero). The ties that do occur by
construction are kept: a death or an end of follow-up exactly on a calendar cut date is observed (its event
was scheduled before the cut's second, zero-length wait), and events after the events-driven cut are
censored. ``tests/test_des.py`` checks the two modes against each other.

A visit on the last day of follow-up ends the patient's follow-up with it (no second, zero-length wait), so a
patient alive at a visit that falls on both the end of follow-up and a calendar cut date has the end of
follow-up observed, with or without detail.

Random numbers
--------------
Every random number of a chunk is drawn up front, patient by patient, before any process runs
(:func:`trialsim.engines.des_inputs.draw_chunk`, whose module gives the layout), so the result never depends on
event order, on how many trials share an environment, or on ``detail``: the survival fields are identical with
and without detail.

Observation rules (the engines' contract)
-----------------------------------------
A visit at week ``v`` is observed when ``v <= follow_up`` and the patient is alive and under observation then
(not lost, not past the data cut; a visit exactly at the cut is observed). A patient whose death was observed
shows DEAD (3) at every later visit with ``v <= follow_up`` whose calendar date ``entry + v`` is not after the
data cut (no cut: every such visit). Patients enrolled after the data cut have time 0, no event, reason
DATA_CUT and nothing observed (``dose_start`` NaN).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Required, TypedDict, cast

import numpy as np
import simpy
from simpy.events import Event, ProcessGenerator

from . import seeding
from .seeding import POOL_SIZE, JumpPools
from .des_inputs import ArmTables, Chain, Tables, arm_tables, draw_chunk
from .batch import DATA_CUT, DIED, END_OF_FOLLOW_UP, LOST, NOT_OBSERVED, TrialBatch
from ..model.validation import check_count, check_flag
from ..model import CR, DEAD, DISEASES, NR, ArmModel, DiseaseModel, Trial, check_model_and_trial

__all__ = ["simulate", "simulate_chunk", "ENGINE", "POOL_SIZE", "EVENT_LOG_COLUMNS"]

ENGINE = "des"
#: Columns of a row of ``TrialBatch.events_log``.
EVENT_LOG_COLUMNS = ("replicate", "time", "patient", "event", "detail")
_PATIENTS_PER_ENV = 100
_PATIENTS_PER_ENV_SURVIVAL = 1000
_N_STRATA = len(DISEASES)
_INF = math.inf
_STATE_NAMES = ("NR", "PR", "CR", "dead")

#: A row of the event log (:data:`EVENT_LOG_COLUMNS`).
_LogRow = tuple[int, float, int, str, str]


# ------------------------------------------------------------------------------------------- the processes


class _TrialState:
    """One trial inside an environment: its indices, death count and data cut (calendar time or None).

    ``cut_clock`` is the environment's clock when the cut came (survival-only mode: survivors whose end of
    follow-up falls later on that clock are censored at the cut after the run); ``limited`` says the cut came
    from the trial's maximum duration.
    """

    __slots__ = ("index", "local", "replicate", "n_deaths", "cut", "cut_clock", "limited")

    def __init__(self, index: int, local: int, replicate: int) -> None:
        self.index = index  # within the environment
        self.local = local  # within the chunk
        self.replicate = replicate  # within the run (a label)
        self.n_deaths = 0
        self.cut: float | None = None
        self.cut_clock = _INF
        self.limited = False  # the cut is the trial's maximum duration, not its own trigger


class _Run:
    """Everything the processes of one environment read and write (plain lists: scalar access is fast).

    Patient ``g = trial index * n + k`` (k in enrolment order) within the environment.
    """

    __slots__ = ("n", "n_visits", "visits", "target_events", "detail", "log", "arm",
                 "stratum", "stayer", "pool_e", "pool_u", "stop", "stop_reason", "death_time", "dose_start",
                 "infection_e", "chain", "factors", "infection_hazard", "dose_dependent", "reference_dose",
                 "parametric", "pools", "entry", "time", "event", "reason", "response", "dose",
                 "infection_time", "arm_names", "trials", "path", "clock_end")

    # the run
    n: int
    n_visits: int
    visits: list[float]  # the visits observed (empty without detail)
    target_events: int  # 0 unless the analysis is events-driven
    detail: bool
    log: list[_LogRow] | None
    arm_names: tuple[str, ...]
    trials: list[_TrialState]
    # per arm (arm_tables)
    chain: list[Chain | None]
    factors: list[list[float] | None]
    infection_hazard: list[float]
    dose_dependent: list[bool]
    reference_dose: list[float]
    parametric: list[bool]
    # per patient g: the draws
    pools: JumpPools
    arm: list[int]
    stratum: list[int]
    stayer: list[bool]
    entry: list[float]
    stop: list[float]
    stop_reason: list[int]
    death_time: list[float]
    pool_e: list[float]  # items g * POOL_SIZE + k
    pool_u: list[float]
    dose_start: list[float]
    infection_e: list[float]
    # per patient g: survival-only mode
    path: list[Tables | None]
    clock_end: list[float] | None
    # per patient g: the results (response and dose: per visit, item g * n_visits + j)
    time: list[float]
    event: list[bool]
    reason: list[int]
    response: list[int]
    dose: list[float]
    infection_time: list[float]

    def censor_at_cut(self, tr: _TrialState, g: int, entry: float, patient: int) -> None:
        """Censor patient ``g`` at the trial's data cut (called only once the cut has come)."""
        assert tr.cut is not None
        self.time[g] = max(tr.cut - entry, 0.0)
        self.reason[g] = DATA_CUT
        if self.log is not None:
            self.log.append((tr.replicate, tr.cut, patient, "data_cut", ""))

    def refill(self, tr: _TrialState, patient: int, refills: int) -> tuple[list[float], list[float]]:
        e, u = self.pools.refill(refills)
        return e[tr.local, patient].tolist(), u[tr.local, patient].tolist()


def _chain_patient(env: simpy.Environment, run: _Run, tr: _TrialState, g: int, patient: int,
                   entry: float) -> ProcessGenerator:
    """A patient of an :class:`ArmModel` arm, in time ``u`` since entry (weeks): every event (full mode)."""
    log, timeout = run.log, env.timeout
    arm = run.arm[g]
    chain, factors = run.chain[arm], run.factors[arm]
    assert chain is not None and factors is not None  # only ArmModel arms (not run.parametric) have chain patients
    total, rows = chain[run.stratum[g]][run.stayer[g]]
    b = g * POOL_SIZE
    es, us = run.pool_e[b:b + POOL_SIZE], run.pool_u[b:b + POOL_SIZE]
    k, refills = 0, 0
    stop, stop_reason = run.stop[g], run.stop_reason[g]
    state, u = NR, 0.0
    rate = total[NR]
    u_next = es[0] / rate if rate > 0 else _INF
    visits = run.visits
    n_visits, j = len(visits), 0
    u_visit = visits[0] if n_visits else _INF
    u_infection, infected = _INF, False
    if run.detail:
        base = g * run.n_visits
        response_out, dose_out = run.response, run.dose
        dose = run.dose_start[g]
        hazard0, dose_dependent, reference = (run.infection_hazard[arm], run.dose_dependent[arm],
                                              run.reference_dose[arm])
        hazard = hazard0 * dose / reference if dose_dependent else hazard0
        residual, u_hazard = run.infection_e[g], 0.0
        u_infection = residual / hazard if hazard > 0 else _INF
    if log is not None:
        log.append((tr.replicate, entry, patient, "enrolled", run.arm_names[arm]))
    while True:
        # Ties: a visit at the same time as the end of follow-up is observed (v <= follow_up).
        if u_visit <= u_next and u_visit <= u_infection and u_visit <= stop:
            what, t = 0, u_visit
        elif u_next <= u_infection and u_next < stop:
            what, t = 1, u_next
        elif u_infection < stop:
            what, t = 2, u_infection
        else:
            what, t = 3, stop
        yield timeout(t - u)
        u = t
        if tr.cut is not None:  # the data cut came first: nothing from now on is observed
            run.censor_at_cut(tr, g, entry, patient)
            return
        if what == 0:
            response_out[base + j] = state
            dose *= factors[state]
            dose_out[base + j] = dose
            if log is not None:
                log.append((tr.replicate, entry + u, patient, "visit", f"week {visits[j]:g}: {_STATE_NAMES[state]}"))
            if dose_dependent and not infected and hazard0 > 0:
                # Piecewise-constant hazard: spend the cumulative hazard used so far, rescale the rest.
                residual -= hazard * (u - u_hazard)
                u_hazard, hazard = u, hazard0 * dose / reference
                u_infection = u + residual / hazard
            j += 1
            u_visit = visits[j] if j < n_visits else _INF
            if u == stop:  # the visit at the end of follow-up: the patient's follow-up ends with it
                what = 3
        if what == 1:
            x = us[k] * rate
            for cum, dest in rows[state]:
                if x < cum:
                    break
            k += 1
            if dest == DEAD:
                run.time[g], run.event[g], run.reason[g] = u, True, DIED
                if log is not None:
                    log.append((tr.replicate, entry + u, patient, "death", _STATE_NAMES[state]))
                tr.n_deaths += 1
                if tr.n_deaths == run.target_events:
                    tr.cut = entry + u  # not env.now: the clock sums delays, rounding differently
                    tr.cut_clock = env.now
                return
            if log is not None:
                log.append((tr.replicate, entry + u, patient, "transition",
                            f"{_STATE_NAMES[state]}->{_STATE_NAMES[dest]}"))
            state, rate = dest, total[dest]
            if k == POOL_SIZE:
                refills += 1
                es, us = run.refill(tr, patient, refills)
                k = 0
            u_next = u + es[k] / rate if rate > 0 else _INF
        elif what == 2:
            run.infection_time[g] = u
            u_infection, infected = _INF, True
            if log is not None:
                log.append((tr.replicate, entry + u, patient, "infection", _STATE_NAMES[state]))
        elif what == 3:
            run.time[g], run.reason[g] = u, stop_reason
            if log is not None:
                log.append((tr.replicate, entry + u, patient, _REASON_EVENT[stop_reason], _STATE_NAMES[state]))
            return


def _parametric_patient(env: simpy.Environment, run: _Run, tr: _TrialState, g: int, patient: int,
                        entry: float) -> ProcessGenerator:
    """A patient of a :class:`ParametricArm` arm: death at a pre-drawn time unless follow-up ends first."""
    log = run.log
    if log is not None:
        log.append((tr.replicate, entry, patient, "enrolled", run.arm_names[run.arm[g]]))
    u_death, stop = run.death_time[g], run.stop[g]
    yield env.timeout(u_death if u_death < stop else stop)
    if tr.cut is not None:
        run.censor_at_cut(tr, g, entry, patient)
        return
    if u_death < stop:
        run.time[g], run.event[g], run.reason[g] = u_death, True, DIED
        if log is not None:
            log.append((tr.replicate, entry + u_death, patient, "death", ""))
        tr.n_deaths += 1
        if tr.n_deaths == run.target_events:
            tr.cut = entry + u_death
            tr.cut_clock = env.now
    else:
        run.time[g], run.reason[g] = stop, run.stop_reason[g]
        if log is not None:
            log.append((tr.replicate, entry + stop, patient, _REASON_EVENT[run.stop_reason[g]], ""))


_REASON_EVENT = {END_OF_FOLLOW_UP: "end_of_follow_up", LOST: "lost_to_follow_up"}


def _accrual(env: simpy.Environment, run: _Run, tr: _TrialState) -> ProcessGenerator:
    """Enrol the trial's patients at their entry times, one process each; stop at the data cut (full mode)."""
    n = run.n
    g0 = tr.index * n
    now = 0.0
    for i in range(n):
        g = g0 + i
        t = run.entry[g]
        if t > now:
            yield env.timeout(t - now)
            now = t
            if tr.cut is not None:
                return
        body = _parametric_patient if run.parametric[run.arm[g]] else _chain_patient
        env.process(body(env, run, tr, g, i, t))


def _calendar_cut(env: simpy.Environment, trials: list[_TrialState], when: float, *,
                  limit: bool = False) -> ProcessGenerator:
    """The data cut at calendar ``when``; with ``limit`` (the trial's maximum duration) only for trials whose
    own trigger has not come yet, marking them so that :func:`_finish` takes the earlier of the limit and the
    end of follow-up as their analysis time."""
    yield env.timeout(when)
    # A second, zero-length wait puts the cut after every event already scheduled for this instant, so a
    # visit or an end of follow-up falling exactly on the cut date is observed.
    yield env.timeout(0.0)
    for tr in trials:
        if limit and tr.cut is not None:
            continue
        tr.cut = when
        tr.cut_clock = when
        tr.limited = limit


def _delay_to(now: float, at: float) -> float | None:
    """The delay ``d`` with ``now + d == at`` in floating point (simpy schedules at ``now + delay``), or None.

    ``at - now`` is almost always it; when it is one unit in the last place off, a neighbour is. None when no
    float reaches ``at`` from ``now`` (the sum of the two falls half-way between floats on either side).
    """
    d = at - now
    while now + d > at:
        d = math.nextafter(d, -_INF)
    while now + d < at:
        d = math.nextafter(d, _INF)
    return d if now + d == at else None


def _accrual_survival(env: simpy.Environment, run: _Run, tr: _TrialState,
                      on_death: Callable[[Event], None]) -> ProcessGenerator:
    """Survival only: enrol the trial's patients at their entry times, each with their death event, if any.

    Nothing observes a patient's moves between living states, so each patient's path is walked at enrolment in
    plain Python with the process's own clock arithmetic (the clock after each transition is the clock before
    plus ``t - u``, as :func:`_chain_patient`'s timeouts add it), and only the death is scheduled, at that exact
    clock. A survivor's end is recorded here and, if a data cut comes before it on the clock, censored at the
    cut after the run (:func:`_censor_survivors`).
    """
    n = run.n
    g0 = tr.index * n
    entry, stop, stop_reason, death_time, path = run.entry, run.stop, run.stop_reason, run.death_time, run.path
    time, reason, clock_end = run.time, run.reason, run.clock_end
    pool_e, pool_u = run.pool_e, run.pool_u
    timeout = env.timeout
    now = clock = 0.0
    for g in range(g0, g0 + n):
        t = entry[g]
        if t > now:
            yield timeout(t - now)
            now, clock = t, env.now
            if tr.cut is not None:
                return
        s = stop[g]
        tables = path[g]
        if tables is None:  # ParametricArm: death at the pre-drawn time unless follow-up ends first
            u = death_time[g]
            if u < s:
                time[g] = u
                timeout(u, g).callbacks.append(on_death)
                continue
            c = clock + s
        else:  # ArmModel: the chain, jump by jump, with the pooled numbers of _chain_patient
            total, rows = tables
            rate = total[NR]
            k = g * POOL_SIZE  # position in the pools
            u_next = pool_e[k] / rate if rate > 0 else _INF
            u, c = 0.0, clock
            if u_next < s:
                es, us, last = pool_e, pool_u, k + POOL_SIZE
                state, refills = NR, 0
                while True:
                    c += u_next - u
                    u = u_next
                    x = us[k] * rate
                    for cum, dest in rows[state]:
                        if x < cum:
                            break
                    k += 1
                    if dest == DEAD:
                        break
                    state, rate = dest, total[dest]
                    if k == last:
                        refills += 1
                        es, us = run.refill(tr, g - g0, refills)
                        k, last = 0, POOL_SIZE
                    u_next = u + es[k] / rate if rate > 0 else _INF
                    if not u_next < s:
                        break
                if dest == DEAD:
                    d = c - clock
                    if clock + d != c:
                        exact = _delay_to(clock, c)
                        if exact is None:  # (rare) no single delay lands on the clock of the death: the
                            # patient's own process walks the path in simulated time, as in full mode
                            env.process(_chain_patient(env, run, tr, g, g - g0, t))
                            continue
                        d = exact
                    time[g] = u
                    timeout(d, g).callbacks.append(on_death)
                    continue
            c += s - u
        time[g], reason[g] = s, stop_reason[g]
        if clock_end is not None:
            clock_end[g] = c


def _death_callback(env: simpy.Environment, run: _Run) -> Callable[[Event], None]:
    """The handler of a survival-only death event: the death is observed unless the data cut came first."""
    time, event, reason, entry, trials, n, target = (run.time, run.event, run.reason, run.entry, run.trials, run.n,
                                                     run.target_events)

    def on_death(ev: Event) -> None:
        g: int = cast(int, ev.value)  # the patient, the timeout's value
        tr = trials[g // n]
        if tr.cut is not None:
            time[g] = max(tr.cut - entry[g], 0.0)  # reason stays DATA_CUT
            return
        event[g], reason[g] = True, DIED
        tr.n_deaths += 1
        if tr.n_deaths == target:
            tr.cut = entry[g] + time[g]
            tr.cut_clock = env.now

    return on_death


# ------------------------------------------------------------------------------------------- the runner


def _run_environment(model: DiseaseModel, trial: Trial, tables: ArmTables, draws: dict[str, Any],
                     out: dict[str, np.ndarray], lo: int, hi: int, *, detail: bool, log: list[_LogRow] | None,
                     first_replicate: int) -> None:
    """Simulate replicates ``lo:hi`` of the chunk in one environment; write their results into ``out``.

    Full mode (``detail`` or an event log) runs one process per patient with every event; survival-only mode
    runs :func:`_accrual_survival` (see the module docstring).
    """
    n = trial.n
    survival_only = not detail and log is None
    env = simpy.Environment()
    run = _Run()
    run.n, run.n_visits = n, len(model.visit_times)
    run.visits = [v for v in model.visit_times if v <= trial.follow_up] if detail else []
    run.detail, run.log = detail, log
    run.target_events = 0
    if trial.analysis == "events":
        assert trial.target_events is not None  # Trial requires it for an events-driven analysis
        run.target_events = trial.target_events
    (run.chain, run.factors, run.infection_hazard, run.dose_dependent, run.reference_dose,
     run.parametric) = tables
    run.arm_names = model.arm_names
    run.pools = draws["pools"]
    def flat(name: str) -> list[Any]:
        return draws[name][lo:hi].reshape(-1).tolist()

    run.arm, run.entry, run.stop, run.stop_reason = flat("arm"), flat("entry"), flat("stop"), flat("stop_reason")
    run.stratum, run.stayer = flat("stratum"), flat("stayer")
    run.death_time = flat("death_time")
    chain_arms = not all(run.parametric)
    # flat lists: patient g's pooled numbers are items g * POOL_SIZE + k
    run.pool_e = flat("pool_e") if chain_arms else []
    run.pool_u = flat("pool_u") if chain_arms else []
    size = (hi - lo) * n
    run.time, run.event, run.reason = [0.0] * size, [False] * size, [DATA_CUT] * size
    trials = [_TrialState(i, lo + i, first_replicate + lo + i) for i in range(hi - lo)]
    run.trials = trials

    if survival_only:
        # per patient: the chain tables of their arm, stratum and stayer status (None: a ParametricArm)
        cells = [None if chain is None else chain[s][stayer]
                 for chain in run.chain for s in range(_N_STRATA) for stayer in (0, 1)]
        run.path = [cells[c] for c in flat("path")]
        cut_possible = trial.analysis != "complete" or trial.max_duration is not None
        run.clock_end = [-_INF] * size if cut_possible else None
        on_death = _death_callback(env, run)
        for tr in trials:
            env.process(_accrual_survival(env, run, tr, on_death))
    else:
        run.dose_start, run.infection_e = (flat("dose_start"), flat("infection_e")) if detail else ([], [])
        n_cells = size * run.n_visits if detail else 0
        run.response, run.dose = [NOT_OBSERVED] * n_cells, [math.nan] * n_cells
        run.infection_time = [_INF] * size if detail else []
        for tr in trials:
            env.process(_accrual(env, run, tr))
    if trial.analysis == "calendar":
        assert trial.analysis_time is not None  # Trial requires it for a calendar analysis
        env.process(_calendar_cut(env, trials, float(trial.analysis_time)))
    elif trial.max_duration is not None:  # a calendar analysis never comes after the maximum duration
        env.process(_calendar_cut(env, trials, float(trial.max_duration), limit=True))
    env.run()

    shape = (hi - lo, n)
    out["time"][lo:hi] = np.asarray(run.time).reshape(shape)
    out["event"][lo:hi] = np.asarray(run.event).reshape(shape)
    out["censor_reason"][lo:hi] = np.asarray(run.reason, dtype=np.int8).reshape(shape)
    out["cut"][lo:hi] = [np.inf if tr.cut is None else tr.cut for tr in trials]
    out["limited"][lo:hi] = [tr.limited for tr in trials]
    if survival_only and run.clock_end is not None:
        _censor_survivors(out, draws["entry"], np.asarray(run.clock_end).reshape(shape),
                          np.array([tr.cut_clock for tr in trials]), lo, hi)
    if detail:
        out["response"][lo:hi] = np.asarray(run.response, dtype=np.int8).reshape(*shape, -1)
        out["dose"][lo:hi] = np.asarray(run.dose).reshape(*shape, -1)
        out["infection_time"][lo:hi] = np.asarray(run.infection_time).reshape(shape)


def _censor_survivors(out: dict[str, np.ndarray], entry: np.ndarray, clock_end: np.ndarray,
                      cut_clock: np.ndarray, lo: int, hi: int) -> None:
    """Survival-only mode: censor at the cut the survivors whose end came after it on the clock.

    A survivor's end of follow-up (or loss) is observed when it comes on the environment's clock no later than
    the cut, as its event would have been (it was scheduled before the cut's instant); else the patient is
    censored at the cut, as :meth:`_Run.censor_at_cut` does.
    """
    late = clock_end > cut_clock[:, None]  # -inf for patients who died or were never enrolled
    if late.any():
        time, reason, cut = out["time"][lo:hi], out["censor_reason"][lo:hi], out["cut"][lo:hi]
        time[late] = np.maximum(cut[:, None] - entry[lo:hi], 0.0)[late]
        reason[late] = DATA_CUT


class _Fields(TypedDict, total=False):
    """The fields of the :class:`TrialBatch` that :func:`_finish` gives: survival, and detail with ``detail``."""

    time: Required[np.ndarray]
    event: Required[np.ndarray]
    censor_reason: Required[np.ndarray]
    analysis_time: Required[np.ndarray]
    response: np.ndarray
    dose: np.ndarray
    best_response: np.ndarray
    infection_time: np.ndarray
    dose_start: np.ndarray


def _finish(model: DiseaseModel, trial: Trial, draws: dict[str, Any], out: dict[str, np.ndarray], *,
            detail: bool) -> _Fields:
    """Vectorised bookkeeping after the run: analysis time, float-safe cut times, deaths shown at visits."""
    entry, time, event, cut = draws["entry"], out["time"], out["event"], out["cut"]
    was_cut = np.isfinite(cut)
    completed = (entry + time).max(axis=1)
    analysis_time = np.where(was_cut, cut, completed)
    # the maximum duration ends a trial that was still running then; one that had finished ended earlier
    limited = out["limited"]
    analysis_time[limited] = np.minimum(cut[limited], completed[limited])
    # Keep entry + time <= cut exactly (the subtraction cut - entry can round up by one ulp).
    enrolled = entry <= cut[:, None]
    while True:
        over = enrolled & (entry + time > cut[:, None])
        if not over.any():
            break
        time[over] = np.nextafter(time[over], -np.inf)
    fields = _Fields(time=time, event=event, censor_reason=out["censor_reason"], analysis_time=analysis_time)
    if not detail:
        return fields
    response, dose = out["response"], out["dose"]
    visits = np.asarray(model.visit_times)
    chain = np.asarray([isinstance(a, ArmModel) for a in model.arms])[draws["arm"]]
    dead_shown = ((event & chain)[:, :, None] & (visits > time[:, :, None]) & (visits <= trial.follow_up)
                  & (entry[:, :, None] + visits <= cut[:, None, None]))
    response[dead_shown] = DEAD
    alive_seen = (response >= NR) & (response <= CR)
    best = np.where(alive_seen, response, -1).max(axis=2).astype(np.int8)
    fields.update({"response": response, "dose": dose, "best_response": best,
                   "infection_time": out["infection_time"],
                   "dose_start": np.where(enrolled, draws["dose_start"], np.nan)})
    return fields


# ------------------------------------------------------------------------------------------ public API


def _simulate_iv(model: DiseaseModel, trial: Trial, n_replicates: int, detail: bool, events_log: bool,
                 trials_per_env: int | None) -> None:
    check_model_and_trial(model, trial)
    check_count("n_replicates", n_replicates)
    check_flag("detail", detail)
    check_flag("events_log", events_log)
    if trials_per_env is not None:
        check_count("trials_per_env", trials_per_env)


def simulate_chunk(model: DiseaseModel, trial: Trial, n_replicates: int, streams: dict[str, np.random.Generator],
                   *, detail: bool = False, first_replicate: int = 0, events_log: bool = False,
                   trials_per_env: int | None = None) -> TrialBatch:
    """Simulate ``n_replicates`` trials from one chunk's component streams (a pure function of its arguments).

    Parameters
    ----------
    model, trial
        The disease model and the trial design (``trial.n_arms`` must equal ``model.n_arms``).
    n_replicates
        Trials to simulate.
    streams
        One ``numpy.random.Generator`` per component, as :func:`trialsim.engines.seeding.chunk_streams` gives.
    detail
        Also record response and dose at each visit, best response, infection time, starting dose.
    first_replicate
        Index of the first replicate within the run (labels only: replicates in the event log and tables).
    events_log
        Keep the event log: rows ``(replicate, calendar time, patient, event, detail)``, in time order
        within each replicate; trial-level rows (the analysis) have patient -1.
    trials_per_env
        Trials sharing one simpy environment (default: about 100 patients per environment with detail or an
        event log, about 1000 without, where the event heap holds only deaths). Speed only: results do not
        depend on it.

    Returns
    -------
    TrialBatch
        ``engine="des"``; ``seed`` is left ``None`` (:func:`simulate` records it).
    """
    _simulate_iv(model, trial, n_replicates, detail, events_log, trials_per_env)
    n = trial.n
    draws = draw_chunk(model, trial, n_replicates, streams)
    n_visits = len(model.visit_times)
    out = {"time": np.zeros((n_replicates, n)), "event": np.zeros((n_replicates, n), dtype=bool),
           "censor_reason": np.zeros((n_replicates, n), dtype=np.int8), "cut": np.zeros(n_replicates),
           "limited": np.zeros(n_replicates, dtype=bool)}
    if detail:
        out["response"] = np.empty((n_replicates, n, n_visits), dtype=np.int8)
        out["dose"] = np.empty((n_replicates, n, n_visits))
        out["infection_time"] = np.empty((n_replicates, n))
    tables = arm_tables(model, trial)
    log: list[_LogRow] | None = [] if events_log else None
    if not detail and log is None:  # the cell of _run_environment's chain tables: (arm, stratum, stayer)
        draws["path"] = (draws["arm"].astype(np.intp) * _N_STRATA + draws["stratum"]) * 2 + draws["stayer"]
    per_env = _PATIENTS_PER_ENV if detail or log is not None else _PATIENTS_PER_ENV_SURVIVAL
    step = trials_per_env or max(1, per_env // n)
    for lo in range(0, n_replicates, step):
        _run_environment(model, trial, tables, draws, out, lo, min(lo + step, n_replicates), detail=detail,
                         log=log, first_replicate=first_replicate)
    fields = _finish(model, trial, draws, out, detail=detail)
    if log is not None:
        trigger = trial.analysis
        for i, t in enumerate(fields["analysis_time"].tolist()):
            log.append((first_replicate + i, t, -1, "analysis", trigger))
        log.sort(key=lambda row: (row[0], row[1]))  # stable: same-time rows keep the order they happened in
    return TrialBatch(arm=draws["arm"], stratum=draws["stratum"], female=draws["female"], entry=draws["entry"],
                      arm_names=model.arm_names, visit_times=model.visit_times, engine=ENGINE,
                      first_replicate=first_replicate, events_log=log, **fields)


def simulate(model: DiseaseModel, trial: Trial, *, n_replicates: int = 1,
             seed: seeding.Seed = None, detail: bool = False, events_log: bool = False,
             trials_per_env: int | None = None, progress: Callable[[int, int], None] | None = None) -> TrialBatch:
    """Simulate ``n_replicates`` trials with the discrete-event engine.

    The root ``SeedSequence`` (from ``seed``) gives one child per chunk of
    :data:`trialsim.engines.seeding.CHUNK_SIZE` replicates and each chunk one stream per random component, so the same
    seed gives the same batch bit for bit, however the chunks are later spread over workers.

    Parameters
    ----------
    model, trial
        The disease model and the trial (``trial.n_arms`` must equal ``model.n_arms``).
    n_replicates
        Number of simulated trials.
    seed
        ``int``, ``SeedSequence``, ``Generator`` or ``None`` (fresh entropy); the result records what repeats
        it (:func:`trialsim.engines.seeding.root_sequence`).
    detail, events_log, trials_per_env
        See :func:`simulate_chunk`.
    progress
        Called as ``progress(done, total)`` (replicates) after each chunk.

    Returns
    -------
    TrialBatch
        Replicates first; ``seed`` holds the root entropy, ``engine`` is ``"des"``.

    Examples
    --------
    >>> from trialsim.model import DiseaseModel, ParametricArm, Trial
    >>> model = DiseaseModel(arms=(ParametricArm.exponential(0.01), ParametricArm.exponential(0.06)))
    >>> batch = simulate(model, Trial(n=40), n_replicates=3, seed=1)
    >>> batch.time.shape, batch.seed
    ((3, 40), 1)
    """
    _simulate_iv(model, trial, n_replicates, detail, events_log, trials_per_env)
    root = seeding.root_sequence(seed)
    batches = []
    for c, (start, stop) in enumerate(seeding.chunk_bounds(n_replicates)):
        batches.append(simulate_chunk(model, trial, stop - start, seeding.chunk_streams(root, c), detail=detail,
                                      first_replicate=start, events_log=events_log, trials_per_env=trials_per_env))
        if progress is not None:
            progress(stop, n_replicates)
    batch = batches[0] if len(batches) == 1 else TrialBatch.concatenate(batches)
    entropy, spawn_key = seeding.seed_record(root)
    return replace(batch, seed=entropy, spawn_key=spawn_key)
