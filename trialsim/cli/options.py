"""What every ``trialsim`` subcommand shares: option types, the one error format, and the progress bar."""

from __future__ import annotations

import argparse
import math
import re
import sys
from typing import Any, NoReturn, TextIO

__all__ = ["ArgumentParser", "OPTION_OF_FIELD", "error_line", "argparse_text", "number", "positive_float", "nonneg_float", "open_probability", "positive_int",
           "nonneg_int", "jobs", "allocation", "Progress"]


#: Library fields and arguments -> the option that sets them, for errors that reach the command line from the
#: library (the scenario builder names options itself).
OPTION_OF_FIELD = {
    "n_replicates": "--reps", "n_cohorts": "--reps", "seed": "--seed", "n_jobs": "--jobs", "backend": "--backend",
    "engine": "--engine", "scheduler": "--scheduler", "target_power": "--power", "n_max": "--n-max",
    "horizon_weeks": "--horizon",
    "Trial.n": "--n", "Trial.allocation": "--allocation", "Trial.block_size": "--block-size",
    "Trial.follow_up": "--follow-up", "Trial.dropout_hazard": "--dropout", "Trial.analysis": "--analysis",
    "Trial.analysis_time": "--analysis-time", "Trial.target_events": "--target-events", "Accrual.rate": "--accrual-rate",
    "Accrual.kind": "--accrual",
    "n_draws": "--draws", "trials_per_draw": "--reps", "point_replicates": "--point-reps",
    "effect_scale": "--effect-scale", "DesignPrior.name": "--prior", "historical": "--historical", "a0": "--a0",
    "Trial.max_duration": "--max-duration", "information_fractions": "--looks", "look_times": "--look-times",
    "efficacy": "--spending", "futility": "--futility",
}

_CHOICE = re.compile(r"invalid choice: (?P<value>.*) \(choose from (?P<choices>.*)\)$")
_ARGUMENT = re.compile(r"^argument (?P<option>[^:]+): (?P<rest>.*)$")


def error_line(prog: str, text: str) -> str:
    """The one error format of the command line: ``trialsim <command>: error: <subject> <rule> (got <value>)``."""
    return f"{prog}: error: {text}"


def argparse_text(message: str) -> str:
    """An argparse message in the one format (``--engine must be one of ... (got 'x')``)."""
    match = _ARGUMENT.match(message)
    if match is None:
        if message.startswith("unrecognized arguments: "):
            return f"option must be one of this command's options (see --help) (got {message.split(': ', 1)[1]!r})"
        if message.startswith("the following arguments are required: "):
            return f"{message.split(': ', 1)[1]} is required (got none)"
        return message
    option = match.group("option").split("/")[-1]
    rest = match.group("rest")
    choice = _CHOICE.match(rest)
    if choice is not None:
        choices = ", ".join(c.strip().strip("'") for c in choice.group("choices").split(","))
        return f"{option} must be one of {choices} (got {choice.group('value')})"
    if rest == "expected one argument":
        return f"{option} needs a value (got none)"
    if rest.startswith("ignored explicit argument "):
        return f"{option} takes no value (got {rest.removeprefix('ignored explicit argument ')})"
    return f"{option} {rest}"


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports a usage error on one line, in the one format, and exits with status 2."""

    def error(self, message: str) -> NoReturn:  # noqa: D401 - argparse API
        self.exit(2, error_line(self.prog, argparse_text(message)) + "\n")


def _fail(rule: str, text: str) -> NoReturn:
    raise argparse.ArgumentTypeError(f"{rule} (got {text!r})")


def number(text: str) -> float:
    """A finite number."""
    try:
        value = float(text)
    except ValueError:
        _fail("must be a number", text)
    if not math.isfinite(value):
        _fail("must be a finite number", text)
    return value


def positive_float(text: str) -> float:
    value = number(text)
    if not value > 0:
        _fail("must be a number > 0", text)
    return value


def nonneg_float(text: str) -> float:
    value = number(text)
    if value < 0:
        _fail("must be a number >= 0", text)
    return value


def open_probability(text: str) -> float:
    value = number(text)
    if not 0 < value < 1:
        _fail("must be a number in (0, 1)", text)
    return value


def nonneg_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        _fail("must be a non-negative integer", text)
    if value < 0:
        _fail("must be a non-negative integer", text)
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        _fail("must be a positive integer", text)
    if value < 1:
        _fail("must be a positive integer", text)
    return value


def jobs(text: str) -> int:
    """A worker count: a positive integer, or -1 for all cores."""
    try:
        value = int(text)
    except ValueError:
        _fail("must be a positive integer or -1 (all cores)", text)
    if value == 0 or value < -1:
        _fail("must be a positive integer or -1 (all cores)", text)
    return value


def allocation(text: str) -> tuple[int, ...]:
    """An allocation ratio such as ``1:1`` or ``2:1`` (one integer for a single arm)."""
    try:
        values = tuple(int(p) for p in text.replace("/", ":").split(":"))
    except ValueError:
        values = ()
    if not 1 <= len(values) <= 2 or any(v < 1 for v in values):
        _fail("must be one or two positive integers like 1:1 or 2:1", text)
    return values


class Progress:
    """A command's progress bar on stderr (tqdm), called as ``progress(done, total)`` by the runs it watches.

    It shows only when stderr is a terminal and the command has run for more than ``delay`` seconds (tqdm's
    ``disable=None`` and ``delay``), and never with ``--quiet``. Successive runs add up (the points of a
    ``--grid``, the trial sizes a sample-size search tries): a run reports the replicates done so far and its
    total, and a finished run's replicates stay counted. ``total`` is the planned number of replicates over all
    runs, or ``None`` when the command cannot know it in advance (the bar then counts and shows the rate).
    """

    def __init__(self, label: str, *, quiet: bool = False, total: int | None = None, file: TextIO | None = None,
                 delay: float = 1.0) -> None:
        self._bar: Any = None
        self._finished = 0
        if not quiet:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=label, unit=" trials", unit_scale=True, delay=delay, disable=None,
                             file=file if file is not None else sys.stderr, leave=False, dynamic_ncols=True)

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None:
            return
        self._bar.update(self._finished + done - self._bar.n)
        if done >= total:
            self._finished += total

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
