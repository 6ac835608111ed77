"""Analysis rules: what is tested on a simulated trial and what counts as success.

A design turns a simulated :class:`~trialsim.engines.batch.TrialBatch` (R trials) into R small per-replicate results:
success (the null hypothesis rejected), the deaths the analysis uses (by the horizon, per compared group), the
trial's duration and the p-value. Three kinds of trial are described:

- :class:`TwoArmDesign`: randomised treatment vs control (arm 0 vs arm 1 of the model) judged on overall
  survival to the horizon (log-rank, stratified when randomisation is), on survival at the horizon as a binary
  endpoint (Fisher, Boschloo, chi-square) or on response at a visit (CR + PR, or CR alone);
- :class:`SingleArmDesign`: the treatment arm alone against a fixed historical figure (exact binomial test of
  survival at the horizon, or the one-sample log-rank test against a historical hazard);
- :class:`HistoricalControlDesign`: the treatment arm against a historical arm of a given size drawn from the
  control arm of the model, so that the comparator's own sampling error counts.

When (in calendar time) the analysis happens is a property of the :class:`~trialsim.model.Trial` (``analysis``
= complete follow-up, a calendar date, or a target number of events); the engines censor at that cut and the
design analyses what was observed. Every test is oriented so that one-sided alternatives mean "treatment
better". Two-sided tests count rejection in either direction (so that under the null the rejection rate is
the test's size).

Missing outcomes. A patient censored alive before the horizon (lost, or cut by an early analysis) has an
unknown status there: binary survival endpoints leave such patients out (complete-case), while response
endpoints count a visit that was not observed as non-response (non-responder imputation); death is failure.
Degenerate statistics (no deaths at all, so the log-rank variance is zero) count as non-rejection and are
reported in ``DesignOutcome.degenerate``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Literal, Protocol

import numpy as np
from scipy import special

from ..engines.batch import TrialBatch
from ..exceptions import invalid
from ..model import CR, PR, Accrual, DiseaseModel, Trial
from ..model.validation import check_choice, check_count, check_flag, check_level, check_positive
from ..stats import binomial_pvalues
from ..stats.binary import Alternative, BinaryTest
from ..stats.checks import quiet_degenerate
from .analytic import (TIME_TOLERANCE, AnalyticPower, average_hazard_ratio, complete_case_binomial_power,
                       complete_case_power, deaths_by_arm, observe, reach_of, resolve_horizon, response_probability)
from .formulas import one_sample_logrank_power, schoenfeld_power, two_proportion_power

__all__ = [
    "DesignOutcome",
    "TwoArmDesign",
    "SingleArmDesign",
    "HistoricalControlDesign",
    "Design",
    "survival_status_at",
    "truncate_at",
    "uses_logrank",
    "read_at",
]

_BINARY_TESTS: tuple[BinaryTest, ...] = ("fisher", "boschloo", "chi2")
_TEST_NAMES = {"fisher": "Fisher's exact", "boschloo": "Boschloo's exact", "chi2": "chi-square",
               "logrank": "log-rank"}


@dataclass(frozen=True, kw_only=True, slots=True)
class DesignOutcome:
    """Per-replicate results of a design applied to R simulated trials.

    Attributes
    ----------
    success, pvalue, duration, degenerate : ndarray (R,)
        Null hypothesis rejected; p-value; calendar time of the analysis; degenerate statistic.
    n_events_by_arm : ndarray of int (R, k)
        Deaths the analysis uses (death time from entry <= the design's horizon) in each group it compares:
        (treatment, control) for :class:`TwoArmDesign` (k = 2), the trial arm for :class:`SingleArmDesign`
        (k = 1), (trial arm, historical arm) for :class:`HistoricalControlDesign` (k = 2).
    n_events : ndarray of int (R,)
        Their row sum: all deaths the analysis uses.
    """

    success: np.ndarray
    pvalue: np.ndarray
    n_events: np.ndarray
    duration: np.ndarray
    degenerate: np.ndarray
    n_events_by_arm: np.ndarray

    @staticmethod
    def concatenate(parts: list["DesignOutcome"]) -> "DesignOutcome":
        """Replicates of ``parts`` one after the other (every field joined along its first axis).

        The parts are of one class; a subclass that adds per-replicate fields (a design's own outcome, such as
        :class:`trialsim.design.sequential.SequentialOutcome`) keeps them.
        """
        cls = type(parts[0])
        return cls(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)})

    @property
    def n_replicates(self) -> int:
        return int(self.success.shape[0])


# ------------------------------------------------------------------------------------------------ helpers


def _check_common(owner: str, alpha: float, sided: int, horizon: float | None) -> None:
    """The fields every design has: alpha in (0, 1), 1 or 2 sides, a horizon > 0 or None."""
    check_level(f"{owner}.alpha", alpha)
    check_choice(f"{owner}.sided", sided, (1, 2))
    if horizon is not None:
        check_positive(f"{owner}.horizon", horizon)


def _resolve_horizon(owner: str, horizon: float | None, trial: Trial) -> float:
    return resolve_horizon(trial, horizon, field=f"{owner}.horizon")


def survival_status_at(batch: TrialBatch, horizon: float) -> tuple[np.ndarray, np.ndarray]:
    """(alive at ``horizon``, status known at ``horizon``), boolean arrays (R, n).

    Known: died by the horizon, or followed (alive) up to it. Patients censored alive earlier are unknown.
    """
    died = _died_by(batch, horizon)
    reached = batch.time >= horizon - TIME_TOLERANCE
    known = died | reached
    return known & ~died, known


def _died_by(batch: TrialBatch, horizon: float) -> np.ndarray:
    """Deaths observed by ``horizon`` weeks from entry, boolean (R, n): the deaths an analysis at it uses."""
    return batch.event & (batch.time <= horizon)


def truncate_at(batch: TrialBatch, horizon: float) -> tuple[np.ndarray, np.ndarray]:
    """Survival data censored at ``horizon``: (time, event)."""
    return np.minimum(batch.time, horizon), _died_by(batch, horizon)


def _one_sided_from_z(z: np.ndarray) -> np.ndarray:
    # z > 0 means treatment better in every statistic handed to this helper
    return special.ndtr(-z)


def _logrank(time, event, group, strata):
    from ..stats import logrank_batch

    with quiet_degenerate():  # counted in DesignOutcome.degenerate instead of warned about per chunk
        return logrank_batch(time, event, group, strata=strata)


def _binary_test(owner: str, test: str | None) -> BinaryTest:
    """A design's binary test, narrowed to one (its ``__post_init__`` has checked it already)."""
    return check_choice(f"{owner}.test", test, _BINARY_TESTS)


def _binary_pvalues(x1, n1, x2, n2, *, test: BinaryTest, sided: int) -> np.ndarray:
    from ..stats import two_proportion_pvalues

    alternative: Alternative = "greater" if sided == 1 else "two-sided"
    with quiet_degenerate():
        return np.asarray(two_proportion_pvalues(x1, n1, x2, n2, test=test, alternative=alternative), dtype=float)


def _two_group_binary_outcome(batch: TrialBatch, x1, n1, x2, n2, *, test: BinaryTest, sided: int, alpha: float,
                              deaths: np.ndarray) -> DesignOutcome:
    """Two-group binary test per replicate; a replicate with an empty group is degenerate (p = 1)."""
    degenerate = (n1 == 0) | (n2 == 0)
    pvalue = np.ones(batch.n_replicates)
    ok = ~degenerate
    if ok.any():
        pvalue[ok] = _binary_pvalues(x1[ok], n1[ok], x2[ok], n2[ok], test=test, sided=sided)
    return _outcome(batch, pvalue, alpha, degenerate, deaths)


def _deaths_by_arm(batch: TrialBatch, horizon: float, n_arms: int = 1) -> np.ndarray:
    """Deaths by ``horizon`` (from entry) per replicate, one column per arm 0..n_arms-1: shape (R, n_arms)."""
    died = _died_by(batch, horizon)
    if n_arms == 1:
        return died.sum(axis=1, dtype=np.int64)[:, None]
    return np.stack([(died & (batch.arm == a)).sum(axis=1, dtype=np.int64) for a in range(n_arms)], axis=1)


def _outcome(batch: TrialBatch, pvalue: np.ndarray, alpha: float, degenerate: np.ndarray,
             deaths: np.ndarray) -> DesignOutcome:
    """Per-replicate outcome; ``deaths`` (R, k) are the deaths the analysis used in each group it compares."""
    pvalue = np.asarray(pvalue, dtype=float)
    # A NaN p-value would silently count as "not significant": refuse it instead
    if np.isnan(pvalue).any():
        raise RuntimeError("a design produced a NaN p-value; this is a bug in the analysis")
    deaths = np.asarray(deaths, dtype=np.int64)
    return DesignOutcome(success=(pvalue <= alpha) & ~degenerate, pvalue=pvalue, n_events=deaths.sum(axis=1),
                         duration=np.asarray(batch.analysis_time, dtype=float), degenerate=degenerate,
                         n_events_by_arm=deaths)


# ---------------------------------------------------------------------------------------------- two arms


@dataclass(frozen=True, kw_only=True, slots=True)
class TwoArmDesign:
    """Randomised treatment (arm 0) vs control (arm 1).

    Parameters
    ----------
    endpoint
        ``"survival"``: overall survival to the horizon, log-rank test (``test = "logrank"``).
        ``"survival_binary"``: alive at the horizon, a two-proportion test (``"fisher"``, ``"boschloo"``,
        ``"chi2"``); patients censored alive before the horizon are left out.
        ``"response"``: response at ``response_week`` (``response_level`` ``"cr_pr"`` or ``"cr"``), a
        two-proportion test; unobserved visits count as non-response, death as failure.
    test
        Default: ``"logrank"`` for survival, ``"fisher"`` otherwise.
    alpha, sided
        Type I error and sides (two-sided 0.05 by default). One-sided tests look for treatment better.
    horizon
        Weeks from entry at which survival is judged (default: the trial's follow-up).
    stratified
        Stratified log-rank by underlying disease; ``None`` follows the trial's randomisation.
    """

    endpoint: Literal["survival", "survival_binary", "response"] = "survival"
    test: Literal["logrank", "fisher", "boschloo", "chi2"] | None = None
    alpha: float = 0.05
    sided: int = 2
    horizon: float | None = None
    stratified: bool | None = None
    response_level: Literal["cr_pr", "cr"] = "cr_pr"
    response_week: float = 8.0

    def __post_init__(self) -> None:
        me = "TwoArmDesign"
        check_choice(f"{me}.endpoint", self.endpoint, ("survival", "survival_binary", "response"))
        default = "logrank" if self.endpoint == "survival" else "fisher"
        test = default if self.test is None else self.test
        allowed = ("logrank",) if self.endpoint == "survival" else _BINARY_TESTS
        if test not in allowed:
            raise invalid(f"{me}.test", f"must be one of {', '.join(map(repr, allowed))} for endpoint "
                          f"{self.endpoint!r}", test)
        object.__setattr__(self, "test", test)
        _check_common(me, self.alpha, self.sided, self.horizon)
        if self.stratified is not None:
            check_flag(f"{me}.stratified", self.stratified)
        check_choice(f"{me}.response_level", self.response_level, ("cr_pr", "cr"))
        check_positive(f"{me}.response_week", self.response_week)

    @property
    def needs_detail(self) -> bool:
        return self.endpoint == "response"

    def groups(self, model: DiseaseModel) -> tuple[str, ...]:
        """Names of the groups compared, in the order of :attr:`DesignOutcome.n_events_by_arm`."""
        return tuple(model.arm_names[:2])

    def describe(self, trial: Trial | None = None) -> str:
        """One line saying what is tested; with ``trial``, stratification follows the trial when not set."""
        sides = f"{'two' if self.sided == 2 else 'one'}-sided alpha {self.alpha:g}"
        stratified = self.stratified_for(trial) if trial is not None else bool(self.stratified)
        if self.endpoint == "survival":
            what = f"{'stratified ' if stratified else ''}log-rank on overall survival"
        elif self.endpoint == "survival_binary":
            what = f"{_TEST_NAMES[_binary_test('TwoArmDesign', self.test)]} test on survival at the horizon"
        else:
            level = "CR+PR" if self.response_level == "cr_pr" else "CR"
            name = _TEST_NAMES[_binary_test("TwoArmDesign", self.test)]
            what = f"{name} test on {level} at week {self.response_week:g}"
        return f"randomised two-arm, {what}, {sides}"

    def prepare_trial(self, trial: Trial) -> Trial:
        """The trial as this design runs it (unchanged for a randomised design)."""
        return trial

    def simulated_trials(self, model: DiseaseModel, trial: Trial) -> list[tuple[DiseaseModel, Trial]]:
        """The (model, trial) pairs to simulate for each replicate: here just the randomised trial."""
        if model.n_arms != 2 or trial.n_arms != 2:
            raise invalid("Trial.allocation", f"must hold 2 arms for a two-arm design (the model has {model.n_arms})",
                          trial.allocation)
        _resolve_horizon("TwoArmDesign", self.horizon, trial)
        if self.endpoint == "response":
            if model.is_parametric:
                raise invalid("TwoArmDesign.endpoint", "needs the full disease model (parametric arms have no "
                              "response process)", self.endpoint)
            if not any(abs(v - self.response_week) < TIME_TOLERANCE for v in model.visit_times):
                raise invalid("TwoArmDesign.response_week", "must be one of the model's visits "
                              f"{', '.join(f'{v:g}' for v in model.visit_times)}", self.response_week)
        return [(model, trial)]

    def analytic_power(self, model: DiseaseModel, trial: Trial) -> AnalyticPower:
        """The closed-form power beside the simulated one, judged at the horizon h as the analysis is.

        - survival: Schoenfeld with the expected deaths by h and the average hazard ratio at h;
        - survival at h as a binary endpoint: two proportions (normal approximation) on the complete cases,
          P(alive at h | status known) out of n P(status known);
        - response: two proportions with P(responder observed) = P(CR [+ PR]) exp(-eta w) times the share of
          patients observed at the visit week w (non-responder imputation).
        """
        horizon = _resolve_horizon("TwoArmDesign", self.horizon, trial)
        seen = (observe(model, trial, 0, horizon, exposure=False), observe(model, trial, 1, horizon, exposure=False))
        deaths = deaths_by_arm(trial, list(seen))
        sizes = trial.n_per_arm()
        if self.endpoint == "survival":
            a_t, a_c = trial.allocation
            hr = average_hazard_ratio(model, horizon)
            power = schoenfeld_power(hr, sum(deaths), alpha=self.alpha, sided=self.sided,
                                     allocation_ratio=a_t / a_c)
            return AnalyticPower(power=power, method="Schoenfeld", n_events_by_arm=deaths, hazard_ratio=hr)
        if self.endpoint == "survival_binary":
            return AnalyticPower(power=complete_case_power(seen, (sizes[0], sizes[1]), alpha=self.alpha,
                                                           sided=self.sided),
                                 method="two proportions (normal)", n_events_by_arm=deaths)
        week, reach = self.response_week, reach_of(trial, self.response_week)
        p = [response_probability(model, i, week, self.response_level) * math.exp(-trial.dropout_hazard[i] * week)
             * reach for i in (0, 1)]
        return AnalyticPower(power=two_proportion_power(p[0], p[1], sizes[0], sizes[1], alpha=self.alpha,
                                                        sided=self.sided),
                             method="two proportions (normal)", n_events_by_arm=deaths)

    def stratified_for(self, trial: Trial) -> bool:
        return trial.stratified if self.stratified is None else self.stratified

    def analyse(self, batches: list[TrialBatch], trial: Trial) -> DesignOutcome:
        """Apply the test to every replicate of ``batches[0]`` (the randomised trial)."""
        (batch,) = batches
        horizon = _resolve_horizon("TwoArmDesign", self.horizon, trial)
        treated = batch.arm == 0
        deaths = _deaths_by_arm(batch, horizon, 2)
        if self.endpoint == "survival":
            time, event = truncate_at(batch, horizon)
            strata = batch.stratum if self.stratified_for(trial) else None
            result = _logrank(time, event, batch.arm, strata)
            degenerate = ~(np.asarray(result.variance) > 0)
            pvalue = result.pvalue if self.sided == 2 else _one_sided_from_z(result.z)
            return _outcome(batch, pvalue, self.alpha, degenerate, deaths)
        if self.endpoint == "survival_binary":
            success, known = survival_status_at(batch, horizon)
        else:
            if batch.response is None:
                raise invalid("TwoArmDesign.endpoint", "needs batches simulated with detail (needs_detail)",
                              self.endpoint)
            visit = int(np.argmin(np.abs(np.asarray(batch.visit_times) - self.response_week)))
            state = batch.response[:, :, visit]
            success = (state == CR) | ((state == PR) & (self.response_level == "cr_pr"))
            known = np.ones_like(success)
        x1 = (success & treated).sum(axis=1)
        n1 = (known & treated).sum(axis=1)
        x2 = (success & ~treated).sum(axis=1)
        n2 = (known & ~treated).sum(axis=1)
        return _two_group_binary_outcome(batch, x1, n1, x2, n2, test=_binary_test("TwoArmDesign", self.test),
                                         sided=self.sided, alpha=self.alpha, deaths=deaths)


# -------------------------------------------------------------------------------------------- single arm


def _single_arm_model(model: DiseaseModel, arm: int) -> DiseaseModel:
    return replace(model, arms=(model.arms[arm],), arm_names=(model.arm_names[arm],))


def _prepare_single_arm(trial: Trial, arm: int) -> Trial:
    if trial.n_arms == 1:
        return trial
    dropout = trial.dropout_hazard[arm] if arm < len(trial.dropout_hazard) else trial.dropout_hazard[0]
    # Trial validates n against the allocation, so build the one-arm trial field by field
    return Trial(n=trial.n, allocation=(1,), stratified=False, accrual=trial.accrual, follow_up=trial.follow_up,
                 dropout_hazard=(dropout,), analysis=trial.analysis, analysis_time=trial.analysis_time,
                 target_events=trial.target_events)


@dataclass(frozen=True, kw_only=True, slots=True)
class SingleArmDesign:
    """The treatment arm alone, against a fixed historical figure.

    Parameters
    ----------
    test
        ``"binomial"``: exact binomial test of survival at the horizon against ``null_survival``
        (patients censored alive before the horizon are left out).
        ``"logrank"``: one-sample log-rank test against the historical cumulative hazard
        ``null_hazard * t`` (default ``null_hazard = -log(null_survival) / horizon``, an exponential
        historical arm with that survival at the horizon).
    null_survival
        Historical survival at the horizon (0.62: 13/21 historical controls).
    null_hazard
        Constant historical hazard per week for the one-sample log-rank test (``None``: from
        ``null_survival``).
    alpha, sided, horizon
        As in :class:`TwoArmDesign`.
    arm
        Index of the model arm that is treated (0: ruxolitinib).
    """

    test: Literal["binomial", "logrank"] = "binomial"
    null_survival: float = 0.62
    null_hazard: float | None = None
    alpha: float = 0.05
    sided: int = 2
    horizon: float | None = None
    arm: int = 0

    def __post_init__(self) -> None:
        me = "SingleArmDesign"
        check_choice(f"{me}.test", self.test, ("binomial", "logrank"))
        check_level(f"{me}.null_survival", self.null_survival)
        if self.null_hazard is not None:
            check_positive(f"{me}.null_hazard", self.null_hazard)
        _check_common(me, self.alpha, self.sided, self.horizon)
        check_count(f"{me}.arm", self.arm, minimum=0)

    needs_detail = False

    def groups(self, model: DiseaseModel) -> tuple[str, ...]:
        """Names of the groups compared, in the order of :attr:`DesignOutcome.n_events_by_arm`."""
        return (model.arm_names[self.arm],)

    def describe(self, trial: Trial | None = None) -> str:
        sides = f"{'two' if self.sided == 2 else 'one'}-sided alpha {self.alpha:g}"
        if self.test == "binomial":
            what = f"exact binomial test of survival at the horizon against {self.null_survival:g}"
        else:
            what = "one-sample log-rank against the historical hazard"
        return f"single arm, {what}, {sides}"

    def hazard_for(self, horizon: float) -> float:
        return self.null_hazard if self.null_hazard is not None else -math.log(self.null_survival) / horizon

    def prepare_trial(self, trial: Trial) -> Trial:
        """The one-arm trial this design runs (a two-arm trial keeps the treatment arm's settings)."""
        return _prepare_single_arm(trial, self.arm)

    def simulated_trials(self, model: DiseaseModel, trial: Trial) -> list[tuple[DiseaseModel, Trial]]:
        if self.arm >= model.n_arms:
            raise invalid("SingleArmDesign.arm", f"must index one of the model's {model.n_arms} arms", self.arm)
        trial = self.prepare_trial(trial)
        _resolve_horizon("SingleArmDesign", self.horizon, trial)
        return [(_single_arm_model(model, self.arm), trial)]

    def analytic_power(self, model: DiseaseModel, trial: Trial) -> AnalyticPower:
        """Exact binomial power on the patients of known status at h; or the one-sample log-rank's normal
        approximation with O ~ Poisson(expected deaths by h) against E = historical hazard x expected exposure."""
        trial = self.prepare_trial(trial)
        horizon = _resolve_horizon("SingleArmDesign", self.horizon, trial)
        seen = observe(model, trial, self.arm, horizon, exposure=self.test == "logrank")
        deaths = deaths_by_arm(trial, [seen])
        if self.test == "binomial":
            power = complete_case_binomial_power(trial.n, self.null_survival, seen, alpha=self.alpha,
                                                 sided=self.sided)
            return AnalyticPower(power=power, method="exact binomial", n_events_by_arm=deaths)
        hazard = self.hazard_for(horizon)
        power = one_sample_logrank_power(deaths[0], trial.n * hazard * seen.exposure, alpha=self.alpha,
                                         sided=self.sided)
        return AnalyticPower(power=power, method="one-sample log-rank (normal)", n_events_by_arm=deaths,
                             hazard_ratio=-math.log(seen.survival) / horizon / hazard)

    def analyse(self, batches: list[TrialBatch], trial: Trial) -> DesignOutcome:
        (batch,) = batches
        horizon = _resolve_horizon("SingleArmDesign", self.horizon, trial)
        deaths = _deaths_by_arm(batch, horizon)
        if self.test == "binomial":
            alive, known = survival_status_at(batch, horizon)
            x, m = alive.sum(axis=1), known.sum(axis=1)
            degenerate = m == 0
            pvalue = _binomial_pvalues(x, m, self.null_survival, self.sided)
            return _outcome(batch, pvalue, self.alpha, degenerate, deaths)
        from ..stats import one_sample_logrank_batch

        time, event = truncate_at(batch, horizon)
        expected = self.hazard_for(horizon) * time
        with quiet_degenerate():
            result = one_sample_logrank_batch(time, event, expected)
        degenerate = ~(expected.sum(axis=1) > 0)
        # Z = (O - E) / sqrt(E): fewer deaths than expected (treatment better) gives Z < 0
        z = -np.asarray(result.z, dtype=float)
        pvalue = 2 * special.ndtr(-np.abs(z)) if self.sided == 2 else _one_sided_from_z(z)
        return _outcome(batch, pvalue, self.alpha, degenerate, deaths)


def _binomial_pvalues(x: np.ndarray, m: np.ndarray, p0: float, sided: int) -> np.ndarray:
    """Exact binomial p-values of ``x`` successes of ``m`` against ``p0``: one table per distinct m (1 where m = 0)."""
    alternative: Alternative = "greater" if sided == 1 else "two-sided"
    pvalue = np.ones(x.shape)
    for size in np.unique(m[m > 0]):
        rows = m == size
        pvalue[rows] = binomial_pvalues(int(size), p0, alternative=alternative)[x[rows]]
    return pvalue


# ------------------------------------------------------------------------------------ historical control


@dataclass(frozen=True, kw_only=True, slots=True)
class HistoricalControlDesign:
    """The treatment arm against a historical arm simulated from the model's control arm.

    Each replicate draws a fresh historical cohort of ``n_historical`` patients from the control arm (all
    followed to the horizon, no dropout), so that the power accounts for the comparator's sampling error as
    well as the trial's.

    Parameters
    ----------
    n_historical
        Size of the historical arm (21: the study's historical controls).
    test
        ``"fisher"``, ``"boschloo"`` or ``"chi2"`` on survival at the horizon, or ``"logrank"`` on survival to it.
    alpha, sided, horizon
        As in :class:`TwoArmDesign`.
    arm, control_arm
        Model arms for the trial (0) and for the historical cohort (1).
    """

    n_historical: int = 21
    test: Literal["fisher", "boschloo", "chi2", "logrank"] = "fisher"
    alpha: float = 0.05
    sided: int = 2
    horizon: float | None = None
    arm: int = 0
    control_arm: int = 1

    def __post_init__(self) -> None:
        me = "HistoricalControlDesign"
        check_count(f"{me}.n_historical", self.n_historical)
        check_choice(f"{me}.test", self.test, (*_BINARY_TESTS, "logrank"))
        _check_common(me, self.alpha, self.sided, self.horizon)
        check_count(f"{me}.arm", self.arm, minimum=0)
        check_count(f"{me}.control_arm", self.control_arm, minimum=0)
        if self.arm == self.control_arm:
            raise invalid(f"{me}.control_arm", "must differ from the treatment arm (`arm`)", self.control_arm)

    needs_detail = False

    def groups(self, model: DiseaseModel) -> tuple[str, ...]:
        """Names of the groups compared, in the order of :attr:`DesignOutcome.n_events_by_arm`."""
        return model.arm_names[self.arm], f"historical {model.arm_names[self.control_arm]}"

    def describe(self, trial: Trial | None = None) -> str:
        sides = f"{'two' if self.sided == 2 else 'one'}-sided alpha {self.alpha:g}"
        what = "log-rank" if self.test == "logrank" else f"{_TEST_NAMES[self.test]} test on survival at the horizon"
        return f"single arm vs a simulated historical arm of {self.n_historical}, {what}, {sides}"

    def prepare_trial(self, trial: Trial) -> Trial:
        """The one-arm trial this design runs (a two-arm trial keeps the treatment arm's settings)."""
        return _prepare_single_arm(trial, self.arm)

    def historical_trial(self, trial: Trial) -> Trial:
        return Trial(n=int(self.n_historical), allocation=(1,), accrual=Accrual(kind="instant"),
                     follow_up=trial.follow_up, dropout_hazard=(0.0,), analysis="complete")

    def simulated_trials(self, model: DiseaseModel, trial: Trial) -> list[tuple[DiseaseModel, Trial]]:
        for name, idx in (("arm", self.arm), ("control_arm", self.control_arm)):
            if not 0 <= idx < model.n_arms:
                raise invalid(f"HistoricalControlDesign.{name}", f"must index one of the model's {model.n_arms} arms",
                              idx)
        trial = self.prepare_trial(trial)
        _resolve_horizon("HistoricalControlDesign", self.horizon, trial)
        return [(_single_arm_model(model, self.arm), trial),
                (_single_arm_model(model, self.control_arm), self.historical_trial(trial))]

    def analytic_power(self, model: DiseaseModel, trial: Trial) -> AnalyticPower:
        """Schoenfeld (log-rank) or two proportions on the complete cases, with the historical cohort as the
        design simulates it (everyone followed to the horizon, no dropout)."""
        trial = self.prepare_trial(trial)
        horizon = _resolve_horizon("HistoricalControlDesign", self.horizon, trial)
        seen = observe(model, trial, self.arm, horizon, exposure=False)
        history = self.historical_trial(trial)
        past = observe(model, history, self.control_arm, horizon, exposure=False)
        deaths = (*deaths_by_arm(trial, [seen]), *deaths_by_arm(history, [past]))
        if self.test == "logrank":
            hr = average_hazard_ratio(model, horizon, self.arm, self.control_arm)
            power = schoenfeld_power(hr, sum(deaths), alpha=self.alpha, sided=self.sided,
                                     allocation_ratio=trial.n / history.n)
            return AnalyticPower(power=power, method="Schoenfeld", n_events_by_arm=deaths, hazard_ratio=hr)
        power = complete_case_power((seen, past), (trial.n, history.n), alpha=self.alpha, sided=self.sided)
        return AnalyticPower(power=power, method="two proportions (normal)", n_events_by_arm=deaths)

    def analyse(self, batches: list[TrialBatch], trial: Trial) -> DesignOutcome:
        batch, history = batches
        horizon = _resolve_horizon("HistoricalControlDesign", self.horizon, trial)
        # Deaths the analysis uses: the trial's and the historical cohort's, each by the horizon
        deaths = np.hstack([_deaths_by_arm(batch, horizon), _deaths_by_arm(history, horizon)])
        if self.test == "logrank":
            t1, e1 = truncate_at(batch, horizon)
            t2, e2 = truncate_at(history, horizon)
            time, event = np.hstack([t1, t2]), np.hstack([e1, e2])
            group = np.hstack([np.zeros(t1.shape, np.int8), np.ones(t2.shape, np.int8)])
            result = _logrank(time, event, group, None)
            degenerate = ~(np.asarray(result.variance) > 0)
            pvalue = result.pvalue if self.sided == 2 else _one_sided_from_z(result.z)
            return _outcome(batch, pvalue, self.alpha, degenerate, deaths)
        a1, k1 = survival_status_at(batch, horizon)
        a2, k2 = survival_status_at(history, horizon)
        x1, n1, x2, n2 = a1.sum(axis=1), k1.sum(axis=1), a2.sum(axis=1), k2.sum(axis=1)
        return _two_group_binary_outcome(batch, x1, n1, x2, n2, test=self.test, sided=self.sided,
                                         alpha=self.alpha, deaths=deaths)


class Design(Protocol):
    """What an analysis rule offers the Monte Carlo runner and the power functions.

    :class:`TwoArmDesign`, :class:`SingleArmDesign` and :class:`HistoricalControlDesign` are the fixed designs;
    the group-sequential (:class:`trialsim.design.sequential.SequentialDesign`) and Bayesian
    (:mod:`trialsim.design.bayes_design`) designs keep the same protocol, so :func:`trialsim.design.power`,
    :func:`trialsim.design.sample_size` and :func:`trialsim.design.montecarlo.run` take any of them.
    """

    @property
    def alpha(self) -> float: ...

    @property
    def sided(self) -> int: ...

    @property
    def horizon(self) -> float | None: ...

    @property
    def needs_detail(self) -> bool: ...

    def describe(self, trial: Trial | None = None) -> str: ...

    def groups(self, model: DiseaseModel) -> tuple[str, ...]: ...

    def prepare_trial(self, trial: Trial) -> Trial: ...

    def simulated_trials(self, model: DiseaseModel, trial: Trial) -> list[tuple[DiseaseModel, Trial]]: ...

    def analyse(self, batches: list[TrialBatch], trial: Trial) -> DesignOutcome: ...

    def analytic_power(self, model: DiseaseModel, trial: Trial) -> AnalyticPower: ...


def uses_logrank(design: Design) -> bool:
    """Whether ``design`` tests survival with a log-rank test (two-arm, one-sample or against a historical arm)."""
    if isinstance(design, TwoArmDesign):
        return design.endpoint == "survival"
    return getattr(design, "test", None) == "logrank"


def read_at(design: Design, trial: Trial, horizon: float) -> Design:
    """``design`` with binary endpoints read at the survival ``horizon`` when the follow-up is longer.

    A design without a horizon of its own judges survival at the trial's follow-up. When the follow-up exceeds
    the horizon where the arms are specified (``--follow-up`` longer than ``--horizon``), a log-rank design keeps
    using every death to the data cut (what a careful trialist expects of an event-driven trial), while a design
    that reads survival (or counts deaths) at a time is read at the horizon. A design with its own horizon, a
    follow-up no longer than the horizon, or a design of another kind is returned as it is.
    """
    if not isinstance(design, (TwoArmDesign, SingleArmDesign, HistoricalControlDesign)):
        return design
    if design.horizon is not None or uses_logrank(design) or trial.follow_up <= horizon:
        return design
    return replace(design, horizon=float(horizon))
