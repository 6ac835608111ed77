"""``--plot FILE`` on the commands that draw: ``power --grid``, ``simulate``, ``calibrate --check``,
``boundaries``, ``design`` and ``assurance``, in process with ``main([...])`` (headless: the figures are
matplotlib ``Figure`` objects, never pyplot), and without matplotlib in a subprocess.

What each figure holds is tested on the Figure in ``tests/test_plot.py``; here: the file is written in the
format its suffix names, whole (a failure leaves nothing), the same seed gives the same bytes, the result on
stdout is unchanged by ``--plot``, and every misuse is exit status 2 with one line in the one error format.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys

import pytest

import trialsim.cli.plots as cli_plots
from trialsim.cli import main

pytest.importorskip("matplotlib")  # in the test extra: these run in CI

MAGIC = {".png": b"\x89PNG\r\n\x1a\n", ".pdf": b"%PDF-", ".svg": b"<?xml"}


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def without_timing(text: str) -> str:
    """The printed result without the run's elapsed seconds (', 0.4 s' at the end of the seed line)."""
    return re.sub(r"; \d+\.\d s$", "", text, flags=re.M)


def assert_figure(path, suffix):
    data = path.read_bytes()
    assert data.startswith(MAGIC[suffix]), data[:16]
    if suffix == ".svg":
        assert b"<svg" in data[:2000]
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []  # no temporary file left


# one small run per command: (argv, the suffix written)
COMMANDS = {
    "power": (["power", "--grid", "n=20,40", "--reps", "200", "--seed", "3", "--jobs", "1"], ".png"),
    "simulate": (["simulate", "--n", "20", "--reps", "20", "--seed", "3"], ".svg"),
    "calibrate": (["calibrate", "--check", "--reps", "40", "--seed", "3"], ".pdf"),
    "boundaries": (["boundaries", "--looks", "0.5,1"], ".png"),
    "design": (["design", "--looks", "0.5,1", "--hazard-ratio", "0.3", "--control-median", "4", "--accrual-rate",
                "2", "--min-follow-up", "8"], ".svg"),
    "assurance": (["assurance", "--n", "20", "--draws", "30", "--reps", "30", "--point-reps", "200", "--seed", "3",
                   "--jobs", "1"], ".png"),
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_each_command_writes_its_figure_and_keeps_its_result(command, tmp_path, capsys):
    argv, suffix = COMMANDS[command]
    path = tmp_path / f"figure{suffix}"
    code, out, err = run(capsys, *argv, "--plot", str(path), "--quiet")
    assert code == 0, err
    assert_figure(path, suffix)
    assert err == ""  # --quiet: no note
    plain = run(capsys, *argv, "--quiet")
    assert plain[0] == 0
    assert without_timing(out) == without_timing(plain[1])  # the printed result does not depend on --plot
    code, _, err = run(capsys, *argv, "--plot", str(path))
    assert code == 0 and err.strip() == f"trialsim {command}: wrote the figure to {path}"


def test_same_seed_same_figure(tmp_path, capsys):
    argv, _ = COMMANDS["simulate"]
    first, second = tmp_path / "a.svg", tmp_path / "b.svg"
    assert run(capsys, *argv, "--plot", str(first))[0] == 0
    assert run(capsys, *argv, "--plot", str(second))[0] == 0
    assert first.read_bytes() == second.read_bytes()


def test_a_new_figure_gets_the_usual_permissions(tmp_path, capsys):
    path = tmp_path / "bounds.png"
    old = os.umask(0o022)
    try:
        assert run(capsys, *COMMANDS["boundaries"][0], "--plot", str(path))[0] == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # what open() gives: 0o666 less the umask


def test_assurance_curve_draws_one_panel_per_size(tmp_path, capsys, monkeypatch):
    figures = []
    real = cli_plots.write_plot

    def keep(args, draw, prog):
        figures.append(draw())
        real(args, lambda: figures[-1], prog)

    monkeypatch.setattr("trialsim.cli.assurance.write_plot", keep)
    path = tmp_path / "curve.png"
    code, _, err = run(capsys, "assurance", "--grid", "n=20,40,60", "--draws", "20", "--reps", "20", "--point-reps",
                       "100", "--seed", "2", "--jobs", "1", "--plot", str(path), "--quiet")
    assert code == 0, err
    (fig,) = figures
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert [t.split(":")[0] for t in titles] == ["n = 20", "n = 40", "n = 60"]
    assert_figure(path, ".png")


def one_error(err: str, command: str, subject: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"trialsim {command}: error: {subject} "), lines[0]
    assert "Traceback" not in err


@pytest.mark.parametrize("argv, command, rule", [
    (["power", "--reps", "100"], "power", "needs --grid"),
    (["calibrate"], "calibrate", "needs --check"),
])
def test_plot_without_what_it_draws_is_refused(argv, command, rule, tmp_path, capsys):
    path = tmp_path / "x.png"
    code, out, err = run(capsys, *argv, "--plot", str(path))
    assert code == 2 and out == ""
    one_error(err, command, "--plot")
    assert rule in err and str(path) in err
    assert not path.exists()


@pytest.mark.parametrize("name, rule", [
    ("figure.gif", "must end in .png or .svg or .pdf"),
    ("missing/figure.png", "must be in an existing directory"),
    ("", "must name a file"),
])
def test_a_bad_plot_path_is_refused_before_any_work(name, rule, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def no_simulation(*args, **kwargs):  # refused before anything is simulated
        raise AssertionError("simulated before checking --plot")

    monkeypatch.setattr("trialsim.engines.vectorized.simulate", no_simulation)
    code, out, err = run(capsys, "simulate", "--n", "20", "--seed", "1", "--plot", name)
    assert code == 2 and out == ""
    one_error(err, "simulate", "--plot")
    assert rule in err
    assert list(tmp_path.iterdir()) == []


def test_a_directory_in_the_way_is_refused(tmp_path, capsys):
    (tmp_path / "d.png").mkdir()
    code, _, err = run(capsys, "boundaries", "--looks", "0.5,1", "--plot", str(tmp_path / "d.png"))
    assert code == 2
    one_error(err, "boundaries", "--plot")
    assert "must be a regular file" in err


def test_plot_and_out_must_differ(tmp_path, capsys):
    path = tmp_path / "same.png"
    code, _, err = run(capsys, "power", "--grid", "n=20,40", "--reps", "50", "--out", str(tmp_path / "c.csv"),
                       "--plot", str(tmp_path / "c.csv"))
    assert code == 2 and "must end in .png or .svg or .pdf" in err
    os.symlink(tmp_path / "log.csv", tmp_path / "link.png")
    code, _, err = run(capsys, "simulate", "--n", "20", "--events-log", str(tmp_path / "log.csv"), "--plot",
                       str(tmp_path / "link.png"))
    assert code == 2 and not path.exists()
    one_error(err, "simulate", "--plot")
    assert "must differ from --events-log" in err


def test_a_failed_drawing_leaves_the_old_file(tmp_path, capsys, monkeypatch):
    path = tmp_path / "bounds.png"
    path.write_bytes(b"old")

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("trialsim.plot.draw_figure", broken)
    code, _, err = run(capsys, "boundaries", "--looks", "0.5,1", "--plot", str(path))
    assert code == 2
    one_error(err, "boundaries", "--plot")
    assert "cannot be written (No space left on device)" in err
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bounds.png"]


@pytest.mark.parametrize("command, argv, option", [
    ("boundaries", ["--looks", "0.5,1", "--plot", "b.png"], "--plot"),
    ("report", ["--out", "b.html"], "--out"),
])
def test_without_matplotlib_the_error_names_the_extra(command, argv, option, tmp_path):
    """The extra not installed (matplotlib hidden from the import system): exit 2, one line naming it."""
    code = ("import sys\nsys.modules['matplotlib'] = None\nfrom trialsim.cli import main\n"
            f"sys.exit(main({[command, *argv]!r}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    one_error(done.stderr, command, option)
    assert "needs matplotlib: pip install 'trialsim[plot]'" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_power_with_looks_draws_its_bounds_and_stopping(tmp_path, capsys):
    path = tmp_path / "looks.png"
    argv = ["power", "--looks", "0.5,1", "--reps", "300", "--seed", "3", "--jobs", "1", "--quiet"]
    code, out, err = run(capsys, *argv, "--plot", str(path))
    assert code == 0, err
    assert_figure(path, ".png")
    assert without_timing(out) == without_timing(run(capsys, *argv)[1])
    code, _, err = run(capsys, "power", "--events", "8", "--reps", "100", "--plot",
                       str(tmp_path / "one.png"))   # one look: nothing to draw
    assert code == 2
    one_error(err, "power", "--plot")
    assert "needs --grid or looks" in err and not (tmp_path / "one.png").exists()
