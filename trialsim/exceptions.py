"""Warnings and errors shared by every trialsim module."""

from __future__ import annotations

__all__ = ["TrialsimWarning", "DegenerateStatisticWarning", "InputError"]


class TrialsimWarning(UserWarning):
    """Base class of every warning trialsim raises."""


class DegenerateStatisticWarning(TrialsimWarning):
    """A statistic is degenerate (no events, an empty group, zero variance).

    The function that raises it documents the value it returns instead.
    """


class InputError(ValueError):
    """Bad user input (an option, a scenario key, a model field).

    The message is one line that names the option, file or key and the value; the command line prints it
    and exits with status 2.
    """
