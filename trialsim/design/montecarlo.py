"""Monte Carlo runs: the seed tree, chunking, engine choice, and joblib over chunks.

A run of R replicates is cut into fixed-size chunks (:data:`trialsim.engines.seeding.CHUNK_SIZE`). Chunk c draws its
random numbers from ``seeding.chunk_streams(root, c)`` and nothing else, simulates its trials with one engine
and reduces them at once to per-replicate results through the design (success, p-value, deaths, duration),
so memory is bounded by the chunk size. Chunks run in any order on any worker and are joined in chunk order,
so the same seed gives bit-identical results for every ``n_jobs`` and every backend (joblib's loky processes or
threads, or a dask.distributed cluster).

Resources are checked before any work starts: ``n_jobs`` is capped at the machine's cores and a run that cannot
fit in the memory available is refused (:mod:`trialsim.design.resources`); the chunks' tasks are made one at a
time as workers take them; on a dask cluster (:mod:`trialsim.design.dask_backend`) the scheduler is given
``timeout`` seconds to answer and to have a worker.

A design that needs a second simulated cohort per replicate (a historical control arm) draws it from a
second seed tree under the same root (spawn key ``SECONDARY_KEY + k``); it does not depend on the trial's
size, so contrasts across n share the historical arms.

joblib is imported here and nowhere else.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

import numpy as np

from ..engines.batch import TrialBatch
from .rules import Design, DesignOutcome
from ..exceptions import invalid
from ..model.validation import MAX_REPLICATES, check_choice, check_count, check_number
from ..model import DiseaseModel, Trial
from ..engines.seeding import CHUNK_SIZE, Seed, chunk_bounds, chunk_streams, root_sequence, seed_record
from ..stats.checks import quiet_degenerate
from .dask_backend import DASK_TIMEOUT, check_scheduler, run_on_dask
from .resources import check_memory, worker_count

__all__ = ["MonteCarloResult", "OutcomeSummary", "run", "run_chunk", "execute", "choose_engine", "BACKENDS", "ENGINES",
           "SECONDARY_KEY", "stop_workers"]

Backend = Literal["loky", "threading", "multiprocessing", "sequential", "dask"]
Engine = Literal["auto", "vectorized", "des"]
BACKENDS: tuple[Backend, ...] = ("loky", "threading", "multiprocessing", "sequential", "dask")
ENGINES: tuple[Engine, ...] = ("auto", "vectorized", "des")
#: Spawn key of the seed trees of secondary cohorts (far above any chunk index of the main tree).
SECONDARY_KEY = 2 ** 31
#: Below this estimated remaining time (seconds) a process pool costs more than it saves: run in-process.
_POOL_WORTH_SECONDS = 0.75
#: Rough cost of starting a pool of worker processes (seconds), used to decide whether one pays off.
_POOL_START_SECONDS = 0.5


@dataclass(frozen=True, kw_only=True, slots=True)
class OutcomeSummary:
    """Counts and sums over replicates: all that power needs, a few numbers per chunk whatever its size.

    Sums are added in chunk order, so they are the same for every ``n_jobs`` and backend.
    ``sum_events_by_arm`` sums :attr:`trialsim.design.rules.DesignOutcome.n_events_by_arm` (the deaths the analysis
    uses, per group it compares).
    """

    n_replicates: int
    n_successes: int
    n_degenerate: int
    sum_events_by_arm: tuple[float, ...]
    sum_duration: float

    @classmethod
    def of(cls, outcome: DesignOutcome) -> "OutcomeSummary":
        by_arm = outcome.n_events_by_arm.sum(axis=0)
        return cls(n_replicates=outcome.n_replicates, n_successes=int(outcome.success.sum()),
                   n_degenerate=int(outcome.degenerate.sum()), sum_events_by_arm=tuple(float(x) for x in by_arm),
                   sum_duration=float(outcome.duration.sum()))

    @classmethod
    def combine(cls, parts: list["OutcomeSummary"]) -> "OutcomeSummary":
        first = parts[0]
        return cls(n_replicates=sum(p.n_replicates for p in parts), n_successes=sum(p.n_successes for p in parts),
                   n_degenerate=sum(p.n_degenerate for p in parts),
                   sum_events_by_arm=tuple(float(sum(p.sum_events_by_arm[k] for p in parts))
                                           for k in range(len(first.sum_events_by_arm))),
                   sum_duration=float(sum(p.sum_duration for p in parts)))

    @property
    def power(self) -> float:
        return self.n_successes / self.n_replicates

    @property
    def mean_events_by_arm(self) -> tuple[float, ...]:
        return tuple(x / self.n_replicates for x in self.sum_events_by_arm)

    @property
    def mean_events(self) -> float:
        return sum(self.sum_events_by_arm) / self.n_replicates

    @property
    def mean_duration(self) -> float:
        return self.sum_duration / self.n_replicates


@dataclass(frozen=True, kw_only=True, slots=True)
class MonteCarloResult:
    """Outcomes of a run and how it was made.

    ``summary`` always holds the counts and sums; ``outcome`` holds the per-replicate arrays unless the run
    was asked to keep only the summary (``keep_outcomes=False``: memory then stays bounded by one chunk,
    whatever the number of replicates).

    ``seed`` and ``spawn_key`` rebuild the root: ``SeedSequence(seed, spawn_key=spawn_key)`` (the spawn key is
    empty unless the run was seeded with a spawned ``SeedSequence``; then the integer seed alone repeats it).

    ``engine`` names the engine that simulated each cohort (``"vectorized"``, ``"des"``, or both joined by
    ``+`` for designs with a historical cohort). ``n_workers`` and ``backend`` say how the chunks were spread
    (they never change the numbers).
    """

    outcome: DesignOutcome | None
    summary: OutcomeSummary
    seed: int
    spawn_key: tuple[int, ...]
    engine: str
    n_replicates: int
    n_chunks: int
    backend: str
    n_workers: int
    elapsed_seconds: float


def _engine_module(name: str) -> ModuleType:
    if name == "vectorized":
        from ..engines import vectorized

        return vectorized
    from ..engines import des

    return des


def choose_engine(model: DiseaseModel, trial: Trial, *, detail: bool = False,
                  engine: Engine = "auto") -> str:
    """The engine that runs (``auto``: the vectorised engine when it supports the model and trial)."""
    check_choice("engine", engine, ENGINES)
    if engine != "auto":
        return engine
    try:
        vectorized = _engine_module("vectorized")
    except ImportError:
        return "des"
    return "vectorized" if vectorized.supports(model, trial, detail=detail) else "des"


def _secondary_root(root: np.random.SeedSequence, k: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, SECONDARY_KEY + k))


def run_chunk(pairs: list[tuple[DiseaseModel, Trial, str]], design: Design, trial: Trial,
              root: np.random.SeedSequence, chunk_index: int, start: int, stop: int) -> DesignOutcome:
    """Simulate and analyse chunk ``chunk_index`` (replicates ``start:stop``): a pure function of its arguments.

    ``pairs`` holds (model, trial, engine name) for each cohort the design needs; the first is the trial
    itself, the others (if any) draw from secondary seed trees.
    """
    batches: list[TrialBatch] = []
    for k, (model_k, trial_k, engine_name) in enumerate(pairs):
        tree = root if k == 0 else _secondary_root(root, k)
        streams = chunk_streams(tree, chunk_index)
        batches.append(_engine_module(engine_name).simulate_chunk(
            model_k, trial_k, stop - start, streams, detail=design.needs_detail and k == 0,
            first_replicate=start))
    with quiet_degenerate():  # counted in the outcome; a warning per chunk (from any thread) would only be noise
        return design.analyse(batches, trial)


def run_chunk_summary(*task) -> OutcomeSummary:
    """:func:`run_chunk` reduced to its counts and sums (what travels back from a worker)."""
    return OutcomeSummary.of(run_chunk(*task))


def _check_run_args(n_replicates, n_jobs, backend, scheduler=None, timeout=None) -> int:
    """The number of workers ``n_jobs`` asks for, after checking the run's arguments."""
    check_count("n_replicates", n_replicates, maximum=MAX_REPLICATES)
    check_choice("backend", backend, BACKENDS)
    workers = worker_count(n_jobs)
    if scheduler is not None:
        if backend != "dask":
            raise invalid("scheduler", "needs backend 'dask'", scheduler)
        check_scheduler(scheduler)
    if timeout is not None:
        check_number("timeout", timeout, low=0.0, low_open=True, high=86_400.0)
    return workers


# ------------------------------------------------------------------------------------------------- tasks


class _Tasks(Sequence[tuple]):
    """The tasks of a run, one per chunk, each made when a worker asks for it (not a list of them all)."""

    def __init__(self, head: tuple, n_replicates: int) -> None:
        self.head = head
        self.bounds = chunk_bounds(n_replicates, CHUNK_SIZE)

    def __len__(self) -> int:
        return len(self.bounds)

    def __getitem__(self, index):  # int or slice, as a list
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        start, stop = self.bounds[index]
        return (*self.head, index, start, stop)

    def __iter__(self) -> Iterator[tuple]:
        for index, (start, stop) in enumerate(self.bounds):
            yield (*self.head, index, start, stop)


def run(model: DiseaseModel, trial: Trial, design: Design, *, n_replicates: int = 10_000,
        seed: Seed = None, n_jobs: int | None = None,
        backend: Backend = "loky", scheduler: str | None = None, engine: Engine = "auto",
        progress: Callable[[int, int], None] | None = None, keep_outcomes: bool = True,
        timeout: float | None = None) -> MonteCarloResult:
    """Simulate ``n_replicates`` trials and apply ``design`` to each.

    Parameters
    ----------
    model, trial, design
        What to simulate and how to analyse it.
    n_replicates
        Number of simulated trials, at most :data:`trialsim.model.validation.MAX_REPLICATES`.
    seed
        Root seed: an integer, a ``SeedSequence``, a ``Generator`` or ``None`` (fresh entropy); the result
        records what repeats the run (:func:`trialsim.engines.seeding.root_sequence`).
    n_jobs
        Worker processes (``None`` or -1: all cores; more than the cores is capped at the cores, and at what
        fits in memory). Small runs stay in-process whatever ``n_jobs`` says, because starting a pool would cost
        more than it saves; the numbers do not depend on it.
    backend
        joblib backend. ``"dask"`` runs the chunks on a dask.distributed cluster (``scheduler`` address; with
        no address, the current client, or else a local cluster); it needs the ``dask`` extra. Connecting to a
        scheduler means trusting it: dask unpickles what the scheduler sends.
    engine
        ``"auto"`` (vectorised when it supports the model and trial, else DES), ``"vectorized"`` or ``"des"``.
    progress
        Called as ``progress(done, total)`` (replicates) after each chunk.
    keep_outcomes
        Keep the per-replicate arrays (``result.outcome``). With ``False`` each chunk is reduced to counts and
        sums where it ran, so peak memory does not grow with ``n_replicates``.
    timeout
        Seconds a dask scheduler has to answer and to have a worker (default :data:`trialsim.design.dask_backend.DASK_TIMEOUT`).

    Returns
    -------
    MonteCarloResult

    Raises
    ------
    InputError
        For a bad argument; when one chunk (with the kept outcomes) cannot fit in the memory available, naming
        ``Trial.n`` or ``n_replicates`` and the largest value that fits; when a dask scheduler cannot be reached,
        has no worker, or is lost during the run.
    """
    workers = _check_run_args(n_replicates, n_jobs, backend, scheduler, timeout)
    root = root_sequence(seed)
    pairs = [(m, t, choose_engine(m, t, detail=design.needs_detail and k == 0, engine=engine))
             for k, (m, t) in enumerate(design.simulated_trials(model, trial))]
    # on dask the chunks run in the workers' memory; only what comes back is kept here
    workers = check_memory(pairs, n_replicates=int(n_replicates), workers=workers, keep_outcomes=keep_outcomes,
                           chunks_here=backend != "dask")
    tasks = _Tasks((pairs, design, trial, root), int(n_replicates))
    began = time.perf_counter()
    work = run_chunk if keep_outcomes else run_chunk_summary
    parts, used = execute(work, tasks, n_workers=workers, backend=backend, scheduler=scheduler, progress=progress,
                          total=int(n_replicates), timeout=timeout)
    if keep_outcomes:
        outcome = DesignOutcome.concatenate(parts)
        summary = OutcomeSummary.of(outcome)
    else:
        outcome, summary = None, OutcomeSummary.combine(parts)
    entropy, spawn_key = seed_record(root)
    return MonteCarloResult(outcome=outcome, summary=summary, seed=entropy, spawn_key=spawn_key,
                            engine="+".join(dict.fromkeys(p[2] for p in pairs)), n_replicates=int(n_replicates),
                            n_chunks=len(tasks), backend=backend if used > 1 else "in-process", n_workers=used,
                            elapsed_seconds=time.perf_counter() - began)


def execute(work: Callable[..., Any], tasks: Iterable[tuple], *, n_workers: int, backend: str = "loky",
            scheduler: str | None = None, progress: Callable[[int, int], None] | None = None,
            total: int = 0, timeout: float | None = None) -> tuple[list, int]:
    """Run ``work(*task)`` for every task, in-process or on a pool, and return the results in task order.

    The one place work is spread over workers (joblib, or a dask cluster): ``run`` uses it for chunks of
    replicates, and any other Monte Carlo (assurance draws, boundary calibration) may too. Each result must have an
    ``n_replicates`` attribute (reported to ``progress(done, total)``). ``tasks`` is a sequence (a list, or a lazy
    sequence whose tasks are made only when taken) or any iterable. A pool is started only when the first two
    tasks, measured in-process, say it pays off; the results never depend on it. ``n_workers`` is capped at the
    machine's cores. Returns ``(results, workers used)`` (``-1`` for dask).
    """
    workers = min(n_workers, os.cpu_count() or 1)
    parts: list = []
    done = 0

    def report(part) -> None:
        nonlocal done
        parts.append(part)
        done += part.n_replicates
        if progress is not None:
            progress(done, total)

    if backend == "dask":
        run_on_dask(work, tasks, scheduler, report, DASK_TIMEOUT if timeout is None else timeout)
        return parts, -1
    if not isinstance(tasks, Sized):
        tasks = list(tasks)
    count = len(tasks)
    pending = iter(tasks)
    if workers <= 1 or count <= 1 or backend == "sequential":
        for task in pending:
            report(work(*task))
        return parts, 1
    # Decide from measurements whether a pool pays off. Chunk 0 runs in-process and includes the engine's
    # one-off set-up (tables built per process, which every pool worker would pay again); chunk 1 gives the
    # steady cost of a chunk. A pool costs its start-up plus that set-up plus the rest spread over workers.
    t0 = time.perf_counter()
    report(work(*next(pending)))
    first = time.perf_counter() - t0
    t1 = time.perf_counter()
    report(work(*next(pending)))
    steady = time.perf_counter() - t1
    remaining = count - 2
    used = min(workers, remaining)
    serial = steady * remaining
    pooled = _POOL_START_SECONDS + max(first - steady, 0.0) + serial / max(used, 1)
    if not remaining or used < 2 or serial < _POOL_WORTH_SECONDS or pooled >= serial:
        for task in pending:
            report(work(*task))
        return parts, 1
    from joblib import Parallel, delayed

    # Threads share the process's one list of warning filters, which catch_warnings blocks running at once in
    # several of them would leave changed: keep it as it was before the run
    shield = warnings.catch_warnings() if backend == "threading" else contextlib.nullcontext()
    with shield, Parallel(n_jobs=used, backend=backend, return_as="generator") as parallel:
        for part in parallel(delayed(work)(*task) for task in pending):
            report(part)
    return parts, used


def stop_workers() -> None:
    """Stop the worker processes a run left for reuse (joblib's loky pool keeps them about five minutes after
    the run, and with them loky's resource tracker): what a command does before it exits on a signal, so that
    no process outlives it."""
    module = sys.modules.get("joblib.externals.loky.reusable_executor")
    executor = getattr(module, "_executor", None) if module is not None else None
    if executor is not None:
        with contextlib.suppress(Exception):
            executor.shutdown(wait=True, kill_workers=True)
