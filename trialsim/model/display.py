"""How result objects show themselves: a compact HTML table in Jupyter, and a pandas ``DataFrame``.

:class:`Tabular` gives a frozen result dataclass ``to_frame()`` and ``_repr_html_()`` from one method,
``_table()`` (column names and rows). The default table has one row per field whose value is a number, a string
or a short tuple; results with a natural table of their own (the looks of a design, the targets of a
calibration) override ``_table``. pandas is imported only when a frame is asked for.
"""

from __future__ import annotations

import html
import math
from dataclasses import fields, is_dataclass
from typing import Any

import numpy as np

__all__ = ["Tabular", "records_table"]

#: Longest tuple the default table shows in one cell.
_SHORT = 8


def _cell(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    if isinstance(value, tuple):
        return ", ".join(str(_cell(v)) for v in value)
    return value


def _showable(value: Any) -> bool:
    if value is None or isinstance(value, (bool, int, float, str, np.number, np.bool_)):
        return True
    return isinstance(value, tuple) and len(value) <= _SHORT and all(_showable(v) for v in value)


def _text(value: Any) -> str:
    if isinstance(value, float):
        return "-" if not math.isfinite(value) else f"{value:.6g}"
    return "-" if value is None else str(value)


def records_table(records: list[dict]) -> tuple[list[str], list[list[Any]]]:
    """A table from records sharing their keys (the looks of a design, the targets of a calibration)."""
    columns = list(records[0]) if records else []
    return columns, [[_cell(record.get(c)) for c in columns] for record in records]


class Tabular:
    """Mixin of the result dataclasses: ``to_frame()`` and ``_repr_html_()`` from ``_table()``."""

    __slots__ = ()

    def _table(self) -> tuple[list[str], list[list[Any]]]:
        """Column names and rows; by default one row (field, value) per short field."""
        assert is_dataclass(self)
        rows = [[f.name, _cell(getattr(self, f.name))] for f in fields(self) if _showable(getattr(self, f.name))]
        return ["field", "value"], rows

    def to_frame(self) -> Any:
        """The result as a ``pandas.DataFrame`` (the rows of :meth:`_table`)."""
        import pandas as pd

        columns, rows = self._table()
        return pd.DataFrame(rows, columns=columns)

    def _repr_html_(self) -> str:
        """A compact HTML table: what Jupyter shows for the result."""
        columns, rows = self._table()
        head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(_text(_cell(v)))}</td>" for v in row) + "</tr>"
                       for row in rows)
        return (f"<table><caption>{html.escape(type(self).__name__)}</caption><thead><tr>{head}</tr></thead>"
                f"<tbody>{body}</tbody></table>")
