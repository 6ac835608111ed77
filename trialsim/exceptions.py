"""Warnings and errors shared by every trialsim module."""

from __future__ import annotations

__all__ = ["TrialsimWarning", "DegenerateStatisticWarning", "InputError", "invalid"]


class TrialsimWarning(UserWarning):
    """Base class of every warning trialsim raises."""


class DegenerateStatisticWarning(TrialsimWarning):
    """A statistic is degenerate (no events, an empty group, zero variance).

    The function that raises it documents the value it returns instead.
    """


class InputError(ValueError):
    """Bad user input (an argument, a model field, an option, a scenario key): the one error type of every
    validation in trialsim.

    Parameters
    ----------
    message
        One line that names what is wrong, the rule and the value, e.g.
        ``"`Trial.n` must be a positive multiple of 2 for 1:1 allocation; got 41"``.
    field
        The offending field or argument, dotted with its owner where it has one (``"Trial.n"``,
        ``"n_replicates"``); ``None`` when the error is not about one field.
    value
        The offending value.

    The command line prints the message in its one error format and exits with status 2. Being a
    ``ValueError``, it is caught by code that expects the standard exception for a bad value.
    """

    def __init__(self, message: str, *, field: str | None = None, value: object = None,
                 rule: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.value = value
        self.rule = rule

    @property
    def key(self) -> str | None:
        """The field without its owner (``"n"`` for ``"Trial.n"``): the key of a scenario file's table."""
        return None if self.field is None else self.field.rsplit(".", 1)[-1]


def invalid(field: str, rule: str, value: object) -> InputError:
    """The error for a bad value, in the one format: ``"`field` rule (got value)"``.

    Examples
    --------
    >>> str(invalid("Trial.n", "must be a positive multiple of 2 for 1:1 allocation", 41))
    '`Trial.n` must be a positive multiple of 2 for 1:1 allocation (got 41)'
    """
    return InputError(f"`{field}` {rule} (got {value!r})", field=field, value=value, rule=rule)
