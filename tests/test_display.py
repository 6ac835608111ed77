"""Result objects show themselves in a notebook (``_repr_html_``: a compact HTML table) and as a pandas frame."""

from __future__ import annotations

from html.parser import HTMLParser

import pandas as pd
import pytest

import trialsim
from trialsim.design import group_sequential_design, survival_design
from trialsim.model import DiseaseModel, ParametricArm, Trial


class Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.caption = ""
        self._where = ""

    def handle_starttag(self, tag, attrs):
        self._where = tag
        if tag == "tr":
            self.rows.append([])

    def handle_data(self, data):
        if self._where in ("td", "th") and self.rows:
            self.rows[-1].append(data)
        elif self._where == "caption":
            self.caption += data


MODEL = DiseaseModel(arms=(ParametricArm.from_survival(0.9, 8.0), ParametricArm.from_survival(0.62, 8.0)))


@pytest.fixture(scope="module")
def results():
    design = group_sequential_design([0.5, 1.0], efficacy="ld-of")
    return {
        "power": trialsim.power(MODEL, Trial(n=40), n_replicates=300, seed=1, n_jobs=1),
        "calibration": trialsim.calibrate(),
        "boundaries": design,
        "survival design": survival_design(design, hazard_ratio=0.6, control_median=12.0, accrual_rate=20.0,
                                           accrual_time=20.0),
        "log-rank": trialsim.logrank([1, 2, 3, 4], [1, 1, 0, 1], ["a", "b", "a", "b"]),
        "binomial": trialsim.binomial_test(19, 20, 0.62),
    }


@pytest.mark.parametrize("name", ["power", "calibration", "boundaries", "survival design", "log-rank", "binomial"])
def test_a_result_is_a_table_in_html_and_in_pandas(results, name):
    result = results[name]
    frame = result.to_frame()
    assert isinstance(frame, pd.DataFrame) and len(frame) > 0
    page = Cells()
    page.feed(result._repr_html_())
    assert page.caption == type(result).__name__
    header, *rows = page.rows
    assert header == list(frame.columns) and len(rows) == len(frame)  # the same table both ways


def test_tables_hold_the_result_s_own_numbers(results):
    looks = results["boundaries"].to_frame()
    assert list(looks["efficacy_z"]) == list(results["boundaries"].efficacy_z)  # one row per look
    targets = results["calibration"].to_frame()
    assert list(targets["name"]) == [t.name for t in results["calibration"].targets]
    power = results["power"].to_frame().set_index("field")["value"]
    assert power["power"] == results["power"].power and power["seed"] == 1
