"""What a Monte Carlo run may use, checked before it starts: workers and memory.

``n_jobs`` is capped at the machine's cores (:func:`worker_count`). The memory a chunk of replicates needs, and
that of every replicate's kept outcome, is estimated from measured bytes per patient and per outcome; a run that
cannot fit in the memory this process may still allocate (:func:`available_memory`: the system's available
memory, a cgroup's limit, ``RLIMIT_AS``) is refused naming the trial's ``n`` or ``n_replicates`` and the largest
value that fits (:func:`check_memory`), and so is a patient-level table too large to keep
(:func:`check_table_memory`). The number of workers is cut to what fits.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np

from ..engines.seeding import CHUNK_SIZE
from ..exceptions import invalid
from ..model import DiseaseModel, Trial

__all__ = ["worker_count", "available_memory", "chunk_memory", "check_memory", "check_table_memory"]

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


def worker_count(n_jobs: int | None) -> int:
    """The workers ``n_jobs`` asks for (``None`` or -1: all cores), capped at the machine's cores: more workers
    than cores only compete for them (and each costs a process and its memory)."""
    cores = os.cpu_count() or 1
    if n_jobs is None or (isinstance(n_jobs, (int, np.integer)) and not isinstance(n_jobs, bool) and n_jobs == -1):
        return cores
    if not isinstance(n_jobs, (int, np.integer)) or isinstance(n_jobs, bool) or n_jobs < 1:
        raise invalid("n_jobs", "must be a positive integer, -1 (all cores) or None", n_jobs)
    return min(int(n_jobs), cores)


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
