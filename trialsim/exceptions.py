"""Warnings and errors shared by every trialsim module.

One error type for bad input, :class:`InputError`, in one format: ``<subject> <rule> (got <value>)``. The
library names the subject as the field or argument (```Trial.n``` ); the command line names it as the option
(``--n``) or the scenario file's key (``study.toml: [trial] n``) and prints
``trialsim <command>: error: <subject> <rule> (got <value>)``.
"""

from __future__ import annotations

__all__ = ["TrialsimWarning", "DegenerateStatisticWarning", "InputError", "invalid", "show", "SHOWN",
           "SHOWN_FROM_FILE", "SHOWN_PATH"]

#: Longest text of a value an error message echoes (a longer one is cut, so that one line stays one line).
SHOWN = 60
#: ... and of a value read from a file: a file that is not a valid scenario may hold anything, secrets included.
SHOWN_FROM_FILE = 12


class TrialsimWarning(UserWarning):
    """Base class of every warning trialsim raises."""


class DegenerateStatisticWarning(TrialsimWarning):
    """A statistic is degenerate (no events, an empty group, zero variance).

    The function that raises it documents the value it returns instead.
    """


def show(value: object, limit: int = SHOWN) -> str:
    """A value as an error message shows it: ``repr`` (control characters escaped), cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


class InputError(ValueError):
    """Bad user input (an argument, a model field, an option, a scenario key): the one error type of every
    validation in trialsim.

    Parameters
    ----------
    message
        One line: ``<subject> <rule> (got <value>)``, e.g.
        ``"`Trial.n` must be a multiple of 2 for allocation 1:1 (got 41)"``. Build it with :func:`invalid`.
    field
        The offending field or argument, dotted with its owner where it has one (``"Trial.n"``,
        ``"n_replicates"``); ``None`` when the error is not about one field.
    value
        The offending value.
    rule
        What the value must be (``"must be a multiple of 2 for allocation 1:1"``); with the value it lets the
        command line name the same error after the option or the scenario key that set it (:meth:`about`).

    Being a ``ValueError``, it is caught by code that expects the standard exception for a bad value.
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

    def about(self, subject: str, *, limit: int = SHOWN) -> InputError:
        """The same error, naming ``subject`` (an option, a file's key) instead of the field; the value is shown
        up to ``limit`` characters (:data:`SHOWN_FROM_FILE` for a value read from a file)."""
        if self.rule is None:
            return InputError(f"{subject}: {self}", field=self.field, value=self.value)
        return InputError(f"{subject} {self.rule} (got {show(self.value, limit)})", field=self.field,
                          value=self.value, rule=self.rule)


#: ... and of a path (a file name is shown whole, up to this).
SHOWN_PATH = 255


def invalid(field: str, rule: str, value: object, *, subject: str | None = None, limit: int = SHOWN) -> InputError:
    """The error for a bad value, in the one format: ``"`field` rule (got value)"``.

    ``subject`` names the thing differently from the field (an option: ``--n``); the value is shown up to
    ``limit`` characters (:data:`SHOWN_PATH` for a file name).

    Examples
    --------
    >>> str(invalid("Trial.n", "must be a multiple of 2 for allocation 1:1", 41))
    '`Trial.n` must be a multiple of 2 for allocation 1:1 (got 41)'
    >>> str(invalid("n", "must be a multiple of 2 for allocation 1:1", 41, subject="--n"))
    '--n must be a multiple of 2 for allocation 1:1 (got 41)'
    """
    return InputError(f"{subject or f'`{field}`'} {rule} (got {show(value, limit)})", field=field, value=value,
                      rule=rule)
