"""Hostile input, finding 2: signals.

SIGTERM and SIGHUP end a command as SIGINT does: one line (``trialsim <command>: interrupted (SIGTERM)``), exit
status 143 or 129, no temporary file left, no worker process left alive (a SIGTERM used to leave a hidden
``.out.csv.XXXX.tmp`` of up to 1.9 GB, and two loky workers and two resource trackers for about five minutes).
SIGINT stays as it was: ``trialsim <command>: interrupted``, exit status 130. Each command runs in a process
group of its own, so that every process it starts can be found after it ends.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")]

PARAMETRIC = ["--control-survival", "0.62", "--treatment-survival", "0.95", "--horizon", "8"]


def _session(pid: int) -> list[int]:
    """Processes whose session is ``pid`` (the command and everything it started), found through /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[3]) == pid and fields[0] != "Z":  # fields: state, ppid, pgrp, session, ...
            found.append(int(entry))
    return found


def _children(pid: int) -> list[int]:
    return [p for p in _session(pid) if p != pid]


def _foreground_signals() -> None:
    """In the child before it runs trialsim: SIGINT as a terminal's foreground job has it. A shell without job
    control starts background jobs with SIGINT ignored, and Python then installs no KeyboardInterrupt handler,
    so a suite run from such a job (``nohup ... &`` in a script) would test what ``nohup`` does, not Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(argv: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "trialsim", *argv], cwd=cwd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=_foreground_signals)


def _wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _finish(proc: subprocess.Popen) -> tuple[str, str]:
    try:
        return proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def _no_process_left(pid: int) -> None:
    deadline = time.monotonic() + 20
    while _session(pid):
        if time.monotonic() > deadline:
            left = _session(pid)
            for p in left:
                os.kill(p, signal.SIGKILL)
            raise AssertionError(f"processes left alive: {left}")
        time.sleep(0.2)


def _temporary_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


@pytest.mark.parametrize("signum, status, name", [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGHUP, 129, "SIGHUP")])
def test_a_signal_mid_run_stops_the_workers_and_exits_in_one_line(tmp_path, signum, status, name):
    proc = _start(["power", "--n", "40", *PARAMETRIC, "--engine", "des", "--reps", "4000000", "--jobs", "2",
                   "--seed", "1", "--grid", "n=20,40", "--out", "curve.csv"], tmp_path)
    try:
        _wait_for(lambda: len(_children(proc.pid)) >= 2 or proc.poll() is not None, 240, "the worker pool")
        assert proc.poll() is None
        time.sleep(1)
        proc.send_signal(signum)
        out, err = _finish(proc)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == status, err
    assert out == "" and err == f"trialsim power: interrupted ({name})\n"
    _no_process_left(proc.pid)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_sigterm_mid_write_leaves_no_temporary_file(tmp_path):
    (tmp_path / "trials.csv").write_text("the old file\n")
    proc = _start(["simulate", "--n", "1000", "--reps", "2000", "--seed", "1", "--out", "trials.csv"], tmp_path)
    try:
        _wait_for(lambda: any(p.stat().st_size > 0 for p in tmp_path.glob(".trials.csv.*.tmp"))
                  or proc.poll() is not None, 240, "the temporary file")
        assert proc.poll() is None, "the write ended before the signal"
        proc.send_signal(signal.SIGTERM)
        out, err = _finish(proc)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 143 and err == "trialsim simulate: interrupted (SIGTERM)\n", err
    assert _temporary_files(tmp_path) == [] and (tmp_path / "trials.csv").read_text() == "the old file\n"
    _no_process_left(proc.pid)


def test_sigint_stays_as_it_was(tmp_path):
    proc = _start(["power", "--n", "40", *PARAMETRIC, "--engine", "des", "--reps", "4000000", "--jobs", "2",
                   "--seed", "1"], tmp_path)
    try:
        _wait_for(lambda: len(_children(proc.pid)) >= 2 or proc.poll() is not None, 240, "the worker pool")
        time.sleep(1)
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground group
        out, err = _finish(proc)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130 and out == "" and err == "trialsim power: interrupted\n", err
    _no_process_left(proc.pid)


def test_the_handlers_are_put_back_after_an_in_process_run(capsys):
    from trialsim.cli import main

    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)}
    assert main(["power", "--n", "41"]) == 2
    capsys.readouterr()
    assert {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)} == before
