"""Monte Carlo runs: the seed tree, chunking, engine choice, and joblib over chunks.

A run of R replicates is cut into fixed-size chunks (:data:`trialsim.seeding.CHUNK_SIZE`). Chunk c draws its
random numbers from ``seeding.chunk_streams(root, c)`` and nothing else, simulates its trials with one engine
and reduces them at once to per-replicate results through the design (success, p-value, deaths, duration),
so memory is bounded by the chunk size. Chunks run in any order on any worker and are joined in chunk order,
so the same seed gives bit-identical results for every ``n_jobs`` and every joblib backend (loky processes,
threads, or a dask.distributed cluster through joblib's dask backend).

A design that needs a second simulated cohort per replicate (a historical control arm) draws it from a
second seed tree under the same root (spawn key ``SECONDARY_KEY + k``); it does not depend on the trial's
size, so contrasts across n share the historical arms.

joblib is imported here and nowhere else.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

import numpy as np

from ..engines.batch import TrialBatch
from .rules import Design, DesignOutcome
from ..exceptions import invalid
from ..model.validation import check_choice, check_count
from ..model import DiseaseModel, Trial
from ..engines.seeding import CHUNK_SIZE, Seed, chunk_bounds, chunk_streams, root_sequence, seed_record

__all__ = ["MonteCarloResult", "OutcomeSummary", "run", "run_chunk", "execute", "choose_engine", "BACKENDS", "ENGINES",
           "SECONDARY_KEY"]

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
    ``sum_events_by_arm`` sums :attr:`trialsim.designs.DesignOutcome.n_events_by_arm` (the deaths the analysis
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
    return design.analyse(batches, trial)


def run_chunk_summary(*task) -> OutcomeSummary:
    """:func:`run_chunk` reduced to its counts and sums (what travels back from a worker)."""
    return OutcomeSummary.of(run_chunk(*task))


def _check_run_args(n_replicates, n_jobs, backend) -> int:
    """The number of workers ``n_jobs`` asks for, after checking the run's arguments."""
    check_count("n_replicates", n_replicates)
    check_choice("backend", backend, BACKENDS)
    if n_jobs is None or n_jobs == -1:
        return os.cpu_count() or 1
    if not isinstance(n_jobs, (int, np.integer)) or isinstance(n_jobs, bool) or n_jobs < 1:
        raise invalid("n_jobs", "must be a positive integer, -1 (all cores) or None", n_jobs)
    return int(n_jobs)


def run(model: DiseaseModel, trial: Trial, design: Design, *, n_replicates: int = 10_000,
        seed: Seed = None, n_jobs: int | None = None,
        backend: Backend = "loky", scheduler: str | None = None, engine: Engine = "auto",
        progress: Callable[[int, int], None] | None = None, keep_outcomes: bool = True) -> MonteCarloResult:
    """Simulate ``n_replicates`` trials and apply ``design`` to each.

    Parameters
    ----------
    model, trial, design
        What to simulate and how to analyse it.
    n_replicates
        Number of simulated trials.
    seed
        Root seed: an integer, a ``SeedSequence``, a ``Generator`` or ``None`` (fresh entropy); the result
        records what repeats the run (:func:`trialsim.seeding.root_sequence`).
    n_jobs
        Worker processes (``None`` or -1: all cores). Small runs stay in-process whatever ``n_jobs`` says,
        because starting a pool would cost more than it saves; the numbers do not depend on it.
    backend
        joblib backend. ``"dask"`` runs the chunks on a dask.distributed cluster (``scheduler`` address; with
        no address, the current client, or else a local cluster); it needs the ``dask`` extra.
    engine
        ``"auto"`` (vectorised when it supports the model and trial, else DES), ``"vectorized"`` or ``"des"``.
    progress
        Called as ``progress(done, total)`` (replicates) after each chunk.
    keep_outcomes
        Keep the per-replicate arrays (``result.outcome``). With ``False`` each chunk is reduced to counts and
        sums where it ran, so peak memory does not grow with ``n_replicates``.

    Returns
    -------
    MonteCarloResult
    """
    workers = _check_run_args(n_replicates, n_jobs, backend)
    root = root_sequence(seed)
    pairs = [(m, t, choose_engine(m, t, detail=design.needs_detail and k == 0, engine=engine))
             for k, (m, t) in enumerate(design.simulated_trials(model, trial))]
    bounds = chunk_bounds(int(n_replicates), CHUNK_SIZE)
    tasks = [(pairs, design, trial, root, c, start, stop) for c, (start, stop) in enumerate(bounds)]
    began = time.perf_counter()
    work = run_chunk if keep_outcomes else run_chunk_summary
    parts, used = execute(work, tasks, n_workers=workers, backend=backend, scheduler=scheduler, progress=progress,
                          total=int(n_replicates))
    if keep_outcomes:
        outcome = DesignOutcome.concatenate(parts)
        summary = OutcomeSummary.of(outcome)
    else:
        outcome, summary = None, OutcomeSummary.combine(parts)
    entropy, spawn_key = seed_record(root)
    return MonteCarloResult(outcome=outcome, summary=summary, seed=entropy, spawn_key=spawn_key,
                            engine="+".join(dict.fromkeys(p[2] for p in pairs)), n_replicates=int(n_replicates),
                            n_chunks=len(bounds), backend=backend if used > 1 else "in-process", n_workers=used,
                            elapsed_seconds=time.perf_counter() - began)


def execute(work: Callable[..., Any], tasks: list[tuple], *, n_workers: int, backend: str = "loky",
            scheduler: str | None = None, progress: Callable[[int, int], None] | None = None,
            total: int = 0) -> tuple[list, int]:
    """Run ``work(*task)`` for every task, in-process or on a pool, and return the results in task order.

    The one place work is spread over workers (joblib, or dask through joblib): ``run`` uses it for chunks of
    replicates, and any other Monte Carlo (assurance draws, boundary calibration) may too. Each result must have an
    ``n_replicates`` attribute (reported to ``progress(done, total)``). A pool is started only when the first two
    tasks, measured in-process, say it pays off; the results never depend on it. Returns ``(results, workers
    used)`` (``-1`` for dask).
    """
    workers = n_workers
    parts: list = []
    done = 0

    def report(part) -> None:
        nonlocal done
        parts.append(part)
        done += part.n_replicates
        if progress is not None:
            progress(done, total)

    if backend == "dask":
        _run_on_dask(work, tasks, scheduler, report)
        return parts, -1
    if workers == 1 or len(tasks) == 1 or backend == "sequential":
        for task in tasks:
            report(work(*task))
        return parts, 1
    # Decide from measurements whether a pool pays off. Chunk 0 runs in-process and includes the engine's
    # one-off set-up (tables built per process, which every pool worker would pay again); chunk 1 gives the
    # steady cost of a chunk. A pool costs its start-up plus that set-up plus the rest spread over workers.
    t0 = time.perf_counter()
    report(work(*tasks[0]))
    first = time.perf_counter() - t0
    rest = tasks[1:]
    t1 = time.perf_counter()
    report(work(*rest[0]))
    steady = time.perf_counter() - t1
    rest = rest[1:]
    used = min(workers, len(rest))
    serial = steady * len(rest)
    pooled = _POOL_START_SECONDS + max(first - steady, 0.0) + serial / max(used, 1)
    if not rest or used < 2 or serial < _POOL_WORTH_SECONDS or pooled >= serial:
        for task in rest:
            report(work(*task))
        return parts, 1
    from joblib import Parallel, delayed

    with Parallel(n_jobs=used, backend=backend, return_as="generator") as parallel:
        for part in parallel(delayed(work)(*task) for task in rest):
            report(part)
    return parts, used


def _run_on_dask(work, tasks, scheduler, report) -> None:
    try:
        from distributed import Client, get_client
    except ImportError:  # pragma: no cover - depends on the environment
        raise invalid("backend", "'dask' needs dask.distributed: pip install 'trialsim[dask]'", "dask") from None
    from joblib import Parallel, delayed, parallel_config

    own = None
    if scheduler is not None:
        try:
            own = Client(scheduler, timeout=10)
        except (OSError, TimeoutError) as exc:
            raise invalid("scheduler", f"must be a dask scheduler that answers ({exc})", scheduler) from None
    else:
        try:
            get_client()
        except ValueError:
            own = Client(processes=False)
    try:
        with parallel_config(backend="dask"):
            for part in Parallel(n_jobs=-1, return_as="generator")(delayed(work)(*t) for t in tasks):
                report(part)
    finally:
        if own is not None:
            own.close()
