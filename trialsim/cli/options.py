"""What every ``trialsim`` subcommand shares: option types, the one error format, and the progress bar."""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
from typing import Any, NoReturn, TextIO

from ..exceptions import SHOWN, show
from ..model.validation import LIMITS, MAX_BLOCK_SIZE, MAX_N, MAX_REPLICATES, MAX_SEED

__all__ = ["ArgumentParser", "OPTION_OF_FIELD", "error_line", "argparse_text", "number", "positive_float", "nonneg_float", "open_probability", "positive_int",
           "nonneg_int", "jobs", "allocation", "Progress", "parse_float", "parse_int", "in_range", "int_upto", "patients",
           "replicates", "block_size", "sides", "cap_jobs", "Once", "timeout"]


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
_ARGUMENT = re.compile(r"^argument (?P<option>[^:]+): (?P<rest>.*)$", re.S)
_AMBIGUOUS = re.compile(r"^ambiguous option: (?P<option>.*) could match (?P<matches>.*)$", re.S)
_INVALID_VALUE = re.compile(r"^invalid (?P<type>\S+) value: (?P<value>.*)$", re.S)


def error_line(prog: str, text: str) -> str:
    """The one error format of the command line: ``trialsim <command>: error: <subject> <rule> (got <value>)``."""
    return f"{prog}: error: {text}"


def argparse_text(message: str) -> str:
    """An argparse message in the one format (``--engine must be one of ... (got 'x')``)."""
    match = _ARGUMENT.match(message)
    if match is None:
        ambiguous = _AMBIGUOUS.match(message)
        if ambiguous is not None:
            return (f"option must name one option (it could be {ambiguous.group('matches')}) "
                    f"(got {show(ambiguous.group('option'))})")
        if message.startswith("unrecognized arguments: "):
            return f"option must be one of this command's options (see --help) (got {show(message.split(': ', 1)[1])})"
        if message.startswith("the following arguments are required: "):
            missing = message.split(": ", 1)[1]
            return f"{missing} {'are' if ', ' in missing else 'is'} required (got none)"
        return _with_value(message)
    option = match.group("option").split("/")[-1]
    rest = match.group("rest")
    choice = _CHOICE.match(rest)
    if choice is not None:
        choices = ", ".join(c.strip().strip("'") for c in choice.group("choices").split(","))
        value = choice.group("value")
        return f"{option} must be one of {choices} (got {value if len(value) <= SHOWN else value[:SHOWN - 3] + '...'})"
    if rest == "expected one argument":
        return f"{option} needs a value (got none)"
    if rest.startswith("ignored explicit argument "):
        return f"{option} takes no value (got {show(rest.removeprefix('ignored explicit argument '))[1:-1]})"
    invalid_value = _INVALID_VALUE.match(rest)
    if invalid_value is not None:  # a type that raised ValueError rather than ArgumentTypeError
        return f"{option} must be a valid {invalid_value.group('type')} (got {show(invalid_value.group('value'))})"
    return _with_value(f"{option} {rest}")


def _with_value(text: str) -> str:
    """Any other argparse message, ended as the one format ends (``(got ...)``)."""
    return text if text.endswith(")") and "(got " in text else f"{text} (got none)"


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports a usage error on one line, in the one format, and exits with status 2."""

    def error(self, message: str) -> NoReturn:  # noqa: D401 - argparse API
        self.exit(2, error_line(self.prog, argparse_text(message)) + "\n")


def _fail(rule: str, text: str) -> NoReturn:
    raise argparse.ArgumentTypeError(f"{rule} (got {show(text)})")


#: Numbers as the command line takes them: ASCII digits only (Python's ``int`` and ``float`` also read
#: full-width and other Unicode digits, ``4_0``, surrounding spaces, ``nan`` and ``infinity``).
_INT = re.compile(r"[+-]?[0-9]{1,40}", re.ASCII)
_FLOAT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?", re.ASCII)
#: Longest number text read (a longer one is refused before it is converted).
_LONGEST = 64


def parse_float(text: str) -> float | None:
    """``text`` as a float if it is a plain ASCII decimal number (``12``, ``-0.5``, ``1e-3``), else None."""
    if len(text) > _LONGEST or _FLOAT.fullmatch(text) is None:
        return None
    return float(text)


def parse_int(text: str) -> int | None:
    """``text`` as an int if it is a plain ASCII integer of at most 40 digits, else None."""
    if _INT.fullmatch(text) is None:
        return None
    return int(text)


def number(text: str) -> float:
    """A finite number."""
    value = parse_float(text)
    if value is None:
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


def in_range(kind: str):
    """The option type of a number in the documented range of ``kind`` (:data:`trialsim.model.validation.LIMITS`:
    ``weeks``, ``calendar``, ``accrual_rate``, ``dropout``, ``median``, ``hazard_ratio``, ``survival``, ...)."""
    limits = LIMITS[kind]

    def parse(text: str) -> float:
        value = number(text)
        if limits.zero and value < 0:
            _fail("must be a number >= 0", text)
        if not limits.zero and value <= 0:
            _fail("must be a number > 0", text)
        if value not in limits:
            _fail(limits.rule, text)
        return value

    parse.__name__ = f"number_{kind}"
    return parse


def _integer(text: str, rule: str, low: int, high: int) -> int:
    value = parse_int(text)
    if value is None or not low <= value <= high:
        _fail(rule, text)
    return value


def nonneg_int(text: str) -> int:
    """A seed: an integer in 0 .. 2**128 - 1."""
    return _integer(text, f"must be an integer in 0..{MAX_SEED}", 0, MAX_SEED)


def positive_int(text: str) -> int:
    """A positive integer (at most 40 digits); commands bound it further with :func:`int_upto`."""
    return _integer(text, "must be a positive integer", 1, 10 ** 40)


def int_upto(high: int, what: str = ""):
    """The option type of an integer in ``1 .. high`` (``what`` says why the bound, for the message)."""
    rule = f"must be a positive integer at most {high:,}" + (f" ({what})" if what else "")

    def parse(text: str) -> int:
        return _integer(text, rule, 1, high)

    parse.__name__ = f"int_upto_{high}"
    return parse


#: ``--n``, ``--n-max``, ``--n-historical``, ``--events``, ``--target-events``.
patients = int_upto(MAX_N)
#: ``--reps``.
replicates = int_upto(MAX_REPLICATES)
#: ``--block-size``.
block_size = int_upto(MAX_BLOCK_SIZE)


def sides(text: str) -> int:
    """``--sided``: 1 or 2."""
    return _integer(text, "must be one of 1, 2", 1, 2)


def jobs(text: str) -> int:
    """A worker count: a positive integer, or -1 for all cores (more than the cores is capped: :func:`cap_jobs`)."""
    value = parse_int(text)
    if value is None or value == 0 or value < -1:
        _fail("must be a positive integer or -1 (all cores)", text)
    return value


def cap_jobs(prog: str, value: int | None, *, quiet: bool = False, file: TextIO | None = None) -> int | None:
    """``--jobs`` capped at the number of cores, with a note on stderr (none with ``--quiet``)."""
    cores = os.cpu_count() or 1
    if value is None or value == -1 or value <= cores:
        return value
    if not quiet:
        print(f"{prog}: note: --jobs {value} is more than this machine's {cores} cores; using {cores}",
              file=file if file is not None else sys.stderr)
    return cores


def allocation(text: str) -> tuple[int, ...]:
    """An allocation ratio such as ``1:1`` or ``2:1`` (one integer for a single arm), each part at most 1000."""
    parts = text.replace("/", ":").split(":")
    values = tuple(parse_int(p) for p in parts) if len(text) <= _LONGEST else (None,)
    if not 1 <= len(values) <= 2 or any(v is None or not 1 <= v <= 1000 for v in values):
        _fail("must be one or two positive integers like 1:1 or 2:1", text)
    return values  # type: ignore[return-value]  # every part checked above


def timeout(text: str) -> float:
    """``--timeout``: seconds in [1, 86400]."""
    value = number(text)
    if not 1 <= value <= 86_400:
        _fail("must be a number of seconds in [1, 86400]", text)
    return value


class Once(argparse.Action):
    """An option that may be given once (a second ``--grid`` is an error, not silently the winner)."""

    def __call__(self, parser, namespace, values, option_string=None):  # noqa: D102 - argparse API
        first = getattr(namespace, self.dest, None)
        if first is not None:
            parser.error(f"argument {option_string}: must be given once (got {show(first)} and then {show(values)})")
        setattr(namespace, self.dest, values)


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
