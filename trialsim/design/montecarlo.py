"""Monte Carlo runs: the seed tree, chunking, engine choice, and joblib over chunks.

A run of R replicates is cut into fixed-size chunks (:data:`trialsim.engines.seeding.CHUNK_SIZE`). Chunk c draws its
random numbers from ``seeding.chunk_streams(root, c)`` and nothing else, simulates its trials with one engine
and reduces them at once to per-replicate results through the design (success, p-value, deaths, duration),
so memory is bounded by the chunk size. Chunks run in any order on any worker and are joined in chunk order,
so the same seed gives bit-identical results for every ``n_jobs`` and every backend (joblib's loky processes or
threads, or a dask.distributed cluster).

Resources are checked before any work starts: ``n_jobs`` is capped at the machine's cores, the memory a chunk
needs (and, when kept, every replicate's outcome) is estimated and a run that cannot fit in the memory available
is refused (:func:`check_memory`), the chunks' tasks are made one at a time as workers take them, and a dask
scheduler is given ``timeout`` seconds to answer and to have a worker (:data:`DASK_TIMEOUT`).

A design that needs a second simulated cohort per replicate (a historical control arm) draws it from a
second seed tree under the same root (spawn key ``SECONDARY_KEY + k``); it does not depend on the trial's
size, so contrasts across n share the historical arms.

joblib is imported here and nowhere else.
"""

from __future__ import annotations

import collections
import contextlib
import math
import os
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

import numpy as np

from ..engines.batch import TrialBatch
from .rules import Design, DesignOutcome
from ..exceptions import InputError, invalid
from ..model.validation import MAX_REPLICATES, check_choice, check_count, check_number
from ..model import DiseaseModel, Trial
from ..engines.seeding import CHUNK_SIZE, Seed, chunk_bounds, chunk_streams, root_sequence, seed_record
from ..stats.checks import quiet_degenerate

__all__ = ["MonteCarloResult", "OutcomeSummary", "run", "run_chunk", "execute", "choose_engine", "BACKENDS", "ENGINES",
           "SECONDARY_KEY", "DASK_TIMEOUT", "available_memory", "chunk_memory", "check_memory", "check_scheduler",
           "worker_count", "stop_workers", "check_table_memory"]

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
#: Seconds a dask scheduler has to answer, to have a worker, and to come back when it stops answering.
DASK_TIMEOUT = 30.0
#: How often (seconds) a wait for a dask result checks that the cluster is still there.
_DASK_POLL = 1.0
#: Peak bytes per patient and replicate while a chunk runs, by engine (measured: 84 vectorised, 160 to 260 DES;
#: rounded up). A chunk of 2,000 trials of 40 patients: about 10 MB vectorised.
_BYTES_PER_PATIENT = {"vectorized": 120, "des": 400}
#: Bytes per replicate of a kept outcome (success, p-value, deaths by group, duration, flags).
_BYTES_PER_OUTCOME = 100
#: Share of the available memory a run plans to use (the rest: the interpreter, libraries, estimate error).
_MEMORY_SHARE = 0.8
#: Bytes per patient row of a simulated table kept whole (the batch, its frame and the writer's buffers), by
#: engine (measured: 540 vectorised, 830 DES, 2,300 DES with its event log; rounded up).
_BYTES_PER_ROW = {"vectorized": 600, "des": 1000, "des+log": 4000}


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


def worker_count(n_jobs: int | None) -> int:
    """The workers ``n_jobs`` asks for (``None`` or -1: all cores), capped at the machine's cores: more workers
    than cores only compete for them (and each costs a process and its memory)."""
    cores = os.cpu_count() or 1
    if n_jobs is None or (isinstance(n_jobs, (int, np.integer)) and not isinstance(n_jobs, bool) and n_jobs == -1):
        return cores
    if not isinstance(n_jobs, (int, np.integer)) or isinstance(n_jobs, bool) or n_jobs < 1:
        raise invalid("n_jobs", "must be a positive integer, -1 (all cores) or None", n_jobs)
    return min(int(n_jobs), cores)


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


# ------------------------------------------------------------------------------------------------ memory


def available_memory() -> int | None:
    """Bytes this process can still allocate: the system's available memory, capped by a cgroup's limit and by
    ``RLIMIT_AS``; ``None`` where none of them can be read."""
    found: list[int] = []
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    if not found:
        try:
            found.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (AttributeError, OSError, ValueError):
            pass
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            with open(limit_file, encoding="ascii") as fh:
                limit = fh.read().strip()
            with open(usage_file, encoding="ascii") as fh:
                usage = int(fh.read().strip())
        except (OSError, ValueError):
            continue
        if limit.isdigit() and int(limit) < 2 ** 60:
            found.append(max(int(limit) - usage, 0))
        break
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY:
            with open("/proc/self/statm", encoding="ascii") as fh:
                size = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
            found.append(max(soft - size, 0))
    except (ImportError, OSError, ValueError, IndexError):
        pass
    return min(found) if found else None


def _per_replicate_bytes(pairs: Sequence[tuple[DiseaseModel, Trial, str]]) -> tuple[float, float]:
    """(bytes of one replicate of a chunk that grow with the trial's n, bytes that do not), summed over the
    cohorts a design simulates. Randomisation in blocks too large to tabulate sorts one uniform per place of
    every block (padded to whole blocks, per stratum when stratified)."""
    from ..engines.enrolment import block_patterns

    per_patient = 0.0
    fixed = 0.0
    for k, (_, trial_k, engine_name) in enumerate(pairs):
        rate = _BYTES_PER_PATIENT.get(engine_name, _BYTES_PER_PATIENT["des"])
        if k == 0:
            per_patient += rate
        else:
            fixed += rate * trial_k.n
        block = trial_k.effective_block_size
        if trial_k.n_arms > 1 and block_patterns(trial_k.allocation, block) is None:
            padding = block * (3 if trial_k.stratified else 1) * 24  # keys, argsort indices, labels
            if k == 0:
                per_patient += padding / block
                fixed += padding
            else:
                fixed += padding * math.ceil(trial_k.n / block)
    return per_patient, fixed


def chunk_memory(pairs: Sequence[tuple[DiseaseModel, Trial, str]], replicates: int = CHUNK_SIZE) -> int:
    """Estimated peak bytes of one chunk of ``replicates`` replicates (at most :data:`CHUNK_SIZE`) of the cohorts
    ``pairs`` ((model, trial, engine) as :func:`run` builds them)."""
    per_patient, fixed = _per_replicate_bytes(pairs)
    return int(min(replicates, CHUNK_SIZE) * (per_patient * pairs[0][1].n + fixed))


def _gigabytes(n_bytes: float) -> str:
    return f"{n_bytes / 2 ** 30:,.1f} GB"


def check_memory(pairs: Sequence[tuple[DiseaseModel, Trial, str]], *, n_replicates: int, workers: int,
                 keep_outcomes: bool, chunks_here: bool = True, outcomes_per_replicate: float = 1.0,
                 available: int | None = None) -> int:
    """The workers that fit in memory (at most ``workers``), or ``InputError`` when even one chunk, with the
    kept outcomes, does not: naming the trial's ``n`` (``Trial.n``) or ``n_replicates`` and the largest value
    that would fit.

    ``chunks_here``: the chunks run in this machine's memory (not on a dask cluster's workers).
    ``outcomes_per_replicate``: outcomes kept per replicate asked for (a search keeps several trial sizes).
    ``available`` defaults to :func:`available_memory`; when that is unknown, nothing is checked.
    """
    available = available_memory() if available is None else available
    if available is None:
        return workers
    budget = _MEMORY_SHARE * available
    trial = pairs[0][1]
    replicates = min(n_replicates, CHUNK_SIZE)  # a run of fewer replicates than a chunk has a smaller chunk
    chunk = chunk_memory(pairs, replicates) if chunks_here else 0
    per_replicate = _BYTES_PER_OUTCOME * outcomes_per_replicate
    kept = n_replicates * per_replicate if keep_outcomes else 0
    if chunk > budget:
        per_patient, fixed = _per_replicate_bytes(pairs)
        fit = int((budget / replicates - fixed) / per_patient) if per_patient else 0
        step = sum(trial.allocation)
        fit = max(fit - fit % step, 0)
        raise invalid("Trial.n", f"must be at most {fit:,} on this machine: one chunk of {replicates:,} simulated "
                      f"trials of {trial.n:,} patients needs about {_gigabytes(chunk)}, and "
                      f"{_gigabytes(available)} of memory is available", trial.n)
    if chunk + kept > budget:
        fit = max(int((budget - chunk) / per_replicate), 1)
        raise invalid("n_replicates", f"must be at most {fit:,} on this machine: keeping every simulated trial's "
                      f"outcome needs about {_gigabytes(kept)}, and {_gigabytes(available)} of memory is available",
                      n_replicates)
    return max(1, min(workers, int((budget - kept) // max(chunk, 1))))


def check_table_memory(n_replicates: int, n: int, engine: str, *, events_log: bool = False,
                       available: int | None = None) -> None:
    """Refuse (``InputError`` naming ``n_replicates`` and what fits) a patient-level table of ``n_replicates``
    trials of ``n`` patients that cannot be kept in the memory available (``trialsim simulate``)."""
    available = available_memory() if available is None else available
    if available is None:
        return
    per_row = _BYTES_PER_ROW["des+log" if events_log else engine]
    need = n_replicates * n * per_row
    budget = _MEMORY_SHARE * available
    if need > budget:
        fit = int(budget // (n * per_row))
        if fit < 1:
            raise invalid("Trial.n", f"must be at most {int(budget // per_row):,} on this machine: the table needs "
                          f"about {_gigabytes(need)}, and {_gigabytes(available)} of memory is available", n)
        raise invalid("n_replicates", f"must be at most {fit:,} on this machine: {n_replicates * n:,} patient rows "
                      f"need about {_gigabytes(need)}, and {_gigabytes(available)} of memory is available",
                      n_replicates)


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
        Seconds a dask scheduler has to answer and to have a worker (default :data:`DASK_TIMEOUT`).

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
        _run_on_dask(work, tasks, scheduler, report, DASK_TIMEOUT if timeout is None else timeout)
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


# -------------------------------------------------------------------------------------------------- dask


def check_scheduler(address: Any) -> str:
    """A dask scheduler address, checked before any connection: ``tcp://host:port`` (or ``tls://``, ``ws://``,
    ``wss://``, or a plain ``host:port``, read as tcp). Returns it with its scheme."""
    return _split_scheduler(address)[0]


def _split_scheduler(address: Any) -> tuple[str, str, int]:
    """(address with its scheme, host, port), or ``InputError``."""
    rule = "must be a dask scheduler address like tcp://host:8786"
    if not isinstance(address, str) or not 0 < len(address) <= 255 or not address.isprintable() \
            or any(c.isspace() for c in address):
        raise invalid("scheduler", rule, address)
    scheme, _, location = address.rpartition("://")
    if scheme not in ("", "tcp", "tls", "ws", "wss"):
        raise invalid("scheduler", rule + f" (tcp, tls, ws or wss, not {scheme})", address)
    host, _, port = location.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host  # [::1]:8786
    if not host or "/" in location or not port.isascii() or not port.isdigit() or not 0 < int(port) < 65536:
        raise invalid("scheduler", rule + " (a host and a port)", address)
    return (address if scheme else f"tcp://{address}"), host, int(port)


def _run_async(coroutine) -> Any:
    """Run ``coroutine`` to the end on an event loop of its own (in a thread when this one already runs a loop)."""
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coroutine)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _handshake(address: str, timeout: float) -> None:
    """Connect and exchange dask's handshake within ``timeout`` seconds, or ``InputError`` naming what went wrong.

    dask's own connection waits for the other side's handshake without a time limit, so a server that accepts
    the connection and never answers would hang the run: this first contact is bounded.
    """
    import asyncio
    import socket

    from distributed.comm import connect

    address, host, port = _split_scheduler(address)
    try:  # a refused connection fails at once (dask would retry it until the timeout)
        socket.create_connection((host, port), timeout=timeout).close()
    except (TimeoutError, socket.timeout):
        raise invalid("scheduler", f"must answer within {timeout:g} s (--timeout)", address) from None
    except OSError as exc:
        raise invalid("scheduler", f"must be a dask scheduler that answers ({_reason(exc)})", address) from None

    async def contact() -> None:
        comm = await asyncio.wait_for(connect(address, timeout=timeout), timeout)
        await comm.close()

    try:
        _run_async(contact())
    except (TimeoutError, asyncio.TimeoutError):
        raise invalid("scheduler", f"must answer within {timeout:g} s (--timeout)", address) from None
    except OSError as exc:
        raise invalid("scheduler", f"must be a dask scheduler that answers ({_reason(exc)})", address) from None
    except Exception as exc:  # noqa: BLE001 - anything else: the server does not speak dask's protocol
        raise invalid("scheduler", f"must be a dask scheduler (the server there does not speak dask's protocol: "
                      f"{type(exc).__name__})", address) from None


def _reason(exc: BaseException) -> str:
    """One short line about a connection error (dask nests the system's reason in long messages)."""
    cause = exc
    while cause.__cause__ is not None:
        cause = cause.__cause__
    text = getattr(cause, "strerror", None) or str(cause).split("\n")[0] or type(cause).__name__
    return text if len(text) <= 80 else text[:77] + "..."


@contextlib.contextmanager
def _quiet_dask_logs() -> Iterator[None]:
    """dask logs a lost connection as an error with a traceback of dozens of lines; the run reports it in one."""
    import logging

    loggers = [logging.getLogger(name) for name in ["distributed", *logging.Logger.manager.loggerDict]
               if name == "distributed" or name.startswith("distributed.")]
    before = [logger.disabled for logger in loggers]  # dask sets some of their levels itself: silence them all
    for logger in loggers:
        logger.disabled = True
    try:
        yield
    finally:
        for logger, disabled in zip(loggers, before):
            logger.disabled = disabled


def _run_on_dask(work, tasks, scheduler, report, timeout: float) -> None:
    try:
        from distributed import Client, get_client
    except ImportError:  # pragma: no cover - depends on the environment
        raise invalid("backend", "'dask' needs dask.distributed: pip install 'trialsim[dask]'", "dask") from None
    own = None
    with _quiet_dask_logs():
        if scheduler is not None:
            address = check_scheduler(scheduler)
            _handshake(address, timeout)
            try:
                own = client = Client(address, timeout=timeout, set_as_default=False)
            except Exception as exc:  # noqa: BLE001 - answered the handshake, yet is not a scheduler
                raise invalid("scheduler", f"must be a dask scheduler ({_reason(exc)})", scheduler) from None
        else:
            try:
                client = get_client()
            except ValueError:
                own = client = Client(processes=False, dashboard_address=None, set_as_default=False)
        try:
            _drive(client, work, tasks, report, timeout, scheduler or "the local cluster")
        finally:
            if own is not None:
                with contextlib.suppress(Exception):
                    own.close(timeout=timeout)


def _drive(client, work, tasks, report, timeout: float, where: str) -> None:
    """Submit the tasks a few at a time (the cluster's threads, twice over) and report the results in task order,
    checking while waiting that the scheduler is still there and still has a worker."""
    from concurrent.futures import CancelledError

    def lost(what: str) -> InputError:
        return invalid("scheduler", f"must stay reachable during the run ({what})", where)

    try:
        client.wait_for_workers(1, timeout=timeout)
        threads = sum(client.nthreads(callback_timeout=timeout).values())
    except (TimeoutError, OSError):
        raise invalid("scheduler", f"must have a worker (none joined within {timeout:g} s; --timeout)",
                      where) from None
    window = max(4, 2 * threads)
    pending: collections.deque = collections.deque()
    source = iter(tasks)

    def top_up() -> None:
        while len(pending) < window:
            task = next(source, None)
            if task is None:
                return
            pending.append(client.submit(work, *task, pure=False))

    try:
        top_up()
        idle_since: float | None = None
        while pending:
            try:
                part = pending[0].result(timeout=_DASK_POLL)
            except TimeoutError:
                if client.status not in ("running", "connecting"):
                    raise lost(f"the client is {client.status}") from None
                try:
                    workers = len(client.nthreads(callback_timeout=timeout))
                except (TimeoutError, OSError, CancelledError):
                    raise lost("the scheduler stopped answering") from None
                now = time.monotonic()
                idle_since = None if workers else (idle_since or now)
                if idle_since is not None and now - idle_since > timeout:
                    raise lost(f"no worker for {timeout:g} s") from None
                continue
            except (CancelledError, OSError) as exc:
                reason = getattr(exc, "reason", None) or _reason(exc)  # dask's reason: scheduler-connection-lost
                raise lost(f"the connection to the scheduler was lost: {reason}") from None
            except Exception as exc:
                if type(exc).__name__ == "KilledWorker":  # distributed.scheduler.KilledWorker
                    raise lost("workers died running a chunk, again and again") from None
                raise
            pending.popleft()
            report(part)
            top_up()
    finally:
        if pending:
            with contextlib.suppress(Exception):
                client.cancel(list(pending))
