"""Bayesian decision rules as analysis designs: success when ``P(treatment better | data) > threshold``.

A :class:`BayesTwoArmDesign` or :class:`BayesSingleArmDesign` analyses simulated trials like the frequentist designs
of :mod:`trialsim.design.rules` (same protocol: ``power``, ``sample_size`` and ``assurance`` take it), deciding by a
posterior probability instead of a p-value:

- **binary endpoints** (alive at the horizon, complete cases; response at the visit, an unobserved visit a
  non-response): ``p_T ~ Beta``, ``p_C ~ Beta`` or a beta mixture; success when ``P(p_T > p_C | x_T, x_C)`` exceeds
  the threshold, exactly, from the decision table of :class:`~trialsim.design.bayes_rules.BinaryBayesRule`;
- **survival**: each arm's hazard is exponential, ``lambda ~ Gamma(a, b)``, updated by the deaths ``d`` and the
  exposure ``E`` (person-weeks) up to the horizon to ``Gamma(a + d, b + E)``; success when
  ``P(lambda_T / lambda_C < margin | data) = I_{c / (1 + c)}(a_T + d_T, a_C + d_C) > threshold`` with
  ``c = margin (b_T + E_T) / (b_C + E_C)`` (:func:`~trialsim.stats.posteriors.prob_ratio_below`; mixtures: the
  weighted sum over component pairs, the control's weights updated by the gamma-Poisson marginal).

Analysis priors (``analysis_prior``, both arms): ``"uniform"`` (``Beta(1, 1)``; for a hazard the flat
``Gamma(1, 0)``), ``"jeffreys"`` (``Beta(1/2, 1/2)``; ``Gamma(1/2, 0)``, Jeffreys' prior for a Poisson count of
deaths in a known exposure) or ``"A,B"`` (``Beta(A, B)``; ``Gamma(A, B)``, ``B`` in weeks). A gamma with rate 0 is
improper; its posterior ``Gamma(a + d, E)`` is proper once the arm has exposure.

Borrowing the historical control (``borrow``): ``"power"`` (power prior with fixed ``a0``, Ibrahim and Chen 2000)
or ``"robust"`` (weight ``robust_weight`` on a vague component, Schmidli et al. 2014) from ``historical = (x0, n0)``
alive of the historical controls (13/21 by default for the survival endpoints). For the hazard the history is
``d0 = n0 - x0`` deaths in ``E0 = d0 h / (-log(x0 / n0))`` weeks: the exposure that an exponential arm with
survival ``x0 / n0`` at the horizon ``h`` gives ``n0`` patients on average (the study reports no exposure).

The frequentist type I error and power of a rule are its probability of success under a null model (both arms the
control arm: :func:`null_model`) and under the planning model: simulated by ``power``, and for binary endpoints with
every status known at the horizon also exact, by enumeration of all outcomes (:meth:`BayesTwoArmDesign.exact`).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from scipy import special, stats

from ..engines.batch import TrialBatch
from ..engines.enrolment import block_patterns
from ..exceptions import invalid
from ..model import CR, PR, DiseaseModel, Trial
from ..model.validation import check_choice, check_count, check_level, check_positive, check_probability
from ..stats.posteriors import Beta, Gamma, parse_beta_prior, robust_mixture
from .analytic import AnalyticPower, arm_survival, average_hazard_ratio, deaths_by_arm, observe, reach_of, \
    resolve_horizon, response_probability
from .bayes_rules import BinaryBayesRule, SingleArmBayesRule, borrowing_prior
from .formulas import two_proportion_power
from .rules import DesignOutcome, SingleArmDesign, TwoArmDesign, truncate_at, survival_status_at

__all__ = ["BayesTwoArmDesign", "BayesSingleArmDesign", "BayesDesign", "beta_prior", "hazard_prior",
           "historical_hazard", "null_model", "STUDY_CONTROL", "BAYES_DESIGNS"]

#: The study's historical controls: 13 of 21 alive at the horizon.
STUDY_CONTROL = (13, 21)
_BORROW = ("none", "power", "robust")


def beta_prior(spec: str, field: str = "analysis_prior") -> Beta:
    """``"uniform"``, ``"jeffreys"`` or ``"A,B"`` as a beta prior (error named after ``field``)."""
    try:
        return parse_beta_prior(spec)
    except ValueError:
        raise invalid(field, "must be 'uniform', 'jeffreys' or 'A,B' with A, B > 0", spec) from None


def hazard_prior(spec: str, field: str = "analysis_prior") -> tuple[float, float]:
    """The gamma prior ``(a, b)`` of a hazard: uniform ``(1, 0)``, Jeffreys ``(1/2, 0)`` or ``"A,B"``."""
    text = str(spec).strip().lower()
    if text in ("uniform", "jeffreys"):
        return (1.0, 0.0) if text == "uniform" else (0.5, 0.0)
    prior = beta_prior(spec, field)             # the same grammar: two positive numbers
    return prior.a, prior.b


def historical_hazard(x0: int, n0: int, horizon: float) -> tuple[int, float]:
    """``(d0, E0)``: deaths and exposure of ``n0`` historical patients with ``x0`` alive at ``horizon`` (see the
    module docstring).

    Examples
    --------
    >>> d0, e0 = historical_hazard(13, 21, 8.0)
    >>> d0, round(e0, 1)
    (8, 133.5)
    """
    if x0 <= 0:
        raise invalid("historical", "must have at least one patient alive to give a hazard", (x0, n0))
    d0 = n0 - x0
    return d0, (d0 * horizon / -math.log(x0 / n0) if d0 else n0 * horizon)


def null_model(model: DiseaseModel) -> DiseaseModel:
    """The model with the treatment arm replaced by the control arm: the truth of a type I error."""
    return replace(model, arms=(model.arms[1], *model.arms[1:]))


@functools.lru_cache(maxsize=512)
def _binary_rule(n_t: int, n_c: int, threshold: float, prior_t, prior_c) -> BinaryBayesRule:
    return BinaryBayesRule(n_t, n_c, threshold, prior_t, prior_c)


@functools.lru_cache(maxsize=512)
def _single_rule(n: int, threshold: float, control, prior) -> SingleArmBayesRule:
    return SingleArmBayesRule(n, threshold, control, prior)


def _gamma_parts(prior) -> list[tuple[float, float, float]]:
    if isinstance(prior, tuple):
        return [(1.0, prior[0], prior[1])]
    if isinstance(prior, Gamma):
        return [(1.0, prior.a, prior.b)]
    return [(w, c.a, c.b) for w, c in zip(prior.weights, prior.components)]


def _prob_ratio_below(t_parts, c_parts, d_t, e_t, d_c, e_c, margin: float) -> np.ndarray:
    """``P(lambda_T / lambda_C < margin)`` per replicate; the control's mixture weights updated by its data."""
    d_c = np.asarray(d_c, dtype=float)
    if len(c_parts) > 1:
        logs = []
        for w, a, b in c_parts:
            with np.errstate(divide="ignore", invalid="ignore"):
                tail = np.where(d_c > 0, d_c * np.log(e_c / (b + e_c)), 0.0)
            logs.append(math.log(w) + special.gammaln(a + d_c) - special.gammaln(a) - special.gammaln(d_c + 1)
                        + a * np.log(b / (b + e_c)) + tail)
        stacked = np.array(logs)
        weights = np.exp(stacked - special.logsumexp(stacked, axis=0))
    else:
        weights = np.ones((1, d_c.size))
    out = np.zeros(d_c.shape)
    for wt, at, bt in t_parts:
        for k, (_, ac, bc) in enumerate(c_parts):
            ratio = margin * (bt + e_t) / (bc + e_c)
            out += wt * weights[k] * special.betainc(at + d_t, ac + d_c, ratio / (1.0 + ratio))
    return np.clip(out, 0.0, 1.0)


def _outcome(batch: TrialBatch, success, probability, degenerate, deaths) -> DesignOutcome:
    """Per-replicate outcome of a Bayesian rule: ``pvalue`` holds ``1 - P(treatment better | data)``."""
    degenerate = np.asarray(degenerate, dtype=bool)
    deaths = np.asarray(deaths, dtype=np.int64)
    return DesignOutcome(success=np.asarray(success, dtype=bool) & ~degenerate,
                         pvalue=np.where(degenerate, 1.0, 1.0 - np.asarray(probability, dtype=float)),
                         n_events=deaths.sum(axis=1), duration=np.asarray(batch.analysis_time, dtype=float),
                         degenerate=degenerate, n_events_by_arm=deaths)


def _deaths(batch: TrialBatch, horizon: float, arms: int) -> np.ndarray:
    died = batch.event & (batch.time <= horizon)
    if arms == 1:
        return died.sum(axis=1, dtype=np.int64)[:, None]
    return np.stack([(died & (batch.arm == a)).sum(axis=1, dtype=np.int64) for a in range(arms)], axis=1)


class _Common:
    """Checks and properties shared by the two Bayesian designs."""

    threshold: float
    analysis_prior: str
    borrow: str
    a0: float
    robust_weight: float
    margin: float
    horizon: float | None
    historical: tuple[int, int] | None

    def _check(self, me: str) -> None:
        check_level(f"{me}.threshold", self.threshold)
        beta_prior(self.analysis_prior, f"{me}.analysis_prior")
        check_choice(f"{me}.borrow", self.borrow, _BORROW)
        check_probability(f"{me}.a0", self.a0)
        check_probability(f"{me}.robust_weight", self.robust_weight)
        check_positive(f"{me}.margin", self.margin)
        if self.horizon is not None:
            check_positive(f"{me}.horizon", self.horizon)
        if self.historical is not None:
            hist = self.historical
            if isinstance(hist, (str, bytes)) or not isinstance(hist, (tuple, list)) or len(hist) != 2:
                raise invalid(f"{me}.historical", "must be two integers x0, n0 (alive of historical controls)", hist)
            n0 = check_count(f"{me}.historical", hist[1])
            x0 = check_count(f"{me}.historical", hist[0], minimum=0, maximum=n0)
            object.__setattr__(self, "historical", (x0, n0))

    @property
    def alpha(self) -> float:
        """The nominal error of the rule, ``1 - threshold`` (its actual type I error is an operating
        characteristic: simulate it under :func:`null_model`)."""
        return 1.0 - self.threshold

    sided = 1
    test = "bayes"

    def rule_text(self) -> str:
        """The rule in words (each design says it)."""
        raise NotImplementedError

    def decision(self) -> dict:
        """``{"rule", "threshold", "prior", ...}``: the rule in words and its settings (for reports)."""
        out = {"rule": self.rule_text(), "threshold": self.threshold, "prior": self.analysis_prior,
               "borrow": self.borrow}
        if self.borrow != "none":
            out["historical"] = list(self.historical_data())
            out["a0"] = self.a0
            if self.borrow == "robust":
                out["robust_weight"] = self.robust_weight
        return out

    def historical_data(self) -> tuple[int, int]:
        return self.historical if self.historical is not None else STUDY_CONTROL

    def _binary_control_prior(self):
        initial = beta_prior(self.analysis_prior)
        if self.borrow == "none":
            return initial
        x0, n0 = self.historical_data()
        return borrowing_prior(self.borrow, x0=x0, n0=n0, a0=self.a0, w_vague=self.robust_weight, initial=initial)

    def _hazard_control_prior(self, horizon: float):
        a, b = hazard_prior(self.analysis_prior)
        if self.borrow == "none":
            return (a, b)
        d0, e0 = historical_hazard(*self.historical_data(), horizon)
        informative = (a + self.a0 * d0, b + self.a0 * e0)
        if self.borrow == "power":
            return informative
        if informative[1] <= 0:
            raise invalid("a0", "must be > 0 for a robust prior on a hazard with an improper analysis prior", self.a0)
        return robust_mixture(Gamma(*informative), self.robust_weight)

    def prior_ess(self, horizon: float | None = None) -> dict[str, float]:
        """Effective sample sizes of the analysis priors: patients for a beta prior, deaths for a gamma prior
        (moment-based for mixtures; an improper gamma prior counts its shape)."""
        if getattr(self, "endpoint", "survival_binary") == "survival":
            control = self._hazard_control_prior(8.0 if horizon is None else horizon)
            ess_c = control[0] if isinstance(control, tuple) else float(control.ess())
            return {"treatment": hazard_prior(self.analysis_prior)[0], "control": ess_c}
        return {"treatment": beta_prior(self.analysis_prior).ess(),
                "control": float(self._binary_control_prior().ess())}


@dataclass(frozen=True, kw_only=True)
class BayesTwoArmDesign(_Common):
    """Randomised treatment (arm 0) vs control (arm 1), success when ``P(treatment better | data) > threshold``.

    Parameters
    ----------
    threshold
        In (0, 1); required.
    endpoint, horizon, response_level, response_week
        As in :class:`~trialsim.design.rules.TwoArmDesign` (``"survival"``: gamma posteriors of the hazards).
    analysis_prior
        ``"uniform"`` (default), ``"jeffreys"`` or ``"A,B"`` (see the module docstring).
    margin
        Survival: success when ``P(hazard ratio < margin | data) > threshold`` (default 1).
    borrow, a0, robust_weight, historical
        The control's prior borrows ``historical = (x0, n0)`` (default 13/21 for the survival endpoints):
        ``"none"``, ``"power"`` (``a0``, default 1: pooling) or ``"robust"`` (``robust_weight`` on the vague
        component, default 0.2).

    Examples
    --------
    >>> from trialsim.model import default_model, default_trial
    >>> d = BayesTwoArmDesign(endpoint="survival_binary", threshold=0.975)
    >>> ex = d.exact(default_model(8.0), default_trial(40))
    >>> round(ex["power"], 4), round(ex["type_i_error"], 4)       # BinaryBayesRule(20, 20, 0.975) at 0.95, 13/21
    (0.7835, 0.0203)
    """

    threshold: float
    endpoint: Literal["survival", "survival_binary", "response"] = "survival"
    analysis_prior: str = "uniform"
    margin: float = 1.0
    borrow: str = "none"
    a0: float = 1.0
    robust_weight: float = 0.2
    historical: tuple[int, int] | None = None
    horizon: float | None = None
    response_level: Literal["cr_pr", "cr"] = "cr_pr"
    response_week: float = 8.0

    def __post_init__(self) -> None:
        me = "BayesTwoArmDesign"
        check_choice(f"{me}.endpoint", self.endpoint, ("survival", "survival_binary", "response"))
        self._check(me)
        check_choice(f"{me}.response_level", self.response_level, ("cr_pr", "cr"))
        check_positive(f"{me}.response_week", self.response_week)
        if self.borrow != "none" and self.endpoint == "response" and self.historical is None:
            raise invalid(f"{me}.historical", "is needed to borrow on response (the study reports no historical "
                          "control's response)", None)

    @property
    def needs_detail(self) -> bool:
        return self.endpoint == "response"

    def _frequentist(self) -> TwoArmDesign:
        return TwoArmDesign(endpoint=self.endpoint, horizon=self.horizon, response_level=self.response_level,
                            response_week=self.response_week)

    def groups(self, model: DiseaseModel) -> tuple[str, ...]:
        return tuple(model.arm_names[:2])

    def rule_text(self) -> str:
        if self.endpoint == "survival":
            return f"P(hazard ratio < {self.margin:g} | data) > {self.threshold:g}"
        level = "CR+PR" if self.response_level == "cr_pr" else "CR"
        what = "survival at the horizon" if self.endpoint == "survival_binary" else \
            f"{level} at week {self.response_week:g}"
        return f"P({what} higher on treatment | data) > {self.threshold:g}"

    def describe(self, trial: Trial | None = None) -> str:
        borrow = "" if self.borrow == "none" else \
            f", control borrowing {'%d/%d' % self.historical_data()} ({self.borrow}" + \
            (f" a0 {self.a0:g})" if self.borrow == "power" else f", weight {self.robust_weight:g} vague)")
        return f"randomised two-arm, Bayesian: {self.rule_text()} ({self.analysis_prior} priors{borrow})"

    def prepare_trial(self, trial: Trial) -> Trial:
        return trial

    def simulated_trials(self, model: DiseaseModel, trial: Trial) -> list[tuple[DiseaseModel, Trial]]:
        return self._frequentist().simulated_trials(model, trial)

    def analyse(self, batches: list[TrialBatch], trial: Trial) -> DesignOutcome:
        (batch,) = batches
        horizon = resolve_horizon(trial, self.horizon, field="BayesTwoArmDesign.horizon")
        treated = batch.arm == 0
        deaths = _deaths(batch, horizon, 2)
        if self.endpoint == "survival":
            time, event = truncate_at(batch, horizon)
            e_t, e_c = (time * treated).sum(axis=1), (time * ~treated).sum(axis=1)
            d_t, d_c = deaths[:, 0], deaths[:, 1]
            t_parts = _gamma_parts(hazard_prior(self.analysis_prior))
            c_parts = _gamma_parts(self._hazard_control_prior(horizon))
            # an improper prior (rate 0) needs exposure in its arm
            degenerate = (t_parts[0][2] + e_t <= 0) | (min(b for _, _, b in c_parts) + e_c <= 0)
            prob = np.zeros(batch.n_replicates)
            ok = ~degenerate
            if ok.any():
                prob[ok] = _prob_ratio_below(t_parts, c_parts, d_t[ok], e_t[ok], d_c[ok], e_c[ok], self.margin)
            return _outcome(batch, prob > self.threshold, prob, degenerate, deaths)
        if self.endpoint == "survival_binary":
            success, known = survival_status_at(batch, horizon)
        else:
            if batch.response is None:
                raise invalid("batches", "must carry the response at each visit (simulate with detail)", None)
            visit = int(np.argmin(np.abs(np.asarray(batch.visit_times) - self.response_week)))
            state = batch.response[:, :, visit]
            success = (state == CR) | ((state == PR) & (self.response_level == "cr_pr"))
            known = np.ones_like(success)
        x_t, n_t = (success & treated).sum(axis=1), (known & treated).sum(axis=1)
        x_c, n_c = (success & ~treated).sum(axis=1), (known & ~treated).sum(axis=1)
        degenerate = (n_t == 0) | (n_c == 0)
        prior_t, prior_c = beta_prior(self.analysis_prior), self._binary_control_prior()
        decide = np.zeros(batch.n_replicates, dtype=bool)
        prob = np.zeros(batch.n_replicates)
        for a, b in set(zip(n_t[~degenerate].tolist(), n_c[~degenerate].tolist())):
            rows = (n_t == a) & (n_c == b)
            rule = _binary_rule(a, b, self.threshold, prior_t, prior_c)
            decide[rows] = rule.decisions[x_t[rows], x_c[rows]]
            prob[rows] = rule.probabilities[x_t[rows], x_c[rows]]
        return _outcome(batch, decide, prob, degenerate, deaths)

    # ------------------------------------------------------------------------------- exact and analytic

    def _rates(self, model: DiseaseModel, trial: Trial, arm: int) -> float | None:
        """The probability that a patient of ``arm`` counts as a success, when every patient's outcome is an
        independent Bernoulli of known size (else ``None``)."""
        horizon = resolve_horizon(trial, self.horizon, field="BayesTwoArmDesign.horizon")
        if self.endpoint == "survival_binary":
            seen = observe(model, trial, arm, horizon, exposure=False)
            return seen.survival if seen.complete else None
        if reach_of(trial, self.response_week) < 1.0:
            return None
        eta = trial.dropout_hazard[arm]
        return response_probability(model, arm, self.response_week, self.response_level) * \
            math.exp(-eta * self.response_week)

    def arm_sizes(self, trial: Trial) -> list[tuple[float, tuple[int, int]]] | None:
        """``[(probability, (n_T, n_C)), ...]``: the arm sizes of unstratified permuted blocks (the last block
        cut short makes them random); ``None`` when stratified or with too many arrangements."""
        if trial.stratified:
            return None
        b = trial.effective_block_size
        full, rest = divmod(trial.n, b)
        patterns = block_patterns(trial.allocation, b)
        if patterns is None:
            return None
        unit = b // sum(trial.allocation)
        base = (full * trial.allocation[0] * unit, full * trial.allocation[1] * unit)
        counts: dict[tuple[int, int], float] = {}
        for row in patterns:
            t = int(np.sum(row[:rest] == 0))
            key = (base[0] + t, base[1] + rest - t)
            counts[key] = counts.get(key, 0.0) + 1.0 / len(patterns)
        return sorted(((p, k) for k, p in counts.items()), key=lambda pk: pk[1])

    def exact(self, model: DiseaseModel, trial: Trial) -> dict | None:
        """Exact operating characteristics by enumeration of all outcomes, for binary endpoints whose every
        patient is an independent Bernoulli (survival: every status known at the horizon; response: every visit
        reached): ``{"power", "type_i_error" (both arms at the control's rate), "max_type_i_error",
        "max_at", "p_treatment", "p_control"}``; ``None`` otherwise."""
        if self.endpoint == "survival":
            return None
        sizes = self.arm_sizes(trial)
        rates = [self._rates(model, trial, a) for a in (0, 1)]
        if sizes is None or rates[0] is None or rates[1] is None:
            return None
        prior_t, prior_c = beta_prior(self.analysis_prior), self._binary_control_prior()
        rules = [(p, _binary_rule(a, b, self.threshold, prior_t, prior_c)) for p, (a, b) in sizes if a and b]
        grid = np.linspace(0.001, 0.999, 999)

        def success(p_t, p_c):
            return sum(w * np.asarray(rule.success_probability(p_t, p_c)) for w, rule in rules)

        null = success(grid, grid)
        k = int(np.argmax(null))
        return {"power": float(success(rates[0], rates[1])), "type_i_error": float(success(rates[1], rates[1])),
                "max_type_i_error": float(null[k]), "max_at": float(grid[k]), "p_treatment": float(rates[0]),
                "p_control": float(rates[1])}

    def analytic_power(self, model: DiseaseModel, trial: Trial) -> AnalyticPower:
        """Exact by enumeration where :meth:`exact` applies; else a normal approximation: for binary endpoints
        the one-sided two-proportion test at ``1 - threshold`` (what the rule approximates with flat priors);
        for survival ``Phi((log margin - log HR) / sqrt(1 / (a_T + d_T) + 1 / (a_C + a0 d0 + d_C)) - z)``, ``z``
        the threshold's normal quantile, ``d`` the expected deaths and ``HR`` the average hazard ratio."""
        horizon = resolve_horizon(trial, self.horizon, field="BayesTwoArmDesign.horizon")
        seen = (observe(model, trial, 0, horizon, exposure=False), observe(model, trial, 1, horizon, exposure=False))
        deaths = deaths_by_arm(trial, list(seen))
        if self.endpoint == "survival":
            hr = average_hazard_ratio(model, horizon)
            a_t, _ = hazard_prior(self.analysis_prior)
            control = self._hazard_control_prior(horizon)
            a_c = control[0] if isinstance(control, tuple) else float(control.ess())
            sd = math.sqrt(1.0 / max(a_t + deaths[0], 1e-12) + 1.0 / max(a_c + deaths[1], 1e-12))
            power = float(special.ndtr((math.log(self.margin) - math.log(hr)) / sd - special.ndtri(self.threshold)))
            return AnalyticPower(power=power, method="normal approximation (log hazard ratio)",
                                 n_events_by_arm=deaths, hazard_ratio=hr)
        exact = self.exact(model, trial)
        if exact is not None:
            return AnalyticPower(power=exact["power"], method="exact (enumeration of all outcomes)",
                                 n_events_by_arm=deaths)
        p = [float(arm_survival(model, a, [horizon])[0]) if self.endpoint == "survival_binary" else
             response_probability(model, a, self.response_week, self.response_level) for a in (0, 1)]
        sizes = trial.n_per_arm()
        power = two_proportion_power(p[0], p[1], sizes[0], sizes[1], alpha=1.0 - self.threshold, sided=1) \
            if p[0] >= p[1] else 0.0
        return AnalyticPower(power=power, method="two proportions (normal), one-sided at 1 - threshold",
                             n_events_by_arm=deaths)


@dataclass(frozen=True, kw_only=True)
class BayesSingleArmDesign(_Common):
    """The treatment arm alone, success when ``P(treatment better than control | data) > threshold``, the control
    being the historical prior (``borrow`` ``"power"``, default, or ``"robust"``, from ``historical``, default
    13/21) or the fixed ``null_survival``.

    ``endpoint``: ``"survival_binary"`` (alive at the horizon, complete cases: ``P(p_T > p_C | x of m)``) or
    ``"survival"`` (``P(lambda_T < margin lambda_C | d, E)`` with ``lambda_C`` the historical gamma prior, or
    ``-log(null_survival) / horizon``).

    Examples
    --------
    >>> d = BayesSingleArmDesign(threshold=0.975)               # 13/21 historical, pooled: Beta(14, 9)
    >>> _single_rule(20, 0.975, d.control_prior(8.0), beta_prior("uniform")).k_star
    18
    """

    threshold: float
    endpoint: Literal["survival", "survival_binary"] = "survival_binary"
    analysis_prior: str = "uniform"
    margin: float = 1.0
    borrow: str = "power"
    a0: float = 1.0
    robust_weight: float = 0.2
    historical: tuple[int, int] | None = None
    null_survival: float | None = None
    horizon: float | None = None
    arm: int = 0

    def __post_init__(self) -> None:
        me = "BayesSingleArmDesign"
        check_choice(f"{me}.endpoint", self.endpoint, ("survival", "survival_binary"))
        self._check(me)
        if self.null_survival is not None:
            check_level(f"{me}.null_survival", self.null_survival)
        elif self.borrow == "none":
            raise invalid(f"{me}.borrow", "must be 'power' or 'robust' (the historical prior) unless null_survival "
                          "is given", self.borrow)
        check_count(f"{me}.arm", self.arm, minimum=0)

    needs_detail = False

    def _frequentist(self) -> SingleArmDesign:
        return SingleArmDesign(horizon=self.horizon, arm=self.arm)

    def groups(self, model: DiseaseModel) -> tuple[str, ...]:
        return (model.arm_names[self.arm],)

    def control_prior(self, horizon: float):
        """The control: a fixed rate (or hazard), or the historical beta (gamma) prior."""
        if self.endpoint == "survival":
            if self.null_survival is not None:
                return -math.log(self.null_survival) / horizon
            return self._hazard_control_prior(horizon)
        if self.null_survival is not None:
            return float(self.null_survival)
        return self._binary_control_prior()

    def rule_text(self) -> str:
        against = f"{self.null_survival:g}" if self.null_survival is not None else \
            "historical control %d/%d" % self.historical_data()
        if self.endpoint == "survival":
            return f"P(hazard ratio < {self.margin:g} against {against} | data) > {self.threshold:g}"
        return f"P(survival at the horizon above {against} | data) > {self.threshold:g}"

    def describe(self, trial: Trial | None = None) -> str:
        how = "" if self.null_survival is not None else \
            (f", {self.borrow} prior a0 {self.a0:g}" if self.borrow == "power" else
             f", robust prior weight {self.robust_weight:g} vague")
        return f"single arm, Bayesian: {self.rule_text()} ({self.analysis_prior} prior{how})"

    def prepare_trial(self, trial: Trial) -> Trial:
        return self._frequentist().prepare_trial(trial)

    def simulated_trials(self, model: DiseaseModel, trial: Trial) -> list[tuple[DiseaseModel, Trial]]:
        return self._frequentist().simulated_trials(model, trial)

    def analyse(self, batches: list[TrialBatch], trial: Trial) -> DesignOutcome:
        (batch,) = batches
        horizon = resolve_horizon(trial, self.horizon, field="BayesSingleArmDesign.horizon")
        deaths = _deaths(batch, horizon, 1)
        control = self.control_prior(horizon)
        if self.endpoint == "survival":
            time, _ = truncate_at(batch, horizon)
            exposure, d = time.sum(axis=1), deaths[:, 0]
            a, b = hazard_prior(self.analysis_prior)
            degenerate = (b + exposure) <= 0
            prob = np.zeros(batch.n_replicates)
            ok = ~degenerate
            if isinstance(control, float):           # a fixed hazard: P(lambda_T < margin lambda_0)
                prob[ok] = stats.gamma.cdf(self.margin * control * (b + exposure[ok]), a + d[ok])
            else:
                parts = _gamma_parts(control)
                for w, ac, bc in parts:
                    ratio = self.margin * (b + exposure[ok]) / bc
                    prob[ok] += w * special.betainc(a + d[ok], ac, ratio / (1.0 + ratio))
            return _outcome(batch, prob > self.threshold, prob, degenerate, deaths)
        alive, known = survival_status_at(batch, horizon)
        x, m = alive.sum(axis=1), known.sum(axis=1)
        degenerate = m == 0
        decide = np.zeros(batch.n_replicates, dtype=bool)
        prob = np.zeros(batch.n_replicates)
        prior = beta_prior(self.analysis_prior)
        for size in np.unique(m[m > 0]).tolist():
            rows = m == size
            rule = _single_rule(int(size), self.threshold, control, prior)
            decide[rows] = x[rows] >= rule.k_star
            table = np.array([rule.posterior_probability(k) for k in range(int(size) + 1)])
            prob[rows] = table[x[rows]]
        return _outcome(batch, decide, prob, degenerate, deaths)

    def analytic_power(self, model: DiseaseModel, trial: Trial) -> AnalyticPower:
        """Exact for survival at the horizon: ``sum_m P(M = m) P(Bin(m, p) >= k*(m))`` over the number ``M`` of
        patients of known status; for survival a normal approximation on the log hazard."""
        trial = self.prepare_trial(trial)
        horizon = resolve_horizon(trial, self.horizon, field="BayesSingleArmDesign.horizon")
        seen = observe(model, trial, self.arm, horizon, exposure=self.endpoint == "survival")
        deaths = deaths_by_arm(trial, [seen])
        control = self.control_prior(horizon)
        if self.endpoint == "survival_binary":
            prior = beta_prior(self.analysis_prior)
            sizes = [trial.n] if seen.complete else list(range(1, trial.n + 1))
            weights = [1.0] if seen.complete else stats.binom.pmf(sizes, trial.n, seen.known)
            p = seen.alive_if_known
            power = sum(w * float(_single_rule(m, self.threshold, control, prior).success_probability(p))
                        for m, w in zip(sizes, weights) if w > 1e-15)
            return AnalyticPower(power=float(power), method="exact (binomial, complete cases)", n_events_by_arm=deaths)
        a, _ = hazard_prior(self.analysis_prior)
        lam_t = -math.log(seen.survival) / horizon
        if isinstance(control, float):
            lam_c, var_c = control, 0.0
        else:
            lam_c, var_c = float(control[0] / control[1]) if isinstance(control, tuple) else float(control.mean()), \
                1.0 / (control[0] if isinstance(control, tuple) else float(control.ess()))
        sd = math.sqrt(1.0 / max(a + deaths[0], 1e-12) + var_c)
        power = float(special.ndtr((math.log(self.margin * lam_c) - math.log(lam_t)) / sd
                                   - special.ndtri(self.threshold)))
        return AnalyticPower(power=power, method="normal approximation (log hazard)", n_events_by_arm=deaths,
                             hazard_ratio=lam_t / lam_c)


BayesDesign = BayesTwoArmDesign | BayesSingleArmDesign
#: Scenario-file design kinds with ``decision = "bayes"``.
BAYES_DESIGNS: dict[str, type] = {"two_arm": BayesTwoArmDesign, "single_arm": BayesSingleArmDesign}

