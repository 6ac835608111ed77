"""Validation of the estimators' array inputs (times, events, codes, labels); scalar values are checked by
:mod:`trialsim.model.validation`, the one place for them. Errors name the argument, the rule and the value."""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..exceptions import DegenerateStatisticWarning, invalid

__all__ = ["as_times", "as_events", "as_codes", "as_labels", "check_same_shape", "warn_degenerate",
           "quiet_degenerate"]

#: Kinds of numpy dtype read as numbers: booleans, integers, floats (not complex, dates or durations).
_REAL = "biuf"


def _first_bad(mask: np.ndarray) -> tuple[int, ...] | int:
    index = np.unravel_index(int(np.argmax(mask)), mask.shape)
    return int(index[0]) if len(index) == 1 else tuple(int(i) for i in index)


def _element(name: str, where: tuple[int, ...] | int) -> str:
    """``time[3]`` or ``group[0, 5]``: the element an error is about."""
    return f"{name}[{where if isinstance(where, int) else ', '.join(map(str, where))}]"


def as_times(name: str, value: Any, *, ndim: int) -> np.ndarray:
    """Float64 array of ``ndim`` dimensions, finite and >= 0 (``-0.0`` becomes ``+0.0``)."""
    arr = np.asarray(value)
    if arr.dtype.kind not in _REAL:  # complex times are refused, not truncated to their real part
        raise invalid(name, "must be a numeric array of real numbers", f"dtype {arr.dtype}")
    arr = np.asarray(arr, dtype=np.float64)
    if arr.ndim != ndim:
        raise invalid(name, f"must be a {ndim}-D array", f"shape {arr.shape}")
    if arr.size == 0:
        raise invalid(name, "must hold at least one observation", f"shape {arr.shape}")
    ok = (arr >= 0) & (arr < np.inf)
    if not ok.all():
        where = _first_bad(~ok)
        raise invalid(_element(name, where), "must be finite and >= 0", arr[where].item())
    # -0.0 passes the check above; the sort keys need +0.0 (adding +0.0 makes it so)
    return arr + 0.0 if np.signbit(arr).any() else arr


def as_events(name: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
    """Boolean array of ``shape`` from booleans or numbers that are exactly 0 or 1."""
    arr = np.asarray(value)
    if arr.shape != shape:
        raise invalid(name, f"must have the shape of `time` {shape}", f"shape {arr.shape}")
    if arr.dtype == bool:
        return arr
    if arr.dtype.kind not in _REAL:
        raise invalid(name, "must hold 0/1 or booleans", f"dtype {arr.dtype}")
    ok = (arr == 0) | (arr == 1)
    if not ok.all():
        where = _first_bad(~ok)
        raise invalid(_element(name, where), "must hold only 0 and 1", arr[where].item())
    return arr == 1


def as_codes(name: str, value: Any, shape: tuple[int, ...], *, n_codes: int | None = None) -> np.ndarray:
    """Int64 array of non-negative integer codes (below ``n_codes`` when given)."""
    arr = np.asarray(value)
    if arr.shape != shape:
        raise invalid(name, f"must have the shape of `time` {shape}", f"shape {arr.shape}")
    if arr.dtype == bool:
        arr = arr.astype(np.int64)
    elif np.issubdtype(arr.dtype, np.integer):
        arr = arr.astype(np.int64, copy=False)
    elif np.issubdtype(arr.dtype, np.floating):
        if not (np.isfinite(arr) & (arr == np.round(arr))).all():
            where = _first_bad(~(np.isfinite(arr) & (arr == np.round(arr))))
            raise invalid(_element(name, where), "must hold integer codes", arr[where].item())
        arr = arr.astype(np.int64)
    else:
        raise invalid(name, "must hold integer codes", f"dtype {arr.dtype}")
    upper = n_codes if n_codes is not None else np.iinfo(np.int64).max
    ok = (arr >= 0) & (arr < upper)
    if not ok.all():
        where = _first_bad(~ok)
        rule = f"in 0..{n_codes - 1}" if n_codes is not None else ">= 0"
        raise invalid(_element(name, where), f"must hold integer codes {rule}", arr[where].item())
    return arr


def as_labels(name: str, value: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct labels of a 1-D array of length ``n`` and each element's code into them."""
    _check_one_kind(name, value)
    arr = np.asarray(value)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise invalid(name, f"must be 1-D with the length of `time` ({n})", f"shape {arr.shape}")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        where = _first_bad(~np.isfinite(arr))
        raise invalid(_element(name, where), "must not hold NaN or infinite labels", arr[where].item())
    if arr.dtype == object and any(v is None for v in arr):
        raise invalid(name, "must not hold missing labels", None)
    labels, codes = np.unique(arr, return_inverse=True)
    return labels, codes.reshape(-1).astype(np.int64)


def _label_kind(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "booleans"
    if isinstance(value, (int, float, np.integer, np.floating)):
        return "numbers"
    if isinstance(value, (str, np.str_)):
        return "strings"
    return type(value).__name__


def _check_one_kind(name: str, value: Any) -> None:
    """Labels all of one kind: numbers, strings or booleans. Mixed, numpy would turn ``[1, "1"]`` into two equal
    strings and ``[True, 1]`` into two equal integers, merging groups that differ."""
    if isinstance(value, np.ndarray) and value.dtype != object:
        return
    try:
        objects = np.asarray(value, dtype=object)
    except (TypeError, ValueError):
        return  # not array-like: the shape check names it
    if objects.ndim != 1:
        return
    kinds = {_label_kind(v) for v in objects.tolist() if v is not None}
    if len(kinds) > 1:
        raise invalid(name, "must hold labels of one type (numbers, strings or booleans)",
                      " and ".join(sorted(kinds)))


def check_same_shape(name: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
    raw = np.asarray(value)
    if raw.dtype.kind not in _REAL:
        raise invalid(name, "must be a numeric array of real numbers", f"dtype {raw.dtype}")
    arr = np.asarray(raw, dtype=np.float64)
    if arr.shape != shape:
        raise invalid(name, f"must have the shape of `time` {shape}", f"shape {arr.shape}")
    return arr


_quiet = threading.local()


@contextlib.contextmanager
def quiet_degenerate() -> Iterator[None]:
    """Within the block, and in this thread only, :func:`warn_degenerate` issues nothing.

    ``warnings.catch_warnings`` changes the process's one list of filters, so blocks of it running at once in
    several threads (chunks under ``--backend threading``) undo each other's filters: warnings they meant to hide
    reach stderr, and a filter can stay behind after the run. This flag is per thread.
    """
    before = getattr(_quiet, "on", False)
    _quiet.on = True
    try:
        yield
    finally:
        _quiet.on = before


def warn_degenerate(message: str, *, stacklevel: int = 3) -> None:
    if getattr(_quiet, "on", False):
        return
    warnings.warn(message, DegenerateStatisticWarning, stacklevel=stacklevel)
