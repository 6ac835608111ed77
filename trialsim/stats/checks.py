"""Validation of the estimators' array inputs (times, events, codes, labels); scalar values are checked by
:mod:`trialsim.model.validation`, the one place for them. Errors name the argument, the rule and the value."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from ..exceptions import DegenerateStatisticWarning, invalid

__all__ = ["as_times", "as_events", "as_codes", "as_labels", "check_same_shape", "warn_degenerate"]


def _first_bad(mask: np.ndarray) -> tuple[int, ...] | int:
    index = np.unravel_index(int(np.argmax(mask)), mask.shape)
    return int(index[0]) if len(index) == 1 else tuple(int(i) for i in index)


def _element(name: str, where: tuple[int, ...] | int) -> str:
    """``time[3]`` or ``group[0, 5]``: the element an error is about."""
    return f"{name}[{where if isinstance(where, int) else ', '.join(map(str, where))}]"


def as_times(name: str, value: Any, *, ndim: int) -> np.ndarray:
    """Float64 array of ``ndim`` dimensions, finite and >= 0 (``-0.0`` becomes ``+0.0``)."""
    arr = np.asarray(value)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise invalid(name, "must be a numeric array", f"dtype {arr.dtype}")
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
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
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


def check_same_shape(name: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape != shape:
        raise invalid(name, f"must have the shape of `time` {shape}", f"shape {arr.shape}")
    return arr


def warn_degenerate(message: str, *, stacklevel: int = 3) -> None:
    warnings.warn(message, DegenerateStatisticWarning, stacklevel=stacklevel)
