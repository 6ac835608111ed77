"""The one place that validates each kind of value: numbers, probabilities, counts, choices and flags.

Every check returns the value (normalised: ``float``, ``int``, ``bool``) or raises
:class:`~trialsim.exceptions.InputError` through :func:`~trialsim.exceptions.invalid`, which names the field, the
rule and the value in the project's one format (``"`Trial.n` must be an integer >= 1 (got 0)"``) and carries
them as attributes. Fields are named as the user wrote them: ``"Trial.follow_up"`` for a dataclass field,
``"n_replicates"`` for a function argument.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, TypeVar

import numpy as np

from ..exceptions import invalid

__all__ = ["is_number", "check_number", "check_positive", "check_nonnegative", "check_probability", "check_level",
           "check_count",
           "check_choice", "check_flag", "check_increasing", "check_numbers", "check_type", "Range", "LIMITS",
           "MAX_N", "MAX_REPLICATES", "MAX_BLOCK_SIZE", "MAX_SEED", "check_in_range"]

T = TypeVar("T")

# ------------------------------------------------------------------------------------------ documented limits
#
# The ranges inside which the command line and scenario files accept a value (docs/cli.md, "Limits"): wide
# enough for any trial this package is for, narrow enough that no number overflows, no table grows without
# bound and the calibration converges. The library's own classes accept wider values where they still work.

#: Largest trial (patients, all arms); a run must also fit in memory (trialsim.design.resources.check_memory).
MAX_N = 100_000
#: Most simulated trials in one run (a chunk of 2,000 takes about 0.05 s: 10**9 is a week of one core's work).
MAX_REPLICATES = 1_000_000_000
#: Largest permuted block.
MAX_BLOCK_SIZE = 10_000
#: Largest seed: 128 bits, as much entropy as a fresh seed holds.
MAX_SEED = 2 ** 128 - 1


class Range:
    """A closed interval ``[low, high]`` of a kind of value, optionally with 0 allowed below it (a dropout
    hazard is 0 or at least ``low``)."""

    __slots__ = ("low", "high", "zero", "what")

    def __init__(self, low: float, high: float, what: str, *, zero: bool = False) -> None:
        self.low, self.high, self.what, self.zero = low, high, what, zero

    def __contains__(self, value: object) -> bool:
        if not is_number(value) or not math.isfinite(float(value)):  # type: ignore[arg-type]
            return False
        x = float(value)  # type: ignore[arg-type]
        return (self.zero and x == 0) or self.low <= x <= self.high

    @property
    def rule(self) -> str:
        zero = "0 or " if self.zero else ""
        return f"must be {zero}a number in [{self.low:g}, {self.high:g}] ({self.what})"

    def __repr__(self) -> str:
        return f"Range({self.low!r}, {self.high!r}, zero={self.zero})"


#: Ranges by kind of value (weeks from entry, calendar weeks, rates per week, ratios, probabilities).
LIMITS: dict[str, Range] = {
    "weeks": Range(0.01, 1040.0, "weeks, 20 years"),               # follow-up, parametric horizon
    "ctdmas_horizon": Range(1.0, 520.0, "weeks; the calibration needs 1 to 520"),
    "calendar": Range(0.01, 100_000.0, "calendar weeks"),           # analysis time
    "accrual_rate": Range(0.001, 100_000.0, "patients per week"),
    "dropout": Range(1e-6, 100.0, "per week", zero=True),
    "median": Range(0.001, 1_000_000.0, "weeks"),
    "hazard_ratio": Range(0.001, 1000.0, "treatment / control"),
    "survival": Range(1e-6, 1 - 1e-6, "a survival probability"),
}


def check_in_range(field: str, value: Any, kind: str) -> float:
    """``value`` if it lies in the documented range of ``kind`` (:data:`LIMITS`), else ``InputError``."""
    limits = LIMITS[kind]
    if value not in limits:
        raise invalid(field, limits.rule, value)
    return float(value)


def is_number(value: Any) -> bool:
    """A real number given as such: ``int`` or ``float`` (numpy's too), not ``bool``, not a string."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def check_number(field: str, value: Any, *, low: float = -math.inf, high: float = math.inf,
                 low_open: bool = False, high_open: bool = False) -> float:
    """A finite number in the interval from ``low`` to ``high`` (closed unless ``low_open``/``high_open``)."""
    ok = is_number(value) and math.isfinite(float(value))
    if ok:
        x = float(value)
        ok = (x > low if low_open else x >= low) and (x < high if high_open else x <= high)
    if not ok:
        if math.isinf(low) and math.isinf(high):
            rule = "must be a finite number"
        elif math.isinf(high):
            rule = f"must be a finite number {'>' if low_open else '>='} {low:g}"
        elif math.isinf(low):
            rule = f"must be a finite number {'<' if high_open else '<='} {high:g}"
        else:
            rule = f"must be a number in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise invalid(field, rule, value)
    return float(value)


def check_positive(field: str, value: Any) -> float:
    """A finite number > 0 (a rate, a time, a ratio)."""
    return check_number(field, value, low=0.0, low_open=True)


def check_nonnegative(field: str, value: Any) -> float:
    """A finite number >= 0 (a hazard that may be zero)."""
    return check_number(field, value, low=0.0)


def check_probability(field: str, value: Any, *, open_low: bool = False, open_high: bool = False) -> float:
    """A probability in [0, 1], or in an interval open at either end (``alpha``: (0, 1))."""
    ok = is_number(value) and math.isfinite(float(value))
    if ok:
        x = float(value)
        ok = (x > 0 if open_low else x >= 0) and (x < 1 if open_high else x <= 1)
    if not ok:
        interval = f"{'(' if open_low else '['}0, 1{')' if open_high else ']'}"
        raise invalid(field, f"must be a probability in {interval}", value)
    return float(value)


def check_level(field: str, value: Any) -> float:
    """A probability strictly between 0 and 1: an alpha, a power, a confidence level, a threshold."""
    return check_probability(field, value, open_low=True, open_high=True)


def check_count(field: str, value: Any, *, minimum: int = 1, maximum: int | None = None) -> int:
    """An integer (not a float, not a bool) in ``minimum .. maximum``."""
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)) and value >= minimum
    if ok and maximum is not None:
        ok = value <= maximum
    if not ok:
        rule = f"must be an integer >= {minimum}" if maximum is None else \
            f"must be an integer in {minimum}..{maximum}"
        raise invalid(field, rule, value)
    return int(value)


def check_choice(field: str, value: Any, choices: Sequence[T]) -> T:
    """One of ``choices`` (compared by equality; strings are not coerced)."""
    for choice in choices:
        if type(value) is type(choice) and value == choice:
            return choice
    raise invalid(field, f"must be one of {', '.join(repr(c) for c in choices)}", value)


def check_flag(field: str, value: Any) -> bool:
    """``True`` or ``False`` itself (a string ``"false"`` is refused, not read as true)."""
    if not isinstance(value, (bool, np.bool_)):
        raise invalid(field, "must be true or false", value)
    return bool(value)


def check_increasing(field: str, values: Any, *, low: float = 0.0) -> tuple[float, ...]:
    """Finite numbers, strictly increasing, each above ``low`` (break points, visit times)."""
    try:
        out = tuple(float(v) if is_number(v) else math.nan for v in values)
    except TypeError:
        raise invalid(field, "must be a list of numbers", values) from None
    prev = low
    for v in out:
        if not math.isfinite(v) or v <= prev:
            raise invalid(field, f"must be finite, > {low:g} and strictly increasing", values)
        prev = v
    return out


def check_numbers(field: str, values: Any, check: Any = check_number, *, length: int | None = None,
                  **bounds: Any) -> tuple[float, ...]:
    """A sequence of numbers, each passing ``check(field, value, **bounds)``; exactly ``length`` of them if
    given (at least one otherwise)."""
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
        raise invalid(field, "must be a list of numbers", values)
    if length is not None and len(values) != length:
        raise invalid(field, f"must hold {length} value{'s' if length != 1 else ''}", values)
    if length is None and len(values) == 0:
        raise invalid(field, "must hold at least one value", values)
    out = []
    for v in values:
        try:
            out.append(check(field, v, **bounds))
        except ValueError as exc:  # name the whole list, with the rule of its elements
            rule = getattr(exc, "rule", None) or "must be a number"
            raise invalid(field, "must hold values that are each " + rule.removeprefix("must be "), values) from None
    return tuple(out)


def check_type(field: str, value: Any, cls: type | tuple[type, ...]) -> Any:
    """``value`` itself if it is an instance of ``cls``; otherwise ``TypeError`` naming the field."""
    if not isinstance(value, cls):
        names = " or ".join(c.__name__ for c in (cls if isinstance(cls, tuple) else (cls,)))
        raise TypeError(f"`{field}` must be a {names} (got {type(value).__name__})")
    return value
