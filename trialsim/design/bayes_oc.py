"""Frequentist operating characteristics of a Bayesian rule, and what borrowing costs under prior-data conflict.

:func:`bayes_operating_characteristics` simulates the rule's probability of success under the planning model (its
power) and under the null model (both arms the control arm: its type I error), with the same seed, and adds the
exact values by enumeration where the design has them (:meth:`~trialsim.design.bayes_design.BayesTwoArmDesign.
exact`) and the priors' effective sample sizes.

:func:`conflict_table` does the same as the true control survival at the horizon runs over a grid (the historical
controls sicker or healthier than today's): at each point the control arm is the model's, its death hazards scaled
to that survival (:func:`~trialsim.design.truths.scale_survival`); the null has both arms so, and the alternative
keeps the model's average hazard ratio (``S_T = S_C^HR``). Every point uses the same seed (common random numbers).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..engines.seeding import Seed, root_sequence, seed_record
from ..exceptions import invalid
from ..model import DiseaseModel, Trial
from ..model.validation import check_numbers, check_level
from .analytic import arm_survival, average_hazard_ratio, resolve_horizon
from .bayes_design import BayesSingleArmDesign, BayesTwoArmDesign, null_model
from .montecarlo import Backend, Engine
from .sizing import PowerResult, power
from .truths import scale_survival, truth_model

__all__ = ["BayesOC", "bayes_operating_characteristics", "ConflictRow", "conflict_table"]


@dataclass(frozen=True, kw_only=True)
class BayesOC:
    """Power (``power``, under the model) and type I error (``type_i``, under :func:`null_model`) of a rule,
    simulated; ``exact`` from enumeration (``None`` where not available); the priors' ESS."""

    power: PowerResult
    type_i: PowerResult
    exact: dict | None
    ess: dict[str, float]
    decision: dict

    def to_dict(self) -> dict:
        """``{"rule", "threshold", "prior", ..., "type_i_error", "type_i_standard_error", "power", ...}``."""
        out = dict(self.decision)
        out.update({"type_i_error": self.type_i.power, "type_i_standard_error": self.type_i.standard_error,
                    "power": self.power.power, "power_standard_error": self.power.standard_error,
                    "exact": self.exact, "ess": self.ess})
        return out


def _check(design) -> None:
    if not isinstance(design, (BayesTwoArmDesign, BayesSingleArmDesign)):
        raise invalid("design", "must be a Bayesian design (BayesTwoArmDesign or BayesSingleArmDesign)",
                      type(design).__name__)


def bayes_operating_characteristics(model: DiseaseModel, trial: Trial, design, *, n_replicates: int = 10_000,
                                    seed: Seed = None, n_jobs: int | None = None, backend: Backend = "loky",
                                    scheduler: str | None = None, engine: Engine = "auto",
                                    progress: Callable[[int, int], None] | None = None) -> BayesOC:
    """Simulated power and type I error of a Bayesian rule (same root seed for both), with the exact values
    where available (binary endpoints with every outcome a known Bernoulli: two arms by enumeration, a single arm
    by the binomial distribution).

    Examples
    --------
    >>> from trialsim.model import default_model, default_trial
    >>> from trialsim.design.bayes_design import BayesTwoArmDesign
    >>> oc = bayes_operating_characteristics(default_model(8.0), default_trial(40),
    ...     BayesTwoArmDesign(endpoint="survival_binary", threshold=0.975), n_replicates=2000, seed=1, n_jobs=1)
    >>> round(oc.exact["type_i_error"], 4), oc.type_i.n_replicates
    (0.0203, 2000)
    """
    _check(design)
    root = root_sequence(seed)
    options: dict[str, Any] = dict(n_replicates=n_replicates, n_jobs=n_jobs, backend=backend, scheduler=scheduler,
                                   engine=engine, progress=progress)
    alt = power(model, trial, design, seed=root, **options)
    null = power(null_model(model), trial, design, seed=root, **options)
    exact = design.exact(model, design.prepare_trial(trial)) if isinstance(design, BayesTwoArmDesign) else None
    horizon = resolve_horizon(design.prepare_trial(trial), design.horizon)
    if isinstance(design, BayesSingleArmDesign) and design.endpoint == "survival_binary":
        exact = {"power": alt.analytic_power, "type_i_error": null.analytic_power,
                 "p_control": float(arm_survival(model, 1, [horizon])[0])}
    return BayesOC(power=alt, type_i=null, exact=exact, ess=design.prior_ess(horizon), decision=design.decision())


@dataclass(frozen=True, kw_only=True)
class ConflictRow:
    """One true control survival: the treatment's under the alternative, and the rule's type I error and power,
    simulated (with standard errors) and exact (``nan`` where not available)."""

    control_survival: float
    treatment_survival: float
    type_i_error: float
    type_i_standard_error: float
    type_i_exact: float
    power: float
    power_standard_error: float
    power_exact: float


def conflict_table(model: DiseaseModel, trial: Trial, design, control_survival: Sequence[float], *,
                   hazard_ratio: float | None = None, n_replicates: int = 10_000, seed: Seed = None,
                   n_jobs: int | None = None, backend: Backend = "loky", scheduler: str | None = None,
                   engine: Engine = "auto", progress: Callable[[int, int], None] | None = None) -> dict:
    """Type I error and power of ``design`` as the true control survival at the horizon runs over
    ``control_survival`` (see the module docstring). ``hazard_ratio``: the alternative's (default: the model's
    average hazard ratio at the horizon).

    Returns ``{"rows": [ConflictRow, ...], "hazard_ratio", "ess", "decision", "seed"}``.
    """
    _check(design)
    grid = check_numbers("control_survival", control_survival, check_level)
    run_trial = design.prepare_trial(trial)
    horizon = resolve_horizon(run_trial, design.horizon)
    hr = average_hazard_ratio(model, horizon) if hazard_ratio is None else float(hazard_ratio)
    strata = model.baseline.strata()
    s_c = np.array(grid)
    s_t = s_c ** hr
    control = scale_survival(model.arms[1], strata, horizon, s_c)
    treated = scale_survival(model.arms[0], strata, horizon, s_t)
    root = root_sequence(seed)
    rows = []
    for k in range(s_c.size):
        scaled = truth_model(model, (treated, control), k)
        null = replace(scaled, arms=(scaled.arms[1], scaled.arms[1]))
        options: dict[str, Any] = dict(n_replicates=n_replicates, seed=root, n_jobs=n_jobs, backend=backend,
                                       scheduler=scheduler, engine=engine, progress=progress)
        alt, zero = power(scaled, trial, design, **options), power(null, trial, design, **options)
        exact = design.exact(scaled, run_trial) if isinstance(design, BayesTwoArmDesign) else None
        exact_null = design.exact(null, run_trial) if isinstance(design, BayesTwoArmDesign) else None
        if isinstance(design, BayesSingleArmDesign) and design.endpoint == "survival_binary":
            exact = {"power": alt.analytic_power}
            exact_null = {"power": zero.analytic_power}
        rows.append(ConflictRow(control_survival=float(s_c[k]), treatment_survival=float(s_t[k]),
                                type_i_error=zero.power, type_i_standard_error=zero.standard_error,
                                type_i_exact=float("nan") if exact_null is None else exact_null["power"],
                                power=alt.power, power_standard_error=alt.standard_error,
                                power_exact=float("nan") if exact is None else exact["power"]))
    return {"rows": rows, "hazard_ratio": hr, "ess": design.prior_ess(horizon), "decision": design.decision(),
            "seed": seed_record(root)[0]}
