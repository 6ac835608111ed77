"""Designs: each analysis rule checked replicate by replicate against an independent computation."""

import dataclasses
import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.duration.survfunc import survdiff

from trialsim.engines import DIED, END_OF_FOLLOW_UP, LOST, TrialBatch
from trialsim.design import DesignOutcome, HistoricalControlDesign, SingleArmDesign, TwoArmDesign
from trialsim.design.rules import survival_status_at
from trialsim.exceptions import InputError
from trialsim.model import CR, DEAD, NR, PR, DiseaseModel, ParametricArm, Trial



def batch(time, event, arm, *, stratum=None, response=None, visit_times=(), analysis_time=None, reason=None):
    time = np.asarray(time, float)
    event = np.asarray(event, bool)
    r, n = time.shape
    if reason is None:
        reason = np.where(event, DIED, END_OF_FOLLOW_UP)
    return TrialBatch(arm=np.asarray(arm, np.int8), stratum=np.zeros((r, n), np.int8) if stratum is None
                      else np.asarray(stratum, np.int8), female=np.ones((r, n), bool), entry=np.zeros((r, n)),
                      time=time, event=event, censor_reason=np.asarray(reason, np.int8),
                      analysis_time=np.full(r, 8.0) if analysis_time is None else np.asarray(analysis_time, float),
                      arm_names=("treatment", "control"), visit_times=tuple(visit_times), response=response)


def random_two_arm(rng, r=30, n=24, horizon=8.0, hazards=(0.03, 0.08), strata=False):
    arm = np.tile(np.repeat([0, 1], n // 2), (r, 1))
    death = rng.exponential(1 / np.where(arm == 0, hazards[0], hazards[1]))
    time = np.minimum(death, horizon)
    event = death <= horizon
    stratum = rng.integers(0, 3, size=(r, n)) if strata else None
    return batch(time, event, arm, stratum=stratum)


TRIAL = Trial(n=24)


def test_logrank_design_equals_statsmodels_survdiff_per_replicate():
    b = random_two_arm(np.random.default_rng(101))
    out = TwoArmDesign().analyse([b], TRIAL)
    for i in range(b.n_replicates):
        if b.event[i].sum() == 0:
            continue
        _, p = survdiff(b.time[i], b.event[i].astype(int), b.arm[i])
        assert out.pvalue[i] == pytest.approx(p, rel=1e-8)
        assert out.success[i] == (p <= 0.05)
    assert (out.n_events == b.event.sum(axis=1)).all()
    np.testing.assert_array_equal(out.n_events_by_arm, np.stack([(b.event & (b.arm == a)).sum(axis=1)
                                                                  for a in (0, 1)], axis=1))
    assert (out.duration == 8.0).all()


def test_stratified_logrank_equals_survdiff_with_strata():
    b = random_two_arm(np.random.default_rng(102), strata=True)
    out = TwoArmDesign(stratified=True).analyse([b], TRIAL)
    for i in range(b.n_replicates):
        if b.event[i].sum() == 0:
            continue
        _, p = survdiff(b.time[i], b.event[i].astype(int), b.arm[i], strata=b.stratum[i])
        assert out.pvalue[i] == pytest.approx(p, rel=1e-8)
    # None follows the trial's randomisation
    follow = TwoArmDesign().analyse([b], Trial(n=24, stratified=True))
    np.testing.assert_array_equal(follow.pvalue, out.pvalue)


def test_one_sided_logrank_looks_for_treatment_better():
    # Replicate 0: treatment (arm 0) never dies; replicate 1: the reverse
    time = np.array([[8.0] * 6 + [1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6] + [8.0] * 6])
    event = time < 8
    arm = np.tile(np.repeat([0, 1], 6), (2, 1))
    b = batch(time, event, arm)
    one = TwoArmDesign(sided=1).analyse([b], Trial(n=12))
    two = TwoArmDesign(sided=2).analyse([b], Trial(n=12))
    assert one.pvalue[0] == pytest.approx(two.pvalue[0] / 2, rel=1e-10) and one.success[0]
    assert one.pvalue[1] == pytest.approx(1 - two.pvalue[1] / 2, rel=1e-10) and not one.success[1]
    assert two.success[1]  # two-sided rejects in either direction


def test_no_deaths_is_degenerate_and_not_a_success():
    b = batch(np.full((1, 10), 8.0), np.zeros((1, 10), bool), np.tile(np.repeat([0, 1], 5), (1, 1)))
    out = TwoArmDesign().analyse([b], Trial(n=10))
    assert out.degenerate[0] and not out.success[0] and out.pvalue[0] == 1.0


def test_horizon_truncates_survival():
    b = random_two_arm(np.random.default_rng(103))
    out = TwoArmDesign(horizon=4.0).analyse([b], TRIAL)
    cut = batch(np.minimum(b.time, 4.0), b.event & (b.time <= 4.0), b.arm)
    ref = TwoArmDesign().analyse([cut], Trial(n=24, follow_up=4.0))
    np.testing.assert_allclose(out.pvalue, ref.pvalue, rtol=1e-12)
    with pytest.raises(InputError, match="horizon"):
        TwoArmDesign(horizon=9.0).analyse([b], TRIAL)


@pytest.mark.parametrize("design", [TwoArmDesign(horizon=4.0), TwoArmDesign(endpoint="survival_binary", horizon=4.0)])
def test_deaths_reported_are_those_by_the_horizon_per_arm(design):
    # Deaths after week 4 are not part of a week-4 analysis and are not counted
    b = random_two_arm(np.random.default_rng(104), r=40, hazards=(0.05, 0.12))
    assert ((b.event & (b.time > 4.0)).sum(axis=1) > 0).any(), "the check needs deaths after the horizon"
    out = design.analyse([b], TRIAL)
    by_hand = np.stack([(b.event & (b.time <= 4.0) & (b.arm == a)).sum(axis=1) for a in (0, 1)], axis=1)
    np.testing.assert_array_equal(out.n_events_by_arm, by_hand)
    np.testing.assert_array_equal(out.n_events, by_hand.sum(axis=1))


def test_outcomes_concatenate_every_field():
    b = random_two_arm(np.random.default_rng(105), r=5)
    parts = [TwoArmDesign(horizon=h).analyse([b], TRIAL) for h in (4.0, 8.0)]
    joined = DesignOutcome.concatenate(parts)
    assert joined.n_replicates == 10 and joined.n_events_by_arm.shape == (10, 2)
    for f in dataclasses.fields(DesignOutcome):
        np.testing.assert_array_equal(getattr(joined, f.name),
                                      np.concatenate([getattr(p, f.name) for p in parts]))


def test_survival_status_leaves_out_early_censoring():
    time = np.array([[2.0, 8.0, 3.0, 8.0]])
    event = np.array([[True, False, False, False]])
    b = batch(time, event, [[0, 0, 1, 1]], reason=[[DIED, END_OF_FOLLOW_UP, LOST, END_OF_FOLLOW_UP]])
    alive, known = survival_status_at(b, 8.0)
    np.testing.assert_array_equal(alive, [[False, True, False, True]])
    np.testing.assert_array_equal(known, [[True, True, False, True]])


@pytest.mark.parametrize("test", ["fisher", "boschloo"])
@pytest.mark.parametrize("sided", [1, 2])
def test_binary_survival_endpoint_equals_scipy(test, sided):
    b = random_two_arm(np.random.default_rng(106), r=12, n=20, hazards=(0.02, 0.1))
    out = TwoArmDesign(endpoint="survival_binary", test=test, sided=sided).analyse([b], Trial(n=20))
    alternative = "greater" if sided == 1 else "two-sided"
    for i in range(b.n_replicates):
        alive = ~b.event[i]
        x1, x2 = alive[b.arm[i] == 0].sum(), alive[b.arm[i] == 1].sum()
        table = [[x1, x2], [10 - x1, 10 - x2]]  # scipy's exact tests take the two samples as columns
        if test == "fisher":
            p = stats.fisher_exact(table, alternative=alternative).pvalue
        else:
            p = stats.boschloo_exact(table, alternative=alternative).pvalue
        assert out.pvalue[i] == pytest.approx(p, rel=1e-6, abs=1e-12)


def test_response_endpoint_counts_cr_pr_or_cr():
    # 2 replicates x 4 patients x 2 visits; week 8 is the second visit
    resp = np.full((2, 4, 2), NR, np.int8)
    resp[0, :, 1] = [CR, PR, NR, DEAD]      # treatment CR, PR; control NR, dead
    resp[1, :, 1] = [PR, -1, CR, PR]        # unobserved visit counts as non-response
    b = batch(np.full((2, 4), 8.0), np.zeros((2, 4), bool), [[0, 0, 1, 1]] * 2, response=resp,
              visit_times=(4.0, 8.0))
    trial = Trial(n=4)
    for level, counts in (("cr_pr", [(2, 0), (1, 2)]), ("cr", [(1, 0), (0, 1)])):
        out = TwoArmDesign(endpoint="response", response_level=level).analyse([b], trial)
        for i, (x1, x2) in enumerate(counts):
            p = stats.fisher_exact([[x1, 2 - x1], [x2, 2 - x2]]).pvalue
            assert out.pvalue[i] == pytest.approx(p, rel=1e-10)


def test_single_arm_binomial_equals_binomtest():
    r, n = 25, 20
    death = np.random.default_rng(107).exponential(1 / 0.02, size=(r, n))
    b = batch(np.minimum(death, 8.0), death <= 8.0, np.zeros((r, n)))
    for sided in (1, 2):
        out = SingleArmDesign(sided=sided).analyse([b], Trial(n=n, allocation=(1,), dropout_hazard=(0.0,)))
        alt = "greater" if sided == 1 else "two-sided"
        for i in range(r):
            x = int((~b.event[i]).sum())
            assert out.pvalue[i] == pytest.approx(stats.binomtest(x, n, 0.62, alternative=alt).pvalue, rel=1e-9)


def test_single_arm_one_sample_logrank_by_hand():
    r, n = 10, 15
    death = np.random.default_rng(108).exponential(1 / 0.03, size=(r, n))
    b = batch(np.minimum(death, 8.0), death <= 8.0, np.zeros((r, n)))
    design = SingleArmDesign(test="logrank", sided=1)
    out = design.analyse([b], Trial(n=n, allocation=(1,), dropout_hazard=(0.0,)))
    hazard = -math.log(0.62) / 8.0
    for i in range(r):
        observed, expected = b.event[i].sum(), hazard * b.time[i].sum()
        z = (observed - expected) / math.sqrt(expected)
        assert out.pvalue[i] == pytest.approx(stats.norm.cdf(z), rel=1e-9)  # fewer deaths -> small p
    # One group: the trial's deaths by the horizon (week 4 here: later deaths are not counted)
    short = SingleArmDesign(test="logrank", sided=1, horizon=4.0).analyse(
        [b], Trial(n=n, allocation=(1,), dropout_hazard=(0.0,)))
    assert out.n_events_by_arm.shape == (r, 1)
    np.testing.assert_array_equal(short.n_events, (b.event & (b.time <= 4.0)).sum(axis=1))


def test_historical_control_fisher_and_logrank():
    r, rng = 8, np.random.default_rng(109)
    d1 = rng.exponential(1 / 0.01, size=(r, 20))
    d2 = rng.exponential(1 / 0.06, size=(r, 21))
    trt = batch(np.minimum(d1, 8.0), d1 <= 8, np.zeros((r, 20)))
    hist = batch(np.minimum(d2, 8.0), d2 <= 8, np.zeros((r, 21)))
    trial = Trial(n=20, allocation=(1,), dropout_hazard=(0.0,))
    fisher = HistoricalControlDesign().analyse([trt, hist], trial)
    logrank = HistoricalControlDesign(test="logrank").analyse([trt, hist], trial)
    for i in range(r):
        x1, x2 = int((~trt.event[i]).sum()), int((~hist.event[i]).sum())
        assert fisher.pvalue[i] == pytest.approx(
            stats.fisher_exact([[x1, 20 - x1], [x2, 21 - x2]]).pvalue, rel=1e-10)
        _, p = survdiff(np.r_[trt.time[i], hist.time[i]], np.r_[trt.event[i], hist.event[i]].astype(int),
                        np.r_[np.zeros(20), np.ones(21)])
        assert logrank.pvalue[i] == pytest.approx(p, rel=1e-8)
    # Deaths reported are those the analysis uses: the trial's and the historical arm's, in that order
    for out in (fisher, logrank):
        np.testing.assert_array_equal(out.n_events_by_arm, np.stack([trt.event.sum(axis=1),
                                                                     hist.event.sum(axis=1)], axis=1))
        np.testing.assert_array_equal(out.n_events, trt.event.sum(axis=1) + hist.event.sum(axis=1))
    week4 = HistoricalControlDesign(horizon=4.0).analyse([trt, hist], trial)
    np.testing.assert_array_equal(week4.n_events_by_arm, np.stack([(trt.event & (trt.time <= 4)).sum(axis=1),
                                                                   (hist.event & (hist.time <= 4)).sum(axis=1)],
                                                                  axis=1))


def test_single_arm_designs_run_the_treatment_arm_alone():
    model = DiseaseModel(arms=(ParametricArm.from_survival(0.9, 8.0), ParametricArm.from_survival(0.6, 8.0)))
    [(m, t)] = SingleArmDesign().simulated_trials(model, Trial(n=20, dropout_hazard=(0.01, 0.02)))
    assert m.arms == (model.arms[0],) and t.allocation == (1,) and t.dropout_hazard == (0.01,) and t.n == 20
    pairs = HistoricalControlDesign(n_historical=30).simulated_trials(model, Trial(n=20))
    assert pairs[1][0].arms == (model.arms[1],) and pairs[1][1].n == 30 and pairs[1][1].analysis == "complete"


@pytest.mark.parametrize("make, message", [
    (lambda: TwoArmDesign(alpha=1.5), r"`TwoArmDesign.alpha` must be a probability in \(0, 1\) \(got 1.5\)"),
    (lambda: TwoArmDesign(sided=3), "sided"),
    (lambda: TwoArmDesign(endpoint="survival", test="fisher"), "test"),
    (lambda: TwoArmDesign(endpoint="pfs"), "endpoint"),
    (lambda: SingleArmDesign(null_survival=1.0), "null_survival"),
    (lambda: HistoricalControlDesign(n_historical=0), "n_historical"),
])
def test_designs_validate_their_fields(make, message):
    with pytest.raises(InputError, match=message):
        make()


def test_response_needs_the_full_model_and_a_visit():
    parametric = DiseaseModel(arms=(ParametricArm(), ParametricArm()))
    with pytest.raises(InputError, match="response"):
        TwoArmDesign(endpoint="response").simulated_trials(parametric, Trial(n=20))
    from trialsim.model import default_model

    with pytest.raises(InputError, match="response_week"):
        TwoArmDesign(endpoint="response", response_week=8.5).simulated_trials(default_model(), Trial(n=20))
