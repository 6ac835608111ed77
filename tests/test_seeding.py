"""Seeds that reproduce: every result records what repeats it, whatever kind of seed it was given."""

from __future__ import annotations

import numpy as np
import pytest

import trialsim
from trialsim.design import montecarlo
from trialsim.engines import seeding
from trialsim.engines import vectorized
from trialsim.design import TwoArmDesign
from trialsim.exceptions import InputError
from trialsim.model import DiseaseModel, ParametricArm, Trial

MODEL = DiseaseModel(arms=(ParametricArm.from_survival(0.9, 8.0), ParametricArm.from_survival(0.62, 8.0)))


def test_spawned_seed_sequence_is_recorded_with_its_spawn_key_and_repeats():
    child = np.random.SeedSequence(2024).spawn(3)[2]
    batch = vectorized.simulate(MODEL, Trial(n=20), n_replicates=50, seed=child)
    assert (batch.seed, batch.spawn_key) == (2024, (2,))
    again = vectorized.simulate(MODEL, Trial(n=20), n_replicates=50,
                                seed=np.random.SeedSequence(batch.seed, spawn_key=batch.spawn_key))
    np.testing.assert_array_equal(again.time, batch.time)
    # the entropy alone is the parent, a different run
    parent = vectorized.simulate(MODEL, Trial(n=20), n_replicates=50, seed=batch.seed)
    assert not np.array_equal(parent.time, batch.time)


def test_power_records_the_spawn_key_and_leaves_the_callers_sequence_alone():
    child = np.random.SeedSequence(7).spawn(2)[1]
    first = trialsim.power(MODEL, Trial(n=20), n_replicates=500, seed=child, n_jobs=1)
    assert (first.seed, first.spawn_key) == (7, (1,))
    assert child.n_children_spawned == 0  # the run copies the sequence; the caller's counter is untouched
    again = trialsim.power(MODEL, Trial(n=20), n_replicates=500, n_jobs=1,
                           seed=np.random.SeedSequence(first.seed, spawn_key=first.spawn_key))
    assert again == first  # elapsed_seconds is left out of the comparison


def test_integer_and_fresh_seeds_record_an_empty_spawn_key_that_repeats():
    run = montecarlo.run(MODEL, Trial(n=20), TwoArmDesign(), n_replicates=300, n_jobs=1)
    assert run.spawn_key == () and run.seed > 0
    again = montecarlo.run(MODEL, Trial(n=20), TwoArmDesign(), n_replicates=300, n_jobs=1, seed=run.seed)
    np.testing.assert_array_equal(run.outcome.pvalue, again.outcome.pvalue)


def test_a_generator_seeds_a_recorded_root():
    batch = vectorized.simulate(MODEL, Trial(n=20), n_replicates=30, seed=np.random.default_rng(5))
    again = vectorized.simulate(MODEL, Trial(n=20), n_replicates=30, seed=batch.seed)
    np.testing.assert_array_equal(again.time, batch.time)


@pytest.mark.parametrize("seed", [-1, 1.5, "1", True, np.random.SeedSequence([1, 2]),
                                  np.random.SeedSequence(1, pool_size=8)])
def test_seeds_that_cannot_be_recorded_are_refused(seed):
    with pytest.raises(InputError, match="`seed` must") as info:
        seeding.root_sequence(seed)
    assert info.value.field == "seed" and info.value.value is seed


def test_sample_size_reports_the_paired_step_with_its_standard_error():
    result = trialsim.sample_size(MODEL, TwoArmDesign(), target_power=0.6, trial=Trial(n=2), n_replicates=2000,
                                  seed=3, n_jobs=1, n_max=200)
    # the step is the difference of the two powers, which come from the same replicates
    assert result.power_difference == pytest.approx(result.power_at_n - result.power_below, abs=1e-12)
    # paired: the per-replicate differences are 0 except where one size rejects and the other does not, so
    # the paired s.e. is well below the unpaired sqrt(se_n^2 + se_below^2) (a requirement: a clear gain)
    unpaired = np.hypot(result.standard_error_at_n, result.standard_error_below)
    assert 0 < result.standard_error_difference < 0.6 * unpaired
    # and it is the standard error of the mean of those differences, recomputed here from the two runs
    runs = [montecarlo.run(MODEL, Trial(n=n), TwoArmDesign(), n_replicates=2000, seed=3, n_jobs=1).outcome.success
            for n in (result.n, result.n_below)]
    d = runs[0].astype(float) - runs[1]
    assert result.standard_error_difference == pytest.approx(d.std(ddof=1) / np.sqrt(d.size), rel=1e-12)
    assert result.power_at_n >= 0.6 > result.power_below
