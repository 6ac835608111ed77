"""``trialsim report``: one self-contained document of a design.

The page is parsed with the standard library's HTML parser: every section is there, in order; every image is an
inline ``data:image/png;base64`` (decoded: a PNG); nothing refers outside the page (no ``http``, no ``src`` that is
not a ``data:`` URL, no link); and two runs with the same seed give the same file but for the one time-stamp line.
"""

from __future__ import annotations

import base64
from html.parser import HTMLParser

import pytest

from trialsim.cli import main

SECTIONS_CTDMAS = ["The scenario", "The calibrated model and the study re-run", "Power and sample size",
                   "Power curve", "Assurance", "Seeds and version", "Reproducing every number"]
SECTIONS_PARAMETRIC = ["The scenario", "The simulated cohorts", "Power and sample size", "Power curve",
                       "Assurance", "Seeds and version", "Reproducing every number"]
SECTIONS_LOOKS = ["The scenario", "The simulated cohorts", "Power and sample size", "Power curve",
                  "Group-sequential boundaries", "Assurance", "Seeds and version", "Reproducing every number"]
#: A parametric trial with two looks, event-driven (the scenario format's [design] looks keys).
LOOKS_SCENARIO = """name = "looks"
[model]
kind = "parametric"
horizon = 8.0
control_survival = 0.62
treatment_survival = 0.95
[trial]
n = 60
accrual_rate = 4
follow_up = 8.0
analysis = "events"
target_events = 12
[design]
kind = "two_arm"
alpha = 0.05
sided = 2
looks = [0.5, 1.0]
spending = "ld-of"
"""


class Page(HTMLParser):
    """Headings, images and every attribute that could point elsewhere."""

    def __init__(self) -> None:
        super().__init__()
        self.h2: list[str] = []
        self.sources: list[str] = []
        self.references: list[tuple[str, str, str]] = []
        self._in_h2 = False

    def handle_starttag(self, tag, attrs):
        self._in_h2 = tag == "h2"
        for name, value in attrs:
            if name in ("src", "href", "srcset", "action", "data", "poster") and value is not None:
                self.references.append((tag, name, value))
            if tag == "img" and name == "src":
                self.sources.append(value)

    def handle_endtag(self, tag):
        if tag == "h2":
            self._in_h2 = False

    def handle_data(self, data):
        if self._in_h2:
            self.h2.append(data)


def _report(tmp_path, capsys, name, *argv):
    path = tmp_path / name
    assert main(["report", "--out", str(path), "--seed", "3", "--quiet", *argv]) == 0
    out, err = capsys.readouterr()
    assert out == "" and err == ""  # the result is the file; --quiet says nothing
    return path


def _check_page(text: str, sections: list[str]) -> Page:
    page = Page()
    page.feed(text)
    assert page.h2 == sections
    assert "http" not in text and "<link" not in text and "<script" not in text
    assert page.sources and all(src.startswith("data:image/png;base64,") for src in page.sources)
    for src in page.sources:
        assert base64.b64decode(src.split(",", 1)[1]).startswith(b"\x89PNG\r\n\x1a\n")
    assert all(value.startswith("data:") for _, _, value in page.references), page.references
    return page


def test_parametric_report_is_self_contained_and_repeats(tmp_path, capsys):
    first = _report(tmp_path, capsys, "one.html", "--scenario", "parametric", "--reps", "400").read_text()
    second = _report(tmp_path, capsys, "two.html", "--scenario", "parametric", "--reps", "400").read_text()
    _check_page(first, SECTIONS_PARAMETRIC)
    differ = [(a, b) for a, b in zip(first.splitlines(), second.splitlines()) if a != b]
    assert len(first.splitlines()) == len(second.splitlines()) and len(differ) <= 1
    assert all("Generated" in a for a, _ in differ)
    assert "trialsim power --scenario parametric --seed 3 --reps 400 --n 40" in first
    assert "trialsim assurance --scenario parametric --seed 3 --draws 500 --reps 200 --point-reps 400" in first
    assert "take their survival at the horizon from the draws" in first


def test_a_design_with_looks_has_its_boundaries(tmp_path, capsys):
    """The boundaries section: the bounds and the simulated stopping per look, the figure, the command; its
    numbers are those ``trialsim power --scenario`` prints for the same seed."""
    import json
    import re

    scenario = tmp_path / "looks.toml"
    scenario.write_text(LOOKS_SCENARIO)
    text = _report(tmp_path, capsys, "looks.html", "--scenario", str(scenario), "--reps", "400").read_text()
    _check_page(text, SECTIONS_LOOKS)
    section = text[text.index(">Group-sequential boundaries<"):text.index(">Assurance<")]
    assert section.count("<img") == 1 and "ld-of" in section
    assert main(["power", "--scenario", str(scenario), "--seed", "3", "--reps", "400", "--json", "--quiet"]) == 0
    looks = json.loads(capsys.readouterr().out)["looks"]
    cells = re.findall(r"<td>([^<]*)</td>", section)
    for look in looks:
        assert f"{look['efficacy_z']:.3f}" in cells
        assert f"{look['efficacy_stop']:.4f} ({look['efficacy_stop_se']:.4f})" in cells


@pytest.mark.slow
def test_default_report_has_the_calibration_and_markdown_has_its_images(tmp_path, capsys):
    text = _report(tmp_path, capsys, "design.html", "--reps", "400").read_text()
    _check_page(text, SECTIONS_CTDMAS)
    assert "survival_control" in text and "13/21" in text  # the calibration table
    md = _report(tmp_path, capsys, "design.md", "--reps", "400")
    images = sorted(p.name for p in tmp_path.glob("design_*.png"))
    assert images == ["design_assurance.png", "design_calibration.png", "design_power_curve.png"]
    body = md.read_text()
    assert all(f"]({name})" in body for name in images) and "## Power curve" in body


def test_bad_output_is_refused_before_any_work(tmp_path, capsys):
    assert main(["report", "--out", str(tmp_path / "design.pdf")]) == 2
    assert capsys.readouterr().err == f"trialsim report: error: --out must end in .html or .md (got " \
                                      f"'{tmp_path / 'design.pdf'}')\n"
