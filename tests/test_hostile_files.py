"""Hostile input, finding 3: output files.

Nothing but a regular file is ever replaced: not a device, a FIFO, a directory or a socket, also when a symbolic
link points at one. A symbolic link to a file (or to a file that does not exist yet) is followed: the file it
points to is written, the link stays (docs/cli.md, "Output files"). An existing file keeps its mode. An empty
name, a name ending in ``/``, and one path for both ``--out`` and ``--events-log`` are refused; so is a
``power --out`` without ``.csv``, before any work. A failure leaves no temporary file.
"""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest

from trialsim.cli import main
from trialsim.cli import power as power_command
from trialsim.cli.files import check_output_path, same_file, write_atomic
from trialsim.exceptions import InputError

PARAMETRIC = ["--control-survival", "0.62", "--treatment-survival", "0.95", "--horizon", "8"]


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def error_line(err: str) -> str:
    assert err.endswith("\n") and err.count("\n") == 1 and "Traceback" not in err, err
    return err.rstrip("\n")


def simulate_to(capsys, path, *extra):
    return run(capsys, "simulate", "--n", "4", "--seed", "1", "--out", path, *extra)


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


@pytest.fixture
def unix_socket(tmp_path):
    path = tmp_path / "sock.csv"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    yield path
    server.close()


@pytest.mark.parametrize("kind", ["fifo", "directory", "socket", "link_to_device", "link_to_fifo", "link_to_directory",
                                  "link_loop"])
def test_nothing_but_a_regular_file_is_replaced(capsys, tmp_path, unix_socket, kind):
    target = tmp_path / f"{kind}.csv"
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "directory":
        target.mkdir()
    elif kind == "socket":
        target = unix_socket
    elif kind == "link_to_device":
        target.symlink_to("/dev/null")
    elif kind == "link_to_fifo":
        os.mkfifo(tmp_path / "pipe")
        target.symlink_to(tmp_path / "pipe")
    elif kind == "link_to_directory":
        (tmp_path / "d").mkdir()
        target.symlink_to(tmp_path / "d")
    elif kind == "link_loop":
        target.symlink_to(tmp_path / "other.csv")
        (tmp_path / "other.csv").symlink_to(target)
    before = os.lstat(target)
    code, out, err = simulate_to(capsys, target)
    assert code == 2 and out == ""
    assert "--out must be a regular file" in error_line(err)
    after = os.lstat(target)
    assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino) and leftovers(tmp_path) == []


def test_the_device_itself_is_refused(capsys):
    with pytest.raises(InputError, match="must be a regular file"):
        check_output_path("--out", "/dev/null", ("",))


def test_a_link_to_a_file_is_followed_and_stays_a_link(capsys, tmp_path):
    real = tmp_path / "real.csv"
    real.write_text("old\n")
    real.chmod(0o640)
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    code, _, err = simulate_to(capsys, link)
    assert code == 0, err
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text().startswith("replicate,patient,") and stat.S_IMODE(real.stat().st_mode) == 0o640
    assert leftovers(tmp_path) == []


def test_a_dangling_link_is_followed_to_the_file_it_names(capsys, tmp_path):
    link = tmp_path / "link.csv"
    link.symlink_to(tmp_path / "new.csv")
    code, _, err = simulate_to(capsys, link)
    assert code == 0, err
    assert link.is_symlink() and (tmp_path / "new.csv").read_text().startswith("replicate,patient,")


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o444, 0o755])
def test_an_existing_file_keeps_its_mode(capsys, tmp_path, mode):
    path = tmp_path / "trial.csv"
    path.write_text("old\n")
    path.chmod(mode)
    code, _, err = simulate_to(capsys, path)
    assert code == 0, err
    assert stat.S_IMODE(path.stat().st_mode) == mode and path.read_text() != "old\n"


def test_power_out_keeps_the_mode_too(capsys, tmp_path):
    path = tmp_path / "curve.csv"
    path.write_text("old\n")
    path.chmod(0o604)
    code, _, err = run(capsys, "power", *PARAMETRIC, "--grid", "n=20,30", "--reps", "50", "--seed", "1",
                       "--jobs", "1", "--out", path)
    assert code == 0, err
    assert stat.S_IMODE(path.stat().st_mode) == 0o604 and path.read_text().startswith("parameter,value,")


@pytest.mark.parametrize("out, rule", [("", "must name a file"), ("{tmp}/", "must name a file"),
                                       ("{tmp}/sub/", "must name a file"), ("{tmp}/curve.txt", "must end in .csv"),
                                       ("{tmp}/curve", "must end in .csv"), ("{tmp}/missing/curve.csv",
                                                                            "must be in an existing directory")])
def test_power_out_is_checked_before_any_work(capsys, monkeypatch, tmp_path, out, rule):
    def no_work(*args, **kwargs):
        raise AssertionError("the curve was computed")

    monkeypatch.setattr(power_command, "scenario_from_args", no_work)
    code, _, err = run(capsys, "power", "--grid", "n=20,30", "--out", out.replace("{tmp}", str(tmp_path)))
    assert code == 2 and f"--out {rule}" in error_line(err)


def test_one_path_for_both_outputs_is_refused_also_through_links(capsys, tmp_path):
    out = tmp_path / "t.csv"
    for other in (out, tmp_path / "." / "t.csv", tmp_path / "link.csv"):
        if other.name == "link.csv":
            other.symlink_to(out)
        code, _, err = simulate_to(capsys, out, "--events-log", other, "--engine", "des")
        assert code == 2 and "--events-log must differ from --out" in error_line(err)
    out.write_text("x\n")
    os.link(out, tmp_path / "hard.csv")
    assert same_file(str(out), str(tmp_path / "hard.csv"))
    code, _, err = simulate_to(capsys, out, "--events-log", tmp_path / "hard.csv", "--engine", "des")
    assert code == 2 and "--events-log must differ from --out" in error_line(err)


def test_an_unwritable_directory_is_refused_before_any_work(capsys, monkeypatch, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    if os.geteuid() == 0:  # root writes any directory (CI runs as root): the kernel's answer to anyone else
        real_access = os.access

        def access(path, mode, *args, **kwargs):
            if os.path.realpath(path) == str(locked.resolve()) and mode & os.W_OK:
                return False
            return real_access(path, mode, *args, **kwargs)

        monkeypatch.setattr(os, "access", access)
    try:
        code, _, err = simulate_to(capsys, locked / "t.csv")
    finally:
        locked.chmod(0o700)
    assert code == 2 and "--out must be in a directory this user can write" in error_line(err)


def test_write_atomic_refuses_what_appeared_after_the_check_and_leaves_nothing(tmp_path):
    target = tmp_path / "late.csv"
    check_output_path("--out", str(target), (".csv",))  # nothing there yet

    def writer(tmp: str) -> None:
        Path(tmp).write_text("content\n")
        os.mkfifo(target)  # a pipe appears while the content is written

    with pytest.raises(FileExistsError):
        write_atomic(target, writer)
    assert stat.S_ISFIFO(os.lstat(target).st_mode) and leftovers(tmp_path) == []


def test_a_failed_writer_leaves_the_old_file_and_no_temporary_file(tmp_path):
    target = tmp_path / "keep.csv"
    target.write_text("old\n")

    def writer(tmp: str) -> None:
        Path(tmp).write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, writer)
    assert target.read_text() == "old\n" and leftovers(tmp_path) == []
