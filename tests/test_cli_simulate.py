"""``trialsim simulate`` and ``trialsim calibrate --check``, in process with ``main([...])`` plus one subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from trialsim.cli.files import write_atomic
from trialsim.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_writes_one_trial_patient_by_patient(tmp_path, capsys):
    path = tmp_path / "trial.csv"
    code, out, err = run(capsys, "simulate", "--n", "40", "--seed", "1", "--out", str(path))
    assert code == 0 and out == "" and "seed 1" in err  # the note goes to stderr: the result is the file
    assert run(capsys, "simulate", "--n", "40", "--seed", "1", "--out", str(path), "--quiet")[1:] == ("", "")
    table = pd.read_csv(path)
    assert len(table) == 40 and set(table["replicate"]) == {0}
    assert {"arm", "stratum", "entry", "time", "event", "censor_reason", "response_week8", "dose_week8",
            "infection_time", "best_response"} <= set(table.columns)
    again = tmp_path / "again.csv"
    assert run(capsys, "simulate", "--n", "40", "--seed", "1", "--out", str(again))[0] == 0
    assert path.read_bytes() == again.read_bytes()  # same seed, same file
    other = tmp_path / "other.csv"
    assert run(capsys, "simulate", "--n", "40", "--seed", "2", "--out", str(other))[0] == 0
    assert path.read_bytes() != other.read_bytes()


def test_reps_parquet_and_event_log(tmp_path, capsys):
    import pyarrow  # noqa: F401 - in the test extra: the parquet path must run, not skip
    path, log = tmp_path / "trials.parquet", tmp_path / "events.csv"
    code, _, _ = run(capsys, "simulate", "--n", "20", "--reps", "3", "--seed", "4", "--accrual", "poisson",
                     "--accrual-rate", "2", "--out", str(path), "--events-log", str(log))
    assert code == 0
    table = pd.read_parquet(path)
    assert len(table) == 60 and sorted(set(table["replicate"])) == [0, 1, 2]
    events = pd.read_csv(log)
    assert list(events.columns) == ["replicate", "time", "patient", "event", "detail"]
    assert (events["event"] == "enrolled").sum() == 60 and (events["event"] == "analysis").sum() == 3


def test_summary_without_out(capsys):
    code, out, _ = run(capsys, "simulate", "--n", "40", "--seed", "1")
    assert code == 0
    for text in ("ruxolitinib", "control", "enrolled", "deaths", "S(8 wk) KM", "infections", "median dose wk 8",
                 "calendar duration"):
        assert text in out
    code, out, _ = run(capsys, "simulate", "--n", "40", "--seed", "1", "--reps", "5", "--json")
    summary = json.loads(out)
    assert summary["n_replicates"] == 5 and [a["arm"] for a in summary["arms"]] == ["ruxolitinib", "control"]
    assert sum(a["enrolled"] for a in summary["arms"]) == 200


@pytest.mark.parametrize("argv, option", [
    (["--n", "41"], "--n"),
    (["--n", "abc"], "--n"),
    (["--reps", "0"], "--reps"),
    (["--allocation", "1:0"], "--allocation"),
    (["--allocation", "1:1:1"], "--allocation"),
    (["--analysis", "calendar"], "--analysis-time"),
    (["--analysis", "events", "--target-events", "99"], "--target-events"),
    (["--out", "trial.txt"], "--out"),
    (["--engine", "vectorized", "--events-log", "log.csv"], "--events-log"),
    (["--bogus"], "--bogus"),
])
def test_bad_input_exits_2_with_one_line(argv, option, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "simulate", *argv)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and option in err, err
    assert list(tmp_path.iterdir()) == []


def test_unwritable_out_leaves_no_partial_file(tmp_path, capsys, monkeypatch):
    missing = tmp_path / "no_such_dir" / "trial.csv"
    code, _, err = run(capsys, "simulate", "--n", "4", "--seed", "1", "--out", str(missing))
    assert code == 2 and "--out" in err and not missing.parent.exists()

    target = tmp_path / "trial.csv"
    target.write_text("previous content\n")

    def half_then_fail(self, path, *args, **kwargs):
        with open(path, "w") as fh:
            fh.write("replicate,patient\n0,")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", half_then_fail)
    code, _, err = run(capsys, "simulate", "--n", "4", "--seed", "1", "--out", str(target))
    assert code == 2 and "--out" in err and len(err.strip().splitlines()) == 1
    assert target.read_text() == "previous content\n"  # untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["trial.csv"]  # no temporary file left behind


def test_write_atomic_replaces_whole_file(tmp_path):
    target = tmp_path / "x.txt"
    write_atomic(target, lambda tmp: open(tmp, "w").write("new"))
    assert target.read_text() == "new"
    with pytest.raises(RuntimeError):
        write_atomic(target, lambda tmp: (open(tmp, "w").write("half"), (_ for _ in ()).throw(RuntimeError("x"))))
    assert target.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["x.txt"]


def test_real_subprocess_run(tmp_path):
    path = tmp_path / "trial.csv"
    done = subprocess.run([sys.executable, "-m", "trialsim", "simulate", "--n", "10", "--seed", "3", "--out",
                           str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert len(pd.read_csv(path)) == 10
    bad = subprocess.run([sys.executable, "-m", "trialsim", "simulate", "--n", "-3"], capture_output=True,
                         text=True, timeout=120)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_calibrate_check_json_has_simulated_columns(capsys):
    import math

    from trialsim.model import calibrate, dose_quantile

    reps = 300
    code, out, _ = run(capsys, "calibrate", "--check", "--reps", str(reps), "--seed", "1", "--json")
    assert code == 0
    payload = json.loads(out)
    rows = {t["name"]: t for t in payload["targets"]}
    row = rows["pr_week1"]
    assert row["simulated_ci_low"] < row["simulated"] < row["simulated_ci_high"]
    # the mean over cohorts of a share of 20 patients: s.e. sqrt(p (1 - p) / (R * 20)) = 0.0064 at p = 0.452
    p = row["model"]
    assert abs(row["simulated"] - p) <= 4 * math.sqrt(p * (1 - p) / (reps * 20))  # 4 s.e. = 0.026
    # The week-8 dose: the median pooled over the simulated patients alive at week 8 (N ~ R * 20 * 0.95) is an
    # unbiased estimate of the model's exact median (the mean of the cohorts' medians is not: docs/validation.md,
    # known limitations). Its s.e. is 1 / (2 f(m) sqrt(N)), f(m) the exact dose density at the median, here
    # from the exact quantile function: f(m) = 2 h / (Q(1/2 + h) - Q(1/2 - h)) = 1.73, s.e. = 0.0038.
    model = calibrate(8.0).model
    arm = model.arms[0]

    def quantile(q):
        return dose_quantile(arm, model.baseline, model.visit_times, 8.0, q)

    h = 1e-4
    density = 2 * h / (quantile(0.5 + h) - quantile(0.5 - h))
    n_alive = reps * 20 * (1 - rows["dead_week8"]["model"])
    dose = rows["dose_median_week8"]
    assert abs(dose["simulated_pooled_median"] - dose["model"]) <= 4 / (2 * density * math.sqrt(n_alive))  # 4 s.e.
    assert 0 < payload["check"]["logrank"]["median_pvalue"] < 1 and payload["check"]["seed"] == 1


def test_engine_auto_and_scenario(capsys):
    import json as _json

    from trialsim.cli import main as _main

    assert _main(["simulate", "--seed", "3", "--json"]) == 0
    assert _json.loads(capsys.readouterr().out)["engine"] == "vectorized"  # auto: the vectorised engine supports it
    assert _main(["simulate", "--seed", "3", "--json", "--engine", "des"]) == 0
    assert _json.loads(capsys.readouterr().out)["engine"] == "des"
    assert _main(["simulate", "--scenario", "single_arm_rate", "--seed", "3", "--json", "--n", "24"]) == 0
    summary = _json.loads(capsys.readouterr().out)
    assert summary["n_patients"] == 24 and len(summary["arms"]) == 1
    assert _main(["simulate", "--scenario", "no_such_scenario"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no_such_scenario" in err[0]


def test_check_needs_two_cohorts_and_parametric_summary_shows_no_response(capsys):
    from trialsim.cli import main as _main

    assert _main(["calibrate", "--check", "--reps", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--reps" in err[0] and "'1'" in err[0]
    assert _main(["simulate", "--scenario", "parametric", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith(("treatment", "control"))]
    assert len(rows) == 2 and all(line.split()[4] == "-" for line in rows)  # no response process to show
