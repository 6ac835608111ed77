"""One contract, two engines: the discrete-event engine (des) and the vectorised engine.

Every contract test runs on each engine: shapes and types, censoring invariants, the three analysis
triggers, seeding. Then the two engines are compared in distribution on five scenarios.

How the distributions are compared
----------------------------------
Each quantity is a per-replicate number in [0, 1]: a share of an arm's patients (lost, cut, in CR at week 8,
...), a Kaplan-Meier survival at the horizon, or an indicator (log-rank chi-square above 3.84, event count at
most the vectorised run's median, ...). Replicates are independent, so the engines' means are compared with a
two-sample z test ``z = (mean_des - mean_vec) / sqrt(var_des / R_des + var_vec / R_vec)`` (variances are the
replicates' sample variances: exact for indicators, and it accounts for patients of one trial sharing a data
cut).

- size: each test function is one family of m comparisons at family-wise level ``FAMILY_ALPHA = 0.005``
  (Bonferroni: each comparison rejects when |z| > Phi^-1(1 - 0.005 / (2 m)); 3.29 for m = 5, 3.48 for m = 10);
- power: each comparison checks, from its own standard error, that it had at least 80% power to detect a
  difference of ``DELTA = 0.02`` in the proportion, ``Phi(0.02 / se - z_crit) >= 0.8``, and fails otherwise (a
  comparison too weak to detect 0.02 would pass vacuously). For an indicator near 0.5 at m = 10 that needs
  about 13,300 DES replicates against 100,000 vectorised ones, which sets the replicate counts below.
- ``test_comparison_detects_a_small_shift`` checks the machinery can fail: it flags a model whose control
  survival at the horizon is lower by about 0.03.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import warnings

import numpy as np
import pytest
from scipy.stats import norm

from trialsim.engines import des

from trialsim.engines import seeding

from trialsim.engines import vectorized
from trialsim.engines import DATA_CUT, DIED, END_OF_FOLLOW_UP, LOST, TrialBatch
from trialsim.model import Accrual, ArmModel, BaselineMix, DiseaseModel, ParametricArm, Trial

ENGINES = {"vectorized": vectorized, "des": des}
engine_names = pytest.mark.parametrize("engine", sorted(ENGINES))

FAMILY_ALPHA = 0.005
DELTA = 0.02
MIN_POWER = 0.8
R_DES, R_VEC = 13_500, 100_000                 # survival comparisons
R_DES_DETAIL, R_VEC_DETAIL = 1_000, 20_000     # visit-level comparisons (patient shares: far more power)


# ------------------------------------------------------------------------------------------ scenarios


@functools.lru_cache(maxsize=1)
def ctdmas_model() -> DiseaseModel:
    from trialsim import model as ctdmas

    return ctdmas.default_model()


def _ctdmas_trial(n: int = 40, **changes) -> Trial:
    from trialsim import model as ctdmas

    return ctdmas.default_trial(n, **changes)


def _scenario(name: str) -> list[tuple[DiseaseModel, Trial]]:
    """The cohorts of a scenario: one (model, trial), or two for a single arm against a historical arm."""
    if name == "ctdmas_default":
        return [(ctdmas_model(), _ctdmas_trial())]
    if name == "parametric_exponential":
        # docs/design.md's example (exponential arms, "Why simulated and analytic power differ"): n = 40,
        # S(8 weeks) 0.95 vs 0.62
        control = ParametricArm.from_survival(0.62, at=8.0)
        experimental = ParametricArm.from_survival(0.95, at=8.0)
        return [(DiseaseModel(arms=(experimental, control)), Trial(n=40))]
    if name == "event_driven":
        # stratified randomisation, death hazard by disease, Poisson accrual, analysis at the 9th death
        base = ctdmas_model()
        model = dataclasses.replace(base, baseline=BaselineMix(death_hazard_ratio_by_disease=(1.0, 2.0, 1.5)))
        return [(model, _ctdmas_trial(stratified=True, accrual=Accrual(kind="poisson", rate=3.0),
                                      analysis="events", target_events=9))]
    if name == "poisson_dropout":
        # Poisson accrual with loss to follow-up and a calendar data cut that catches the last enrolled
        return [(ctdmas_model(), _ctdmas_trial(accrual=Accrual(kind="poisson", rate=2.0), dropout_hazard=(0.03, 0.06),
                                              analysis="calendar", analysis_time=24.0))]
    if name == "single_arm_historical":
        rx, control = ctdmas_model().arms
        single = DiseaseModel(arms=(rx,), arm_names=("ruxolitinib",))
        historical = DiseaseModel(arms=(control,), arm_names=("historical control",))
        return [(single, Trial(n=20, allocation=(1,), dropout_hazard=(0.0,))),
                (historical, Trial(n=21, allocation=(1,), dropout_hazard=(0.0,)))]
    raise KeyError(name)


SCENARIOS = ("ctdmas_default", "parametric_exponential", "event_driven", "poisson_dropout", "single_arm_historical")
DETAIL_SCENARIOS = ("ctdmas_default", "poisson_dropout")


# ------------------------------------------------------------------------------------- per-replicate stats


def _chunks(engine: str, model: DiseaseModel, trial: Trial, n_replicates: int, seed: int, *, detail: bool):
    """The run as its chunks (same streams as ``simulate``), so only per-replicate statistics are kept."""
    root = seeding.root_sequence(seed)
    for c, (start, stop) in enumerate(seeding.chunk_bounds(n_replicates)):
        yield ENGINES[engine].simulate_chunk(model, trial, stop - start, seeding.chunk_streams(root, c),
                                             detail=detail, first_replicate=start)


def _share(mask: np.ndarray, within: np.ndarray) -> np.ndarray:
    """Per-replicate share of ``within`` patients for whom ``mask`` holds (NaN where ``within`` is empty)."""
    count = within.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, (mask & within).sum(axis=1) / count, np.nan)


def _survival_stats(batches: list[TrialBatch], follow_up: float) -> dict[str, np.ndarray]:
    """Per-replicate statistics of one chunk: arm shares, KM at the horizon, events, log-rank statistic."""
    from trialsim.stats import km_survival_at_batch, logrank_batch

    if len(batches) == 1:
        b = batches[0]
        time, event, group, reason, arm_names = b.time, b.event, b.arm, b.censor_reason, b.arm_names
    else:  # a single arm against a historical arm: stack the cohorts, group 1 = historical
        time = np.hstack([b.time for b in batches])
        event = np.hstack([b.event for b in batches])
        reason = np.hstack([b.censor_reason for b in batches])
        group = np.hstack([np.full(b.time.shape, k, dtype=np.int8) for k, b in enumerate(batches)])
        arm_names = tuple(b.arm_names[0] for b in batches)
    out = {}
    km = km_survival_at_batch(time, event, follow_up, group=group.astype(np.int64), n_groups=len(arm_names))
    for a, name in enumerate(arm_names):
        in_arm = group == a
        out[f"km_at_horizon[{name}]"] = km[:, a]
        out[f"died[{name}]"] = _share(event, in_arm)
        out[f"lost[{name}]"] = _share(reason == LOST, in_arm)
        out[f"data_cut[{name}]"] = _share(reason == DATA_CUT, in_arm)
    out["n_events"] = event.sum(axis=1).astype(float)
    out["analysis_time"] = batches[0].analysis_time
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # degenerate replicates (no deaths) get statistic 0 by contract
        out["logrank_chi2"] = logrank_batch(time, event, group.astype(np.int64)).statistic
    return out


def _detail_stats(batch: TrialBatch) -> dict[str, np.ndarray]:
    out = {}
    week8 = batch.visit_times.index(8.0)
    for a, name in enumerate(batch.arm_names):
        in_arm = batch.arm == a
        for code, label in ((-1, "unobserved"), (0, "NR"), (1, "PR"), (2, "CR"), (3, "dead")):
            out[f"week8_{label}[{name}]"] = _share(batch.response[:, :, week8] == code, in_arm)
        out[f"best_CR[{name}]"] = _share(batch.best_response == 2, in_arm)
        out[f"infected[{name}]"] = _share(np.isfinite(batch.infection_time), in_arm)
        out[f"dose_week8_below_0.5[{name}]"] = _share(batch.dose[:, :, week8] < 0.5, in_arm)
    return out


@functools.lru_cache(maxsize=None)
def _run(scenario: str, engine: str, n_replicates: int, seed: int, detail: bool) -> dict[str, np.ndarray]:
    cohorts = _scenario(scenario)
    parts: dict[str, list] = {}
    streams = [_chunks(engine, m, t, n_replicates, seed + 7919 * k, detail=detail and k == 0)
               for k, (m, t) in enumerate(cohorts)]
    for batches in zip(*streams):
        stats = _detail_stats(batches[0]) if detail else _survival_stats(list(batches), cohorts[0][1].follow_up)
        for key, value in stats.items():
            parts.setdefault(key, []).append(value)
    return {key: np.concatenate(v) for key, v in parts.items()}


# ------------------------------------------------------------------------------------------ comparison


@dataclasses.dataclass(frozen=True)
class Comparison:
    quantity: str
    mean_a: float
    mean_b: float
    z: float
    se: float
    z_crit: float = math.inf

    @property
    def power(self) -> float:
        """Power to detect a difference of DELTA at this comparison's critical value."""
        return 1.0 if self.se == 0 else float(norm.cdf(DELTA / self.se - self.z_crit))

    @property
    def ok(self) -> bool:
        return abs(self.z) < self.z_crit

    def __str__(self) -> str:
        return (f"{self.quantity}: {self.mean_a:.4f} vs {self.mean_b:.4f} (z = {self.z:+.2f}, critical "
                f"{self.z_crit:.2f}, power to detect {DELTA} = {self.power:.2f})")


def compare(quantity: str, a: np.ndarray, b: np.ndarray) -> Comparison:
    """Two-sample z statistic of the means of per-replicate values; NaN replicates (empty groups) left out."""
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    se = math.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    diff = a.mean() - b.mean()
    if se == 0.0:  # both constant (e.g. nobody lost in either engine): equal or not, exactly
        return Comparison(quantity, a.mean(), b.mean(), 0.0 if diff == 0 else math.inf, 0.0)
    return Comparison(quantity, a.mean(), b.mean(), diff / se, se)


def _indicator_quantities(des_stats: dict, vec_stats: dict) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Replicate-level distributions as indicators at thresholds set by the vectorised run."""
    out = []
    for key in ("n_events", "logrank_chi2", "analysis_time"):
        values = np.unique(vec_stats[key])
        if values.size > 1:  # the value whose CDF is nearest 1/2, short of the top (a capped count sits there)
            cdf = np.searchsorted(np.sort(vec_stats[key]), values[:-1], side="right") / vec_stats[key].size
            cut = float(values[:-1][np.argmin(np.abs(cdf - 0.5))])
        else:
            cut = float(values[0])
        out.append((f"P({key} <= {cut:.4g})", (des_stats[key] <= cut).astype(float),
                    (vec_stats[key] <= cut).astype(float)))
    cut = float(norm.ppf(0.975) ** 2)  # the 5% two-sided critical value: the power of the trial
    out.append((f"P(logrank_chi2 > {cut:.3f})", (des_stats["logrank_chi2"] > cut).astype(float),
                (vec_stats["logrank_chi2"] > cut).astype(float)))
    return out


def _assert_agree(comparisons: list[Comparison]) -> None:
    """Bonferroni over the comparisons that are random (a constant in both engines is compared exactly)."""
    m = sum(c.se > 0 for c in comparisons)
    z_crit = float(norm.ppf(1 - FAMILY_ALPHA / (2 * max(m, 1))))
    comparisons = [dataclasses.replace(c, z_crit=z_crit) if c.se > 0 else c for c in comparisons]
    weak = [str(c) for c in comparisons if c.power < MIN_POWER]
    assert not weak, "comparisons without the stated power:\n" + "\n".join(weak)
    failed = [str(c) for c in comparisons if not c.ok]
    assert not failed, "engines disagree:\n" + "\n".join(failed)


# ------------------------------------------------------------------------------- agreement in distribution

@pytest.mark.slow
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_engines_agree_on_survival_events_and_logrank(scenario):
    d = _run(scenario, "des", R_DES, 11, False)
    v = _run(scenario, "vectorized", R_VEC, 12, False)
    comparisons = [compare(k, d[k], v[k]) for k in d if k.startswith(("km_at_horizon", "lost", "data_cut"))]
    comparisons += [compare(*item) for item in _indicator_quantities(d, v)]
    _assert_agree(comparisons)


@pytest.mark.slow
@pytest.mark.parametrize("scenario", DETAIL_SCENARIOS)
def test_engines_agree_on_visits_infection_and_dose(scenario):
    d = _run(scenario, "des", R_DES_DETAIL, 21, True)
    v = _run(scenario, "vectorized", R_VEC_DETAIL, 22, True)
    _assert_agree([compare(k, d[k], v[k]) for k in d])


@pytest.mark.slow
def test_comparison_detects_a_small_shift():
    # The same machinery, vectorised engine against itself with the control death hazards x 1.12 (control
    # survival at 8 weeks 0.619 -> about 0.59): at R_DES replicates it must flag the difference.
    model = ctdmas_model()
    rx, control = model.arms
    worse = dataclasses.replace(control, response=dataclasses.replace(
        control.response, death_hazard_nr=control.response.death_hazard_nr * 1.12))
    shifted = dataclasses.replace(model, arms=(rx, worse))
    gap = float(worse.survival(8.0)[0] - control.survival(8.0)[0])
    assert -0.04 < gap < -0.02
    root = seeding.root_sequence(5)
    chunks = [vectorized.simulate_chunk(shifted, _ctdmas_trial(), stop - start, seeding.chunk_streams(root, c))
              for c, (start, stop) in enumerate(seeding.chunk_bounds(R_DES))]
    a = np.concatenate([_survival_stats([b], 8.0)["km_at_horizon[control]"] for b in chunks])
    v = _run("ctdmas_default", "vectorized", R_VEC, 12, False)["km_at_horizon[control]"]
    c = compare("km_at_horizon[control]", a, v)
    c = dataclasses.replace(c, z_crit=float(norm.ppf(1 - FAMILY_ALPHA / 2)))
    assert c.power >= MIN_POWER and not c.ok, str(c)


# ------------------------------------------------------------------------------------ contract: structure

SMALL = {
    "ctdmas": lambda: (ctdmas_model(), _ctdmas_trial()),
    "parametric_piecewise": lambda: (DiseaseModel(arms=(ParametricArm(hazards=(0.05, 0.01), breaks=(2.0,)),
                                                        ParametricArm.exponential(0.08))),
                                     Trial(n=30, allocation=(2, 1), block_size=6, follow_up=10.0)),
    "calendar_cut": lambda: (ctdmas_model(), _ctdmas_trial(accrual=Accrual(kind="piecewise", rates=(1.0, 4.0),
                                                                             breaks=(5.0,)),
                                                           dropout_hazard=(0.05, 0.05), analysis="calendar",
                                                           analysis_time=12.0)),
    "events": lambda: (ctdmas_model(), _ctdmas_trial(accrual=Accrual(kind="poisson", rate=4.0), stratified=True,
                                                     analysis="events", target_events=6)),
    "mixed_arms": lambda: (DiseaseModel(arms=(ctdmas_model().arms[0], ParametricArm.from_survival(0.62, at=8.0))),
                           _ctdmas_trial(analysis="events", target_events=5)),
}
small_designs = pytest.mark.parametrize("design", sorted(SMALL))


@functools.lru_cache(maxsize=None)
def _small(engine: str, design: str, detail: bool, n_replicates: int = 150, seed: int = 3) -> TrialBatch:
    model, trial = SMALL[design]()
    return ENGINES[engine].simulate(model, trial, n_replicates=n_replicates, seed=seed, detail=detail)


@engine_names
@small_designs
def test_shapes_types_and_provenance(engine, design):
    model, trial = SMALL[design]()
    b = _small(engine, design, True)
    r, n, v = 150, trial.n, len(model.visit_times)
    for name, dtype in (("arm", np.int8), ("stratum", np.int8), ("female", np.bool_), ("entry", np.float64),
                        ("time", np.float64), ("event", np.bool_), ("censor_reason", np.int8)):
        assert getattr(b, name).shape == (r, n) and getattr(b, name).dtype == dtype, name
    assert b.analysis_time.shape == (r,)
    assert b.response.shape == (r, n, v) and b.response.dtype == np.int8
    assert b.dose.shape == (r, n, v) and b.best_response.shape == (r, n) and b.infection_time.shape == (r, n)
    assert b.dose_start.shape == (r, n)
    assert b.engine == engine and b.seed == 3 and b.first_replicate == 0
    assert b.arm_names == model.arm_names and b.visit_times == model.visit_times
    plain = _small(engine, design, False)
    assert not plain.has_detail and plain.response is None and plain.dose is None


@engine_names
@small_designs
def test_censoring_invariants(engine, design):
    model, trial = SMALL[design]()
    b = _small(engine, design, False)
    assert np.all(b.time >= 0) and np.all(b.time <= trial.follow_up)
    assert np.all(np.diff(b.entry, axis=1) >= 0), "patients are in order of enrolment"
    assert np.array_equal(b.event, b.censor_reason == DIED)
    late = b.entry > b.analysis_time[:, None]
    assert np.all((b.entry + b.time <= b.analysis_time[:, None])[~late]), "nothing is observed after the cut"
    assert np.all(b.time[late] == 0) and np.all(b.censor_reason[late] == DATA_CUT)
    if not any(trial.dropout_hazard):
        assert not np.any(b.censor_reason == LOST)
    ended = b.censor_reason == END_OF_FOLLOW_UP
    np.testing.assert_allclose(b.time[ended], trial.follow_up)
    if trial.analysis == "complete":
        assert not np.any(b.censor_reason == DATA_CUT)
        np.testing.assert_array_equal(b.analysis_time, (b.entry + b.time).max(axis=1))


@engine_names
@small_designs
def test_detail_invariants(engine, design):
    model, trial = SMALL[design]()
    b = _small(engine, design, True)
    visits = np.asarray(model.visit_times)
    resp = b.response
    assert np.all(np.isin(resp, (-1, 0, 1, 2, 3)))
    assert np.all(resp[:, :, visits > trial.follow_up] == -1)
    chain = np.asarray([isinstance(a, ArmModel) for a in model.arms])[b.arm]
    assert np.all(resp[~chain] == -1) and np.all(np.isnan(b.dose[~chain])) and np.all(np.isnan(b.dose_start[~chain]))
    assert np.all(np.isinf(b.infection_time[~chain]))
    # DEAD only at visits after an observed death; alive states only before it
    dead = resp == 3
    assert np.all(b.event[:, :, None] | ~dead)
    assert np.all(visits >= b.time[:, :, None] - 1e-12, where=dead)
    alive = (resp >= 0) & (resp <= 2)
    assert np.all(visits <= b.time[:, :, None] + 1e-12, where=alive)
    # once unobserved, never observed again (observation ends at loss, cut or horizon)
    seen = resp >= 0
    assert np.all(np.diff(seen.astype(int), axis=2) <= 0)
    # doses exactly at observed visits of living patients; best response is the best of those
    assert np.array_equal(np.isfinite(b.dose), alive)
    np.testing.assert_array_equal(b.best_response, np.where(alive, resp, -1).max(axis=2))
    enrolled = b.entry <= b.analysis_time[:, None]
    assert np.all(np.isfinite(b.dose_start) == (chain & enrolled))
    infected = np.isfinite(b.infection_time)
    assert np.all(b.infection_time[infected] <= b.time[infected])
    # the survival fields are drawn by the same rules with and without detail
    plain = _small(engine, design, False)
    for name in ("arm", "stratum", "female", "entry"):
        np.testing.assert_array_equal(getattr(b, name), getattr(plain, name))


@engine_names
def test_events_trigger(engine):
    model, trial = SMALL["events"]()
    b = _small(engine, "events", False)
    k = trial.target_events
    finish = b.entry + b.time
    reached = b.n_events() == k
    assert np.all(b.n_events() <= k), "never more events than the target"
    # the cut is the calendar time of the k-th death where it was reached
    last_death = np.where(b.event, finish, -np.inf).max(axis=1)
    np.testing.assert_allclose(b.analysis_time[reached], last_death[reached], rtol=0, atol=1e-9)
    # where fewer deaths ever occurred, the analysis waits for complete follow-up: nobody is cut
    assert np.all(b.censor_reason[~reached] != DATA_CUT)
    assert reached.any() and (b.censor_reason == DATA_CUT).any()


@engine_names
def test_calendar_trigger(engine):
    model, trial = SMALL["calendar_cut"]()
    b = _small(engine, "calendar_cut", False)
    np.testing.assert_array_equal(b.analysis_time, trial.analysis_time)
    cut = b.censor_reason == DATA_CUT
    enrolled = b.entry <= trial.analysis_time
    np.testing.assert_allclose((b.entry + b.time)[cut & enrolled], trial.analysis_time, rtol=0, atol=1e-9)
    assert (cut & ~enrolled).any() and (b.censor_reason == LOST).any()


@engine_names
@pytest.mark.parametrize("design", ["ctdmas", "parametric_piecewise"])
def test_permuted_blocks_balance_every_replicate(engine, design):
    model, trial = SMALL[design]()
    b = _small(engine, design, False)
    counts = np.stack([(b.arm == a).sum(axis=1) for a in range(trial.n_arms)], axis=1)
    np.testing.assert_array_equal(counts, np.broadcast_to(trial.n_per_arm(), counts.shape))


@engine_names
def test_stratified_blocks_balance_within_strata(engine):
    model, trial = SMALL["events"]()
    b = _small(engine, "events", False)
    half = trial.effective_block_size // 2
    for s in range(3):
        diff = ((b.arm == 0) & (b.stratum == s)).sum(axis=1) - ((b.arm == 1) & (b.stratum == s)).sum(axis=1)
        assert np.all(np.abs(diff) <= half)


@engine_names
def test_same_seed_same_batch_and_chunks_stand_alone(engine):
    model, trial = SMALL["calendar_cut"]()
    n_reps = seeding.CHUNK_SIZE + 40  # two chunks
    sim = ENGINES[engine]
    a = sim.simulate(model, trial, n_replicates=n_reps, seed=99)
    b = sim.simulate(model, trial, n_replicates=n_reps, seed=99)
    for name in ("arm", "entry", "time", "event", "censor_reason", "analysis_time"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    # the second chunk drawn alone, from its own streams, is the tail of the run
    tail = sim.simulate_chunk(model, trial, 40, seeding.chunk_streams(seeding.root_sequence(99), 1),
                              first_replicate=seeding.CHUNK_SIZE)
    np.testing.assert_array_equal(tail.time, a.time[seeding.CHUNK_SIZE:])
    assert tail.first_replicate == seeding.CHUNK_SIZE
    other = sim.simulate(model, trial, n_replicates=40, seed=100)
    assert not np.array_equal(other.time, a.time[:40])


@engine_names
def test_unseeded_run_records_a_seed_that_repeats_it(engine):
    model, trial = SMALL["ctdmas"]()
    sim = ENGINES[engine]
    a = sim.simulate(model, trial, n_replicates=5)
    assert isinstance(a.seed, int)
    b = sim.simulate(model, trial, n_replicates=5, seed=a.seed)
    np.testing.assert_array_equal(a.time, b.time)


@engine_names
def test_arm_count_mismatch_is_an_error(engine):
    model, _ = SMALL["ctdmas"]()
    with pytest.raises(ValueError, match="allocation"):
        ENGINES[engine].simulate(model, Trial(n=30, allocation=(1, 1, 1), dropout_hazard=(0, 0, 0)))


# ------------------------------------------------------------------- contract: maximum duration and looks

LIMITED = Trial(n=40, accrual=Accrual(kind="poisson", rate=2.0), follow_up=12.0, dropout_hazard=(0.02, 0.02),
                analysis="events", target_events=8)


@engine_names
@pytest.mark.parametrize("analysis, limit", [("events", 22.0), ("complete", 31.5)])
def test_maximum_duration_cuts_the_trial_as_a_calendar_analysis_would(engine, analysis, limit):
    # The trial ends at min(its own trigger, max_duration): the data are those of the same trial (same seed) as
    # they stood then, patients entering later are never enrolled, and a trial over before the limit is untouched.
    from trialsim.design.looks import data_at

    model = ctdmas_model()
    free = LIMITED if analysis == "events" else dataclasses.replace(LIMITED, analysis="complete", target_events=None)
    a = ENGINES[engine].simulate(model, free, n_replicates=400, seed=8)
    b = ENGINES[engine].simulate(model, dataclasses.replace(free, max_duration=limit), n_replicates=400, seed=8)
    np.testing.assert_array_equal(b.analysis_time, np.minimum(a.analysis_time, limit))
    cut = a.analysis_time > limit
    assert 0.1 < cut.mean() < 0.9, "the check needs trials on both sides of the limit"
    time, event = data_at(a.entry, a.time, a.event, b.analysis_time)
    np.testing.assert_array_equal(b.time, time)
    np.testing.assert_array_equal(b.event, event)
    np.testing.assert_array_equal(b.time[~cut], a.time[~cut])
    late = b.entry > limit
    assert late.any() or analysis == "complete", "the check needs patients who would have entered after the limit"
    assert np.all(b.time[late] == 0) and np.all(b.censor_reason[late] == DATA_CUT)


@engine_names
def test_a_look_sees_what_a_trial_cut_then_would_see(engine):
    # Looks are read off the final data (trialsim.design.looks): at the d-th death, or at a calendar week, the
    # data equal, bit for bit, those of the same trial (same seed) simulated with its analysis then.
    from trialsim.design.looks import data_at, death_look_times, used_deaths

    model, sim = ctdmas_model(), ENGINES[engine]
    final = sim.simulate(model, LIMITED, n_replicates=300, seed=9)
    ended_by = final.entry + final.time
    for d in (3, 6):
        early = sim.simulate(model, dataclasses.replace(LIMITED, target_events=d), n_replicates=300, seed=9)
        tau = death_look_times(used_deaths(final, None), ended_by, [d])[:, 0]
        reached = np.isfinite(tau)  # else the trial had fewer deaths: no look (the early trial waits to the end)
        assert reached.mean() > 0.8
        np.testing.assert_array_equal(tau[reached], early.analysis_time[reached])
        time, event = data_at(final.entry[reached], final.time[reached], final.event[reached], tau[reached])
        np.testing.assert_array_equal(time, early.time[reached])
        np.testing.assert_array_equal(event, early.event[reached])
    for week in (6.5, 15.0):
        early = sim.simulate(model, dataclasses.replace(LIMITED, analysis="calendar", analysis_time=week,
                                                       target_events=None), n_replicates=300, seed=9)
        before = week < final.analysis_time  # else the trial was over by then: no look
        assert before.mean() > 0.5
        time, event = data_at(final.entry[before], final.time[before], final.event[before], np.full(before.sum(), week))
        np.testing.assert_array_equal(time, early.time[before])
        np.testing.assert_array_equal(event, early.event[before])


def _look_stats(engine: str, n_replicates: int, seed: int) -> dict[str, np.ndarray]:
    """Per-replicate look quantities of a three-look event-driven design (stratified log-rank, accrual)."""
    from trialsim.design import TwoArmDesign
    from trialsim.design.sequential import SequentialDesign

    (model, trial), = _scenario("event_driven")
    trial = dataclasses.replace(trial, follow_up=20.0, target_events=12, max_duration=30.0)
    design = SequentialDesign(base=TwoArmDesign(sided=1, alpha=0.1), model=model, fractions=(0.34, 0.67, 1.0),
                              efficacy="pocock")
    parts: dict[str, list] = {}
    for batch in _chunks(engine, model, trial, n_replicates, seed, detail=False):
        out = design.analyse([batch], trial)
        for k in range(3):
            parts.setdefault(f"efficacy at look {k + 1}", []).append((out.success & (out.stop_look == k)) * 1.0)
        parts.setdefault("z at look 1 >= 0", []).append((out.look_z[:, 0] >= 0) * 1.0)
        parts.setdefault("enrolled <= 30", []).append((out.n_enrolled <= 30) * 1.0)
        parts.setdefault("short of 12 deaths", []).append(out.short_of_events * 1.0)
    return {key: np.concatenate(v) for key, v in parts.items()}


@pytest.mark.slow
def test_engines_agree_on_interim_looks():
    d, v = _look_stats("des", R_DES, 31), _look_stats("vectorized", R_VEC, 32)
    _assert_agree([compare(k, d[k], v[k]) for k in d])
