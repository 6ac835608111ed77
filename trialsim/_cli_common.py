"""Option types shared by every ``trialsim`` subcommand (one error format: ``expected ...; got '...'``)."""

from __future__ import annotations

import argparse
import math

__all__ = ["ArgumentParser", "number", "positive_float", "nonneg_float", "open_probability", "positive_int",
           "nonneg_int", "jobs", "allocation"]


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports a usage error on one line and exits with status 2."""

    def error(self, message: str):  # noqa: D401 - argparse API
        self.exit(2, f"{self.prog}: error: {message}\n")


def _fail(rule: str, text: str):
    raise argparse.ArgumentTypeError(f"expected {rule}; got {text!r}")


def number(text: str) -> float:
    """A finite number."""
    try:
        value = float(text)
    except ValueError:
        _fail("a number", text)
    if not math.isfinite(value):
        _fail("a finite number", text)
    return value


def positive_float(text: str) -> float:
    value = number(text)
    if not value > 0:
        _fail("a number > 0", text)
    return value


def nonneg_float(text: str) -> float:
    value = number(text)
    if value < 0:
        _fail("a number >= 0", text)
    return value


def open_probability(text: str) -> float:
    value = number(text)
    if not 0 < value < 1:
        _fail("a number in (0, 1)", text)
    return value


def nonneg_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        _fail("a non-negative integer", text)
    if value < 0:
        _fail("a non-negative integer", text)
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        _fail("a positive integer", text)
    if value < 1:
        _fail("a positive integer", text)
    return value


def jobs(text: str) -> int:
    """A worker count: a positive integer, or -1 for all cores."""
    try:
        value = int(text)
    except ValueError:
        _fail("a positive integer or -1 (all cores)", text)
    if value == 0 or value < -1:
        _fail("a positive integer or -1 (all cores)", text)
    return value


def allocation(text: str) -> tuple[int, ...]:
    """An allocation ratio such as ``1:1`` or ``2:1`` (one integer for a single arm)."""
    try:
        values = tuple(int(p) for p in text.replace("/", ":").split(":"))
    except ValueError:
        values = ()
    if not 1 <= len(values) <= 2 or any(v < 1 for v in values):
        _fail("one or two positive integers like 1:1 or 2:1", text)
    return values
