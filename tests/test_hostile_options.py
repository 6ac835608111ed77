"""Hostile input, findings 5 and 6: options that contradict each other, ASCII numbers, extreme numbers.

Each refused case's one line is in tests/test_cli_errors.py. This file checks the other side: values anywhere in
the documented ranges (docs/cli.md, "Limits") give an answer, with no numpy warning and no ``inf`` or ``nan`` in
what is printed; the values of the issue that gave tracebacks give exit status 2 in a real process too.
"""

from __future__ import annotations

import re
import subprocess
import sys
import warnings

import pytest

from trialsim.cli import main
from trialsim.cli.options import in_range, number, parse_float, parse_int, positive_int

PARAMETRIC = ["--control-survival", "0.6", "--hazard-ratio", "0.5"]
FAST = ["--reps", "200", "--seed", "1", "--jobs", "1"]
NOT_A_NUMBER = re.compile(r"\b(inf|nan|NaN|-inf)\b")


def run(capsys, *argv):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err, [w for w in caught if issubclass(w.category, RuntimeWarning)]


@pytest.mark.parametrize("text", ["\uff14\uff10", "4_0", " 40", "40 ", "+4\u0660", "40\n", "\u0664\u0660", "0x28",
                                  "4e1", "40.0", "", "1" * 41])
def test_integers_are_ascii_digits_only(text):
    assert parse_int(text) is None or text in ("4e1",)
    with pytest.raises(Exception, match="must be a positive integer"):
        positive_int(text)


@pytest.mark.parametrize("text", ["\uff10.5", "0.0_5", "nan", "inf", "-infinity", "1e99999", " 0.5", "0,5", "½", "1e",
                                  "e5", ".", "", "0x1p-2", "1" * 70])
def test_numbers_are_ascii_decimals_only(text):
    assert parse_float(text) is None or text == "1e99999"
    with pytest.raises(Exception, match="must be"):
        number(text)


@pytest.mark.parametrize("text, value", [("0.5", 0.5), (".5", 0.5), ("5.", 5.0), ("1e-3", 0.001), ("1E+2", 100.0),
                                         ("-0", -0.0), ("+2", 2.0)])
def test_plain_decimals_are_read(text, value):
    assert number(text) == value


def test_a_range_type_keeps_the_old_message_below_zero():
    with pytest.raises(Exception, match=r"must be a number > 0 \(got '-3'\)"):
        in_range("weeks")("-3")
    with pytest.raises(Exception, match=r"must be a number >= 0 \(got '-1'\)"):
        in_range("dropout")("-1")
    assert in_range("dropout")("0") == 0.0


# ----------------------------------------------------------------------- the edges of every range answer

EDGES = [
    ["power", "--horizon", "0.01", *PARAMETRIC], ["power", "--horizon", "1040", *PARAMETRIC],
    ["power", "--horizon", "1"], ["power", "--horizon", "520"],
    ["power", "--analysis-time", "0.01", *PARAMETRIC], ["power", "--analysis-time", "100000", *PARAMETRIC],
    ["power", "--analysis-time", "100000", "--accrual-rate", "0.001", *PARAMETRIC],
    ["power", "--accrual-rate", "0.001", *PARAMETRIC], ["power", "--accrual-rate", "100000", *PARAMETRIC],
    ["power", "--accrual-rate", "0.001", "--events", "5", *PARAMETRIC],
    ["power", "--dropout", "1e-6", *PARAMETRIC], ["power", "--dropout", "100", *PARAMETRIC],
    ["power", "--dropout", "100", "--events", "3", *PARAMETRIC],
    ["power", "--control-median", "0.5", "--hazard-ratio", "1.1"],
    ["power", "--control-median", "1000000", "--hazard-ratio", "1000", "--horizon", "1040"],
    ["power", "--control-survival", "1e-6", "--hazard-ratio", "0.001"],
    ["power", "--control-survival", "0.999999", "--hazard-ratio", "1000", "--horizon", "1"],
    ["power", "--control-survival", "0.5", "--treatment-survival", "1e-6"],
    ["power", "--control-survival", "0.5", "--treatment-survival", "0.999999"],
    ["power", "--alpha", "1e-300", *PARAMETRIC], ["power", "--alpha", "0.999999999", *PARAMETRIC],
    ["power", "--alpha", "1e-300", "--design", "single-arm", *PARAMETRIC],
    ["power", "--alpha", "0.999999999", "--endpoint", "survival-binary", *PARAMETRIC],
    ["power", "--design", "single-arm", "--null-survival", "1e-6", *PARAMETRIC],
    ["power", "--design", "single-arm", "--null-survival", "0.999999", "--test", "logrank", *PARAMETRIC],
    ["power", "--design", "historical", "--n-historical", "1", *PARAMETRIC],
    ["power", "--n", "2", "--stratified", *PARAMETRIC], ["power", "--n", "2", "--events", "2", *PARAMETRIC],
    ["power", "--allocation", "1000:1", "--n", "1001", *PARAMETRIC],
    ["sample-size", "--power", "1e-300", *PARAMETRIC], ["sample-size", "--n-max", "2", *PARAMETRIC],
    ["sample-size", "--power", "0.999999999", "--n-max", "60", *PARAMETRIC],
    ["simulate", "--follow-up", "0.01"], ["simulate", "--horizon", "1"], ["simulate", "--accrual-rate", "100000"],
    ["simulate", "--accrual-rate", "0.001"], ["simulate", "--dropout", "100"], ["simulate", "--engine", "des",
                                                                               "--dropout", "100"],
    ["simulate", "--analysis", "calendar", "--analysis-time", "0.01"],
    ["simulate", "--analysis", "calendar", "--analysis-time", "100000"], ["simulate", "--n", "2", "--stratified"],
    ["simulate", "--scenario", "parametric", "--follow-up", "1040"],
]


@pytest.mark.parametrize("argv", EDGES, ids=[" ".join(a) for a in EDGES])
def test_the_edges_of_every_range_give_an_answer(capsys, argv):
    extra = FAST if argv[0] != "simulate" else ["--reps", "3", "--seed", "1"]
    for output in ([], ["--json"]):
        code, out, err, numpy_warnings = run(capsys, *argv, *extra, *output)
        assert code in (0, 1) and out, err  # 1: a sample size whose target is out of reach
        assert "Traceback" not in err and not numpy_warnings and "RuntimeWarning" not in err
        assert not NOT_A_NUMBER.search(out), out  # "week inf" was printed
        assert all(line.startswith(f"trialsim {argv[0]}: note: ") for line in err.splitlines()), err


@pytest.mark.slow
@pytest.mark.parametrize("argv", [["power", "--horizon", "1e-308"], ["power", "--hazard-ratio", "1e308", *PARAMETRIC[:2]],
                                  ["power", "--control-median", "1e308", "--hazard-ratio", "0.5"],
                                  ["simulate", "--follow-up", "1e308"]])
def test_the_values_that_gave_tracebacks_exit_2_in_a_real_process(argv):
    proc = subprocess.run([sys.executable, "-m", "trialsim", *argv, "--reps", "10"], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 2 and proc.stdout == "" and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith(f"trialsim {argv[0]}: error: {argv[1]} must be a number in ")


REFUSED = [["power", "--control-median", "0.5", "--hazard-ratio", "1000"],
           ["power", "--control-median", "1000000", "--hazard-ratio", "0.001", "--horizon", "1040"],
           ["power", "--control-survival", "0.999999", "--hazard-ratio", "0.001", "--horizon", "1"],
           ["sample-size", "--n-max", "1", *PARAMETRIC]]


@pytest.mark.parametrize("argv", REFUSED, ids=[" ".join(a) for a in REFUSED])
def test_values_in_range_that_make_no_trial_together_are_one_line(capsys, argv):
    code, out, err, numpy_warnings = run(capsys, *argv, *FAST)
    assert code == 2 and out == "" and err.count("\n") == 1 and not numpy_warnings
    assert err.startswith(f"trialsim {argv[0]}: error: --") and "(got " in err


def test_a_grid_of_choices_is_checked_against_them(capsys):
    code, _, err, _ = run(capsys, "power", "--grid", "endpoint=survival,bogus")
    assert code == 2 and err.count("\n") == 1 and "--grid values must be one of" in err
