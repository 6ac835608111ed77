"""Hostile input, finding 8: the Python API.

Wrong types raise ``TypeError`` naming the argument (``power(model='x')`` was an ``AttributeError`` from deep in
the run); complex times are refused, not truncated to their real part; group labels of mixed types are refused
(numpy turned ``[1, "1"]`` into two equal strings, merging groups); ``n_jobs <= 0`` other than -1 is refused;
degenerate-statistic warnings are thread-safe under the threading backend.
"""

from __future__ import annotations

import threading
import warnings

import numpy as np
import pandas as pd
import pytest

import trialsim
from trialsim.design import montecarlo as mc
from trialsim.design.rules import TwoArmDesign
from trialsim.design.sizing import power, sample_size
from trialsim.exceptions import DegenerateStatisticWarning, InputError
from trialsim.model import Trial
from trialsim.scenarios import parametric_model
from trialsim.stats.checks import quiet_degenerate, warn_degenerate

MODEL = parametric_model(horizon=8.0, control_survival=0.62, treatment_survival=0.95)


@pytest.mark.parametrize("function", [power, sample_size])
@pytest.mark.parametrize("argument, value", [("model", "x"), ("trial", "x"), ("design", "x"), ("design", TwoArmDesign),
                                             ("progress", 3), ("model", MODEL.arms[0]), ("trial", {"n": 40})])
def test_wrong_types_raise_type_error_naming_the_argument(function, argument, value):
    with pytest.raises(TypeError, match=f"`{argument}` must be"):
        function(**{argument: value}, n_replicates=10, n_jobs=1)


@pytest.mark.parametrize("n_jobs", [0, -2, -100, 1.5, "2", True])
def test_worker_counts_other_than_positive_or_minus_one_are_refused(n_jobs):
    with pytest.raises(InputError, match="n_jobs"):
        power(MODEL, Trial(n=40), n_replicates=10, n_jobs=n_jobs)


def test_minus_one_means_every_core():
    assert power(MODEL, Trial(n=40), n_replicates=10, seed=1, n_jobs=-1).n_replicates == 10


def test_power_refuses_a_trial_size_that_is_not_an_integer():
    with pytest.raises(InputError, match="`n`"):
        power(MODEL, Trial(n=40), n=40.5, n_replicates=10, n_jobs=1)


@pytest.mark.parametrize("times", [np.array([1 + 2j, 2.0, 3.0]), np.array([1, 2, 3], dtype="m8[D]"),
                                   np.array(["1", "2", "3"]), [1 + 0j, 2, 3]])
def test_times_that_are_not_real_numbers_are_refused(times):
    with pytest.raises(InputError, match="`time` must be a numeric array of real numbers"):
        trialsim.kaplan_meier(times, [1, 1, 1])
    with pytest.raises(InputError, match="`time`"):
        trialsim.logrank(times, [1, 1, 1], [0, 1, 0])


def test_complex_events_are_refused():
    with pytest.raises(InputError, match="`event` must hold 0/1 or booleans"):
        trialsim.kaplan_meier([1.0, 2.0, 3.0], np.array([1 + 0j, 1, 0]))


@pytest.mark.parametrize("group", [["a", 1, "a", 1], [1, "1", 1, "1"], [True, 1, 0, False], [0.5, "x", 0.5, "x"],
                                   pd.Series([1, "1", 1, "1"], dtype=object)])
def test_group_labels_of_mixed_types_are_refused(group):
    with pytest.raises(InputError, match="`group` must hold labels of one type"):
        trialsim.logrank([1.0, 2.0, 3.0, 4.0], [1, 1, 0, 1], group)


@pytest.mark.parametrize("group", [["a", "b", "a", "b"], [0, 1, 0, 1], [0.5, 1, 0.5, 1], [True, False, True, False],
                                   np.array([0, 1, 0, 1]), pd.Series(["a", "b", "a", "b"]),
                                   pd.Categorical(["a", "b", "a", "b"])])
def test_labels_of_one_type_are_taken(group):
    reference = trialsim.logrank([1.0, 2.0, 3.0, 4.0], [1, 1, 0, 1], [0, 1, 0, 1])
    assert trialsim.logrank([1.0, 2.0, 3.0, 4.0], [1, 1, 0, 1], group).pvalue == pytest.approx(reference.pvalue)


def test_quiet_degenerate_is_per_thread():
    caught = []
    barrier = threading.Barrier(2)

    def quiet() -> None:
        with quiet_degenerate():
            barrier.wait()
            warn_degenerate("hidden")  # silent in this thread
            barrier.wait()

    def loud() -> None:
        barrier.wait()
        with warnings.catch_warnings(record=True) as log:
            warnings.simplefilter("always")
            warn_degenerate("shown")
            caught.extend(str(w.message) for w in log)
        barrier.wait()

    threads = [threading.Thread(target=quiet), threading.Thread(target=loud)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert "hidden" not in caught


def test_threads_leave_the_warning_filters_as_they_were_and_warn_nothing(monkeypatch):
    # many trials without a death: every chunk's analysis meets degenerate statistics, in several threads at once
    monkeypatch.setattr(mc, "_POOL_WORTH_SECONDS", 0.0)
    monkeypatch.setattr(mc, "_POOL_START_SECONDS", -1e9)
    rare = parametric_model(horizon=8.0, control_survival=0.9999, treatment_survival=0.9999)
    before = list(warnings.filters)
    with warnings.catch_warnings(record=True) as log:
        warnings.simplefilter("always")
        inner = list(warnings.filters)
        threaded = mc.run(rare, Trial(n=4), TwoArmDesign(), n_replicates=40_000, seed=3, n_jobs=2,
                          backend="threading", keep_outcomes=False)
        assert warnings.filters == inner  # the threads' catch_warnings blocks left nothing behind
    assert warnings.filters == before
    assert not [w for w in log if issubclass(w.category, DegenerateStatisticWarning)]
    assert threaded.n_workers == 2 and threaded.summary.n_degenerate > 30_000
    single = mc.run(rare, Trial(n=4), TwoArmDesign(), n_replicates=40_000, seed=3, n_jobs=1, keep_outcomes=False)
    assert threaded.summary == single.summary


def test_a_design_silences_its_degenerate_statistics_in_its_own_thread_whatever_another_thread_does(monkeypatch):
    """The interleaving that let a warning through in CI (assurance under ``backend="threading"``): a design's
    analysis in one thread, while another thread leaves a ``warnings.catch_warnings`` block it entered earlier.
    That exit restores the process's one filter list as it was, dropping any 'ignore' the analysis had put in
    with a ``catch_warnings`` of its own, so the degenerate-statistic warning reached the user. The design's own
    silence must be per thread (``quiet_degenerate``), so the interleaving is forced here, not left to chance."""
    import trialsim.stats as stats

    from trialsim.engines import vectorized

    rare = parametric_model(horizon=8.0, control_survival=0.9999, treatment_survival=0.9999)
    trial = Trial(n=4)
    batch = vectorized.simulate(rare, trial, n_replicates=200, seed=1)
    entered, go = threading.Event(), threading.Event()
    real = stats.logrank_batch

    def held(*args, **kwargs):
        entered.set()            # the analysis has set up its silence ...
        assert go.wait(30)       # ... and waits while the other thread leaves its block
        return real(*args, **kwargs)

    monkeypatch.setattr(stats, "logrank_batch", held)
    result = {}
    with warnings.catch_warnings(record=True) as log:
        warnings.simplefilter("always")
        with warnings.catch_warnings():   # the other thread's block, entered before the analysis starts
            worker = threading.Thread(target=lambda: result.update(
                outcome=TwoArmDesign().analyse([batch], trial)))
            worker.start()
            assert entered.wait(30)
        go.set()                          # left: the filters are the outer block's again
        worker.join(timeout=30)
    assert not [w for w in log if issubclass(w.category, DegenerateStatisticWarning)]
    assert result["outcome"].degenerate.sum() > 150   # the statistics were degenerate: there was something to hide
