"""Sorted-key kernels: log-rank sums and Kaplan-Meier products over a batch of trials at once.

A batch is a 2-D array, replicates x patients. Each row is sorted once, as a row of 64-bit integer keys that
pack (stratum, time, event, group): numpy sorts int64 with SIMD several times faster than it argsorts, and the
sorted keys carry everything the statistics need, so no index gather follows the sort.

Times enter the key through an exact, order-preserving integer code (:func:`encode_times`), so ties are found
exactly. Tie groups (equal stratum and time) are resolved with cumulative sums: the counts before a tie
group's first member come from a running maximum of the cumulative counts taken at group starts (the counts
never decrease, so the latest start holds the maximum), which avoids a gather. Three counts (events,
patients, group-1 patients) are packed into one int64 so that one cumulative sum and one running maximum
serve all three.

Rows are processed in chunks of about 10,000 cells with preallocated buffers: the arrays then stay in cache,
and fresh large arrays (which glibc maps and unmaps, so that every page faults anew) are avoided. Chunking is
by whole rows, so results do not depend on it.

Everything here is private and assumes validated input (float64 times >= 0 and finite without ``-0.0``,
boolean events, int8 0/1 group codes, int64 stratum codes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["MAX_PATIENTS", "TimeCodes", "encode_times", "logrank_two_groups", "km_at", "logrank_k_groups"]

_BITS = 21                      # width of one packed count field
_MASK = (1 << _BITS) - 1
MAX_PATIENTS = 1 << 20          # counts must fit a 21-bit field
_MANTISSA_BITS = 52
_CHUNK_CELLS = 10_240           # cells per chunk: ~80 kB per int64 buffer


def _chunk_rows(n: int) -> int:
    return max(1, _CHUNK_CELLS // n)


@dataclass(frozen=True, slots=True)
class TimeCodes:
    """Exact order-preserving int64 codes of non-negative float64 times (equal times, equal codes)."""

    codes: np.ndarray
    width: int                   # bits the largest code needs
    base: int | None             # exponent-shift encoding: code = bits(t) - base + 1 for t > 0, 0 for t = 0
    values: np.ndarray | None    # rank encoding (fallback): code = index into the sorted distinct values

    def threshold(self, t: np.ndarray | float) -> np.ndarray:
        """Largest code whose time is <= ``t`` (-1 if no time can be), elementwise; ``t`` may be ``inf``."""
        t = np.asarray(t, dtype=np.float64)
        if self.values is not None:
            return np.searchsorted(self.values, t, side="right").astype(np.int64) - 1
        assert self.base is not None  # encode_times sets one encoding: the base or the values
        bits = np.ascontiguousarray(np.abs(t)).reshape(-1).view(np.int64).reshape(t.shape)
        if self.base == 0:
            out = bits.astype(np.int64)
        else:
            out = np.where(bits >= self.base, bits - (self.base - 1), 0)
        return np.where(t < 0, -1, out).astype(np.int64)


def encode_times(time: np.ndarray, spare_bits: int, out: np.ndarray | None = None) -> TimeCodes:
    """Codes for ``time`` (float64, >= 0, no ``-0.0``) that leave ``spare_bits`` free below the sign bit.

    For non-negative doubles the IEEE bit pattern read as an integer is monotone in the value. Subtracting the
    pattern of the smallest power of two in use frees the high bits whenever the times span fewer than about
    2**(11 - spare_bits) binades (always, in practice); otherwise the times are replaced by their ranks among
    the distinct values, which is exact too but needs a full sort.
    """
    u = np.ascontiguousarray(time).view(np.int64)
    if out is None:
        out = np.empty_like(u)
    umax = int(u.max())
    if umax == 0:
        out[...] = 0
        return TimeCodes(codes=out, width=0, base=1, values=None)
    umin = int(u.min())
    smallest_positive = umin if umin > 0 else int((u + (u == 0) * umax).min())
    base = (smallest_positive >> _MANTISSA_BITS) << _MANTISSA_BITS
    width = (umax - base + 1).bit_length()
    if width + spare_bits <= 63:
        if base == 0:          # subnormal times in use: the raw pattern is already a small code
            out[...] = u
            return TimeCodes(codes=out, width=umax.bit_length(), base=0, values=None)
        np.subtract(u, base - 1, out=out)
        if umin == 0:
            np.maximum(out, 0, out=out)
        return TimeCodes(codes=out, width=width, base=base, values=None)
    values, inverse = np.unique(time, return_inverse=True)
    out[...] = inverse.reshape(time.shape)
    return TimeCodes(codes=out, width=max(len(values) - 1, 1).bit_length(), base=None, values=values)


class _Buffers:
    """Preallocated chunk buffers, handed out as views of the first ``r`` rows."""

    def __init__(self, rows: int, n: int, ints: int, floats: int) -> None:
        self.ints = [np.empty((rows, n), dtype=np.int64) for _ in range(ints)]
        self.floats = [np.empty((rows, n)) for _ in range(floats)]
        self.start = np.empty((rows, n), dtype=bool)
        self.end = np.empty((rows, n), dtype=bool)

    def take(self, r: int):
        return [a[:r] for a in self.ints], [a[:r] for a in self.floats], self.start[:r], self.end[:r]


def _sorted_counts(key: np.ndarray, shift: int, start: np.ndarray, end: np.ndarray, tie: np.ndarray,
                   inc: np.ndarray, total: np.ndarray) -> None:
    """Tie flags of the sorted ``key >> shift``, and packed counts through each position and before its group.

    On entry ``inc`` holds each position's packed increment. On exit ``total`` holds the cumulative counts
    through each position and ``inc`` the cumulative counts before the first member of the position's tie
    group; both run on across the rows of the chunk in row-major order (flattened 1-D passes are several
    times faster than passes along axis 1 of short rows), so callers take differences, which are exact field
    by field because every field is non-decreasing.
    """
    np.right_shift(key, shift, out=tie)
    flat_tie, flat_start = tie.reshape(-1), start.reshape(-1)
    np.not_equal(flat_tie[1:], flat_tie[:-1], out=flat_start[1:])
    start[:, 0] = True                # a tie group never spans two rows
    end.reshape(-1)[:-1] = flat_start[1:]
    end[:, -1] = True
    flat_inc, flat_total = inc.reshape(-1), total.reshape(-1)
    np.cumsum(flat_inc, out=flat_total)
    flat_inc -= flat_total
    flat_inc *= flat_start            # -(counts before a tie-group start) at starts, 0 elsewhere
    np.negative(flat_inc, out=flat_inc)
    np.maximum.accumulate(flat_inc, out=flat_inc)


def _block_ends(total: np.ndarray, block: np.ndarray, out: np.ndarray) -> None:
    """For each position, the cumulative counts at the last position of its block (``block``: sorted codes)."""
    r, n = total.shape
    last = np.empty((r, n), dtype=bool)
    np.not_equal(block[:, 1:], block[:, :-1], out=last[:, :-1])
    last[:, -1] = True
    # The counts never decrease, so the next block end to the right holds the smallest value among the block
    # ends to the right: a running maximum of (MAX - value) from the right, with 0 off the block ends.
    top = np.iinfo(np.int64).max
    np.subtract(top, total, out=out)
    out *= last
    flat = out.reshape(-1)[::-1]
    np.maximum.accumulate(flat, out=flat)
    np.subtract(top, out, out=out)


def _left_km(n_risk: np.ndarray, d: np.ndarray, block: np.ndarray | None, n_blocks: int) -> np.ndarray:
    """Left-continuous Kaplan-Meier S(t-) at every sorted position, restarted in each block.

    ``d`` holds each tie group's deaths at the group's last position and 0 elsewhere, so the factors
    (n - d) / n are exactly 1 off the group ends and the exclusive running product is S just before the
    position's tie group. Products are sequential, as R's survdiff computes them; blocks are handled by
    masking the deaths (a factor (n - 0) / n is exactly 1), never by dividing products.
    """
    r, n = d.shape
    out = np.ones((r, n))
    if block is None:
        np.cumprod(((n_risk - d) / n_risk)[:, :-1], axis=1, out=out[:, 1:])
        return out
    for b in np.flatnonzero(np.bincount(block.ravel(), minlength=n_blocks)):     # the blocks present only
        inside = block == b
        part = np.ones((r, n))
        np.cumprod(((n_risk - d * inside) / n_risk)[:, :-1], axis=1, out=part[:, 1:])
        np.copyto(out, part, where=inside)
    return out


def _weights(s_left: np.ndarray, rho: float, gamma: float) -> np.ndarray:
    """Fleming-Harrington weights S(t-)**rho * (1 - S(t-))**gamma."""
    w = np.power(s_left, rho) if rho != 0 else np.ones_like(s_left)
    if gamma != 0:
        w = w * np.power(1.0 - s_left, gamma)
    return w


def logrank_two_groups(time: np.ndarray, event: np.ndarray, group: np.ndarray, strata: np.ndarray | None,
                       n_strata: int, rho: float, gamma: float) -> tuple[np.ndarray, ...]:
    """Weighted log-rank sums for two groups, row by row.

    Parameters are (R, n) arrays: float64 times, boolean events, int8 0/1 group codes, int64 stratum codes in
    ``0..n_strata-1`` (or None). Returns ``(o1, e1, wd, v)``, each (R,): weighted observed and expected events
    in group 1, weighted total events (so ``o0 = wd - o1`` and ``e0 = wd - e1``), and the hypergeometric
    variance of ``o1 - e1``, summed over strata, as R's ``survdiff`` computes them.
    """
    r, n = time.shape
    rows = _chunk_rows(n)
    out = np.empty((4, r))
    buffers = _Buffers(min(rows, r), n, ints=5, floats=5)
    e8 = event.view(np.int8)
    payload = (e8 << 1 | group).astype(np.int64)              # event << 1 | group, the key's low bits
    weighted = rho != 0 or gamma != 0
    if not weighted:
        out[0] = np.add.reduce(e8 & group, axis=1, dtype=np.int64)     # deaths in group 1
    for s in range(0, r, rows):
        sl = slice(s, s + rows)
        _logrank_chunk(time[sl], payload[sl], None if strata is None else strata[sl], n_strata, rho, gamma,
                       buffers, out[:, sl])
    return out[0], out[1], out[2], out[3]


def _logrank_chunk(time, payload, strata, n_strata, rho, gamma, buffers, out) -> None:
    r, n = time.shape
    (key, tie, inc, total, c1), (d, n_risk, n1, a, b), start, end = buffers.take(r)
    strata_bits = 0 if strata is None else max(n_strata - 1, 1).bit_length()
    tc = encode_times(time, 2 + strata_bits, out=key)
    key <<= 2
    key |= payload
    if strata is not None:
        key |= strata << (tc.width + 2)
    key.sort(axis=1)

    # packed increments: event << 42 | 1 << 21 | group-1 membership
    np.left_shift(key.view(np.uint64), 2 * _BITS - 1, out=inc.view(np.uint64))   # event bit to bit 42
    inc &= 1 << (2 * _BITS)
    np.bitwise_and(key, 1, out=c1)
    inc |= c1
    inc |= 1 << _BITS
    _sorted_counts(key, 2, start, end, tie, inc, total)

    np.right_shift(total, 2 * _BITS, out=c1)
    np.right_shift(inc, 2 * _BITS, out=tie)
    c1 -= tie
    c1 *= end                         # deaths of each tie group, at its last position, 0 elsewhere
    np.copyto(d, c1)
    # counts from the tie group's start to the end of its row (or stratum): n at risk, group-1 at risk
    if strata is None:
        np.subtract(total[:, -1:], inc, out=tie)
        block = None
    else:
        block = key >> (tc.width + 2)
        _block_ends(total, block, tie)
        tie -= inc
    np.bitwise_and(tie, _MASK, out=c1)
    np.copyto(n1, c1)
    tie >>= _BITS
    tie &= _MASK
    np.copyto(n_risk, tie)

    # deaths per row: the cumulative count runs on across rows, so take differences at the row ends
    wd = total[:, -1] >> (2 * _BITS)
    wd[1:] -= wd[:-1].copy()
    if rho != 0 or gamma != 0:
        w = _weights(_left_km(n_risk, d, block, n_strata), rho, gamma)
        np.bitwise_and(key, 3, out=c1)
        out[0] = np.add.reduce(w * (c1 == 3), axis=1)      # weighted deaths in group 1
        out[2] = np.add.reduce(w * d, axis=1)
    else:
        w = None
        out[2] = wd
    # expected deaths in group 1: sum of d n1 / n over tie groups
    np.multiply(d, n1, out=a)
    a /= n_risk
    if w is not None:
        a *= w
    out[1] = np.add.reduce(a, axis=1)
    # hypergeometric variance: sum of d (n - d) n1 n0 / (n^2 (n - 1)); zero where n = 1 (then n1 n0 = 0)
    np.subtract(n_risk, d, out=a)
    a *= d
    np.subtract(n_risk, n1, out=b)
    b *= n1
    a *= b
    np.subtract(n_risk, 1.0, out=b)
    np.maximum(b, 1.0, out=b)
    b *= n_risk
    b *= n_risk
    a /= b
    if w is not None:
        a *= w * w
    out[3] = np.add.reduce(a, axis=1)


def km_at(time: np.ndarray, event: np.ndarray, group: np.ndarray | None, n_groups: int,
          t: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan-Meier S(t) per row and group: (R, n_groups) survival and (R, n_groups) group sizes.

    ``t`` is a scalar or (R,). The product runs over the tie groups with time <= t in time order, one factor
    (n - d) / n per tie group, exactly as :func:`trialsim.stats.kaplan_meier` multiplies them.
    """
    r, n = time.shape
    rows = _chunk_rows(n)
    survival = np.empty((r, n_groups))
    buffers = _Buffers(min(rows, r), n, ints=4, floats=2)
    t = np.asarray(t, dtype=np.float64)
    payload = event.view(np.int8).astype(np.int64)
    if group is None:
        sizes = np.full((r, 1), n, dtype=np.int64)
    else:
        sizes = np.stack([np.add.reduce(group == b, axis=1, dtype=np.int64) for b in range(n_groups)], axis=1)
    for s in range(0, r, rows):
        sl = slice(s, s + rows)
        _km_chunk(time[sl], payload[sl], None if group is None else group[sl], n_groups,
                  t if t.ndim == 0 else t[sl], buffers, survival[sl])
    return survival, sizes


def _km_chunk(time, payload, group, n_groups, t, buffers, survival) -> None:
    r, n = time.shape
    (key, tie, inc, total), (n_risk, f), start, end = buffers.take(r)
    group_bits = 0 if group is None else max(n_groups - 1, 1).bit_length()
    tc = encode_times(time, 1 + group_bits, out=key)
    key <<= 1
    key |= payload
    if group is not None:
        key |= group.astype(np.int64) << (tc.width + 1)
    key.sort(axis=1)

    np.bitwise_and(key, 1, out=inc)
    inc <<= _BITS
    inc |= 1
    _sorted_counts(key, 1, start, end, tie, inc, total)
    limit = tc.threshold(t)
    code = (key >> 1) & ((1 << tc.width) - 1)
    end &= code <= (limit[:, None] if limit.ndim else limit)     # tie groups at or before t only
    if group is None:
        block = None
        np.subtract(total[:, -1:], inc, out=tie)
    else:
        block = key >> (tc.width + 1)
        _block_ends(total, block, tie)
        tie -= inc
    tie &= _MASK                      # n at risk: patients from the tie group's start to the block's end
    np.copyto(n_risk, tie)
    np.right_shift(total, _BITS, out=total)
    np.right_shift(inc, _BITS, out=tie)
    total -= tie
    total *= end                      # deaths of each tie group up to t, at its last position
    for b in range(n_groups):
        # (n - 0) / n is exactly 1, so masking the deaths leaves only block b's factors in the product
        np.subtract(n_risk, total if block is None else total * (block == b), out=f)
        f /= n_risk
        survival[:, b] = np.multiply.accumulate(f, axis=1)[:, -1]


def logrank_k_groups(time: np.ndarray, event: np.ndarray, codes: np.ndarray, n_groups: int,
                     strata: np.ndarray | None, rho: float, gamma: float
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted observed, expected (K,) and covariance (K, K) for K groups in 1-D data, as ``survdiff``."""
    observed = np.zeros(n_groups)
    expected = np.zeros(n_groups)
    variance = np.zeros((n_groups, n_groups))
    stratum_codes = np.zeros(time.shape[0], dtype=np.int64) if strata is None else strata
    for s in np.unique(stratum_codes):
        m = stratum_codes == s
        times, inverse = np.unique(time[m], return_inverse=True)
        cells = inverse.reshape(-1) * n_groups + codes[m]
        size = times.size * n_groups
        deaths = np.bincount(cells, weights=event[m].astype(np.float64), minlength=size).reshape(-1, n_groups)
        counts = np.bincount(cells, minlength=size).reshape(-1, n_groups).astype(np.float64)
        risk = np.cumsum(counts[::-1], axis=0)[::-1]
        n_risk = risk.sum(axis=1)
        d = deaths.sum(axis=1)
        s_left = np.ones_like(d)
        s_left[1:] = np.cumprod((n_risk - d) / n_risk)[:-1]
        w = _weights(s_left, rho, gamma)
        observed += (w[:, None] * deaths).sum(axis=0)
        expected += ((w * d / n_risk)[:, None] * risk).sum(axis=0)
        keep = (d > 0) & (n_risk > 1)
        wk, dk, nk, rk = w[keep], d[keep], n_risk[keep], risk[keep]
        tmp = (wk * wk * dk * (nk - dk) / (nk * (nk - 1)))[:, None] * rk          # (T, K)
        variance += np.diag(tmp.sum(axis=0)) - (tmp / nk[:, None]).T @ rk
    return observed, expected, variance
