"""Monte Carlo layer: the same seed gives the same numbers whatever the workers; chunks are pure."""

import itertools
import types

import numpy as np
import pytest

import trialsim.design.montecarlo as mc
from trialsim.design import HistoricalControlDesign, TwoArmDesign
from trialsim.exceptions import InputError
from trialsim.model import DiseaseModel, ParametricArm, Trial
from trialsim.engines.seeding import CHUNK_SIZE

MODEL = DiseaseModel(arms=(ParametricArm.from_survival(0.9, 8.0), ParametricArm.from_survival(0.62, 8.0)),
                     arm_names=("treatment", "control"))
TRIAL = Trial(n=20)
REPS = 3 * CHUNK_SIZE + 500  # four chunks, the last one short (two run in-process before a pool can start)


def _fields(result):
    o = result.outcome
    return [o.success, o.pvalue, o.n_events, o.duration, o.degenerate]


@pytest.fixture
def force_pool(monkeypatch):
    # The run stays in-process when a pool would not pay off; make it always start one for these tests
    monkeypatch.setattr(mc, "_POOL_WORTH_SECONDS", 0.0)
    monkeypatch.setattr(mc, "_POOL_START_SECONDS", -1e9)


@pytest.mark.slow
def test_same_seed_same_numbers_for_any_jobs_and_backend(force_pool):
    one = mc.run(MODEL, TRIAL, TwoArmDesign(), n_replicates=REPS, seed=11, n_jobs=1)
    two = mc.run(MODEL, TRIAL, TwoArmDesign(), n_replicates=REPS, seed=11, n_jobs=2)
    threads = mc.run(MODEL, TRIAL, TwoArmDesign(), n_replicates=REPS, seed=11, n_jobs=2, backend="threading")
    assert two.n_workers == 2 and two.backend == "loky" and one.n_workers == 1
    for a, b, c in zip(_fields(one), _fields(two), _fields(threads)):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    assert one.seed == two.seed == 11 and one.n_chunks == 4


def _clock(monkeypatch, seconds_per_reading):
    """A fake clock for the runner's pool decision: every reading advances it by the same step."""
    ticks = itertools.count()
    monkeypatch.setattr(mc, "time", types.SimpleNamespace(perf_counter=lambda: next(ticks) * seconds_per_reading))


def test_small_runs_stay_in_process(monkeypatch):
    # A pool is only started when the measured chunks say it pays off: chunks of 0.01 s do not
    _clock(monkeypatch, 0.01)
    quick = mc.run(MODEL, TRIAL, TwoArmDesign(), n_replicates=REPS, seed=1, n_jobs=2)
    assert quick.n_workers == 1 and quick.backend == "in-process"


def test_long_runs_start_a_pool(monkeypatch):
    # chunks of 10 s: 20 s serially against 0.5 s to start a pool + 10 s on two workers
    _clock(monkeypatch, 10.0)
    slow = mc.run(MODEL, TRIAL, TwoArmDesign(), n_replicates=REPS, seed=1, n_jobs=2)
    assert slow.n_workers == 2 and slow.backend == "loky"


def test_a_chunk_alone_equals_its_slice_of_the_run():
    full = mc.run(MODEL, TRIAL, TwoArmDesign(), n_replicates=REPS, seed=5, n_jobs=1)
    pairs = [(MODEL, TRIAL, "vectorized")]
    root = np.random.SeedSequence(5)
    alone = mc.run_chunk(pairs, TwoArmDesign(), TRIAL, root, 1, CHUNK_SIZE, 2 * CHUNK_SIZE)
    np.testing.assert_array_equal(alone.pvalue, full.outcome.pvalue[CHUNK_SIZE:2 * CHUNK_SIZE])


def test_different_seeds_differ_and_fresh_entropy_is_recorded():
    a = mc.run(MODEL, TRIAL, TwoArmDesign(), n_replicates=500, seed=1, n_jobs=1)
    b = mc.run(MODEL, TRIAL, TwoArmDesign(), n_replicates=500, seed=2, n_jobs=1)
    assert not np.array_equal(a.outcome.pvalue, b.outcome.pvalue)
    fresh = mc.run(MODEL, TRIAL, TwoArmDesign(), n_replicates=500, seed=None, n_jobs=1)
    again = mc.run(MODEL, TRIAL, TwoArmDesign(), n_replicates=500, seed=fresh.seed, n_jobs=1)
    np.testing.assert_array_equal(fresh.outcome.pvalue, again.outcome.pvalue)


def test_historical_arm_does_not_depend_on_trial_size():
    # The historical cohort comes from its own seed tree: the same seed gives the same historical arms at
    # every n (common random numbers across n), and differs from the trial's own streams
    root = np.random.SeedSequence(3)
    design = HistoricalControlDesign()
    model = DiseaseModel(arms=(MODEL.arms[0], MODEL.arms[1]))
    from trialsim.engines import vectorized

    histories = []
    for n in (10, 30):
        (_, _), (m_hist, t_hist) = design.simulated_trials(model, Trial(n=n, allocation=(1,), dropout_hazard=(0.0,)))
        streams = mc.chunk_streams(mc._secondary_root(root, 1), 0)
        histories.append(vectorized.simulate_chunk(m_hist, t_hist, 50, streams).time)
    np.testing.assert_array_equal(histories[0], histories[1])


def test_progress_reports_cumulative_replicates():
    seen = []
    mc.run(MODEL, TRIAL, TwoArmDesign(), n_replicates=REPS, seed=1, n_jobs=1, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(CHUNK_SIZE, REPS), (2 * CHUNK_SIZE, REPS), (3 * CHUNK_SIZE, REPS), (REPS, REPS)]


def test_engine_choice_is_recorded():
    assert mc.choose_engine(MODEL, TRIAL) == "vectorized"
    assert mc.choose_engine(MODEL, TRIAL, engine="des") == "des"
    des = mc.run(MODEL, TRIAL, TwoArmDesign(), n_replicates=50, seed=1, n_jobs=1, engine="des")
    assert des.engine == "des"
    assert mc.run(MODEL, TRIAL, HistoricalControlDesign(), n_replicates=50, seed=1, n_jobs=1).engine == "vectorized"


@pytest.mark.parametrize("kwargs, message", [
    (dict(n_replicates=0), "n_replicates"),
    (dict(n_jobs=0), "n_jobs"),
    (dict(backend="spark"), "backend"),
    (dict(engine="gpu"), "engine"),
])
def test_run_validates(kwargs, message):
    args = dict(n_replicates=10, seed=1)
    args.update(kwargs)
    with pytest.raises(InputError, match=message):
        mc.run(MODEL, TRIAL, TwoArmDesign(), **args)


@pytest.mark.slow
def test_summary_only_runs_equal_full_runs_for_any_jobs(force_pool):
    """keep_outcomes=False reduces each chunk where it runs; counts equal the full run's, sums in chunk order."""
    full = mc.run(MODEL, TRIAL, TwoArmDesign(), n_replicates=REPS, seed=5, n_jobs=1)
    lean1 = mc.run(MODEL, TRIAL, TwoArmDesign(), n_replicates=REPS, seed=5, n_jobs=1, keep_outcomes=False)
    lean2 = mc.run(MODEL, TRIAL, TwoArmDesign(), n_replicates=REPS, seed=5, n_jobs=2, keep_outcomes=False)
    assert lean1.outcome is None and lean2.n_workers == 2
    assert lean1.summary == lean2.summary  # bit for bit, whatever the workers
    s = lean1.summary
    assert s.n_replicates == REPS and s.n_successes == int(full.outcome.success.sum())
    assert s.n_degenerate == int(full.outcome.degenerate.sum())
    assert s.mean_events == pytest.approx(full.outcome.n_events.mean(), rel=1e-12)
    assert s.mean_duration == pytest.approx(full.outcome.duration.mean(), rel=1e-12)
