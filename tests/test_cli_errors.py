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
    # hostile input (tests/test_hostile_*.py has the behaviour behind each)
    # ... bounded resources, checked before any work
    (["power", "--reps", "1000000000000"], "--reps", "must be a positive integer at most 1,000,000,000"),
    (["power", "--n", "100002"], "--n", "must be a positive integer at most 100,000"),
    (["sample-size", "--n-max", "1000000"], "--n-max", "must be a positive integer at most 100,000"),
    (["simulate", "--block-size", "1000000"], "--block-size", "must be a positive integer at most 10,000"),
    (["simulate", "--reps", "900000000"], "--reps", "must be at most"),
    (["calibrate", "--check", "--reps", "900000000"], "--reps", "must be at most"),
    (["power", "--seed", str(2 ** 128)], "--seed", "must be an integer in 0.."),
    (["power", "--allocation", "1001:1"], "--allocation", "must be one or two positive integers"),
    # ... numbers are ASCII
    (["power", "--n", "\uff14\uff10"], "--n", "must be a positive integer"),
    (["power", "--n", "4_0"], "--n", "must be a positive integer"),
    (["power", "--n", " 40"], "--n", "must be a positive integer"),
    (["power", "--alpha", "0.0_5"], "--alpha", "must be a number"),
    (["power", "--alpha", "nan"], "--alpha", "must be a number"),
    (["power", "--sided", "\uff12"], "--sided", "must be one of 1, 2"),
    (["power", "--allocation", "\uff11:1"], "--allocation", "must be one or two positive integers"),
    (["power", "--grid", "n=\uff12\uff10:40:10"], "--grid", "must hold numbers in start:stop:step"),
    (["power", "--grid", "n=20,4_0"], "--grid", "values must be a positive integer"),
    # ... extreme numbers: a documented range, not a traceback
    (["power", "--horizon", "1e-308"], "--horizon", "must be a number in [0.01, 1040]"),
    (["power", "--horizon", "0.5"], "--horizon", "must be a number in [1, 520]"),
    (["power", "--hazard-ratio", "1e308", "--control-survival", "0.6"], "--hazard-ratio",
     "must be a number in [0.001, 1000]"),
    (["power", "--control-median", "1e308", "--hazard-ratio", "0.5"], "--control-median",
     "must be a number in [0.001, 1e+06]"),
    (["power", "--control-median", "0.01", "--hazard-ratio", "0.5"], "--control-median",
     "must give the control arm a survival at the horizon"),
    (["power", "--control-survival", "0.6", "--hazard-ratio", "900"], "--hazard-ratio",
     "must give the treatment arm a survival at the horizon"),
    (["power", "--control-survival", "0.9999999999999999", "--hazard-ratio", "0.5"], "--control-survival",
     "must be a number in [1e-06, 0.999999]"),
    (["power", "--analysis-time", "1e308"], "--analysis-time", "must be a number in [0.01, 100000]"),
    (["power", "--accrual-rate", "1e-308"], "--accrual-rate", "must be a number in [0.001, 100000]"),
    (["power", "--dropout", "1e-308"], "--dropout", "must be 0 or a number in [1e-06, 100]"),
    (["power", "--dropout", "1e308"], "--dropout", "must be 0 or a number in [1e-06, 100]"),
    (["simulate", "--follow-up", "1e308"], "--follow-up", "must be a number in [0.01, 1040]"),
    (["simulate", "--horizon", "600"], "--horizon", "must be a number in [1, 520]"),
    (["calibrate", "--horizon", "0.001"], "--horizon", "must be a number in [1, 520]"),
    # ... options that contradict each other name both
    (["power", "--design", "single-arm", "--allocation", "1:1"], "--allocation",
     "and --design single-arm exclude each other"),
    (["power", "--design", "two-arm", "--allocation", "2"], "--allocation", "and --design two-arm exclude each other"),
    (["power", "--response-level", "cr"], "--response-level", "needs --endpoint response"),
    (["power", "--endpoint", "survival-binary", "--response-level", "cr"], "--response-level",
     "needs --endpoint response"),
    (["power", "--allocation", "1:2"], "--allocation",
     "needs n a multiple of 3; n is 40 (scenario 'default': [trial] n): give --n too"),
    (["simon"], "--p0, --p1", "are required"),
    (["simon", "--p0", "0.2"], "--p1", "is required"),
    (["power", "--grid", "n=20,40", "--grid", "n=60"], "--grid", "must be given once"),
    (["power", "--grid", "n=20,,40"], "--grid", "must not hold an empty item"),
    (["power", "--grid", "n=20,40,"], "--grid", "must not hold an empty item"),
    (["power", "--grid", "n=0:1e308:1e-308"], "--grid", "must have at most 1000 points"),
    (["power", "--grid", "endpoint=bogus"], "--grid", "values must be one of survival"),
    (["power", "--grid", "timeout=1,2"], "--grid", "must vary an option"),
    # ... dask: a malformed address is refused before connecting
    (["power", "--backend", "dask", "--scheduler", "not a url"], "--scheduler", "must be a dask scheduler address"),
    (["power", "--backend", "dask", "--scheduler", "http://127.0.0.1:8786"], "--scheduler",
     "must be a dask scheduler address"),
    (["power", "--backend", "dask", "--scheduler", "tcp://127.0.0.1"], "--scheduler", "(a host and a port)"),
    (["power", "--backend", "dask", "--scheduler", "127.0.0.1:99999"], "--scheduler", "(a host and a port)"),
    (["power", "--timeout", "0"], "--timeout", "must be a number of seconds in [1, 86400]"),
    # ... scenario files: strict types, shapes and contradictions
    (["power", "--scenario", "{tmp}/float_sided.toml"], "{tmp}/float_sided.toml: [design] sided", "must be one of 1, 2"),
    (["power", "--scenario", "{tmp}/float_n.toml"], "{tmp}/float_n.toml: [trial] n", "must be an integer"),
    (["power", "--scenario", "{tmp}/design_flag.toml"], "{tmp}/design_flag.toml: [design] stratified",
     "must be true or false"),
    (["power", "--scenario", "{tmp}/empty_allocation.toml"], "{tmp}/empty_allocation.toml: [trial] allocation",
     "must hold one positive integer per arm"),
    (["sample-size", "--scenario", "{tmp}/empty_allocation.toml"], "{tmp}/empty_allocation.toml: [trial] allocation",
     "must hold one positive integer per arm"),
    (["power", "--scenario", "{tmp}/deep.toml"], "{tmp}/deep.toml", "nested too deeply"),
    (["power", "--scenario", "{tmp}/nested.toml"], "{tmp}/nested.toml: [model.ruxolitinib.response] deeper",
     "is not a key of [model.ruxolitinib.response]"),
    (["power", "--scenario", "{tmp}/huge.toml"], "{tmp}/huge.toml", "must be at most 1,000,000 bytes"),
    (["power", "--scenario", "{tmp}/calendar.toml"], "{tmp}/calendar.toml: [trial] analysis_time",
     "and analysis = 'complete' exclude each other"),
    (["power", "--scenario", "{tmp}/events.toml"], "{tmp}/events.toml: [trial] target_events",
     "and analysis = 'calendar' exclude each other"),
    (["power", "--scenario", "{tmp}/same_arm.toml"], "{tmp}/same_arm.toml: [design] control_arm",
     "must differ from the treatment arm"),
    (["power", "--scenario", "{tmp}/instant.toml"], "{tmp}/instant.toml: [trial] accrual",
     "is not a key of [trial]: accrual_rate gives Poisson accrual at that rate, and without it everyone is enrolled "
     "at once (instant)"),
    (["power", "--scenario", "{tmp}/name.toml"], "{tmp}/name.toml: name", "must be a string"),
    (["power", "--scenario", "{tmp}/secret_value.toml"], "{tmp}/secret_value.toml: [trial] n", "must be an integer"),
    (["power", "--scenario", "{tmp}/big_n.toml"], "{tmp}/big_n.toml: [trial] n", "must be at most 100,000"),
    (["power", "--scenario", "{tmp}/horizon.toml"], "{tmp}/horizon.toml: [model] horizon",
     "must be a number in [1, 520]"),
    (["power", "--scenario", "{tmp}/median.toml"], "{tmp}/median.toml: [model] control_median",
     "must be a number in [0.001, 1e+06]"),
    (["power", "--scenario", "{tmp}/dropouts.toml"], "{tmp}/dropouts.toml: [trial] dropout_hazard",
     "must be 0 or a number in [1e-06, 100]"),
    (["power", "--scenario", "{tmp}/fifo.toml"], "--scenario", "must be a regular file"),
    (["power", "--scenario", "/dev/null"], "--scenario", "must be a regular file"),
    # ... output files: nothing but a regular file is replaced
    (["simulate", "--out", ""], "--out", "must name a file"),
    (["simulate", "--out", "{tmp}/fifo.csv"], "--out", "must be a regular file"),
    (["simulate", "--out", "{tmp}/to_null.csv"], "--out", "must be a regular file"),
    (["simulate", "--out", "{tmp}/to_dir.csv"], "--out", "must be a regular file"),
    (["simulate", "--events-log", "{tmp}/fifo.csv", "--engine", "des"], "--events-log", "must be a regular file"),
    (["simulate", "--out", "{tmp}/t.csv", "--events-log", "{tmp}/link_to_t.csv", "--engine", "des"], "--events-log",
     "must differ from --out"),
    (["power", "--grid", "n=20,40", "--out", "{tmp}/fifo.csv"], "--out", "must be a regular file"),
    (["power", "--grid", "n=20,40", "--out", "{tmp}/dir.csv"], "--out", "must be a regular file"),
    (["power", "--grid", "n=20,40", "--out", "{tmp}/"], "--out", "must name a file"),
    # ... found by tests/test_fuzz_cli.py
    (["sample-size", "--n="], "option", "must name one option (it could be --n-max"),
    (["sample-size", "--reps", "1"], "--reps", "must be an integer >= 2"),
    (["power", "--scenario", "{tmp}/list_kind.toml"], "{tmp}/list_kind.toml: [design] kind", "must be one of two_arm"),
    (["power", "--scenario", "{tmp}/long_key.toml"], "{tmp}/long_key.toml: key_key_key_key_key_key_key_k...",
     "is not a key of a scenario"),
]

FILES = {
    "typo.toml": "[trial]\nn = 40\nfolow_up = 8.0\n",
    "odd.toml": "[trial]\nn = 41\n",
    "broken.toml": "[trial\nn = 40\n",
    "flag.toml": '[trial]\nn = 40\nstratified = "false"\n',
    "secret.toml": 'SECRET_API_KEY = "sk-0123456789abcdefghijklmnopqrstuvwxyz"\n',
    "float_sided.toml": "[trial]\nn = 40\n[design]\nsided = 2.0\n",
    "float_n.toml": "[trial]\nn = 40.0\n",
    "design_flag.toml": '[trial]\nn = 40\n[design]\nstratified = "true"\n',
    "empty_allocation.toml": "[trial]\nn = 40\nallocation = []\n",
    "deep.toml": "x = " + "[" * 5000 + "]" * 5000 + "\n",
    "nested.toml": "[trial]\nn = 40\n[model.ruxolitinib.response.deeper.still]\nx = 1\n",
    "huge.toml": "# padding\n" * 200_000,
    "calendar.toml": '[trial]\nn = 40\nanalysis = "complete"\nanalysis_time = 4.0\n',
    "events.toml": '[trial]\nn = 40\nanalysis = "calendar"\nanalysis_time = 4.0\ntarget_events = 3\n',
    "same_arm.toml": ('[trial]\nn = 20\nallocation = [1]\n[design]\nkind = "historical_control"\narm = 0\n'
                      'control_arm = 0\n'),
    "instant.toml": '[trial]\nn = 40\naccrual = "instant"\naccrual_rate = 2.0\n',
    "name.toml": "name = [1, 2]\n[trial]\nn = 40\n",
    "secret_value.toml": '[trial]\nn = "sk-0123456789abcdefghijklmnopqrstuvwxyz"\n',
    "big_n.toml": "[trial]\nn = 1000000\n",
    "horizon.toml": "[model]\nhorizon = 1e-308\n[trial]\nn = 40\n",
    "median.toml": '[model]\nkind = "parametric"\ncontrol_median = 1e308\nhazard_ratio = 0.5\n[trial]\nn = 40\n',
    "dropouts.toml": "[trial]\nn = 40\ndropout_hazard = [0.0, 1e308]\n",
    "list_kind.toml": "[trial]\nn = 40\n[design]\nkind = []\n",
    "long_key.toml": '"' + "key_" * 8 + 'sk-0123456789abcdefghij" = 1\n',
}


@pytest.fixture
def tmp(tmp_path):
    for name, text in FILES.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "dir.csv").mkdir()
    os.mkfifo(tmp_path / "fifo.toml")
    os.mkfifo(tmp_path / "fifo.csv")
    (tmp_path / "to_null.csv").symlink_to("/dev/null")
    (tmp_path / "to_dir.csv").symlink_to(tmp_path / "dir.csv")
    (tmp_path / "link_to_t.csv").symlink_to(tmp_path / "t.csv")
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
    command = argv[0] if argv and argv[0] in ("power", "sample-size", "simulate", "calibrate", "boundaries", "design",
                                              "assurance", "simon", "report") else None
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
