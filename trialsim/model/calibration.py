"""Calibration: the published targets -> the parameters of the CTD-MAS model.

Every model value here is exact (matrix exponentials of the generators, a finite sum over visit paths, a
normal CDF), not simulated, so calibration is deterministic and fast.

Steps (each documented in ``docs/model.md``):

1. Ruxolitinib response and death. For the refractory fraction and the two response rates, the NR death hazard
   is solved exactly (root of survival at the horizon = 19/20); the three free parameters minimise the weighted
   squared distance to the response panel (PR week 1, CR weeks 1, 3, 8, PR and NR-alive week 8, dead week 8).
2. Control death hazard: root of survival at the horizon = 13/21, with the control response structure fixed by
   :class:`~trialsim.model.Assumptions`.
3. Taper rate: root of median dose at week 8 (patients alive) = 0.5 mg/kg/day.
4. CMV hazard: root of P(infection by week 8) = 4/20, death competing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from scipy import optimize, special

from .display import Tabular, records_table
from .disease import CR, DEAD, NR, PR, ArmModel, BaselineMix, DiseaseModel, Infection, ResponseProcess, Taper
from ..exceptions import invalid
from .numerics import clopper_pearson, expm
from .validation import check_positive
from .study import ASSUMPTIONS, DEFAULT_HORIZON_WEEKS, TARGETS, TARGETS_BY_NAME, Assumptions, Target

__all__ = ["calibrate", "CalibrationResult", "TargetRow", "model_values", "dose_quantile", "infection_probability",
           "state_probabilities", "default_model"]

DOSE_TOLERANCE = 0.05  # mg/kg/day: a median dose counts as reproduced when within this of the reported value
_WEEKLY_VISITS = tuple(float(w) for w in range(1, 9))  # the study's assessments, weeks 1 to 8


@dataclass(frozen=True, kw_only=True, slots=True)
class TargetRow:
    """A target beside the calibrated model's exact value."""

    name: str
    description: str
    observed: float
    ci_low: float | None
    ci_high: float | None
    model: float
    inside: bool
    count: int | None = None
    size: int | None = None

    def to_dict(self) -> dict:
        return {"name": self.name, "description": self.description, "observed": self.observed,
                "ci_low": self.ci_low, "ci_high": self.ci_high, "model": self.model, "inside": self.inside,
                "count": self.count, "size": self.size}


@dataclass(frozen=True, kw_only=True, slots=True)
class CalibrationResult(Tabular):
    """The calibrated model, each target against it, and the fitted parameters with their meaning and units.

    ``to_frame()`` and the notebook view give one row per target (observed, exact interval, model, inside).
    """

    horizon_weeks: float
    model: DiseaseModel
    targets: tuple[TargetRow, ...]
    parameters: dict
    assumptions: Assumptions

    @property
    def all_inside(self) -> bool:
        return all(t.inside for t in self.targets)

    def target(self, name: str) -> TargetRow:
        for t in self.targets:
            if t.name == name:
                return t
        raise KeyError(name)

    def _table(self) -> tuple[list[str], list[list[Any]]]:
        return records_table([t.to_dict() for t in self.targets])

    def to_dict(self) -> dict:
        return {"horizon_weeks": self.horizon_weeks, "targets": [t.to_dict() for t in self.targets],
                "parameters": {k: v["value"] for k, v in self.parameters.items()},
                "parameter_details": self.parameters}


# ---------------------------------------------------------------------------------------- exact quantities


def state_probabilities(process: ResponseProcess, times, baseline: BaselineMix) -> np.ndarray:
    """P(state at t), averaged over the disease strata (their death hazard multipliers)."""
    # (the built-in sum starts from 0: an array unless there are no strata, which BaselineMix does not allow)
    return np.asarray(sum(w * process.state_probabilities(times, m) for w, m in baseline.strata()))


def _path_classes(process: ResponseProcess, visits: np.ndarray, multiplier: float) -> tuple[np.ndarray, np.ndarray]:
    """Distribution of visit paths, up to the last of ``visits``, of patients alive at the last visit.

    Returns ``(prob, counts)``: ``counts[c]`` is the number of visits spent in NR, PR, CR along path class c
    (what the taper depends on), ``prob[c]`` its probability (movers and stayers mixed).
    """
    pi = process.refractory_fraction
    total: dict[tuple, float] = {}
    for share, q in ((1 - pi, process.generator(multiplier)), (pi, process.refractory_generator(multiplier))):
        if share <= 0:
            continue
        dist = {(NR, 0, 0, 0): share}
        prev = 0.0
        for v in visits:
            step = expm(q * (v - prev))
            prev = v
            nxt: dict[tuple, float] = {}
            for (s, *counts), p in dist.items():
                for s2 in (NR, PR, CR):
                    p2 = p * step[s, s2]
                    if p2 <= 0:
                        continue
                    c2 = list(counts)
                    c2[s2] += 1
                    key = (s2, *c2)
                    nxt[key] = nxt.get(key, 0.0) + p2
            dist = nxt
        for (s, *counts), p in dist.items():
            key = tuple(counts)
            total[key] = total.get(key, 0.0) + p
    classes = np.array(list(total.keys()), dtype=float).reshape(-1, 3)
    return np.array(list(total.values())), classes


def dose_quantile(arm: ArmModel, baseline: BaselineMix, visit_times, week: float, q: float = 0.5) -> float:
    """Exact q-quantile of the glucocorticoid dose at ``week`` among patients alive then.

    The log dose after the visits up to ``week`` is ``log d0 + sum_v log_factor[state_v]``, with log d0 normal;
    given the path it is normal, so the dose distribution is a finite normal mixture on the log scale.
    """
    visits = np.array([v for v in visit_times if v <= week + 1e-12])
    mu0 = math.log(arm.taper.start_dose_median)
    sd = arm.taper.start_dose_sd_log
    if visits.size == 0:
        return float(math.exp(mu0 + sd * special.ndtri(q)))
    probs, shifts = [], []
    for w, m in baseline.strata():
        if w <= 0:
            continue
        p, counts = _path_classes(arm.response, visits, m)
        probs.append(w * p)
        shifts.append(counts @ arm.taper.log_factors())
    p = np.concatenate(probs)
    loc = mu0 + np.concatenate(shifts)
    p = p / p.sum()
    if sd == 0:
        order = np.argsort(loc)
        cum = np.cumsum(p[order])
        return float(math.exp(loc[order][np.searchsorted(cum, q - 1e-12)]))

    def excess(x: float) -> float:
        return float(p @ special.ndtr((x - loc) / sd)) - q

    lo, hi = loc.min() - 10 * sd, loc.max() + 10 * sd
    return float(math.exp(optimize.brentq(excess, lo, hi, xtol=1e-12)))


def infection_probability(arm: ArmModel, baseline: BaselineMix, week: float,
                          visit_times: Sequence[float] = _WEEKLY_VISITS) -> float:
    """Exact P(CMV infection by ``week``) with death competing.

    Constant hazard: the chain gets a fifth, absorbing state "infected" entered at rate ``hazard`` from every
    living state; its probability at ``week`` is read off ``expm(Q5 * week)``.

    Dose-dependent hazard (``hazard * dose(t) / reference_dose``): see :func:`_infection_dose_dependent`.
    """
    if arm.infection.dose_dependent:
        return _infection_dose_dependent(arm, baseline, week, visit_times)
    c = arm.infection.hazard
    out = 0.0
    proc = arm.response
    for w, m in baseline.strata():
        for share, q in ((1 - proc.refractory_fraction, proc.generator(m)),
                         (proc.refractory_fraction, proc.refractory_generator(m))):
            if share <= 0:
                continue
            q5 = np.zeros((5, 5))
            q5[:4, :4] = q
            for s in (NR, PR, CR):
                q5[s, 4] = c
                q5[s, s] -= c
            out += w * share * expm(q5 * week)[NR, 4]
    return float(out)


_HERMITE_NODES, _HERMITE_WEIGHTS = np.polynomial.hermite_e.hermegauss(24)
_HERMITE_WEIGHTS = _HERMITE_WEIGHTS / _HERMITE_WEIGHTS.sum()
_LEGENDRE_NODES, _LEGENDRE_WEIGHTS = np.polynomial.legendre.leggauss(20)


def _infection_dose_dependent(arm: ArmModel, baseline: BaselineMix, week: float,
                              visit_times: Sequence[float]) -> float:
    """P(infection by ``week``) when the hazard is proportional to the current dose.

    Between visits the dose D is constant, so the infection hazard kappa = c D / ref kills every living state
    at the same rate: the infection-free transition among living states over an interval of length L is
    ``exp(-kappa L) expm(Q_LL L)``, and the mass that dies infection-free in it is
    ``int_0^L exp(-kappa u) [expm(Q_LL u) q_LD] du`` (Gauss-Legendre, 20 nodes: the integrand is smooth).
    D depends on the starting dose (log-normal: Gauss-Hermite, 24 nodes) and on the visit path so far (a sum
    over path classes, as for the dose median). Exact up to the two quadratures (error < 1e-10 here).
    """
    inf = arm.infection
    taper = arm.taper
    log_f = taper.log_factors()
    d0 = taper.start_dose_median * np.exp(taper.start_dose_sd_log * _HERMITE_NODES)
    edges = [v for v in visit_times if v < week] + [week]
    proc = arm.response
    no_infection = 0.0
    for w, m in baseline.strata():
        for share, q in ((1 - proc.refractory_fraction, proc.generator(m)),
                         (proc.refractory_fraction, proc.refractory_generator(m))):
            if share <= 0:
                continue
            q_ll, q_ld = q[:3, :3], q[:3, DEAD]
            dist = {(NR, 0, 0, 0): np.full(d0.size, share)}
            dead_free = np.zeros(d0.size)
            prev = 0.0
            for j, edge in enumerate(edges):
                length = edge - prev
                prev = edge
                step = expm(q_ll * length)
                u = 0.5 * length * (_LEGENDRE_NODES + 1)
                density = np.stack([expm(q_ll * uk) @ q_ld for uk in u])  # (nodes, 3): death density by start
                gl = 0.5 * length * _LEGENDRE_WEIGHTS
                at_visit = j < len(edges) - 1 or edge in visit_times
                nxt: dict[tuple, np.ndarray] = {}
                for (s, *counts), mass in dist.items():
                    kappa = inf.hazard * d0 * math.exp(float(np.dot(counts, log_f))) / inf.reference_dose
                    dead_free += mass * (np.exp(-np.outer(kappa, u)) @ (gl * density[:, s]))
                    survive = mass * np.exp(-kappa * length)
                    for s2 in (NR, PR, CR):
                        if step[s, s2] <= 0:
                            continue
                        c2 = list(counts)
                        if at_visit:
                            c2[s2] += 1
                        key = (s2, *c2)
                        nxt[key] = nxt.get(key, 0.0) + survive * step[s, s2]
                dist = nxt
            alive_free = sum(dist.values()) if dist else 0.0
            no_infection += w * float(_HERMITE_WEIGHTS @ (alive_free + dead_free))
    return 1.0 - no_infection


def model_values(model: DiseaseModel, horizon_weeks: float) -> dict[str, float]:
    """The calibrated model's exact value of every target (proportions as fractions, doses in mg/kg/day).

    ``model`` has the calibrated model's shape: two :class:`ArmModel` arms, ruxolitinib then control.
    """
    rux, control = model.arms[0], model.arms[1]
    if not isinstance(rux, ArmModel) or not isinstance(control, ArmModel):
        raise invalid("model.arms", "must be two ArmModel arms (ruxolitinib, control) to compare with the study",
                      tuple(type(a).__name__ for a in model.arms))
    base = model.baseline
    p = state_probabilities(rux.response, [1.0, 3.0, 8.0], base)

    def surv(arm: ArmModel) -> float:
        return float(1 - state_probabilities(arm.response, [horizon_weeks], base)[0, DEAD])

    return {
        "survival_ruxolitinib": surv(rux),
        "survival_control": surv(control),
        "pr_week1": p[0, PR], "cr_week1": p[0, CR], "cr_week3": p[1, CR],
        "cr_week8": p[2, CR], "pr_week8": p[2, PR], "nr_alive_week8": p[2, NR], "dead_week8": p[2, DEAD],
        "cmv_week8": infection_probability(rux, base, 8.0, model.visit_times),
        "dose_median_week0": rux.taper.start_dose_median,
        "dose_median_week8": dose_quantile(rux, base, model.visit_times, 8.0),
        "female": base.female_fraction,
        "disease_aosd": base.disease_fractions[0], "disease_sle": base.disease_fractions[1],
        "disease_other": base.disease_fractions[2],
    }


# ------------------------------------------------------------------------------------------------ fitting


def _death_hazard_for_survival(make, survival: float, horizon: float, baseline: BaselineMix) -> float:
    """Root in the NR death hazard of survival(horizon) = ``survival``; ``make(mu)`` builds the process."""
    def gap(log_mu):
        proc = make(math.exp(log_mu))
        return float(1 - state_probabilities(proc, [horizon], baseline)[0, DEAD]) - survival

    return math.exp(optimize.brentq(gap, math.log(1e-8), math.log(50.0), xtol=1e-13))


def _fit_ruxolitinib(horizon: float, a: Assumptions, baseline: BaselineMix) -> ResponseProcess:
    panel: list[tuple[Target, float]] = []  # the weighted targets and their weeks
    for t in TARGETS:
        if t.arm == "ruxolitinib" and t.weight > 0:
            assert t.week is not None  # the weighted targets are the response panel, each at its week
            panel.append((t, t.week))
    weeks = sorted({week for _, week in panel})
    index = {w: i for i, w in enumerate(weeks)}
    state_of = {"pr": PR, "cr": CR, "nr": NR, "dead": DEAD}
    survival = TARGETS_BY_NAME["survival_ruxolitinib"].observed

    def process(theta, mu=0.0):
        pi, rate_pr, rate_cr = 1 / (1 + math.exp(-theta[0])), math.exp(theta[1]), math.exp(theta[2])
        return ResponseProcess(refractory_fraction=pi, rate_nr_pr=rate_pr, rate_pr_cr=rate_cr,
                               relapse_rate=a.relapse_rate, death_hazard_nr=mu,
                               death_hazard_ratio_pr=a.death_hazard_ratio_pr,
                               death_hazard_ratio_cr=a.death_hazard_ratio_cr)

    def complete(theta):
        mu = _death_hazard_for_survival(lambda m: process(theta, m), survival, horizon, baseline)
        return process(theta, mu)

    def residuals(theta):
        probs = state_probabilities(complete(theta), weeks, baseline)
        out = []
        for t, week in panel:
            state = state_of[t.name.split("_")[0]]
            out.append(math.sqrt(t.weight) * (probs[index[week], state] - t.observed))
        return np.array(out)

    start = np.array([math.log(0.18 / 0.82), math.log(0.8), math.log(0.07)])
    fit = optimize.least_squares(residuals, start, method="trf", x_scale=1.0, xtol=1e-10, ftol=1e-12)
    return complete(fit.x)




def _observed_interval(t: Target) -> tuple[float, float] | None:
    """The exact 95% interval of a proportion (as R's binom.test); ``None`` for a value (a median dose)."""
    if t.count is None or t.size is None:
        return None
    low, high = clopper_pearson(t.count, t.size, 0.025, 0.025)
    return float(low), float(high)


def calibrate(horizon_weeks: float = DEFAULT_HORIZON_WEEKS, *, assumptions: Assumptions = ASSUMPTIONS,
              baseline: BaselineMix | None = None) -> CalibrationResult:
    """Fit the CTD-MAS model to the published targets.

    Parameters
    ----------
    horizon_weeks
        Week at which the survival counts (19/20, 13/21) are read. The abstract does not say; 8 by default.
    assumptions
        The numbers the abstract does not give (see :class:`~trialsim.model.Assumptions`).
    baseline
        Baseline mix (default: 17/20 female; AOSD 13, SLE 4, other 3; no outcome difference by disease).

    Returns
    -------
    CalibrationResult
        ``.model`` (arms ruxolitinib, control), ``.targets`` (observed with Clopper-Pearson 95% interval, exact
        model value, inside or not), ``.parameters`` (value, unit, meaning).
    """
    horizon = check_positive("horizon_weeks", horizon_weeks)
    baseline = baseline or BaselineMix()

    rux_response = _fit_ruxolitinib(horizon, assumptions, baseline)

    def control_process(mu: float) -> ResponseProcess:
        s = assumptions.control_response_speed
        return ResponseProcess(refractory_fraction=assumptions.control_refractory_fraction,
                               rate_nr_pr=rux_response.rate_nr_pr * s, rate_pr_cr=rux_response.rate_pr_cr * s,
                               relapse_rate=assumptions.relapse_rate, death_hazard_nr=mu,
                               death_hazard_ratio_pr=assumptions.death_hazard_ratio_pr,
                               death_hazard_ratio_cr=assumptions.death_hazard_ratio_cr)

    mu_control = _death_hazard_for_survival(control_process, TARGETS_BY_NAME["survival_control"].observed,
                                            horizon, baseline)
    control_response = control_process(mu_control)

    visit_times = _WEEKLY_VISITS
    dose_target = TARGETS_BY_NAME["dose_median_week8"].observed
    start_dose = TARGETS_BY_NAME["dose_median_week0"].observed

    def taper(rate: float) -> Taper:
        return Taper(start_dose_median=start_dose, start_dose_sd_log=assumptions.start_dose_sd_log, rate=rate,
                     weight_nr=assumptions.taper_weight_nr, weight_pr=assumptions.taper_weight_pr,
                     weight_cr=assumptions.taper_weight_cr)

    def dose_gap(rate: float) -> float:
        arm = ArmModel(response=rux_response, taper=taper(rate))
        return dose_quantile(arm, baseline, visit_times, 8.0) - dose_target

    taper_rate = optimize.brentq(dose_gap, 1e-6, 5.0, xtol=1e-12)
    the_taper = taper(taper_rate)

    cmv_target = TARGETS_BY_NAME["cmv_week8"].observed

    def cmv_gap(log_c: float) -> float:
        arm = ArmModel(response=rux_response, taper=the_taper, infection=infection(math.exp(log_c)))
        return infection_probability(arm, baseline, 8.0, visit_times) - cmv_target

    def infection(hazard: float) -> Infection:
        return Infection(hazard=hazard, dose_dependent=assumptions.infection_dose_dependent,
                         reference_dose=start_dose)

    cmv_hazard = math.exp(optimize.brentq(cmv_gap, math.log(1e-6), math.log(10.0), xtol=1e-13))
    the_infection = infection(cmv_hazard)

    rux_arm = ArmModel(response=rux_response, taper=the_taper, infection=the_infection)
    control_arm = ArmModel(response=control_response, taper=the_taper, infection=the_infection)
    model = DiseaseModel(arms=(rux_arm, control_arm), arm_names=("ruxolitinib", "control"), baseline=baseline,
                         visit_times=visit_times)

    values = model_values(model, horizon)
    rows = []
    for t in TARGETS:
        interval = _observed_interval(t)
        value = float(values[t.name])
        low, high = interval if interval is not None else (None, None)
        if interval is None:
            inside = abs(value - t.observed) <= DOSE_TOLERANCE
        else:
            inside = interval[0] - 1e-12 <= value <= interval[1] + 1e-12
        rows.append(TargetRow(name=t.name, description=t.description, observed=t.observed, ci_low=low,
                              ci_high=high, model=value, inside=bool(inside), count=t.count, size=t.size))

    return CalibrationResult(horizon_weeks=horizon, model=model, targets=tuple(rows),
                             parameters=_parameter_table(rux_arm, control_arm, assumptions), assumptions=assumptions)


def _parameter_table(rux: ArmModel, ctl: ArmModel, a: Assumptions) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}

    def add(name: str, value: float, unit: str, meaning: str, fitted: bool = True) -> None:
        rows[name] = {"value": float(value), "unit": unit, "meaning": meaning,
                      "source": "fitted" if fitted else "assumption (docs/model.md)"}

    add("rux_refractory_fraction", rux.response.refractory_fraction, "fraction",
        "ruxolitinib patients who never respond (stay NR)")
    add("rux_rate_nr_pr", rux.response.rate_nr_pr, "per week", "NR -> PR rate of ruxolitinib responders")
    add("rux_rate_pr_cr", rux.response.rate_pr_cr, "per week", "PR -> CR rate of ruxolitinib responders")
    add("rux_death_hazard_nr", rux.response.death_hazard_nr, "per week", "death hazard in NR, ruxolitinib")
    add("control_death_hazard_nr", ctl.response.death_hazard_nr, "per week", "death hazard in NR, control")
    add("taper_rate", rux.taper.rate, "log-dose per visit in PR",
        "dose multiplied by exp(-rate * weight[state]) at each weekly visit")
    if rux.infection.dose_dependent:
        add("cmv_hazard", rux.infection.hazard, "per week at 2.7 mg/kg/day",
            "CMV infection hazard while alive, proportional to the current dose (both arms)")
    else:
        add("cmv_hazard", rux.infection.hazard, "per week", "CMV infection hazard while alive (both arms)")
    add("control_refractory_fraction", ctl.response.refractory_fraction, "fraction",
        "control patients who never respond", fitted=False)
    add("control_rate_nr_pr", ctl.response.rate_nr_pr, "per week",
        f"control NR -> PR rate ({a.control_response_speed:g} x ruxolitinib)", fitted=False)
    add("control_rate_pr_cr", ctl.response.rate_pr_cr, "per week",
        f"control PR -> CR rate ({a.control_response_speed:g} x ruxolitinib)", fitted=False)
    add("death_hazard_ratio_pr", a.death_hazard_ratio_pr, "ratio", "death hazard in PR relative to NR", False)
    add("death_hazard_ratio_cr", a.death_hazard_ratio_cr, "ratio", "death hazard in CR relative to NR", False)
    add("relapse_rate", a.relapse_rate, "per week", "CR -> PR and PR -> NR rate", False)
    rows["start_dose_median"] = {"value": float(rux.taper.start_dose_median), "unit": "mg/kg/day",
                                 "meaning": "median starting glucocorticoid dose",
                                 "source": "abstract (median 2.7 mg/kg/day)"}
    add("start_dose_sd_log", a.start_dose_sd_log, "log scale", "spread of the starting dose (log-normal SD)", False)
    add("taper_weight_nr", a.taper_weight_nr, "ratio", "taper speed in NR relative to PR", False)
    add("taper_weight_cr", a.taper_weight_cr, "ratio", "taper speed in CR relative to PR", False)
    return rows


@lru_cache(maxsize=32)
def default_model(horizon_weeks: float = DEFAULT_HORIZON_WEEKS, assumptions: Assumptions = ASSUMPTIONS) -> DiseaseModel:
    """The calibrated CTD-MAS model: arms (ruxolitinib, control), calibrated at the given survival horizon.

    The one place the default model comes from (cached: calibration takes a fraction of a second).
    """
    return calibrate(horizon_weeks=horizon_weeks, assumptions=assumptions).model
