"""One voice for errors: every exit-2 path prints one line in the one format (docs/cli.md, "Errors").

    trialsim <command>: error: <subject> <rule> (got <value>)

The subject is the option, or the scenario file and key, that gave the value; for library fields that no option
names it is the field in backticks. Options (argparse), scenario files, the model's and the designs' validation,
output files and contradictory options all go through it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from trialsim.cli import main

FORMAT = re.compile(r"^trialsim(?: (?P<command>[a-z-]+))?: error: (?P<subject>\S.*?) (?P<rule>\S.*) \(got (?P<value>.*)\)$")
PARAMETRIC = ["--control-survival", "0.62", "--treatment-survival", "0.95", "--horizon", "8", "--reps", "50"]

# (argv, the subject the line must name, a piece of the rule); "{tmp}" is the test's own directory
CASES = [
    # options, as argparse parses them
    (["power", "--n", "forty"], "--n", "must be a positive integer"),
    (["power", "--alpha", "1.5"], "--alpha", "must be a number in (0, 1)"),
    (["power", "--engine", "fast"], "--engine", "must be one of auto, vectorized, des"),
    (["power", "--backend", "mpi"], "--backend", "must be one of loky, threading, dask"),
    (["power", "--sided", "3"], "--sided", "must be one of 1, 2"),
    (["power", "--jobs", "0"], "--jobs", "must be a positive integer or -1"),
    (["power", "--allocation", "1:0"], "--allocation", "must be one or two positive integers"),
    (["power", "--n"], "--n", "needs a value"),
    (["power", "--bogus", "3"], "option", "must be one of this command's options"),
    (["simulate", "--bogus"], "option", "must be one of this command's options"),
    (["sample-size", "--power", "1.2"], "--power", "must be a number in (0, 1)"),
    (["calibrate", "--reps", "1"], "--reps", "must be an integer >= 2"),
    (["calibrate", "--horizon", "-3"], "--horizon", "must be a number > 0"),
    ([], "COMMAND", "is required"),
    (["fly"], "COMMAND", "must be one of"),
    # the model's and the designs' validation, named after the option that set the value
    (["power", "--n", "41"], "--n", "must be a multiple of 2 for allocation 1:1"),
    (["power", "--events", "50", "--n", "40"], "--events", "must be an integer in 1..40"),
    (["power", "--design", "single-arm", "--endpoint", "response", "--n", "20"], "--endpoint", "does not apply here"),
    (["power", "--control-survival", "0.6"], "--control-survival", "needs --treatment-survival"),
    (["simulate", "--n", "41"], "--n", "must be a multiple of 2 for allocation 1:1"),
    (["simulate", "--allocation", "1:1:1"], "--allocation", "must be one or two positive integers"),
    (["simulate", "--scenario", "single_arm_rate", "--allocation", "1:1"], "--allocation", "must give one integer per arm"),
    (["simulate", "--analysis", "calendar"], "--analysis-time", "is required when analysis = 'calendar'"),
    (["simulate", "--analysis", "events", "--target-events", "99"], "--target-events", "must be an integer in 1..40"),
    (["power", "--n", "40", "--reps", "10", "--scheduler", "tcp://127.0.0.1:1"], "--scheduler",
     "needs --backend dask"),
    # options that contradict each other
    (["power", "--events", "3", "--analysis-time", "4"], "--events", "and --analysis-time exclude each other"),
    (["simulate", "--accrual", "instant", "--accrual-rate", "2"], "--accrual", "instant and --accrual-rate exclude"),
    (["simulate", "--analysis", "complete", "--analysis-time", "4"], "--analysis-time", "needs --analysis calendar"),
    (["simulate", "--engine", "vectorized", "--events-log", "{tmp}/log.csv"], "--engine", "must be des"),
    # grids
    (["power", "--grid", "n=1:0:1"], "--grid", "needs step > 0"),
    (["power", "--grid", "nn=1:3:1"], "--grid", "must vary an option"),
    (["power", "--grid", "n=20,x"], "--grid", "values must be a positive integer"),
    # scenario files
    (["power", "--scenario", "nope"], "--scenario", "must be a built-in scenario"),
    (["power", "--scenario", "{tmp}/missing.toml"], "--scenario", "must be an existing file"),
    (["power", "--scenario", "{tmp}"], "--scenario", "must be a regular file"),
    (["power", "--scenario", "{tmp}/typo.toml"], "{tmp}/typo.toml: [trial] folow_up", "is not a key of [trial]"),
    (["power", "--scenario", "{tmp}/odd.toml"], "{tmp}/odd.toml: [trial] n", "must be a multiple of 2"),
    (["power", "--scenario", "{tmp}/broken.toml"], "{tmp}/broken.toml", "must be valid TOML"),
    (["power", "--scenario", "{tmp}/flag.toml"], "{tmp}/flag.toml: [trial] stratified", "must be true or false"),
    (["power", "--scenario", "{tmp}/secret.toml"], "{tmp}/secret.toml: SECRET_API_KEY", "is not a key"),
    # output files
    (["power", "--out", "{tmp}/curve.csv"], "--out", "writes the power curve: it needs --grid"),
    (["power", "--grid", "n=20,40", "--out", "{tmp}/curve.txt"], "--out", "must end in .csv"),
    (["power", "--grid", "n=20,40", "--out", "{tmp}/no/such/curve.csv"], "--out", "must be in an existing directory"),
    (["simulate", "--out", "{tmp}/trial.txt"], "--out", "must end in .csv or .parquet"),
    (["simulate", "--out", "{tmp}/"], "--out", "must name a file"),
    (["simulate", "--out", "{tmp}/dir.csv"], "--out", "must be a regular file"),
    (["simulate", "--out", "{tmp}/t.csv", "--events-log", "{tmp}/t.csv", "--engine", "des"], "--events-log",
     "must differ from --out"),
]

FILES = {
    "typo.toml": "[trial]\nn = 40\nfolow_up = 8.0\n",
    "odd.toml": "[trial]\nn = 41\n",
    "broken.toml": "[trial\nn = 40\n",
    "flag.toml": '[trial]\nn = 40\nstratified = "false"\n',
    "secret.toml": 'SECRET_API_KEY = "sk-0123456789abcdefghijklmnopqrstuvwxyz"\n',
}


@pytest.fixture
def tmp(tmp_path):
    for name, text in FILES.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "dir.csv").mkdir()
    return str(tmp_path)


@pytest.mark.parametrize("argv, subject, rule", CASES, ids=[" ".join(c[0]) or "(none)" for c in CASES])
def test_every_error_is_one_line_in_the_one_format(capsys, tmp, argv, subject, rule):
    argv = [a.replace("{tmp}", tmp) for a in argv]
    subject = subject.replace("{tmp}", tmp)
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2 and out == "", (code, out)
    assert err.endswith("\n") and err.count("\n") == 1, err
    line = err.rstrip("\n")
    match = FORMAT.match(line)
    assert match is not None, line
    command = argv[0] if argv and argv[0] in ("power", "sample-size", "simulate", "calibrate") else None
    assert match.group("command") == command, line
    assert line.split(": error: ", 1)[1].startswith(subject + " "), line
    assert rule in line, line
    assert "0123456789" not in line  # a value read from a file is never echoed at length
    assert "Traceback" not in err


def test_nothing_is_left_behind_by_a_failed_write(capsys, tmp):
    before = set(os.listdir(tmp))
    main(["simulate", "--out", f"{tmp}/dir.csv"])
    capsys.readouterr()
    assert set(os.listdir(tmp)) == before


def test_a_real_process_prints_the_same_line():
    proc = subprocess.run([sys.executable, "-m", "trialsim", "power", "--n", "41", *PARAMETRIC],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == "trialsim power: error: --n must be a multiple of 2 for allocation 1:1 (got 41)\n"
