"""Hostile input, finding 1: resources are bounded, and checked before any work starts.

Every count a user gives has a documented ceiling (docs/cli.md, "Limits"); the memory a run needs is estimated
before it starts, and a run that cannot fit is refused on one line that says what would fit; the chunks of a
run are made one at a time; more workers than cores are capped, with a note; nothing grows without bound in a
value the user gives (``factorial(block_size)`` was computed for every block size).
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import time
import tracemalloc

import pytest

from trialsim.cli import main
from trialsim.design import montecarlo as mc
from trialsim.design import resources
from trialsim.design.rules import TwoArmDesign
from trialsim.engines.enrolment import _count_arrangements, block_patterns
from trialsim.engines.seeding import chunk_bounds
from trialsim.exceptions import InputError
from trialsim.model import Trial
from trialsim.model.validation import MAX_REPLICATES
from trialsim.scenarios import parametric_model

PARAMETRIC = ["--control-survival", "0.62", "--treatment-survival", "0.95", "--horizon", "8"]
MODEL = parametric_model(horizon=8.0, control_survival=0.62, treatment_survival=0.95)


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> str:
    assert err.endswith("\n") and err.count("\n") == 1 and "Traceback" not in err, err
    return err.rstrip("\n")


# ------------------------------------------------------------------------------------ lazy chunks


def test_chunk_bounds_are_made_when_asked_for():
    tracemalloc.start()
    began = time.perf_counter()
    bounds = chunk_bounds(10 ** 12)
    assert len(bounds) == 5 * 10 ** 8
    assert bounds[0] == (0, 2000) and bounds[-1] == (10 ** 12 - 2000, 10 ** 12)
    assert bounds[7] == (14_000, 16_000)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert time.perf_counter() - began < 1.0 and peak < 1_000_000  # was a list growing at 0.7 GB/s
    assert list(chunk_bounds(4500)) == [(0, 2000), (2000, 4000), (4000, 4500)] == chunk_bounds(4500)
    assert chunk_bounds(4500)[1:] == [(2000, 4000), (4000, 4500)]
    assert list(chunk_bounds(0)) == [] and len(chunk_bounds(0)) == 0
    with pytest.raises(IndexError):
        chunk_bounds(4500)[3]


def test_a_run_hands_its_chunks_out_one_at_a_time(monkeypatch):
    seen = {}

    def fake_execute(work, tasks, **kwargs):
        seen["type"], seen["count"] = type(tasks), len(tasks)
        first = next(iter(tasks))
        seen["first"] = first[4:]
        return [mc.OutcomeSummary(n_replicates=MAX_REPLICATES, n_successes=1, n_degenerate=0,
                                  sum_events_by_arm=(0.0, 0.0), sum_duration=0.0)], 1

    monkeypatch.setattr(mc, "execute", fake_execute)
    tracemalloc.start()
    result = mc.run(MODEL, Trial(n=40), TwoArmDesign(), n_replicates=MAX_REPLICATES, seed=1, n_jobs=1,
                    keep_outcomes=False)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert seen["count"] == MAX_REPLICATES // 2000 and not issubclass(seen["type"], list)
    assert seen["first"] == (0, 0, 2000) and result.n_chunks == MAX_REPLICATES // 2000
    assert peak < 20_000_000


def test_more_replicates_than_the_limit_are_refused_by_the_library_and_the_command():
    with pytest.raises(InputError, match="n_replicates"):
        mc.run(MODEL, Trial(n=40), TwoArmDesign(), n_replicates=MAX_REPLICATES + 1, seed=1)


def test_reps_of_ten_to_the_twelve_exit_at_once(capsys):
    began = time.perf_counter()
    code, out, err = run(capsys, "power", "--reps", str(10 ** 12), *PARAMETRIC)
    assert code == 2 and out == "" and time.perf_counter() - began < 5
    assert one_line(err).startswith("trialsim power: error: --reps must be a positive integer at most 1,000,000,000")


# ------------------------------------------------------------------------------------------- memory


@pytest.fixture
def small_machine(monkeypatch):
    """A machine with 200 MB free, whatever this one has."""
    monkeypatch.setattr(resources, "available_memory", lambda: 200 * 2 ** 20)


def _fit(err: str, option: str) -> int:
    match = re.search(rf"{option} must be at most ([0-9,]+) on this machine", err)
    assert match is not None, err
    return int(match.group(1).replace(",", ""))


def test_a_trial_too_large_for_memory_is_refused_and_the_message_says_what_fits(capsys, small_machine):
    code, out, err = run(capsys, "power", "--n", "20000", "--reps", "5000", "--jobs", "1", *PARAMETRIC)
    line = one_line(err)
    assert code == 2 and out == "" and "one chunk of 2,000 simulated trials of 20,000 patients" in line
    fit = _fit(line, "--n")
    assert 0 < fit < 20000 and fit % 2 == 0
    pairs = [(MODEL, Trial(n=fit), "vectorized")]
    resources.check_memory(pairs, n_replicates=5000, workers=1, keep_outcomes=False, available=200 * 2 ** 20)  # fits
    with pytest.raises(InputError):
        resources.check_memory([(MODEL, Trial(n=fit + 2), "vectorized")], n_replicates=5000, workers=1,
                        keep_outcomes=False, available=200 * 2 ** 20)


def test_a_run_shorter_than_a_chunk_needs_only_its_own_trials(capsys, small_machine):
    # 20 trials of 20,000 patients are 400,000 patient-trials: they fit where 2,000 would not
    code, out, err = run(capsys, "power", "--n", "20000", "--reps", "20", "--jobs", "1", "--seed", "1", *PARAMETRIC)
    assert code == 0 and "Power:" in out, err


def test_workers_are_capped_to_what_fits_in_memory():
    pairs = [(MODEL, Trial(n=2000), "vectorized")]
    chunk = resources.chunk_memory(pairs)
    assert resources.check_memory(pairs, n_replicates=5000, workers=8, keep_outcomes=False, available=int(3 * chunk / 0.8)) == 3
    assert resources.check_memory(pairs, n_replicates=5000, workers=2, keep_outcomes=False, available=10 * chunk) == 2


def test_a_sample_size_search_beyond_memory_names_n_max(capsys, small_machine):
    code, _, err = run(capsys, "sample-size", "--n-max", "90000", "--reps", "100", "--jobs", "1", *PARAMETRIC)
    assert code == 2 and one_line(err).startswith("trialsim sample-size: error: --n-max must be at most")
    assert 0 < _fit(err, "--n-max") < 90000


def test_kept_outcomes_beyond_memory_name_reps(capsys, small_machine):
    code, _, err = run(capsys, "sample-size", "--reps", "900000000", "--n-max", "200", "--jobs", "1", *PARAMETRIC)
    assert code == 2 and one_line(err).startswith("trialsim sample-size: error: --reps must be at most")


def test_a_table_too_large_for_memory_is_refused_and_the_message_says_what_fits(capsys, small_machine):
    code, _, err = run(capsys, "simulate", "--n", "40", "--reps", "1000000", "--seed", "1")
    assert code == 2 and "--reps must be at most" in one_line(err)
    fit = _fit(err, "--reps")
    resources.check_table_memory(fit, 40, "vectorized", available=200 * 2 ** 20)
    with pytest.raises(InputError):
        resources.check_table_memory(fit + 100, 40, "vectorized", available=200 * 2 ** 20)


def test_calibrate_check_keeps_its_cohorts_and_is_checked_too(capsys, small_machine):
    code, _, err = run(capsys, "calibrate", "--check", "--reps", "5000000", "--seed", "1")
    assert code == 2 and "--reps must be at most" in one_line(err)


def test_available_memory_reads_the_address_space_limit():
    # in a child whose address space is capped at 3 GB, the cap is what is available, not the machine's memory
    code = ("import resource\n"
            "resource.setrlimit(resource.RLIMIT_AS, (3 * 2 ** 30, resource.RLIM_INFINITY))\n"
            "from trialsim.design.resources import available_memory\n"
            "print(available_memory())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert 0 < int(out.stdout) < 3 * 2 ** 30


@pytest.mark.slow
def test_a_real_process_under_an_address_space_cap_refuses_a_run_that_cannot_fit():
    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (4 * 2 ** 30, resource.RLIM_INFINITY))

    proc = subprocess.run([sys.executable, "-m", "trialsim", "power", "--n", "60000", "--reps", "2000", *PARAMETRIC],
                          capture_output=True, text=True, timeout=300, preexec_fn=cap)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("trialsim power: error: --n must be at most") and proc.stderr.count("\n") == 1


# -------------------------------------------------------------------------------------------- workers


def test_jobs_above_the_cores_are_capped_with_a_note(capsys, monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    code, out, err = run(capsys, "power", "--jobs", "1000", "--reps", "50", "--seed", "1", *PARAMETRIC)
    assert code == 0 and "Power:" in out
    assert err == "trialsim power: note: --jobs 1000 is more than this machine's 2 cores; using 2\n"
    code, _, err = run(capsys, "power", "--jobs", "1000", "--reps", "50", "--seed", "1", "--quiet", *PARAMETRIC)
    assert code == 0 and err == ""
    code, _, err = run(capsys, "power", "--jobs", "2", "--reps", "50", "--seed", "1", *PARAMETRIC)
    assert code == 0 and err == ""


def test_a_note_never_comes_with_an_error(capsys, monkeypatch):
    """Notes wait for the command's end: a bad input found after --jobs was capped is still one line (the note
    was printed first and the error second; found by the fuzz suite drawing fresh examples)."""
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    code, out, err = run(capsys, "power", "--jobs", "1000", "--reps", "50", "--control-median", "1")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("trialsim power: error: --control-median needs"), err


def test_the_library_never_starts_more_workers_than_cores(monkeypatch):
    import joblib

    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(mc, "_POOL_WORTH_SECONDS", 0.0)
    monkeypatch.setattr(mc, "_POOL_START_SECONDS", -1e9)
    started = []
    real = joblib.Parallel

    class Recording(real):
        def __init__(self, *args, **kwargs):
            started.append(kwargs.get("n_jobs"))
            kwargs["backend"] = "threading"
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(joblib, "Parallel", Recording)
    result = mc.run(MODEL, Trial(n=40), TwoArmDesign(), n_replicates=20_000, seed=1, n_jobs=1000,
                    keep_outcomes=False)
    assert started == [2] and result.n_workers == 2
    assert resources.worker_count(1000) == 2 and resources.worker_count(-1) == 2 and resources.worker_count(None) == 2
    for bad in (0, -2, 2.0, True, "2"):
        with pytest.raises(InputError, match="n_jobs"):
            resources.worker_count(bad)


# --------------------------------------------------------------------------------- unbounded growth


def test_a_block_size_is_never_turned_into_a_factorial():
    began = time.perf_counter()
    assert block_patterns((1, 1), 10 ** 9) is None
    assert block_patterns((3, 1), 4 * 10 ** 8) is None
    assert time.perf_counter() - began < 0.5
    assert _count_arrangements((500_000_000, 500_000_000), 4096) == 4097
    from math import factorial

    for counts in [(1, 1), (2, 2), (4, 2), (2, 4), (3, 3, 3), (5, 1), (7, 7), (1,), (0, 3)]:
        exact = factorial(sum(counts))
        for c in counts:
            exact //= factorial(c)
        for limit in (10 ** 9, 4096, 5):
            assert _count_arrangements(counts, limit) == (exact if exact <= limit else limit + 1)
    assert block_patterns((1, 1), 4).shape == (6, 4)


def test_the_largest_block_simulates_at_once(capsys):
    began = time.perf_counter()
    code, out, err = run(capsys, "simulate", "--n", "40", "--block-size", "10000", "--seed", "1", "--json")
    assert code == 0 and err == "" and '"n_patients": 40' in out
    assert time.perf_counter() - began < 60
