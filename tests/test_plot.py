"""trialsim.plot: every figure has what it promises, checked on its artists (headless: ``Figure`` objects only).

The figures are read back through the ``gid`` each plot puts on its artists and compared with numbers computed
here independently (Kaplan-Meier, state shares, median doses, Clopper-Pearson limits, the designs' fields).
Without matplotlib (it is the ``[plot]`` extra) only the import and error checks run.
"""

from __future__ import annotations

import importlib.util
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import trialsim
from trialsim import plot as tp
from trialsim.design import BinaryBayesRule, borrowing_prior, conflict_oc, group_sequential_design, survival_design
from trialsim.engines import vectorized
from trialsim.exceptions import InputError
from trialsim.model import (CR, DEAD, NR, PR, DiseaseModel, ParametricArm, Trial, default_model, default_trial,
                            state_probabilities)
from trialsim.stats import kaplan_meier, proportion_ci

HAS_MPL = importlib.util.find_spec("matplotlib") is not None
needs_mpl = pytest.mark.skipif(not HAS_MPL, reason="matplotlib (the [plot] extra) is not installed")


# ------------------------------------------------------------------------------------------------ helpers


def by_gid(fig, gid):
    return fig.findobj(lambda a: a.get_gid() == gid)


def one(fig, gid):
    found = by_gid(fig, gid)
    assert len(found) == 1, f"{gid}: {len(found)} artists"
    return found[0]


def errorbar(ax, gid):
    """(x, y, low, high) of the error bar whose marker has ``gid``."""
    for container in ax.containers:
        if type(container).__name__ == "ErrorbarContainer" and container.lines[0].get_gid() == gid:
            x, y = container.lines[0].get_xydata()[0]
            (x0, low), (x1, high) = container.lines[2][0].get_segments()[0]
            assert x0 == x1 == x
            return x, y, low, high
    raise AssertionError(f"no error bar {gid}")


def span_x(patch):
    if hasattr(patch, "get_width"):   # matplotlib >= 3.9: axvspan is a Rectangle
        return patch.get_x(), patch.get_x() + patch.get_width()
    xs = patch.get_xy()[:, 0]
    return xs.min(), xs.max()


def value_at(xy, t):
    """y of a right-continuous step polyline at t (the last vertex with x <= t)."""
    return xy[np.flatnonzero(xy[:, 0] <= t)[-1], 1]


@pytest.fixture(scope="module")
def model():
    return default_model()


@pytest.fixture(scope="module")
def batch(model):
    return vectorized.simulate(model, default_trial(40), n_replicates=200, seed=3, detail=True)


@pytest.fixture(scope="module")
def parametric_batch():
    control = ParametricArm.from_survival(0.62, at=8.0)
    m = DiseaseModel(arms=(control.with_hazard_ratio(0.2), control))
    return vectorized.simulate(m, Trial(n=40), n_replicates=50, seed=3, detail=True)


# ------------------------------------------------------------------------------------------------ imports


def test_importing_plot_does_not_import_matplotlib():
    code = "import sys, trialsim.plot\nprint('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


def test_without_matplotlib_drawing_raises_input_error():
    # sys.modules[name] = None makes `import name` fail as if it were not installed
    code = ("import sys\nsys.modules['matplotlib'] = None\n"
            "from trialsim import plot\nfrom trialsim.exceptions import InputError\n"
            "for call in (lambda: plot.plot_assurance([0.5, 0.7]), lambda: plot.check_plot_output('f.png')):\n"
            "    try:\n        call()\n    except InputError as exc:\n        print(exc.field, '|', exc)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    lines = out.strip().splitlines()
    assert len(lines) == 2
    for line in lines:
        assert line.startswith("plot | `plot` needs matplotlib: pip install 'trialsim[plot]'")


def test_plot_layer_exports():
    for name in tp.__all__:
        assert hasattr(tp, name), name


# ------------------------------------------------------------------------------------------------ saving


@needs_mpl
@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG\r\n\x1a\n"), (".PDF", b"%PDF"), (".svg", b"<?xml")])
def test_save_figure_writes_the_format_of_the_suffix(tmp_path, suffix, magic):
    fig = tp.plot_assurance([0.2, 0.5, 0.9])
    path = tmp_path / f"fig{suffix}"
    assert tp.save_figure(fig, path, dpi=40) == path
    assert path.read_bytes().startswith(magic)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]   # no temporary file left
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask                 # as open() would, not mkstemp's 0o600


@needs_mpl
def test_save_figure_palette_png(tmp_path):
    from PIL import Image

    fig = tp.plot_assurance(np.linspace(0, 1, 50), point_power=0.5)
    full, small = tmp_path / "full.png", tmp_path / "small.png"
    tp.save_figure(fig, full, dpi=60)
    tp.save_figure(fig, small, dpi=60, palette=True)
    assert small.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(small) as image, Image.open(full) as reference:
        assert image.mode == "P" and image.size == reference.size
    assert small.stat().st_size < full.stat().st_size
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full.png", "small.png"]


@needs_mpl
def test_save_figure_is_atomic(tmp_path):
    path = tmp_path / "fig.png"
    path.write_bytes(b"old")

    class Broken:
        def savefig(self, target, **kwargs):
            Path(target).write_bytes(b"half a PNG")
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        tp.save_figure(Broken(), path)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["fig.png"]


@pytest.mark.parametrize("name", ["fig.jpg", "fig", "fig.png.txt"])
def test_save_figure_refuses_other_suffixes(tmp_path, name):
    with pytest.raises(InputError, match=r"`plot` must end in \.png, \.svg or \.pdf") as info:
        tp.save_figure(object(), tmp_path / name)
    assert info.value.field == "plot"
    assert list(tmp_path.iterdir()) == []


@needs_mpl
def test_check_plot_output(tmp_path):
    assert tp.check_plot_output(tmp_path / "a.svg") == tmp_path / "a.svg"
    with pytest.raises(InputError, match="directory does not exist"):
        tp.check_plot_output(tmp_path / "missing" / "a.png")
    with pytest.raises(InputError, match="must end in"):
        tp.check_plot_output(tmp_path / "a.gif")
    with pytest.raises(InputError, match=r"^`--plot` must end in \.png, \.svg or \.pdf \(got '") as info:
        tp.check_plot_output(tmp_path / "a.gif", field="--plot")
    assert info.value.field == "--plot"
    with pytest.raises(InputError, match="^`--plot` directory does not exist"):
        tp.check_plot_output(tmp_path / "missing" / "a.png", field="--plot")


@needs_mpl
def test_save_figure_into_a_missing_directory_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="^`plot` cannot be written"):
        tp.save_figure(tp.plot_assurance([0.5]), tmp_path / "missing" / "a.png")
    with pytest.raises(InputError, match="^`--plot` must end in"):
        tp.save_figure(tp.plot_assurance([0.5]), tmp_path / "a.jpg", field="--plot")
    (tmp_path / "dir.png").mkdir()
    with pytest.raises(InputError, match="^`plot` cannot be written"):
        tp.save_figure(tp.plot_assurance([0.5]), tmp_path / "dir.png")
    assert [p.name for p in tmp_path.iterdir()] == ["dir.png"]


# ------------------------------------------------------------------------------------------------ Kaplan-Meier


@needs_mpl
def test_km_pooled_curve_per_arm_and_the_fan(batch):
    fig = tp.plot_km(batch, n_trials=25)
    ax = fig.axes[0]
    assert ax.get_xlabel() and ax.get_ylabel()
    pooled = [line for line in ax.lines if (line.get_gid() or "").startswith("km-pooled:")]
    assert [line.get_gid() for line in pooled] == ["km-pooled:ruxolitinib", "km-pooled:control"]
    for a, line in enumerate(pooled):
        assert batch.arm_names[a] in line.get_label()
        mask = batch.arm == a
        km = kaplan_meier(batch.time[mask], batch.event[mask])
        xy = line.get_xydata()
        for t in (0.5, 3.0, 7.99, 8.0):
            assert value_at(xy, t) == pytest.approx(km.survival_at(t), abs=1e-12)
        fan = one(fig, f"km-fan:{batch.arm_names[a]}")
        segments = fan.get_segments()
        assert len(segments) == 25
        # the fan's first curve is replicate 0's Kaplan-Meier estimate
        first = kaplan_meier(batch.time[0, mask[0]], batch.event[0, mask[0]])
        assert value_at(segments[0], 5.0) == pytest.approx(first.survival_at(5.0))
        assert fan.get_alpha() < 0.5


@needs_mpl
def test_km_marks_the_study_at_the_horizon_with_exact_intervals(batch, model):
    fig = tp.plot_km(batch, horizon=8.0, model=model)
    ax = fig.axes[0]
    for name, (count, size) in (("survival_ruxolitinib", (19, 20)), ("survival_control", (13, 21))):
        x, y, low, high = errorbar(ax, f"study:{name}")
        ci = proportion_ci(count, size)
        assert (x, y) == (8.0, pytest.approx(count / size))
        assert (low, high) == (pytest.approx(ci.ci_low), pytest.approx(ci.ci_high))
    assert errorbar(ax, "study:survival_ruxolitinib")[2] == pytest.approx(0.751267, abs=1e-6)
    # the model's exact curve passes through its calibration targets at the horizon
    for arm, target in (("ruxolitinib", 19 / 20), ("control", 13 / 21)):
        xy = one(fig, f"km-model:{arm}").get_xydata()
        assert xy[np.argmin(abs(xy[:, 0] - 8.0)), 1] == pytest.approx(target, abs=1e-6)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("19/20" in s and "75-100%" in s for s in labels)


@needs_mpl
def test_km_on_given_axes_and_without_study(batch):
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.add_subplot()
    assert tp.plot_km(batch, ax=ax, study=False, n_trials=0) is fig
    assert not ax.containers and not by_gid(fig, "km-fan:control")
    assert len([line for line in ax.lines if (line.get_gid() or "").startswith("km-pooled:")]) == 2


# ------------------------------------------------------------------------------------------------ states


def shares_by_hand(batch, arm):
    out = []
    for j in range(len(batch.visit_times)):
        codes = batch.response[:, :, j][batch.arm == arm]
        codes = codes[codes >= 0]
        out.append([np.mean(codes == s) for s in (NR, PR, CR, DEAD)])
    return np.array(out).T


@needs_mpl
def test_states_stacked_bars_and_the_study_marks(batch, model):
    fig = tp.plot_states(batch, arm="ruxolitinib", model=model)
    ax = fig.axes[0]
    assert ax.get_xlabel() and ax.get_ylabel()
    expected = shares_by_hand(batch, 0)
    bottom = np.zeros(len(batch.visit_times))
    for state, name in ((CR, "CR"), (PR, "PR"), (NR, "NR"), (DEAD, "dead")):   # stacked bottom to top
        bars = by_gid(fig, f"state:{name}")
        assert len(bars) == len(batch.visit_times)
        assert [b.get_x() + b.get_width() / 2 for b in bars] == pytest.approx(batch.visit_times)
        assert [b.get_height() for b in bars] == pytest.approx(expected[state])
        assert [b.get_y() for b in bars] == pytest.approx(bottom)
        bottom = bottom + expected[state]
    assert bottom == pytest.approx(1.0)
    # the study: PR 9/20 with CR 0/20 at week 1, CR 3/20 at week 3, CR 6, PR 10, NR 3, dead 1 of 20 at week 8
    marks = {"CR@1": (1, 0), "CR+PR@1": (1, 9), "CR@3": (3, 3), "CR@8": (8, 6), "CR+PR@8": (8, 16),
             "alive@8": (8, 19)}
    for label, (week, count) in marks.items():
        x, y, low, high = errorbar(ax, f"study:{label}")
        ci = proportion_ci(count, 20)
        assert (x, y, low, high) == (week, pytest.approx(count / 20), pytest.approx(ci.ci_low),
                                     pytest.approx(ci.ci_high))
    assert len(ax.containers) == 4 + len(marks)   # the bars and the marks, nothing else
    # the model's exact layer tops at week 8
    p8 = state_probabilities(model.arms[0].response, [8.0], model.baseline)[0]
    for level, value in (("CR", p8[CR]), ("CR+PR", p8[CR] + p8[PR]), ("alive", 1 - p8[DEAD])):
        xy = one(fig, f"state-model:{level}").get_xydata()
        assert xy[-1, 0] == 8.0 and xy[-1, 1] == pytest.approx(value)


@needs_mpl
def test_states_lines_style_marks_each_target(batch, model):
    fig = tp.plot_states(batch, style="lines", model=model)
    ax = fig.axes[0]
    expected = shares_by_hand(batch, 0)
    for state, name in ((NR, "NR"), (PR, "PR"), (CR, "CR"), (DEAD, "dead")):
        xy = one(fig, f"state:{name}").get_xydata()
        assert xy[:, 0] == pytest.approx(batch.visit_times) and xy[:, 1] == pytest.approx(expected[state])
        assert one(fig, f"state-model:{name}")
    targets = {"PR@1": (1, 9), "CR@1": (1, 0), "CR@3": (3, 3), "CR@8": (8, 6), "PR@8": (8, 10), "NR@8": (8, 3),
               "dead@8": (8, 1)}
    for label, (week, count) in targets.items():
        x, y, low, high = errorbar(ax, f"study:{label}")
        assert abs(x - week) < 0.2 and y == pytest.approx(count / 20)
        assert (low, high) == (pytest.approx(proportion_ci(count, 20).ci_low),
                               pytest.approx(proportion_ci(count, 20).ci_high))


@needs_mpl
def test_states_control_arm_has_no_study_marks(batch):
    fig = tp.plot_states(batch, arm=1)
    assert not [c for c in fig.axes[0].containers if type(c).__name__ == "ErrorbarContainer"]
    assert "control" in fig.axes[0].get_title()


@needs_mpl
def test_states_and_doses_need_an_observed_course(parametric_batch, batch):
    with pytest.raises(InputError, match="no observed responses"):
        tp.plot_states(parametric_batch)
    with pytest.raises(InputError, match="no observed doses"):
        tp.plot_doses(parametric_batch)
    with pytest.raises(InputError, match="`arm` must be one of"):
        tp.plot_states(batch, arm="placebo")
    with pytest.raises(InputError, match="`style`"):
        tp.plot_states(batch, style="pie")


def test_study_marks_are_the_targets():
    stacked = {(m["label"], m["week"]): m["count"] for m in tp.state_marks("ruxolitinib")}
    assert stacked == {("CR", 1.0): 0, ("CR+PR", 1.0): 9, ("CR", 3.0): 3, ("CR", 8.0): 6, ("CR+PR", 8.0): 16,
                       ("alive", 8.0): 19}
    flat = {(m["label"], m["week"]): m["count"] for m in tp.state_marks("ruxolitinib", stacked=False)}
    assert flat == {("PR", 1.0): 9, ("CR", 1.0): 0, ("CR", 3.0): 3, ("CR", 8.0): 6, ("PR", 8.0): 10,
                    ("NR", 8.0): 3, ("dead", 8.0): 1}
    assert tp.state_marks("control") == []
    assert [(m["arm"], m["count"], m["size"]) for m in tp.survival_marks(("control",))] == [("control", 13, 21)]


# ------------------------------------------------------------------------------------------------ doses


@needs_mpl
def test_doses_paths_median_and_study(batch):
    fig = tp.plot_doses(batch, n_paths=12)
    ax = fig.axes[0]
    assert "mg/kg/day" in ax.get_ylabel() and ax.get_xlabel()
    visits = np.array(batch.visit_times)
    for a, name in enumerate(batch.arm_names):
        paths = one(fig, f"dose-paths:{name}").get_segments()
        assert len(paths) == 12
        first = paths[0]
        starts = batch.dose_start[batch.arm == a]
        assert first[0] == pytest.approx([0.0, starts[0]])
        median = one(fig, f"dose-median:{name}").get_xydata()
        in_arm = batch.arm == a
        by_hand = [np.median(batch.dose_start[in_arm])]
        for j in range(visits.size):
            alive = in_arm & (batch.response[:, :, j] >= 0) & (batch.response[:, :, j] <= 2)
            by_hand.append(np.median(batch.dose[:, :, j][alive]))
        assert median[:visits.size + 1, 0] == pytest.approx(np.concatenate(([0.0], visits)))
        assert median[:visits.size + 1, 1] == pytest.approx(by_hand)
    study = one(fig, "study:dose").get_xydata()
    assert study.tolist() == [[0.0, 2.7], [8.0, 0.5]]
    assert "2.7" in one(fig, "study:dose").get_label() and "0.5" in one(fig, "study:dose").get_label()


@needs_mpl
def test_simulation_figure_panels(batch, parametric_batch, model):
    fig = tp.plot_simulation(batch, model=model, n_trials=5, n_paths=5)
    assert len(fig.axes) == 4
    assert len(by_gid(fig, "km-fan:ruxolitinib")) == 1 and len(by_gid(fig, "dose-median:control")) == 1
    assert len(by_gid(fig, "state:CR")) == 2 * len(batch.visit_times)   # one state panel per arm
    assert "seed 3" in fig.get_suptitle()
    only_km = tp.plot_simulation(parametric_batch)
    assert len(only_km.axes) == 1 and by_gid(only_km, "km-pooled:control")


# ------------------------------------------------------------------------------------------------ power


@pytest.fixture(scope="module")
def power_points():
    return [(n, trialsim.power(n=n, seed=1, n_replicates=200)) for n in (60, 20, 40)]


@needs_mpl
def test_power_curve_band_and_analytic(power_points):
    fig = tp.plot_power_curve(power_points, target=0.8)
    ax = fig.axes[0]
    assert ax.get_xlabel().startswith("trial size n") and ax.get_ylabel() == "power"
    ordered = sorted(power_points, key=lambda p: p[0])
    simulated = one(fig, "power-simulated").get_xydata()
    assert simulated[:, 0].tolist() == [20, 40, 60]
    assert simulated[:, 1] == pytest.approx([r.power for _, r in ordered])
    analytic = one(fig, "power-analytic").get_xydata()
    assert analytic[:, 1] == pytest.approx([r.analytic_power for _, r in ordered])
    from matplotlib.collections import PolyCollection

    band = one(fig, "power-band")
    assert isinstance(band, PolyCollection)
    vertices = band.get_paths()[0].vertices
    for n, r in ordered:
        at = vertices[np.isclose(vertices[:, 0], n), 1]
        assert at.min() == pytest.approx(r.ci_low) and at.max() == pytest.approx(r.ci_high)
    assert one(fig, "power-target").get_ydata()[0] == 0.8


@needs_mpl
def test_power_curve_se_band(power_points):
    fig = tp.plot_power_curve(power_points[:1], band="se", analytic=False, parameter="hazard_ratio")
    vertices = one(fig, "power-band").get_paths()[0].vertices
    r = power_points[0][1]
    assert vertices[:, 1].min() == pytest.approx(r.power - 1.96 * r.standard_error)
    assert vertices[:, 1].max() == pytest.approx(r.power + 1.96 * r.standard_error)
    assert not by_gid(fig, "power-analytic") and fig.axes[0].get_xlabel() == "hazard_ratio"
    categorical = tp.plot_power_curve([((1, 1), power_points[1][1]), ((2, 1), power_points[0][1])],
                                      parameter="allocation")
    assert one(categorical, "power-simulated").get_xdata().tolist() == [0.0, 1.0]
    assert [t.get_text() for t in categorical.axes[0].get_xticklabels()] == ["1:1", "2:1"]
    with pytest.raises(InputError, match="`points`"):
        tp.plot_power_curve([])
    with pytest.raises(InputError, match="`points`"):
        tp.plot_power_curve([(20, 0.5)])


# ------------------------------------------------------------------------------------------------ boundaries


@needs_mpl
def test_boundaries_z_scale_with_stopping_proportions():
    gs = group_sequential_design([1 / 3, 2 / 3, 1], efficacy="hsd:-4", futility="hsd:-2")
    stops = {"efficacy": [0.1, 0.3, 0.2], "futility": [0.05, 0.1, 0.25]}
    fig = tp.plot_boundaries(gs, stopping=stops, expected="h1")
    ax = fig.axes[0]
    eff = one(fig, "bound:efficacy").get_xydata()
    assert eff[:, 0] == pytest.approx(gs.information_fractions) and eff[:, 1] == pytest.approx(gs.efficacy_z)
    fut = one(fig, "bound:futility").get_xydata()
    assert fut[:, 1] == pytest.approx(gs.futility_z)
    assert fut[-1, 1] == pytest.approx(eff[-1, 1])          # the bounds meet at the last look
    assert ax.get_xlabel() and ax.get_ylabel()
    efficacy_bars = by_gid(fig, "stop:efficacy")
    futility_bars = by_gid(fig, "stop:futility")
    assert [b.get_height() for b in efficacy_bars] == pytest.approx(stops["efficacy"])
    assert [b.get_height() for b in futility_bars] == pytest.approx(stops["futility"])
    assert [b.get_y() for b in futility_bars] == pytest.approx(stops["efficacy"])   # stacked
    assert one(fig, "stop-design:efficacy").get_ydata() == pytest.approx(gs.efficacy_crossing_h1)
    assert len(fig.axes) == 2 and fig.axes[1].get_ylabel().startswith("share of trials")   # the twin axis
    assert not by_gid(fig, "hr:efficacy")   # no events, no hazard-ratio panel


@needs_mpl
def test_boundaries_hazard_ratio_scale_from_a_survival_design():
    gs = group_sequential_design([0.5, 1.0], alpha=0.025, power=0.8, efficacy="of", futility="hsd:-2")
    sd = survival_design(gs, hazard_ratio=0.35, control_survival=(13 / 21, 8.0), accrual_time=20, follow_up=8)
    fig = tp.plot_boundaries(sd)
    assert len(fig.axes) == 2                                 # z and hazard ratio side by side
    hr = one(fig, "hr:efficacy").get_xydata()
    assert hr[:, 0] == pytest.approx(sd.events) and hr[:, 1] == pytest.approx(sd.efficacy_hazard_ratio)
    d = np.array(sd.events)
    assert hr[:, 1] == pytest.approx(np.exp(-np.array(sd.efficacy_z) * 2 / np.sqrt(d)))
    fut = one(fig, "hr:futility").get_ydata()
    assert fut == pytest.approx(np.exp(-np.array(gs.futility_z, dtype=float) * 2 / np.sqrt(d)))
    assert one(fig, "hr:design").get_ydata()[0] == 0.35
    assert fig.axes[1].get_yscale() == "log" and "hazard ratio" in fig.axes[1].get_ylabel()
    assert "deaths" in fig.axes[0].get_xticklabels()[0].get_text()


@needs_mpl
def test_boundaries_two_sided_events_and_errors():
    from matplotlib.figure import Figure

    gs = group_sequential_design([0.5, 1.0], alpha=0.05, sided=2, efficacy="of")
    fig = Figure()
    ax = fig.add_subplot()
    assert tp.plot_boundaries(gs, scale="hr", events=30, allocation_ratio=2.0, ax=ax) is fig
    hr = one(fig, "hr:efficacy").get_xydata()
    assert hr[:, 0] == pytest.approx([15, 30])
    assert hr[:, 1] == pytest.approx(np.exp(-np.array(gs.efficacy_z) * 3 / np.sqrt(2 * np.array([15, 30]))))
    assert one(fig, "hr:efficacy-harm").get_ydata() == pytest.approx(1 / hr[:, 1])
    z = tp.plot_boundaries(gs)
    assert len(z.axes) == 1
    assert one(z, "bound:efficacy-lower").get_ydata() == pytest.approx(-np.array(gs.efficacy_z))
    with pytest.raises(InputError, match="`events`"):
        tp.plot_boundaries(gs, scale="hr")
    with pytest.raises(InputError, match="`scale`"):
        tp.plot_boundaries(gs, scale="both", events=30, ax=ax)
    with pytest.raises(InputError, match="`stopping`"):
        tp.plot_boundaries(gs, stopping=[0.1, 0.2, 0.3])
    with pytest.raises(InputError, match="`design`"):
        tp.plot_boundaries(gs.to_dict())


@needs_mpl
def test_sequential_power_draws_the_applied_bounds_and_the_simulated_stopping():
    """A simulated trial with looks (calibrated bounds, so they differ from the normal-theory design's): the z
    panel shows the bounds as applied, the bars the simulated shares, the HR panel sits at the planned deaths."""
    from dataclasses import replace as change

    from trialsim.design import SequentialDesign, TwoArmDesign, sequential_power

    control = ParametricArm.from_survival(0.62, at=8.0)
    m = DiseaseModel(arms=(control.with_hazard_ratio(0.3), control))
    trial = Trial(n=60, target_events=20, analysis="events", accrual=trialsim.model.Accrual(kind="poisson", rate=4))
    design = SequentialDesign(base=TwoArmDesign(alpha=0.05, sided=2), model=m, fractions=(0.5, 1.0),
                              calibrate=True, calibration_replicates=2000)
    result = sequential_power(m, trial, design, n_replicates=500, seed=5, n_jobs=1, check_alpha=False)
    fractions = tuple(look.information_fraction for look in result.looks)
    gs = design.boundaries_at(fractions)
    applied = [look.efficacy_z for look in result.looks]
    assert applied != pytest.approx(gs.efficacy_z)     # calibrated: the figure must not show gs's bounds
    fig = tp.plot_sequential_power(result, gs, allocation_ratio=1.0)
    assert len(fig.axes) == 3                            # z, its twin for the shares, hazard ratio
    assert one(fig, "bound:efficacy").get_ydata() == pytest.approx(applied)
    assert [b.get_height() for b in by_gid(fig, "stop:efficacy")] == pytest.approx(
        [look.efficacy_stop for look in result.looks])
    assert [b.get_height() for b in by_gid(fig, "stop:futility")] == pytest.approx(
        [look.futility_stop for look in result.looks])
    hr = one(fig, "hr:efficacy").get_xydata()
    deaths = np.array([look.planned_deaths for look in result.looks])
    assert hr[:, 0] == pytest.approx(deaths)
    assert hr[:, 1] == pytest.approx(np.exp(-np.array(applied) * 2 / np.sqrt(deaths)))
    with pytest.raises(InputError, match="`boundaries`"):
        tp.plot_sequential_power(result, group_sequential_design([0.4, 1.0]))
    with pytest.raises(InputError, match="`result`"):
        tp.plot_sequential_power(result.result, gs)
    with pytest.raises(InputError, match="`result`"):
        tp.plot_sequential_power(change(result, sequential=False), gs)


def test_hazard_ratio_bound():
    assert float(tp.hazard_ratio_bound(1.96, 100)) == pytest.approx(math.exp(-0.392))
    assert float(tp.hazard_ratio_bound(1.96, 100, benefit_below_one=False)) == pytest.approx(math.exp(0.392))
    with pytest.raises(InputError):
        tp.hazard_ratio_bound(1.96, 0)


# ------------------------------------------------------------------------------------------------ assurance


@needs_mpl
def test_assurance_histogram_and_lines():
    powers = np.random.default_rng(7).beta(5, 2, 500)
    fig = tp.plot_assurance(powers, assurance=0.7, point_power=0.86)
    ax = fig.axes[0]
    bars = by_gid(fig, "assurance-hist")
    assert len(bars) == 40 and sum(b.get_height() for b in bars) == 500
    assert one(fig, "assurance").get_xdata()[0] == 0.7
    assert one(fig, "point-power").get_xdata()[0] == 0.86
    assert ax.get_xlabel() and ax.get_ylabel() == "draws"
    default = tp.plot_assurance(powers)
    assert one(default, "assurance").get_xdata()[0] == pytest.approx(powers.mean())
    assert not by_gid(default, "point-power")
    with pytest.raises(InputError, match="`powers`"):
        tp.plot_assurance([0.5, 1.2])


# ------------------------------------------------------------------------------------------------ conflict


@needs_mpl
def test_conflict_oc_lines_alpha_and_historical_rate():
    rule = BinaryBayesRule(20, 20, 0.975, prior_c=borrowing_prior("power", x0=13, n0=21, a0=1.0))
    oc = conflict_oc(rule, np.linspace(0.3, 0.9, 13), delta=0.15)
    fig = tp.plot_conflict_oc(oc, alpha=0.025)
    left, right = fig.axes
    t1e = one(fig, "oc:type-i-error")
    assert t1e.axes is left
    assert t1e.get_xdata() == pytest.approx(oc.p_c) and t1e.get_ydata() == pytest.approx(oc.type_i_error)
    power = one(fig, "oc:power")
    assert power.axes is right
    np.testing.assert_allclose(power.get_ydata(), oc.power)      # NaN where p_C + 0.15 > 1
    assert np.isnan(power.get_ydata()[-1])
    assert one(fig, "alpha").get_ydata()[0] == 0.025
    assert one(fig, "historical").get_xdata()[0] == pytest.approx(13 / 21)
    ci = proportion_ci(13, 21)
    assert span_x(one(fig, "historical-ci")) == (pytest.approx(ci.ci_low), pytest.approx(ci.ci_high))
    assert one(fig, "prior-mean").get_xdata()[0] == pytest.approx(oc.prior_mean_control)
    assert left.get_xlabel() and left.get_ylabel().startswith("type I error")
    assert right.get_ylabel() == "power (p_T = p_C + 0.15)"
    bare = tp.plot_conflict_oc(oc, historical=None)
    assert not by_gid(bare, "historical")
    with pytest.raises(InputError, match="`oc`"):
        tp.plot_conflict_oc(oc.rows())
