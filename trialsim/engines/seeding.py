"""The seed tree: one integer fixes every number, whatever the number of workers.

The root ``SeedSequence`` spawns one child per fixed-size chunk of replicates (the chunk, not the worker, owns
its stream), and each chunk's child spawns one stream per random component, so that changing one part of the
model leaves the other parts' draws as they were (common random numbers between scenarios).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import overload

import numpy as np

from ..exceptions import invalid

__all__ = ["CHUNK_SIZE", "COMPONENTS", "POOL_SIZE", "Seed", "root_sequence", "seed_record", "chunk_bounds",
           "ChunkBounds", "chunk_streams", "patient_draws", "JumpPools"]

#: Replicates per chunk. Fixed, so that results never depend on how chunks are spread over workers.
CHUNK_SIZE = 2000

#: One independent stream per random component of a simulated trial, in this order.
COMPONENTS = ("baseline", "randomisation", "accrual", "response", "taper", "infection", "dropout", "extra")
#: Jumps of the response process pre-drawn per patient. Without relapse a patient makes at most 3
#: (NR -> PR -> CR -> dead).
POOL_SIZE = 4
_DEFAULT_POOL_SIZE = np.random.SeedSequence(0).pool_size


#: What a public function accepts as its ``seed``.
Seed = int | np.integer | np.random.SeedSequence | np.random.Generator | None


def root_sequence(seed: Seed) -> np.random.SeedSequence:
    """The root of the tree, from the ``seed`` a public function was given.

    - a non-negative integer: ``SeedSequence(seed)``;
    - ``None``: fresh entropy from the operating system;
    - a ``SeedSequence`` (for instance a child of ``SeedSequence.spawn``): a copy with the same entropy and
      spawn key, so the results are those of that sequence and its own spawn counter is left alone;
    - a ``Generator``: a root whose entropy is the generator's next 63-bit integer.

    Every result records the root's entropy and spawn key (:func:`seed_record`); the root is rebuilt from them
    by ``SeedSequence(entropy, spawn_key=spawn_key)``, which repeats the run.

    Raises
    ------
    InputError
        For any other value, a negative integer, or a ``SeedSequence`` whose entropy is not one integer or
        whose pool size is not numpy's default (neither could be recorded as a seed that repeats the run).
    """
    if isinstance(seed, np.random.SeedSequence):
        if not isinstance(seed.entropy, (int, np.integer)):
            raise invalid("seed", "must be a SeedSequence with one integer of entropy", seed)
        if seed.pool_size != _DEFAULT_POOL_SIZE:
            raise invalid("seed", f"must be a SeedSequence with numpy's default pool size {_DEFAULT_POOL_SIZE}", seed)
        return np.random.SeedSequence(int(seed.entropy), spawn_key=tuple(int(k) for k in seed.spawn_key))
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence(int(seed.integers(0, 2**63)))
    if seed is not None and (not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0):
        raise invalid("seed", "must be a non-negative integer, a SeedSequence, a Generator or None", seed)
    return np.random.SeedSequence(None if seed is None else int(seed))


def seed_record(root: np.random.SeedSequence) -> tuple[int, tuple[int, ...]]:
    """``(entropy, spawn_key)``: what a result records so that ``SeedSequence(entropy, spawn_key=spawn_key)``
    (or, with an empty spawn key, the integer seed alone) repeats it.

    ``root`` is a root from :func:`root_sequence`, whose entropy is one integer; any other raises ``InputError``.
    """
    entropy = root.entropy
    if not isinstance(entropy, (int, np.integer)):
        raise invalid("seed", "must be a SeedSequence with one integer of entropy", root)
    return int(entropy), tuple(int(k) for k in root.spawn_key)


class ChunkBounds(Sequence[tuple[int, int]]):
    """``(start, stop)`` of each chunk of ``range(n_replicates)``, computed when asked for: a run of 10**9
    replicates does not build a list of half a million pairs before it starts (``len``, indexing, slicing and
    iteration work as on the list it stands for)."""

    __slots__ = ("n_replicates", "chunk_size")

    def __init__(self, n_replicates: int, chunk_size: int) -> None:
        self.n_replicates, self.chunk_size = n_replicates, chunk_size

    def __len__(self) -> int:
        return -(-self.n_replicates // self.chunk_size) if self.n_replicates > 0 else 0

    @overload
    def __getitem__(self, index: int) -> tuple[int, int]: ...

    @overload
    def __getitem__(self, index: slice) -> list[tuple[int, int]]: ...

    def __getitem__(self, index: int | slice) -> tuple[int, int] | list[tuple[int, int]]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        count = len(self)
        if index < 0:
            index += count
        if not 0 <= index < count:
            raise IndexError("chunk index out of range")
        start = index * self.chunk_size
        return start, min(start + self.chunk_size, self.n_replicates)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        for start in range(0, self.n_replicates, self.chunk_size):
            yield start, min(start + self.chunk_size, self.n_replicates)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ChunkBounds):
            return list(self) == list(other)
        return isinstance(other, (list, tuple)) and list(self) == list(other)

    def __repr__(self) -> str:
        return f"chunk_bounds({self.n_replicates}, {self.chunk_size})"


def chunk_bounds(n_replicates: int, chunk_size: int = CHUNK_SIZE) -> ChunkBounds:
    """``(start, stop)`` pairs covering ``range(n_replicates)`` in fixed-size chunks, as a lazy sequence."""
    return ChunkBounds(int(n_replicates), int(chunk_size))


def chunk_streams(root: np.random.SeedSequence, chunk_index: int) -> dict[str, np.random.Generator]:
    """One generator per component for chunk ``chunk_index`` of the tree under ``root``.

    Derived from ``root``'s entropy and spawn key without mutating ``root`` (``SeedSequence.spawn`` keeps a
    counter), so any chunk can be built alone, in any order, in any process.
    """
    chunk = np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, chunk_index))
    children = [np.random.SeedSequence(chunk.entropy, spawn_key=(*chunk.spawn_key, k))
                for k in range(len(COMPONENTS))]
    return {name: np.random.default_rng(child) for name, child in zip(COMPONENTS, children)}


def patient_draws(draw: Callable[[tuple[int, ...]], np.ndarray], n_replicates: int, n: int,
                  *trailing: int) -> np.ndarray:
    """Random numbers for ``n`` patients of ``n_replicates`` replicates, laid out patient by patient.

    ``draw`` is a generator method such as ``rng.random`` or ``rng.standard_exponential``. It is called once
    with shape ``(n, R, *trailing)``, so the numbers of patient k (of every replicate) occupy the same stream
    positions whatever n is: a trial with more patients appends patients and leaves the draws of the first
    ones as they were. That is what makes neighbouring trial sizes share their randomness (common random
    numbers across n). A layout replicate by replicate, ``(R, n)``, would shift every replicate's numbers
    when n changes.

    Returns
    -------
    ndarray
        C-contiguous, shape ``(R, n, *trailing)``: replicates first, as the engines' contract has it.
    """
    return np.ascontiguousarray(np.moveaxis(draw((n, n_replicates, *trailing)), 0, 1))


class JumpPools:
    """The response stream's numbers for the patients' jump-by-jump paths in one chunk, patient by patient.

    Per patient: a uniform that makes them a stayer or a mover (``stayer_u``), and ``POOL_SIZE`` unit
    exponentials (holding times) and uniforms (destinations), one of each per jump. Each of the three comes
    from its own child of the response stream (``Generator.spawn``), because arrays drawn one after another
    from one stream would start at a position that depends on n. A patient who makes more jumps (possible only
    with relapse) takes their ``k``-th refill from :meth:`refill`: every patient's refill is drawn, patient by
    patient, from generators keyed by (``refill_key``, ``k``), so no patient's path depends on the size of the
    trial or on who else needed a refill. Both engines use these pools.

    One rule holds for every stream: at most one array is drawn from a generator, or else the arrays after the
    first would start at a position that depends on n.
    """

    __slots__ = ("refill_key", "stayer_u", "exponentials", "uniforms", "_refills")

    def __init__(self, rng: np.random.Generator, n_replicates: int, n: int) -> None:
        self.refill_key = int(rng.integers(0, 2**63))
        stayer, holding, destination = rng.spawn(3)
        self.stayer_u = patient_draws(stayer.random, n_replicates, n)
        self.exponentials = patient_draws(holding.standard_exponential, n_replicates, n, POOL_SIZE)
        self.uniforms = patient_draws(destination.random, n_replicates, n, POOL_SIZE)
        self._refills: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def refill(self, number: int) -> tuple[np.ndarray, np.ndarray]:
        """Refill ``number`` (1, 2, ...) of every patient: exponentials and uniforms, each ``(R, n, POOL_SIZE)``."""
        if number not in self._refills:
            r, n = self.stayer_u.shape
            holding, destination = (np.random.default_rng([self.refill_key, number, part]) for part in (0, 1))
            self._refills[number] = (patient_draws(holding.standard_exponential, r, n, POOL_SIZE),
                                     patient_draws(destination.random, r, n, POOL_SIZE))
        return self._refills[number]
