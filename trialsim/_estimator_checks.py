"""Input validation shared by the estimators: errors name the argument, the rule and the offending value."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from .exceptions import DegenerateStatisticWarning

__all__ = ["as_times", "as_events", "as_codes", "as_labels", "check_same_shape", "check_level",
           "check_choice", "check_number", "warn_degenerate"]


def _first_bad(mask: np.ndarray) -> tuple[int, ...] | int:
    index = np.unravel_index(int(np.argmax(mask)), mask.shape)
    return int(index[0]) if len(index) == 1 else tuple(int(i) for i in index)


def as_times(name: str, value: Any, *, ndim: int) -> np.ndarray:
    """Float64 array of ``ndim`` dimensions, finite and >= 0 (``-0.0`` becomes ``+0.0``)."""
    arr = np.asarray(value)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(f"`{name}` must be a numeric array; got dtype {arr.dtype}")
    arr = np.asarray(arr, dtype=np.float64)
    if arr.ndim != ndim:
        raise ValueError(f"`{name}` must be a {ndim}-D array; got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"`{name}` must hold at least one observation; got shape {arr.shape}")
    ok = (arr >= 0) & (arr < np.inf)
    if not ok.all():
        where = _first_bad(~ok)
        raise ValueError(f"`{name}` must be finite and >= 0; got {arr[where].item()!r} at index {where}")
    # -0.0 passes the check above; the sort keys need +0.0 (adding +0.0 makes it so)
    return arr + 0.0 if np.signbit(arr).any() else arr


def as_events(name: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
    """Boolean array of ``shape`` from booleans or numbers that are exactly 0 or 1."""
    arr = np.asarray(value)
    if arr.shape != shape:
        raise ValueError(f"`{name}` must have the shape of `time` {shape}; got {arr.shape}")
    if arr.dtype == bool:
        return arr
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"`{name}` must hold 0/1 or booleans; got dtype {arr.dtype}")
    ok = (arr == 0) | (arr == 1)
    if not ok.all():
        where = _first_bad(~ok)
        raise ValueError(f"`{name}` must hold only 0 and 1; got {arr[where].item()!r} at index {where}")
    return arr == 1


def as_codes(name: str, value: Any, shape: tuple[int, ...], *, n_codes: int | None = None) -> np.ndarray:
    """Int64 array of non-negative integer codes (below ``n_codes`` when given)."""
    arr = np.asarray(value)
    if arr.shape != shape:
        raise ValueError(f"`{name}` must have the shape of `time` {shape}; got {arr.shape}")
    if arr.dtype == bool:
        arr = arr.astype(np.int64)
    elif np.issubdtype(arr.dtype, np.integer):
        arr = arr.astype(np.int64, copy=False)
    elif np.issubdtype(arr.dtype, np.floating):
        if not (np.isfinite(arr) & (arr == np.round(arr))).all():
            where = _first_bad(~(np.isfinite(arr) & (arr == np.round(arr))))
            raise ValueError(f"`{name}` must hold integer codes; got {arr[where].item()!r} at index {where}")
        arr = arr.astype(np.int64)
    else:
        raise ValueError(f"`{name}` must hold integer codes; got dtype {arr.dtype}")
    upper = n_codes if n_codes is not None else np.iinfo(np.int64).max
    ok = (arr >= 0) & (arr < upper)
    if not ok.all():
        where = _first_bad(~ok)
        rule = f"in 0..{n_codes - 1}" if n_codes is not None else ">= 0"
        raise ValueError(f"`{name}` must hold integer codes {rule}; got {arr[where].item()!r} at index {where}")
    return arr


def as_labels(name: str, value: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct labels of a 1-D array of length ``n`` and each element's code into them."""
    arr = np.asarray(value)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"`{name}` must be 1-D with the length of `time` ({n}); got shape {arr.shape}")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        where = _first_bad(~np.isfinite(arr))
        raise ValueError(f"`{name}` must not hold NaN or infinite labels; got {arr[where].item()!r} at index {where}")
    if arr.dtype == object and any(v is None for v in arr):
        raise ValueError(f"`{name}` must not hold missing labels (None)")
    labels, codes = np.unique(arr, return_inverse=True)
    return labels, codes.reshape(-1).astype(np.int64)


def check_same_shape(name: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape != shape:
        raise ValueError(f"`{name}` must have the shape of `time` {shape}; got {arr.shape}")
    return arr


def check_level(confidence_level: Any) -> float:
    ok = isinstance(confidence_level, (int, float, np.floating)) and not isinstance(confidence_level, bool)
    if not ok or not 0 < float(confidence_level) < 1:
        raise ValueError(f"`confidence_level` must be a number in (0, 1); got {confidence_level!r}")
    return float(confidence_level)


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"`{name}` must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def check_number(name: str, value: Any, *, low: float = -math.inf, high: float = math.inf,
                 low_open: bool = False) -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    ok = ok and math.isfinite(float(value)) and (float(value) > low if low_open else float(value) >= low)
    ok = ok and float(value) <= high
    if not ok:
        bound = f"> {low}" if low_open else f">= {low}"
        rule = f"a finite number {bound}" + (f" and <= {high}" if math.isfinite(high) else "")
        raise ValueError(f"`{name}` must be {rule}; got {value!r}")
    return float(value)


def warn_degenerate(message: str, *, stacklevel: int = 3) -> None:
    warnings.warn(message, DegenerateStatisticWarning, stacklevel=stacklevel)
