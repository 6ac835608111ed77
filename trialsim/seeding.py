"""The seed tree: one integer fixes every number, whatever the number of workers.

The root ``SeedSequence`` spawns one child per fixed-size chunk of replicates (the chunk, not the worker, owns
its stream), and each chunk's child spawns one stream per random component, so that changing one part of the
model leaves the other parts' draws as they were (common random numbers between scenarios).
"""

from __future__ import annotations

import numpy as np

__all__ = ["CHUNK_SIZE", "COMPONENTS", "root_sequence", "chunk_bounds", "chunk_streams", "root_entropy"]

#: Replicates per chunk. Fixed, so that results never depend on how chunks are spread over workers.
CHUNK_SIZE = 2000

#: One independent stream per random component of a simulated trial, in this order.
COMPONENTS = ("baseline", "randomisation", "accrual", "response", "taper", "infection", "dropout", "extra")


def root_sequence(seed: int | np.random.SeedSequence | None) -> np.random.SeedSequence:
    """The root of the tree. ``None`` draws fresh entropy (recorded in every result so the run can be repeated)."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if seed is not None and (not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0):
        raise ValueError(f"`seed` must be a non-negative integer or None; got {seed!r}")
    return np.random.SeedSequence(seed)


def root_entropy(root: np.random.SeedSequence) -> int:
    """The integer that recreates ``root`` (its entropy)."""
    return int(root.entropy)


def chunk_bounds(n_replicates: int, chunk_size: int = CHUNK_SIZE) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` covering ``range(n_replicates)`` in fixed-size chunks."""
    return [(s, min(s + chunk_size, n_replicates)) for s in range(0, n_replicates, chunk_size)]


def chunk_streams(root: np.random.SeedSequence, chunk_index: int) -> dict[str, np.random.Generator]:
    """One generator per component for chunk ``chunk_index`` of the tree under ``root``.

    Derived from ``root``'s entropy and spawn key without mutating ``root`` (``SeedSequence.spawn`` keeps a
    counter), so any chunk can be built alone, in any order, in any process.
    """
    chunk = np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, chunk_index))
    children = [np.random.SeedSequence(chunk.entropy, spawn_key=(*chunk.spawn_key, k))
                for k in range(len(COMPONENTS))]
    return {name: np.random.default_rng(child) for name, child in zip(COMPONENTS, children)}
