"""Finding 9: a fuzz suite that keeps the command line sound against hostile input.

Hypothesis generates command lines (every option of ``power``, ``sample-size``, ``simulate`` and ``calibrate``
with valid, extreme and malformed values: Unicode digits, underscores, spaces, ``nan``, huge exponents, control
characters, long text, repeated and contradictory options) and scenario files (known and unknown keys, values
of every TOML type, nesting, random bytes, mutations of the built-in scenarios). For every example:

- the exit status is 0 or 2 (or 1 for a ``sample-size`` that does not reach its target);
- on 2: nothing on stdout and one line on stderr, in the project's error format; never a traceback;
- on 0: stderr holds only notes, no numpy warning; stdout has no ``inf`` or ``nan``;
- no secret planted in a scenario file is echoed;
- the run ends within a bounded time (an alarm fails the example), helped by small ``--reps``;
- the output directory holds nothing afterwards but complete results (no temporary file, no partial file).

Most examples run the command in-process (``trialsim.cli.main``), which is fast; a few run real processes.
Examples per run (derandomised, the ``suite`` profile of conftest.py; ``--hypothesis-show-statistics`` shows
them): 400 command lines of power, sample-size, simulate and calibrate, 400 of values in their ranges, 300 of
boundaries, design, simon and assurance, 300 generated scenario files, 100 files of random bytes, 200 mutated
built-in scenarios, 6 real processes: 1,706 in all, about 40 s on one core.

Bounds that keep the suite within minutes, not limits of the program: valid counts are drawn small (``--reps``
up to 200, 30 for the discrete-event engine; ``--n`` up to 400); valid follow-ups and horizons up to 60 weeks
(the CTD-MAS model's tables at 1040 weeks take half a minute to build; the edges of every range run once each
in tests/test_hostile_options.py).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import signal
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from trialsim.cli import main
from trialsim.scenarios import builtin_scenarios

FORMAT = re.compile(r"^trialsim(?: (?P<command>[a-z-]+))?: error: \S.*? \S.* \(got .*\)$")
NOTE = re.compile(r"^trialsim [a-z-]+: (note: .+|wrote .+)$")  # notes, and simulate --out's line
NOT_A_NUMBER = re.compile(r"\b(inf|nan|NaN|-inf|Infinity)\b")
SECRET = "sk-SECRET0123456789abcdef"
#: Seconds one in-process example may take (the slowest valid examples take a few seconds on a loaded machine).
BUDGET = 90

#: Memory an in-process example may plan for: a generated run that a 24 GB machine could hold is refused like one
#: that cannot fit (exit 2, allowed), so two test workers can never take the machine's memory between them.
MEMORY = 2 * 2 ** 30


@pytest.fixture(autouse=True)
def machine_of_two_gigabytes(monkeypatch):
    from trialsim.design import resources

    real = resources.available_memory
    monkeypatch.setattr(resources, "available_memory", lambda: min(real() or MEMORY, MEMORY))


def fuzz(examples: int) -> settings:
    """The examples per run; capsys is read afresh by every example, so the function-scoped fixture is fine."""
    return settings(max_examples=examples, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture])


class Overrun(Exception):
    pass


@contextlib.contextmanager
def alarm(seconds: int):
    """Fail the example when it runs longer than ``seconds`` (SIGALRM; the command handles only TERM and HUP)."""
    def ring(signum, frame):
        raise Overrun(f"the command ran longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, ring)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def run_in_process(argv: list[str], capsys) -> tuple[int, str, str, float]:
    capsys.readouterr()
    began = time.monotonic()
    with alarm(BUDGET):
        code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err, time.monotonic() - began


def check(argv: list[str], code: int, out: str, err: str, *, names_fuzzed: bool = False) -> None:
    """The contract every example must meet."""
    command = argv[0] if argv else None
    if currently_in_test_context():  # --hypothesis-show-statistics shows the share that ran to an answer
        event(f"exit status {code}")
    allowed = {0, 2} | ({1} if command == "sample-size" else set())
    assert code in allowed, (code, argv, err)
    assert "Traceback" not in err and "Traceback" not in out, err
    if code == 2:
        assert out == "", (argv, out)
        assert err.endswith("\n") and err.count("\n") == 1, (argv, err)
        line = err.rstrip("\n")
        assert FORMAT.match(line), (argv, line)
        assert SECRET[3:] not in line, line
    else:
        for line in err.splitlines():
            assert NOTE.match(line) and "RuntimeWarning" not in line, (argv, line)
        if not names_fuzzed:
            assert not NOT_A_NUMBER.search(out), (argv, out)


# --------------------------------------------------------------------------------------- value strategies

UNICODE_DIGITS = "\uff10\uff11\uff12\uff14\u0660\u0661\u0966\u0967\u09e6\u1040\U0001d7ce"
MALFORMED = st.one_of(
    st.sampled_from(["", " ", "nan", "NaN", "inf", "-inf", "infinity", "1e999999", "-1e999999", "0x10", "1_000",
                     "0.0_5", "4_0", " 40", "40 ", "4 0", "+", "-", ".", "e5", "1e", "1,5", "½", "--", "-1", "-0.5",
                     "0", "0.0", "-0", "1" * 60, "9" * 400, "\x00", "\n", "40\n", "\x1b[31m", "🙂",
                     "\u202e40", "true", "None", "[]", "{}", "'", '"', "%s", "${HOME}", "../../etc/passwd"]),
    st.text(alphabet=UNICODE_DIGITS + "0123456789._e+-", min_size=1, max_size=8),
    st.text(min_size=1, max_size=30).filter(lambda t: not t.startswith("-") or len(t) == 1),
)


def decimal(low: float, high: float) -> st.SearchStrategy[str]:
    """Valid decimals in [low, high], written several ways, and the edges themselves."""
    return st.one_of(
        st.floats(min_value=low, max_value=high, allow_nan=False, allow_infinity=False).map(repr),
        st.floats(min_value=low, max_value=high, allow_nan=False, allow_infinity=False).map(lambda x: f"{x:.3g}"),
        st.sampled_from([f"{low:g}", f"{high:g}"]),
    )


def number_option(low: float, high: float, *, beyond: tuple[float, float] | None = None) -> st.SearchStrategy[str]:
    extreme = st.sampled_from(["1e-308", "5e-324", "1e308", "1.7976931348623157e308", "1e-12", "1e12", "-1e308"])
    options = [decimal(low, high), decimal(low, high), MALFORMED, extreme]
    if beyond is not None:
        options.append(decimal(*beyond))
    return st.one_of(*options)


def integer_option(high_valid: int) -> st.SearchStrategy[str]:
    return st.one_of(st.integers(1, high_valid).map(str), st.integers(1, high_valid).map(str),
                     st.sampled_from(["0", "-1", "100001", "1000000000", str(10 ** 12), str(2 ** 128), "1e3", "2.0",
                                      "2.5"]),
                     MALFORMED)


PROBABILITY = number_option(1e-6, 0.999999, beyond=(0.0, 1.0))
WEEKS = number_option(0.01, 60.0)
CALENDAR = number_option(0.01, 200.0, beyond=(200.0, 100_000.0))

#: option -> strategy of its value text (None: a flag)
POWER_OPTIONS: dict[str, st.SearchStrategy[str] | None] = {
    "--n": integer_option(400), "--scenario": st.sampled_from(["default", "parametric", "single_arm_rate",
                                                                "single-arm-rate", "historical_arm", "nope",
                                                                "/dev/null", "/", "x.toml", ""]),
    "--design": st.sampled_from(["two-arm", "single-arm", "historical", "bogus"]),
    "--endpoint": st.sampled_from(["survival", "survival-binary", "response", "Survival"]),
    "--response-level": st.sampled_from(["cr-pr", "cr", "pr"]),
    "--test": st.sampled_from(["logrank", "fisher", "boschloo", "chi2", "binomial", "t"]),
    "--alpha": PROBABILITY, "--sided": st.sampled_from(["1", "2", "3", "2.0", "\uff12", "0"]),
    "--horizon": WEEKS, "--events": integer_option(40), "--analysis-time": CALENDAR,
    "--allocation": st.sampled_from(["1:1", "2:1", "1:2", "1", "3", "1:1:1", "0:1", "1:0", "1001:1", "a:b", ":",
                                     "1/1", "\uff11:1", "1:", " 1:1", "4_0:1"]),
    "--stratified": None, "--accrual-rate": number_option(0.001, 50.0, beyond=(50.0, 100_000.0)),
    "--dropout": st.one_of(st.just("0"), number_option(1e-6, 1.0, beyond=(1.0, 100.0))),
    "--null-survival": PROBABILITY, "--n-historical": integer_option(60),
    "--control-survival": PROBABILITY, "--treatment-survival": PROBABILITY,
    "--control-median": number_option(0.5, 500.0, beyond=(0.001, 1_000_000.0)),
    "--treatment-median": number_option(0.5, 500.0, beyond=(0.001, 1_000_000.0)),
    "--hazard-ratio": number_option(0.05, 5.0, beyond=(0.001, 1000.0)),
    "--seed": st.one_of(st.integers(0, 2 ** 128 - 1).map(str), MALFORMED),
    "--jobs": st.sampled_from(["1", "-1", "0", "-2", "1000", "2", "x"]),
    "--backend": st.sampled_from(["loky", "threading", "mpi"]),
    "--scheduler": st.sampled_from(["not a url", "http://127.0.0.1:1", "tcp://127.0.0.1", "tcp://127.0.0.1:99999",
                                    "tcp://:1"]),
    "--engine": st.sampled_from(["auto", "vectorized", "des", "fast"]),
    "--timeout": st.sampled_from(["1", "0", "-1", "1e9", "nan", "5"]),
    "--json": None, "--quiet": None,
}
POWER_ONLY = {"--grid": st.one_of(
    st.sampled_from(["n=20:40:10", "n=20,40", "n=20,,40", "n=20,40,", "n=", "=20", "n", "n=1:0:1", "n=0:1e308:1e-308",
                     "hazard-ratio=0.3,0.6", "alpha=0.05,0.1", "endpoint=survival,response", "endpoint=x",
                     "grid=n=1", "reps=1,2", "stratified=1", "n=20:80:0", "n=\uff12\uff10:40:10", "test=fisher,logrank",
                     "dropout=0,0.01", "horizon=4,8", "sided=1,2", "allocation=1:1,2:1", "timeout=1,2"]),
    st.text(max_size=20))}
SAMPLE_SIZE_ONLY = {"--power": PROBABILITY, "--n-max": integer_option(120)}
SIMULATE_OPTIONS: dict[str, st.SearchStrategy[str] | None] = {
    "--n": integer_option(400), "--seed": POWER_OPTIONS["--seed"], "--allocation": POWER_OPTIONS["--allocation"],
    "--block-size": integer_option(64), "--stratified": None,
    "--accrual": st.sampled_from(["instant", "poisson", "piecewise"]),
    "--accrual-rate": POWER_OPTIONS["--accrual-rate"], "--follow-up": WEEKS, "--horizon": WEEKS,
    "--dropout": POWER_OPTIONS["--dropout"], "--analysis": st.sampled_from(["complete", "calendar", "events", "x"]),
    "--analysis-time": CALENDAR, "--target-events": integer_option(40),
    "--engine": st.sampled_from(["auto", "des", "vectorized", "x"]),
    "--scenario": st.sampled_from(["default", "parametric", "single_arm_rate", "historical_arm", "nope"]),
    "--json": None, "--quiet": None,
}
CALIBRATE_OPTIONS: dict[str, st.SearchStrategy[str] | None] = {
    "--horizon": number_option(1.0, 30.0, beyond=(0.01, 1.0)), "--check": None,
    "--seed": POWER_OPTIONS["--seed"], "--json": None, "--quiet": None,
}


@st.composite
def command_lines(draw) -> tuple[list[str], bool]:
    """(argv, writes a file): a command and a handful of its options, some repeated, a few unknown."""
    command = draw(st.sampled_from(["power", "power", "sample-size", "simulate", "simulate", "calibrate"]))
    table = {"power": {**POWER_OPTIONS, **POWER_ONLY}, "sample-size": {**POWER_OPTIONS, **SAMPLE_SIZE_ONLY},
             "simulate": SIMULATE_OPTIONS, "calibrate": CALIBRATE_OPTIONS}[command]
    names = draw(st.lists(st.sampled_from(sorted(table)), max_size=6))
    argv = [command]
    for name in names:
        strategy = table[name]
        if strategy is None:
            argv.append(name)
        elif draw(st.booleans()):
            argv.append(f"{name}={draw(strategy)}")
        else:
            argv += [name, draw(strategy)]
    if draw(st.integers(0, 9)) == 0:
        argv.append(draw(st.sampled_from(["--bogus", "-x", "--n=", "--", "positional", "--help-me", "--reps"])))
    # keep valid runs short: small --reps (a malformed one sometimes), --jobs 1 unless the example set it
    des = any(a.startswith("--engine") and "des" in a for a in argv) or (command == "calibrate")
    reps = draw(st.one_of(st.integers(2, 30 if des else 200).map(str), st.just("1"), MALFORMED))
    if command == "calibrate":
        if "--check" in argv:
            argv += ["--reps", reps]
    else:
        argv += ["--reps", reps]
    if command in ("power", "sample-size") and not any(a.startswith("--jobs") for a in argv):
        argv += ["--jobs", "1"]
    if command == "sample-size" and not any(a.startswith("--n-max") for a in argv):
        argv += ["--n-max", "100"]
    writes = False
    if command == "simulate" and draw(st.booleans()):
        argv += ["--out", draw(st.sampled_from(["{dir}/t.csv", "{dir}/t.parquet", "{dir}/t.txt", "{dir}/",
                                                 "{dir}/missing/t.csv", "{dir}/existing.csv", "{dir}/fifo.csv",
                                                 ""]))]
        writes = True
        if draw(st.booleans()):
            argv += ["--events-log", draw(st.sampled_from(["{dir}/e.csv", "{dir}/t.csv", "{dir}/e.txt"]))]
    if command == "power" and any(a.startswith("--grid") for a in argv) and draw(st.booleans()):
        argv += ["--out", draw(st.sampled_from(["{dir}/curve.csv", "{dir}/curve.txt", "{dir}/fifo.csv", ""]))]
        writes = True
    return argv, writes


def _prepared_directory(directory: Path) -> dict[str, bytes]:
    (directory / "existing.csv").write_text("keep me\n")
    os.mkfifo(directory / "fifo.csv")
    return {p.name: (p.read_bytes() if p.is_file() else b"") for p in directory.iterdir()}


def _check_directory(directory: Path, before: dict[str, bytes], code: int) -> None:
    names = {p.name for p in directory.iterdir()}
    assert not [n for n in names if n.endswith(".tmp")], names  # no temporary file left
    new = names - set(before)
    if code != 0:
        assert not new, new  # a failed run writes nothing
        assert (directory / "existing.csv").read_text() == "keep me\n"
    for name in new:  # what a successful run wrote is complete
        path = directory / name
        assert path.stat().st_size > 0, name
        if name.endswith(".csv"):
            assert path.read_text().endswith("\n"), name


@fuzz(400)
@given(example=command_lines())
def test_fuzzed_command_lines(capsys, example):
    argv, writes = example
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        before = _prepared_directory(directory)
        argv = [a.replace("{dir}", name) for a in argv]
        code, out, err, _ = run_in_process(argv, capsys)
        check(argv, code, out, err)
        _check_directory(directory, before, code)


@st.composite
def valid_command_lines(draw) -> list[str]:
    """Command lines whose every value lies in its documented range (edges included): most run to an answer,
    and the combinations reach deep into the model, the engines and the designs."""
    command = draw(st.sampled_from(["power", "power", "sample-size", "simulate"]))
    argv = [command]
    weeks = st.one_of(st.sampled_from(["0.01", "1", "8", "60"]), decimal(0.5, 60.0))

    def maybe(option: str, strategy) -> None:
        if draw(st.integers(0, 3)) == 0:
            argv.extend([option, draw(strategy)])

    if command == "simulate":
        maybe("--n", st.sampled_from(["2", "4", "40", "41", "100", "400"]))
        maybe("--allocation", st.sampled_from(["1:1", "2:1", "1:3"]))
        maybe("--block-size", st.sampled_from(["2", "4", "6", "12", "16", "64", "3"]))
        maybe("--follow-up", weeks)
        maybe("--horizon", st.sampled_from(["1", "4", "8", "12", "52"]))
        maybe("--dropout", st.sampled_from(["0", "1e-6", "0.05", "1", "100"]))
        maybe("--accrual-rate", st.sampled_from(["0.001", "0.5", "4", "100000"]))
        analysis = draw(st.sampled_from([None, "complete", "calendar", "events"]))
        if analysis == "calendar":
            argv += ["--analysis", analysis, "--analysis-time", draw(st.sampled_from(["0.01", "4", "30", "100000"]))]
        elif analysis == "events":
            argv += ["--analysis", analysis, "--target-events", draw(st.sampled_from(["1", "2", "5", "40"]))]
        elif analysis:
            argv += ["--analysis", analysis]
        if draw(st.booleans()):
            argv.append("--stratified")
        maybe("--scenario", st.sampled_from(["parametric", "single_arm_rate", "historical_arm"]))
        engine = draw(st.sampled_from(["auto", "vectorized", "des"]))
        argv += ["--engine", engine, "--reps", draw(st.sampled_from(["1", "3", "20"])), "--seed", "1"]
        if draw(st.booleans()):
            argv.append("--json")
        return argv
    parametric = draw(st.booleans())
    if parametric:
        control = draw(st.sampled_from(["--control-survival", "--control-median"]))
        argv += [control, draw(decimal(0.05, 0.95) if control.endswith("survival") else decimal(2.0, 200.0))]
        treatment = draw(st.sampled_from(["--treatment-survival", "--treatment-median", "--hazard-ratio"]))
        argv += [treatment, draw(decimal(0.05, 0.95) if treatment.endswith("survival") else
                                 decimal(2.0, 200.0) if treatment.endswith("median") else decimal(0.1, 3.0))]
        maybe("--horizon", weeks)
    else:
        maybe("--horizon", st.sampled_from(["1", "4", "8", "12", "26"]))
    design = draw(st.sampled_from([None, "two-arm", "single-arm", "historical"]))
    if design:
        argv += ["--design", design]
    if design in (None, "two-arm"):
        endpoint = draw(st.sampled_from([None, "survival", "survival-binary", "response"]))
        if endpoint:
            argv += ["--endpoint", endpoint]
        if endpoint == "response":
            maybe("--response-level", st.sampled_from(["cr-pr", "cr"]))
        if endpoint in ("survival-binary", "response"):
            maybe("--test", st.sampled_from(["fisher", "boschloo", "chi2"]))
        maybe("--allocation", st.sampled_from(["1:1", "2:1"]))
    elif design == "single-arm":
        maybe("--test", st.sampled_from(["binomial", "logrank"]))
        maybe("--null-survival", st.sampled_from(["1e-6", "0.3", "0.62", "0.999999"]))
    else:
        maybe("--n-historical", st.sampled_from(["1", "21", "60"]))
        maybe("--test", st.sampled_from(["fisher", "boschloo", "chi2", "logrank"]))
    maybe("--alpha", st.sampled_from(["1e-300", "0.01", "0.05", "0.2", "0.999999999"]))
    maybe("--sided", st.sampled_from(["1", "2"]))
    trigger = draw(st.sampled_from([None, "events", "time"]))
    if trigger == "events":
        argv += ["--events", draw(st.sampled_from(["1", "3", "8", "30"]))]
    elif trigger == "time":
        argv += ["--analysis-time", draw(st.sampled_from(["0.01", "4", "30", "100000"]))]
    maybe("--accrual-rate", st.sampled_from(["0.001", "0.5", "4", "100000"]))
    maybe("--dropout", st.sampled_from(["0", "1e-6", "0.05", "1", "100"]))
    if draw(st.booleans()):
        argv.append("--stratified")
    engine = draw(st.sampled_from(["auto", "vectorized", "des"]))
    reps = draw(st.sampled_from(["2", "20", "200"])) if engine != "des" else draw(st.sampled_from(["2", "20"]))
    argv += ["--engine", engine, "--reps", reps, "--seed", draw(st.sampled_from(["0", "1", str(2 ** 128 - 1)])),
             "--jobs", draw(st.sampled_from(["1", "1", "2"]))]
    if command == "power":
        if draw(st.integers(0, 4)) == 0:
            argv += ["--grid", draw(st.sampled_from(["n=2:10:4", "n=20,40", "alpha=0.01,0.1", "dropout=0,0.5",
                                                     "sided=1,2"]))]
        else:
            maybe("--n", st.sampled_from(["1", "2", "3", "20", "40", "41", "300"]))
    else:
        argv += ["--n-max", draw(st.sampled_from(["2", "10", "60"]))]
        maybe("--power", st.sampled_from(["1e-300", "0.5", "0.8", "0.999999999"]))
    if draw(st.booleans()):
        argv.append("--json")
    return argv


@fuzz(400)
@given(argv=valid_command_lines())
def test_fuzzed_valid_command_lines(capsys, argv):
    code, out, err, _ = run_in_process(argv, capsys)
    check(argv, code, out, err)


# ------------------------------------------------------------------- the design commands: boundaries to simon

FRACTIONS = st.one_of(
    st.lists(st.floats(0.05, 0.95, allow_nan=False), max_size=5).map(
        lambda xs: ",".join(f"{x:.3g}" for x in sorted({round(v, 3) for v in xs})) + ("," if xs else "") + "1"),
    st.sampled_from(["1,0.5", "0.5", "0,1", "0.5,0.5,1", "0.5,1.5", "-0.5,1", "nan,1", ",", "0.5,,1", "1e-300,1"]),
    MALFORMED)
SPENDING = st.sampled_from(["of", "pocock", "ld-of", "ld-pocock", "hsd:-4", "hsd:1", "hsd:40", "hsd:-40", "kd:2",
                            "kd:0", "kd:-1", "kd:1e308", "wt:0.3", "wt:2", "hp", "hsd", "hsd:x", "hsd:nan", "x", ""])
FUTILITY = st.one_of(SPENDING, st.sampled_from(["bs-hsd:-2", "hsd:-2", "z:0", "z:-10", "z:10", "z:0,1"]))
BOUNDARY_OPTIONS: dict[str, st.SearchStrategy[str] | None] = {
    "--looks": FRACTIONS, "--spending": SPENDING, "--futility": FUTILITY, "--binding": None,
    "--alpha": PROBABILITY, "--sided": st.sampled_from(["1", "2", "3"]), "--power": PROBABILITY, "--json": None,
    "--quiet": None}
DESIGN_OPTIONS: dict[str, st.SearchStrategy[str] | None] = {
    **BOUNDARY_OPTIONS, "--hazard-ratio": POWER_OPTIONS["--hazard-ratio"], "--control-hazard": number_option(0.001, 5.0),
    "--control-median": POWER_OPTIONS["--control-median"], "--control-survival": PROBABILITY, "--horizon": WEEKS,
    "--accrual-time": WEEKS, "--accrual-rate": POWER_OPTIONS["--accrual-rate"], "--min-follow-up": WEEKS,
    "--dropout": POWER_OPTIONS["--dropout"], "--allocation": number_option(0.1, 10.0)}
SIMON_OPTIONS: dict[str, st.SearchStrategy[str] | None] = {
    "--p0": PROBABILITY, "--p1": PROBABILITY, "--alpha": PROBABILITY, "--power": PROBABILITY,
    "--n-max": integer_option(200), "--simulate": None, "--endpoint": st.sampled_from(["survival-binary", "response", "x"]),
    "--response-level": st.sampled_from(["cr", "cr-pr", "x"]), "--horizon": WEEKS, "--json": None, "--quiet": None}
ASSURANCE_OPTIONS: dict[str, st.SearchStrategy[str] | None] = {
    "--n": integer_option(80), "--draws": integer_option(12), "--effect-scale": number_option(0.0, 3.0),
    "--prior": st.sampled_from(["jeffreys", "uniform", "1,1", "x", "0,0", "-1,2"]), "--looks": FRACTIONS,
    "--spending": SPENDING, "--endpoint": st.sampled_from(["survival", "survival-binary", "response"]),
    "--design": st.sampled_from(["two-arm", "single-arm", "historical"]),
    "--decision": st.sampled_from(["frequentist", "bayes", "x"]), "--threshold": PROBABILITY,
    "--analysis-prior": st.sampled_from(["uniform", "jeffreys", "1,1", "x"]), "--margin": number_option(0.1, 2.0),
    "--borrow": st.sampled_from(["power", "robust", "none", "x"]), "--a0": PROBABILITY,
    "--robust-weight": PROBABILITY, "--historical": st.sampled_from(["13/21", "13:21", "x", "22/21", "0/0"]),
    "--hazard-ratio": POWER_OPTIONS["--hazard-ratio"], "--control-survival": PROBABILITY,
    "--events": integer_option(30), "--follow-up": WEEKS, "--max-duration": CALENDAR, "--stratified": None,
    "--allocation": POWER_OPTIONS["--allocation"], "--grid": st.sampled_from(["n=20,40", "n=20:40:10", "x=1", "n="]),
    "--json": None, "--quiet": None}


@st.composite
def design_command_lines(draw) -> list[str]:
    """boundaries, design, simon and assurance, with a handful of their options (kept short: few draws and
    trials for assurance, few for simon --simulate)."""
    command = draw(st.sampled_from(["boundaries", "design", "simon", "assurance"]))
    table = {"boundaries": BOUNDARY_OPTIONS, "design": DESIGN_OPTIONS, "simon": SIMON_OPTIONS,
             "assurance": ASSURANCE_OPTIONS}[command]
    argv = [command]
    for name in draw(st.lists(st.sampled_from(sorted(table)), max_size=7)):
        strategy = table[name]
        argv += [name] if strategy is None else [name, draw(strategy)]
    if command == "assurance":
        argv += ["--reps", draw(st.sampled_from(["2", "10", "1", "x"])), "--jobs", "1", "--seed", "1"]
        argv += [] if "--draws" in argv else ["--draws", "6"]
        argv += [] if "--point-reps" in argv else ["--point-reps", "50"]
    if command == "simon":
        argv += ["--reps", "50", "--seed", "1", "--jobs", "1"]
    return argv


@fuzz(300)
@given(argv=design_command_lines())
def test_fuzzed_design_command_lines(capsys, argv):
    code, out, err, _ = run_in_process(argv, capsys)
    check(argv, code, out, err)


# ---------------------------------------------------------------------------------------- scenario files

KNOWN = {
    "": ["name", "description", "model", "trial", "design"],
    "model": ["kind", "horizon", "control_survival", "treatment_survival", "control_median", "treatment_median",
              "hazard_ratio", "ruxolitinib", "control", "baseline"],
    "trial": ["n", "allocation", "stratified", "block_size", "follow_up", "dropout_hazard", "accrual_rate",
              "analysis", "analysis_time", "target_events", "max_duration", "accrual"],
    "design": ["kind", "endpoint", "test", "alpha", "sided", "horizon", "stratified", "response_level",
               "response_week", "null_survival", "null_hazard", "arm", "n_historical", "control_arm", "decision"],
    "arm": ["response", "taper", "infection"],
    "response": ["refractory_fraction", "rate_nr_pr", "rate_pr_cr", "relapse_rate", "death_hazard_nr",
                 "death_hazard_ratio_pr", "death_hazard_ratio_cr"],
    "baseline": ["female_fraction", "disease_fractions", "death_hazard_ratio_by_disease"],
}
WORDS = ["ctdmas", "parametric", "two_arm", "single_arm", "historical_control", "survival", "survival_binary",
         "response", "logrank", "fisher", "binomial", "complete", "calendar", "events", "cr_pr", "cr", "bayes",
         "frequentist", "weibull", "", " ", "\x1b[2J", "a\nb", SECRET, "🙂", "\u202e", "../x"]


def toml_string(text: str) -> str:
    out = []
    for c in text:
        if c in '"\\':
            out.append("\\" + c)
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


scalars = st.one_of(
    st.integers(-3, 3), st.integers(0, 200), st.sampled_from([40, 41, 20, 2, 1, 0, -1, 100_000, 100_001, 2 ** 63 - 1,
                                                              -(2 ** 63)]),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.5, 8.0, 0.05, 1e-308, 1e308, 0.0, -0.0, 2.0]),
    st.booleans(), st.sampled_from(WORDS),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40),
    st.sampled_from(["1979-05-27T07:32:00Z", "07:32:00", "1979-05-27"]).map(lambda t: ("raw", t)),
)


def toml_value(value) -> str:
    if isinstance(value, tuple) and value[0] == "raw":
        return value[1]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_string(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.sampled_from(["a", "n", "kind", "x"]),
                                                                       inner, max_size=3)),
                      max_leaves=8)


def table_of(keys: list[str]) -> st.SearchStrategy[dict]:
    key = st.one_of(st.sampled_from(keys), st.sampled_from(keys), st.text(min_size=1, max_size=12))
    return st.dictionaries(key, values, max_size=6)


#: Values a scenario key plausibly takes (valid ones, edges, and near misses), so that generated files often build.
PLAUSIBLE = {
    "trial": {"n": [2, 4, 20, 40, 41, 100], "allocation": [[1, 1], [2, 1], [1], [1, 1, 1]], "stratified": [True, False],
              "block_size": [2, 4, 6, 8, 3], "follow_up": [0.01, 8.0, 52.0, 4.0], "dropout_hazard": [0.0, 0.01, 100.0,
                                                                                                    [0.0, 0.1]],
              "accrual_rate": [0.001, 2.0, 100000.0], "analysis": ["complete", "calendar", "events"],
              "analysis_time": [4.0, 100000.0, 0.01], "target_events": [1, 5, 40]},
    "model": {"kind": ["ctdmas", "parametric"], "horizon": [1.0, 8.0, 52.0, 0.01, 520.0],
              "control_survival": [0.62, 1e-6, 0.999999], "control_median": [12.0, 0.5], "hazard_ratio": [0.5, 2.0],
              "treatment_survival": [0.9], "treatment_median": [20.0]},
    "design": {"kind": ["two_arm", "single_arm", "historical_control"], "alpha": [0.05, 1e-300, 0.999],
               "sided": [1, 2], "endpoint": ["survival", "survival_binary", "response"],
               "test": ["logrank", "fisher", "binomial", "boschloo", "chi2"], "horizon": [8.0, 4.0],
               "stratified": [True, False], "response_level": ["cr_pr", "cr"], "response_week": [8.0, 4.0, 2.5],
               "null_survival": [0.62], "n_historical": [21, 1], "arm": [0, 1], "control_arm": [1, 0],
               "decision": ["frequentist"]},
}


@st.composite
def plausible_documents(draw) -> str:
    lines = []
    if draw(st.booleans()):
        lines.append(f"name = {toml_string(draw(st.sampled_from(WORDS)))}")
    for section, keys in PLAUSIBLE.items():
        chosen = draw(st.lists(st.sampled_from(sorted(keys)), max_size=5, unique=True))
        if section == "trial" and "n" not in chosen:
            chosen.append("n")
        if not chosen:
            continue
        lines.append(f"[{section}]")
        lines += [f"{k} = {toml_value(draw(st.sampled_from(keys[k])))}" for k in chosen]
    return "\n".join(lines) + "\n"


@st.composite
def scenario_documents(draw) -> str:
    lines = []
    for key in draw(st.lists(st.sampled_from(["name", "description", "bogus", "key_" * 8 + SECRET]), max_size=2, unique=True)):
        lines.append(f"{toml_string(key)} = {toml_value(draw(values))}")
    trial = draw(table_of(KNOWN["trial"]))
    if draw(st.integers(0, 3)):  # mostly a plausible trial size
        trial["n"] = draw(st.sampled_from([40, 20, 2, 41, 400, 12]))
    sections = {"trial": trial, "model": draw(table_of(KNOWN["model"])), "design": draw(table_of(KNOWN["design"]))}
    for section, table in sections.items():
        if draw(st.booleans()) or section == "trial":
            lines.append(f"[{section}]")
            lines += [f"{toml_string(k)} = {toml_value(v)}" for k, v in table.items()]
    if draw(st.integers(0, 3)) == 0:
        arm = draw(st.sampled_from(["ruxolitinib", "control", "placebo"]))
        part = draw(st.sampled_from(KNOWN["arm"] + ["other"]))
        lines.append(f"[model.{arm}.{part}]")
        lines += [f"{toml_string(k)} = {toml_value(v)}" for k, v in draw(table_of(KNOWN["response"])).items()]
    if draw(st.integers(0, 4)) == 0:
        lines.append("[model.baseline]")
        lines += [f"{toml_string(k)} = {toml_value(v)}" for k, v in draw(table_of(KNOWN["baseline"])).items()]
    return "\n".join(lines) + "\n"


def run_scenario(capsys, text: bytes, command: str) -> None:
    with tempfile.TemporaryDirectory() as name:
        path = Path(name) / "fuzz.toml"
        path.write_bytes(text)
        argv = [command, "--scenario", str(path), "--reps", "20", "--seed", "1"]
        if command != "simulate":
            argv += ["--jobs", "1"]
        if command == "sample-size":
            argv += ["--n-max", "60"]
        code, out, err, _ = run_in_process(argv, capsys)
        check(argv, code, out, err, names_fuzzed=True)
        assert sorted(p.name for p in Path(name).iterdir()) == ["fuzz.toml"]


@fuzz(300)
@given(document=st.one_of(scenario_documents(), plausible_documents()),
       command=st.sampled_from(["power", "power", "simulate", "sample-size"]))
def test_fuzzed_scenario_files(capsys, document, command):
    run_scenario(capsys, document.encode("utf-8"), command)


@fuzz(100)
@given(data=st.one_of(st.binary(max_size=300), st.binary(max_size=40).map(lambda b: b"[trial]\nn = 40\n" + b)))
def test_scenario_files_of_random_bytes(capsys, data):
    run_scenario(capsys, data, "power")


BUILTIN_TEXTS = sorted(p.read_text(encoding="utf-8") for p in builtin_scenarios().values())
TOKENS = ["", "=", "[", "]", "[[trial]]", "[trial]", "n = 41", "true", '"x"', "1e308", "nan", "-1", "[[]]",
          "{", "}", "stratified = \"false\"", "sided = 2.0", "allocation = []", f'name = "{SECRET}"', "\x00", "'''",
          "kind = \"weibull\"", "analysis_time = 3.0", "control_arm = 0", "arm = 1", "block_size = 10000",
          "n = 100000", "follow_up = 1e-308", "horizon = 0.5", "x = " + "[" * 300 + "]" * 300]


@st.composite
def mutated_builtins(draw) -> str:
    lines = draw(st.sampled_from(BUILTIN_TEXTS)).splitlines()
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["delete", "duplicate", "insert", "replace_value", "swap"]))
        if not lines:
            lines = [""]
        i = draw(st.integers(0, len(lines) - 1))
        if action == "delete":
            del lines[i]
        elif action == "duplicate":
            lines.insert(i, lines[i])
        elif action == "insert":
            lines.insert(i, draw(st.sampled_from(TOKENS)))
        elif action == "replace_value" and "=" in lines[i]:
            lines[i] = lines[i].split("=", 1)[0] + "= " + draw(st.sampled_from(TOKENS + ["0", "2", "1.5", "[1]"]))
        elif action == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
    return "\n".join(lines) + "\n"


@fuzz(200)
@given(document=mutated_builtins(), command=st.sampled_from(["power", "simulate"]))
def test_mutated_builtin_scenarios(capsys, document, command):
    assume("\x00" not in document or True)
    run_scenario(capsys, document.encode("utf-8", "surrogatepass"), command)


# ----------------------------------------------------------------------------------------- real processes

PROCESS_CASES = [
    ["power", "--n", "\uff14\uff10", "--reps", "50"],
    ["power", "--horizon", "1e-308", "--reps", "50"],
    ["power", "--hazard-ratio", "1e308", "--control-survival", "0.6", "--reps", "50"],
    ["simulate", "--follow-up", "1e308"],
    ["power", "--control-survival", "0.6", "--hazard-ratio", "0.5", "--reps", "50", "--seed", "1", "--jobs", "1000"],
    ["simulate", "--n", "4", "--seed", "1", "--out", "{dir}/t.csv", "--quiet"],
]


@pytest.mark.slow
@pytest.mark.parametrize("argv", PROCESS_CASES, ids=[" ".join(a) for a in PROCESS_CASES])
def test_real_processes_keep_the_contract(argv):
    with tempfile.TemporaryDirectory() as name:
        argv = [a.replace("{dir}", name) for a in argv]
        proc = subprocess.run([sys.executable, "-m", "trialsim", *argv], capture_output=True, text=True, timeout=300)
        check(argv, proc.returncode, proc.stdout, proc.stderr)
        assert not [p for p in Path(name).iterdir() if p.name.endswith(".tmp")]


def test_the_contract_check_itself_refuses_bad_examples():
    with pytest.raises(AssertionError):
        check(["power"], 1, "", "")
    with pytest.raises(AssertionError):
        check(["power"], 2, "", "Traceback (most recent call last):\n  ...\nValueError: x\n")
    with pytest.raises(AssertionError):
        check(["power"], 2, "", "trialsim power: error: --n must be 1 (got 2)\nmore\n")
    with pytest.raises(AssertionError):
        check(["power"], 0, "analysis at week inf on average\n", "")
    with pytest.raises(AssertionError):
        check(["power"], 0, "ok\n", "trialsim power: note: RuntimeWarning: overflow\n")
    check(["power"], 2, "", "trialsim power: error: --n must be a positive integer (got 'x')\n")
    check(["sample-size"], 1, "n 40\n", "")
    assert json.dumps(string.digits)  # the module's imports are all used
