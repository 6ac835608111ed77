"""Enrolment, for both engines: baseline covariates, permuted-block randomisation and accrual times.

Each function draws from the generator it is given (one stream per component, :mod:`trialsim.engines.seeding`) and
returns arrays of shape ``(R, n)``, patients in order of enrolment. The draws are laid out patient by patient
(:func:`trialsim.engines.seeding.patient_draws`; for randomisation, block by block), so patient k of replicate r gets
the same numbers whatever n is: a larger trial appends patients to a smaller one (common random numbers
across n). The shapes drawn never depend on the values drawn, so a chunk's streams are consumed the same way
whatever the engine does next.
"""

from __future__ import annotations

import functools

import numpy as np

from ..model import Accrual, BaselineMix, Trial
from .seeding import patient_draws

__all__ = ["draw_baseline", "block_patterns", "randomise", "draw_entry"]

#: Largest number of distinct block arrangements kept as a lookup table (else: argsort of uniforms).
_MAX_PATTERNS = 4096
#: Strata of the stratified randomisation: the underlying diseases of :data:`trialsim.model.DISEASES`.
_N_STRATA = 3


def draw_baseline(baseline: BaselineMix, n_replicates: int, n: int,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Sex and underlying disease, independent across patients: ``(female bool, stratum int8)``.

    One uniform per patient serves both: the stratum is the interval of the disease distribution that ``u``
    falls in, and the position of ``u`` inside that interval, ``(u - start) / width``, is again uniform and
    independent of the stratum, so ``female = position < female_fraction``.
    """
    u = patient_draws(rng.random, n_replicates, n)
    widths = np.asarray(baseline.disease_fractions)
    starts = np.concatenate(([0.0], np.cumsum(widths)[:-1]))
    # stratum = number of interval starts (after the first) that u has passed: inverse CDF of 3 points
    stratum = (u >= starts[1]).view(np.int8)
    for c in starts[2:]:
        stratum += (u >= c).view(np.int8)
    # female <=> (u - start) / width < female_fraction <=> u < start + female_fraction * width
    female = u < np.take(starts + baseline.female_fraction * widths, stratum)
    return female, stratum


def _multiset_permutations(counts: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Every distinct ordering of a block holding ``counts[i]`` copies of arm ``i``."""
    total = sum(counts)
    if total == 0:
        return [()]
    out: list[tuple[int, ...]] = []
    for i, c in enumerate(counts):
        if c:
            rest = counts[:i] + (c - 1,) + counts[i + 1:]
            out.extend((i,) + tail for tail in _multiset_permutations(rest))
    return out


@functools.lru_cache(maxsize=64)
def block_patterns(allocation: tuple[int, ...], block_size: int) -> np.ndarray | None:
    """All distinct arrangements of one permuted block (K, block_size) int8, or None when K is too large.

    A uniformly random permutation of a block's multiset of arm labels gives each distinct arrangement with
    probability 1/K, so drawing one row uniformly is the same distribution as shuffling the block.
    """
    unit = block_size // sum(allocation)
    counts = tuple(a * unit for a in allocation)
    if _count_arrangements(counts, _MAX_PATTERNS) > _MAX_PATTERNS:
        return None
    return np.array(_multiset_permutations(counts), dtype=np.int8)


def _count_arrangements(counts: tuple[int, ...], limit: int) -> int:
    """The number of distinct orderings of a block (a multinomial coefficient), or ``limit + 1`` as soon as it
    exceeds ``limit``: never ``factorial(block_size)``, whose size grows without bound with the block."""
    largest, *others = sorted(counts, reverse=True)
    total = largest  # the largest arm first: its coefficient C(largest, largest) is 1
    count = 1
    for c in others:  # multiply in one binomial coefficient per arm, C(total + c, c), term by term
        for k in range(1, c + 1):
            total += 1
            count = count * total // k  # exact: a product of k consecutive integers over k! stays integral
            if count > limit:
                return limit + 1
    return count


def _block_sequences(trial: Trial, shape: tuple[int, ...], length: int, rng: np.random.Generator) -> np.ndarray:
    """Arm labels of consecutive permuted blocks: ``shape + (length,)`` int8 (the last block truncated).

    Drawn block by block (all of block j, for every replicate and stratum, before block j + 1), so a longer
    sequence appends blocks to a shorter one.
    """
    b = trial.effective_block_size
    n_blocks = -(-length // b)
    patterns = block_patterns(trial.allocation, b)
    if patterns is not None:
        k = patterns.shape[0]
        dtype = np.uint8 if k <= 256 else np.uint16
        pick = np.moveaxis(rng.integers(0, k, size=(n_blocks,) + shape, dtype=dtype), 0, -1)
        if b in (2, 4, 8):  # gather whole blocks: each arrangement's b int8 labels read as one b-byte integer
            seq = np.ascontiguousarray(patterns.view(f"i{b}")[:, 0][pick]).view(np.int8)
        else:
            seq = patterns[pick]
    else:
        unit = b // sum(trial.allocation)
        base = np.repeat(np.arange(len(trial.allocation), dtype=np.int8), [a * unit for a in trial.allocation])
        keys = np.moveaxis(rng.random((n_blocks,) + shape + (b,)), 0, -2)
        seq = base[np.argsort(keys, axis=-1)]
    return seq.reshape(shape + (n_blocks * b,))[..., :length]


def randomise(trial: Trial, stratum: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Arm of each patient (int8, (R, n)): permuted blocks in enrolment order, within disease when stratified.

    A block of size ``B`` holds arm ``a`` exactly ``B * allocation[a] / sum(allocation)`` times, in random
    order. Unstratified: one sequence of blocks per trial. Stratified: one sequence per stratum, and the k-th
    patient of a stratum gets that stratum's k-th assignment, so every stratum's arm counts differ from the
    allocation ratio by less than one block. Always ``ceil(n / B)`` blocks per sequence are drawn (for every
    stratum when stratified), so the stream is consumed the same way whatever the strata turn out to be.
    """
    r, n = stratum.shape
    if trial.n_arms == 1:
        return np.zeros((r, n), dtype=np.int8)
    if not trial.stratified:
        return np.ascontiguousarray(_block_sequences(trial, (r,), n, rng))
    seq = _block_sequences(trial, (r, _N_STRATA), n, rng)  # one block sequence per stratum
    # position of each patient among the earlier-enrolled patients of the same stratum: one cumulative sum of
    # per-stratum counters packed into 21-bit fields of an int64 (n < 2^21), read back at the patient's field
    shift = 21 * stratum.astype(np.int64)
    packed = np.cumsum(np.left_shift(1, shift), axis=1)
    rank = (np.right_shift(packed, shift) & ((1 << 21) - 1)) - 1
    flat = (np.arange(r)[:, None] * _N_STRATA + stratum) * n + rank
    return np.ascontiguousarray(seq).reshape(-1)[flat]


def draw_entry(accrual: Accrual, n_replicates: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Calendar enrolment times (R, n), non-decreasing within a replicate.

    ``instant``: all zero (no draws). Poisson: arrival ``k`` is the sum of ``k`` exponential gaps. Piecewise:
    the unit-rate arrival times ``y`` mapped through the inverse of the cumulative intensity
    ``Lambda(t) = sum_j rates[j] |[starts[j], starts[j+1]) intersect [0, t)|`` (time change of a Poisson
    process), so that arrivals in piece ``j`` come at rate ``rates[j]``.
    """
    if accrual.kind == "instant":
        return np.zeros((n_replicates, n))
    y = np.cumsum(patient_draws(rng.standard_exponential, n_replicates, n), axis=1)
    if accrual.kind == "poisson":
        return y / accrual.rate
    rates, starts = accrual.piecewise()
    widths = np.diff(starts)
    cum = np.concatenate(([0.0], np.cumsum(rates[:-1] * widths)))  # Lambda at each piece's start
    # side="right" skips pieces of zero rate (flat Lambda), landing on the piece where the arrival happens
    # (Accrual requires the open last piece to have a positive rate)
    k = np.searchsorted(cum, y, side="right") - 1
    return starts[k] + (y - cum[k]) / rates[k]
