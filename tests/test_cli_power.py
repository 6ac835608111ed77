"""`trialsim power` and `trialsim sample-size`: output, reproducibility across workers, and bad input."""

import csv
import io
import json
import math
import subprocess
import sys

import pytest
from scipy.stats import norm

import trialsim.design.montecarlo as mc
from trialsim.cli.options import Progress
from trialsim.cli import main

PARAMETRIC = ["--control-survival", "0.62", "--treatment-survival", "0.95", "--horizon", "8"]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("argv, piece", [
    (["power", "--n", "41"], "--n must be a multiple of 2 for allocation 1:1 (got 41)"),
    (["power", "--alpha", "1.5"], "--alpha"),
    (["power", "--control-survival", "0"], "--control-survival"),
    (["power", "--scenario", "nope"], "--scenario must be a built-in scenario"),
    (["power", "--n", "forty"], "--n"),
    (["power", "--hazard-ratio", "0.5"], "--control-survival or --control-median"),
    (["power", "--out", "x.csv"], "--grid"),
    (["power", "--grid", "nn=1:3:1"], "nn"),
    (["sample-size", "--power", "1.2"], "--power"),
])
def test_bad_input_exits_2_with_one_line(capsys, argv, piece):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and piece in err, err


def test_scenario_file_with_typo_names_file_key_value(capsys, tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text("[trial]\nn = 40\nfolow_up = 8.0\n")
    code, _, err = run(capsys, "power", "--scenario", str(path), "--reps", "10")
    assert code == 2 and err.count("\n") == 1
    assert "mine.toml: [trial] folow_up is not a key of [trial]" in err and "(got a float)" in err


KEYS = {"power", "standard_error", "ci_low", "ci_high", "n", "n_replicates", "seed", "mean_deaths", "analytic_deaths",
        "analytic_power"}


def test_parametric_power_json(capsys):
    code, out, _ = run(capsys, "power", "--n", "40", *PARAMETRIC, "--reps", "1000", "--seed", "3", "--json",
                       "--jobs", "1")
    assert code == 0
    data = json.loads(out)
    assert KEYS <= set(data) and data["n"] == 40 and data["n_replicates"] == 1000 and data["seed"] == 3
    # Schoenfeld, computed here: everyone is followed to week 8, so the expected deaths are exactly
    # 20 (1 - 0.95) + 20 (1 - 0.62) = 8.6; HR = log 0.95 / log 0.62; two-sided 0.05 counts both tails.
    # (0.905: docs/design.md, "Why simulated and analytic power differ".) Deterministic: 1e-12.
    drift = abs(math.log(math.log(0.95) / math.log(0.62))) * math.sqrt(20 * 0.05 + 20 * 0.38) / 2
    schoenfeld = norm.cdf(drift - norm.ppf(0.975)) + norm.cdf(-drift - norm.ppf(0.975))
    assert data["analytic_power"] == pytest.approx(schoenfeld, rel=1e-12)
    assert data["analytic_deaths"] == pytest.approx(8.6, rel=1e-12)
    assert data["hazard_ratio"] == pytest.approx(math.log(0.95) / math.log(0.62), rel=1e-12)
    # "mean_deaths" is the simulated mean number of deaths: a sum of two binomials, variance
    # 20 (0.05 0.95 + 0.38 0.62) = 5.662 per trial, so s.e. sqrt(5.662 / 1000) = 0.075
    assert abs(data["mean_deaths"] - 8.6) <= 4 * math.sqrt(5.662 / 1000)  # 4 s.e. = 0.30


def test_text_output_names_both_powers(capsys):
    code, out, _ = run(capsys, "power", "--n", "20", *PARAMETRIC, "--reps", "500", "--seed", "3", "--jobs", "1")
    assert code == 0 and "simulated" in out and "analytic" in out and "--seed 3" in out


@pytest.fixture(scope="module")
def dask_cluster():
    import distributed  # in the test extra: the dask path must run, not skip
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    yield cluster
    cluster.close()


@pytest.mark.slow
def test_same_seed_same_json_for_jobs_and_dask(capsys, monkeypatch, dask_cluster):
    # Really start the pool for --jobs 2 (it would not pay off for this quick trial)
    monkeypatch.setattr(mc, "_POOL_WORTH_SECONDS", 0.0)
    monkeypatch.setattr(mc, "_POOL_START_SECONDS", -1e9)
    base = ["power", "--n", "40", *PARAMETRIC, "--reps", "6500", "--seed", "21", "--json"]
    outputs = []
    for extra in (["--jobs", "1"], ["--jobs", "2"], ["--backend", "dask", "--scheduler", dask_cluster.scheduler_address]):
        code, out, err = run(capsys, *base, *extra)
        assert code == 0, err
        outputs.append(out)
    assert outputs[0] == outputs[1] == outputs[2]


def test_grid_prints_curve_and_writes_csv(capsys, tmp_path):
    path = tmp_path / "curve.csv"
    code, out, _ = run(capsys, "power", *PARAMETRIC, "--grid", "n=20:40:10", "--reps", "300", "--seed", "2",
                       "--out", str(path), "--jobs", "1")
    assert code == 0 and "Power curve" in out
    rows = list(csv.DictReader(path.open()))
    assert [int(r["n"]) for r in rows] == [20, 30, 40]
    assert {r["seed"] for r in rows} == {"2"}
    assert all(0 <= float(r["power"]) <= 1 for r in rows)


def test_grid_over_hazard_ratio_json(capsys):
    code, out, _ = run(capsys, "power", "--n", "30", "--control-survival", "0.6", "--grid", "hazard-ratio=0.3,0.6",
                       "--reps", "300", "--seed", "2", "--json", "--jobs", "1")
    data = json.loads(out)
    assert code == 0 and data["parameter"] == "hazard-ratio" and [p["value"] for p in data["points"]] == [0.3, 0.6]


def test_failed_csv_write_leaves_nothing(capsys, tmp_path):
    target = tmp_path / "missing_dir" / "curve.csv"
    code, _, err = run(capsys, "power", *PARAMETRIC, "--grid", "n=20:30:10", "--reps", "100", "--seed", "2",
                       "--out", str(target), "--jobs", "1")
    assert code == 2 and "--out" in err and not target.exists()


def test_sample_size_json(capsys):
    code, out, _ = run(capsys, "sample-size", "--power", "0.8", *PARAMETRIC, "--reps", "1000", "--seed", "4",
                       "--json", "--jobs", "1")
    data = json.loads(out)
    assert code == 0
    assert {"n", "power_at_n", "power_below", "standard_error_at_n", "analytic_n"} <= set(data)
    assert data["power_at_n"] >= 0.8 > data["power_below"] and data["n"] % 2 == 0


def test_interrupt_exits_130_with_one_line(capsys, monkeypatch):
    import trialsim.design.sizing

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(trialsim.design.sizing, "power", interrupted)
    code, out, err = run(capsys, "power", *PARAMETRIC, "--reps", "10")
    assert code == 130 and err == "trialsim power: interrupted\n"


class Tty(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self):
        return True


def test_progress_bar_only_on_a_terminal():
    # tqdm on stderr: on a terminal it counts the replicates of successive runs; a finished run stays counted
    tty = Tty()
    with Progress("power", file=tty, total=20_000, delay=0.0) as bar:
        bar(2000, 10_000)
        bar(10_000, 10_000)
        bar(4000, 10_000)  # the second point of a grid
        assert bar._bar.n == 14_000
    assert "power" in tty.getvalue() and tty.getvalue().endswith("\r")  # drawn, then cleared (leave=False)
    pipe = io.StringIO()
    with Progress("power", file=pipe, total=10_000, delay=0.0) as bar:
        bar(2000, 10_000)
    assert pipe.getvalue() == ""  # not a terminal: nothing
    off = Tty()
    with Progress("power", quiet=True, file=off, total=10_000, delay=0.0) as bar:
        bar(2000, 10_000)
    assert off.getvalue() == "" and bar._bar is None  # --quiet: no bar at all


def test_progress_bar_waits_for_its_delay():
    # A run shorter than the delay never draws the bar (the delay here is far longer than any test run)
    tty = Tty()
    with Progress("power", file=tty, total=10_000, delay=1e9) as bar:
        bar(10_000, 10_000)
    assert tty.getvalue() == ""


def test_quiet_power_prints_the_same_result_and_nothing_on_stderr(capsys):
    argv = ["power", "--n", "20", *PARAMETRIC, "--reps", "300", "--seed", "2", "--json"]
    assert main(argv) == 0
    loud = capsys.readouterr()
    assert main(argv + ["--quiet"]) == 0
    quiet = capsys.readouterr()
    assert quiet.out == loud.out and quiet.err == ""


def test_console_script_subprocess():
    proc = subprocess.run([sys.executable, "-m", "trialsim", "power", "--n", "20", *PARAMETRIC, "--reps", "200",
                           "--seed", "1", "--json"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert KEYS <= set(json.loads(proc.stdout))
