"""Hostile input, finding 7: dask faults end in one line and a bounded time.

A malformed address is refused before any connection; a socket that never answers, a closed port, a server that
is not a dask scheduler and a scheduler without workers each end in exit status 2 within ``--timeout``; a worker
killed mid-run changes nothing (its chunks are run again); a scheduler lost mid-run is one line and a non-zero
exit, not dask's traceback. Everything here listens on 127.0.0.1 only, is started by the test itself, and is
bounded in time.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from trialsim.cli import main
from trialsim.design import dask_backend
from trialsim.exceptions import InputError

PARAMETRIC = ["--control-survival", "0.62", "--treatment-survival", "0.95", "--horizon", "8"]


def run(capsys, *argv):
    began = time.monotonic()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err, time.monotonic() - began


def one_error_line(err: str) -> str:
    assert err.endswith("\n") and err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("trialsim power: error: --scheduler "), err
    return err.rstrip("\n")


class _Server:
    """A loopback TCP server that accepts connections and either never answers or answers like a web server."""

    def __init__(self, reply: bytes | None) -> None:
        self.reply = reply
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if self.reply is None:
                self.held.append(conn)  # accepted, never answered
                continue
            try:
                conn.settimeout(2)
                conn.recv(1024)
                conn.sendall(self.reply)
            except OSError:
                pass
            finally:
                conn.close()

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


@pytest.fixture
def silent_server():
    server = _Server(None)
    yield server
    server.close()


@pytest.fixture
def web_server():
    server = _Server(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    yield server
    server.close()


# ------------------------------------------------------------------------------------ before connecting


@pytest.mark.parametrize("address", ["not a url", "http://127.0.0.1:8786", "https://127.0.0.1:8786", "tcp://127.0.0.1",
                                     "tcp://:8786", "127.0.0.1:0", "127.0.0.1:99999", "tcp://127.0.0.1:87a6",
                                     "tcp://127.0.0.1:8786/path", "", "tcp://h\nost:8786", "x" * 300 + ":1"])
def test_a_malformed_address_is_refused_before_connecting(capsys, monkeypatch, address):
    def no_connection(*args, **kwargs):
        raise AssertionError("a connection was attempted")

    monkeypatch.setattr(socket, "create_connection", no_connection)
    with pytest.raises(InputError, match="must be a dask scheduler address"):
        dask_backend.check_scheduler(address)
    code, out, err, _ = run(capsys, "power", "--backend", "dask", "--scheduler", address, "--reps", "10", *PARAMETRIC)
    assert code == 2 and out == ""
    assert "must be a dask scheduler address" in one_error_line(err)


@pytest.mark.parametrize("address, normal", [("127.0.0.1:8786", "tcp://127.0.0.1:8786"),
                                             ("tcp://localhost:8786", "tcp://localhost:8786"),
                                             ("tls://[::1]:8786", "tls://[::1]:8786")])
def test_well_formed_addresses_pass(address, normal):
    assert dask_backend.check_scheduler(address) == normal


# ------------------------------------------------------------------------------------------ timeouts


def test_a_socket_that_never_answers_times_out(capsys, silent_server):
    code, out, err, elapsed = run(capsys, "power", "--backend", "dask", "--scheduler",
                                  f"tcp://127.0.0.1:{silent_server.port}", "--timeout", "2", "--reps", "10",
                                  *PARAMETRIC)
    assert code == 2 and out == "" and elapsed < 30  # it used to hang
    assert "must answer within 2 s (--timeout)" in one_error_line(err)


def test_a_closed_port_is_refused_at_once(capsys):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code, _, err, elapsed = run(capsys, "power", "--backend", "dask", "--scheduler", f"tcp://127.0.0.1:{port}",
                                "--reps", "10", *PARAMETRIC)
    assert code == 2 and elapsed < 15
    assert "must be a dask scheduler that answers" in one_error_line(err)


def test_a_server_that_is_not_a_dask_scheduler_is_named(capsys, web_server):
    code, _, err, elapsed = run(capsys, "power", "--backend", "dask", "--scheduler",
                                f"127.0.0.1:{web_server.port}", "--timeout", "5", "--reps", "10", *PARAMETRIC)
    assert code == 2 and elapsed < 30
    line = one_error_line(err)
    assert "must be a dask scheduler" in line or "must answer within" in line


@pytest.mark.slow
def test_a_scheduler_without_workers_times_out(capsys):
    from distributed import LocalCluster

    with LocalCluster(host="127.0.0.1", n_workers=0, processes=True, dashboard_address=None) as cluster:
        code, _, err, elapsed = run(capsys, "power", "--backend", "dask", "--scheduler", cluster.scheduler_address,
                                    "--timeout", "2", "--reps", "10", *PARAMETRIC)
    assert code == 2 and elapsed < 60
    assert "must have a worker (none joined within 2 s; --timeout)" in one_error_line(err)


# ----------------------------------------------------------------------------------------- mid-run


@pytest.mark.slow
def test_a_worker_killed_mid_run_changes_nothing(capsys, monkeypatch):
    from distributed import Client, LocalCluster

    from trialsim.cli.options import Progress

    argv = ["power", "--n", "40", *PARAMETRIC, "--engine", "des", "--reps", "16000", "--seed", "5", "--json"]
    code, expected, _, _ = run(capsys, *argv, "--jobs", "1")
    assert code == 0
    killed = []
    with LocalCluster(host="127.0.0.1", n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster, set_as_default=False) as client:
        pids = client.run(os.getpid)
        original = Progress.__call__

        def kill_one_worker_after_the_first_chunk(self, done, total):
            if not killed:
                pid = next(iter(pids.values()))
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            original(self, done, total)

        monkeypatch.setattr(Progress, "__call__", kill_one_worker_after_the_first_chunk)
        code, out, err, _ = run(capsys, *argv, "--backend", "dask", "--scheduler", cluster.scheduler_address)
    assert killed and code == 0, err
    assert json.loads(out) == json.loads(expected)


def _start(args: list[str], **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", *args], stdin=subprocess.DEVNULL, **kwargs)


@pytest.mark.slow
def test_losing_the_scheduler_mid_run_is_one_line_and_a_nonzero_exit(tmp_path: Path):
    file = tmp_path / "scheduler.json"
    scheduler = _start(["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                        "--scheduler-file", str(file)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    worker = command = None
    try:
        deadline = time.monotonic() + 120
        while not file.exists() or not file.read_text().strip():
            assert time.monotonic() < deadline and scheduler.poll() is None, "the scheduler did not start"
            time.sleep(0.2)
        time.sleep(0.5)
        address = json.loads(file.read_text())["address"]
        worker = _start(["distributed.cli.dask_worker", address, "--nworkers", "1", "--nthreads", "1",
                         "--no-dashboard", "--host", "127.0.0.1"], stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL)
        command = _start(["trialsim", "power", "--n", "40", *PARAMETRIC, "--engine", "des", "--reps", "2000000",
                          "--seed", "1", "--backend", "dask", "--scheduler", address, "--timeout", "60"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert scheduler.stderr is not None
        for line in scheduler.stderr:  # the scheduler logs the client's arrival; then give it a chunk to run
            assert time.monotonic() < deadline, "the command never reached the scheduler"
            if "Receive client connection" in line:
                break
        time.sleep(3)
        assert command.poll() is None, command.communicate()
        scheduler.kill()
        out, err = command.communicate(timeout=180)
        assert command.returncode == 2 and out == ""
        assert err.count("\n") == 1 and "Traceback" not in err, err
        assert err.startswith("trialsim power: error: --scheduler must stay reachable during the run"), err
    finally:
        for proc in (command, worker, scheduler):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
