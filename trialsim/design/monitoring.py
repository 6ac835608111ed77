"""Single-arm monitored designs (Simon two-stage, Lee and Liu predictive probability) simulated under a model.

The exact operating characteristics of :mod:`trialsim.design.simon` and :mod:`trialsim.design.predictive` assume
each patient's outcome is an independent Bernoulli with a known rate. Here the trial is simulated under a disease
model (the calibrated CTD-MAS arm by default): the single arm's patients are drawn by the engines, and each
patient's outcome is *alive at the horizon* (``"survival_binary"``; a patient whose status is unknown, lost
before the horizon, counts as a failure) or *response at the visit* (``"response"``: CR + PR, or CR; an
unobserved visit is a non-response, death a failure). Patients are counted in order of enrolment: at a look after
``n_k`` patients the trial stops for futility when at most ``f_k`` of them succeeded and for efficacy when at least
``e_k`` did; at the end it succeeds with at least ``k*`` of ``N``. Simon's design is the look ``n1`` with
``f = r1`` and ``k* = r + 1``.

Reported: the probability of declaring the treatment promising (efficacy stop or final success), of stopping
early, and the expected number of patients, each with its Monte Carlo standard error, beside the exact values at
the model's own rate (they agree when every status is known, which the tests check within 4 standard errors).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from ..engines.seeding import CHUNK_SIZE, Seed, chunk_bounds, chunk_streams, root_sequence, seed_record
from ..exceptions import invalid
from ..model import CR, PR, Accrual, DiseaseModel, Trial
from ..model.validation import check_choice, check_count, check_positive
from .analytic import arm_survival, response_probability
from .montecarlo import Backend, Engine, choose_engine, execute
from .predictive import PredictiveDesign
from .rules import survival_status_at
from .simon import SimonDesign, simon_oc

__all__ = ["MonitoringOC", "monitoring_oc", "boundaries"]


def boundaries(design) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], int, int]:
    """``(looks, futility bounds, efficacy bounds, k*, N)`` of a Simon or predictive design (stop for futility
    when ``x <= f``, for efficacy when ``x >= e``; success at the end when ``x >= k*``)."""
    if isinstance(design, SimonDesign):
        return (design.n1,), (design.r1,), (design.n1 + 1,), design.r + 1, design.n
    if isinstance(design, PredictiveDesign):
        return (tuple(design.looks or ()), tuple(design.futility_bounds), tuple(design.efficacy_bounds),
                design.k_star, design.n_max)
    raise invalid("design", "must be a SimonDesign or a PredictiveDesign", type(design).__name__)


@dataclass(frozen=True, kw_only=True)
class MonitoringOC:
    """Simulated (with standard errors) and exact operating characteristics at the model's rate ``p``."""

    reject: float
    reject_standard_error: float
    pet: float
    pet_standard_error: float
    en: float
    en_standard_error: float
    exact_reject: float
    exact_pet: float
    exact_en: float
    p: float
    n_replicates: int
    seed: int
    endpoint: str
    arm: str
    engine: str

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class _Counts:
    reject: int
    stopped: int
    patients: float
    patients_sq: float
    n_replicates: int


def _chunk(model, trial, engine_name, bounds, endpoint, level, week, root, c, start, stop) -> _Counts:
    from ..engines import des, vectorized

    module = vectorized if engine_name == "vectorized" else des
    batch = module.simulate_chunk(model, trial, stop - start, chunk_streams(root, c), detail=endpoint == "response",
                                  first_replicate=start)
    if endpoint == "survival_binary":
        outcome, _ = survival_status_at(batch, float(trial.follow_up))
    else:
        visit = int(np.argmin(np.abs(np.asarray(batch.visit_times) - week)))
        state = batch.response[:, :, visit]
        outcome = (state == CR) | ((state == PR) & (level == "cr_pr"))
    looks, fut, eff, k_star, n_max = bounds
    cum = np.cumsum(outcome, axis=1)
    running = np.ones(batch.n_replicates, dtype=bool)
    reject = np.zeros(batch.n_replicates, dtype=bool)
    used = np.full(batch.n_replicates, float(n_max))
    for n, f, e in zip(looks, fut, eff):
        x = cum[:, n - 1]
        stop_f, stop_e = running & (x <= f), running & (x >= e)
        used[stop_f | stop_e] = n
        reject |= stop_e
        running &= ~(stop_f | stop_e)
    reject |= running & (cum[:, n_max - 1] >= k_star)
    return _Counts(reject=int(reject.sum()), stopped=int((~running).sum()), patients=float(used.sum()),
                   patients_sq=float((used ** 2).sum()), n_replicates=batch.n_replicates)


def monitoring_oc(design, model: DiseaseModel | None = None, *, arm: int = 0, endpoint: str = "survival_binary",
                  response_level: str = "cr_pr", response_week: float = 8.0, horizon: float = 8.0,
                  accrual: Accrual | None = None, dropout: float = 0.0, n_replicates: int = 10_000,
                  seed: Seed = None, n_jobs: int | None = None, backend: Backend = "loky",
                  engine: Engine = "auto", progress: Callable[[int, int], None] | None = None) -> MonitoringOC:
    """Simulated operating characteristics of a Simon or predictive design on one arm of ``model`` (default the
    calibrated CTD-MAS model; arm 0 ruxolitinib, 1 control), beside the exact ones at the arm's rate.

    Examples
    --------
    >>> from trialsim.design.simon import simon_design
    >>> oc = monitoring_oc(simon_design(0.62, 0.85), n_replicates=2000, seed=1, n_jobs=1)
    >>> round(oc.p, 3), round(oc.exact_reject, 3), abs(oc.reject - oc.exact_reject) < 4 * oc.reject_standard_error
    (0.95, 0.991, True)
    """
    bounds = boundaries(design)
    check_choice("endpoint", endpoint, ("survival_binary", "response"))
    check_choice("response_level", response_level, ("cr_pr", "cr"))
    horizon = check_positive("horizon", horizon)
    n_replicates = check_count("n_replicates", n_replicates)
    if model is None:
        from ..model import default_model

        model = default_model(horizon)
    if not 0 <= arm < model.n_arms:
        raise invalid("arm", f"must index one of the model's {model.n_arms} arms", arm)
    single = replace(model, arms=(model.arms[arm],), arm_names=(model.arm_names[arm],))
    follow = max(horizon, response_week) if endpoint == "response" else horizon
    trial = Trial(n=bounds[4], allocation=(1,), accrual=accrual or Accrual(kind="instant"), follow_up=follow,
                  dropout_hazard=(float(dropout),))
    if endpoint == "response":
        p = response_probability(model, arm, response_week, response_level) * math.exp(-dropout * response_week)
    else:
        p = float(arm_survival(model, arm, [horizon])[0]) * math.exp(-dropout * horizon)
    engine_name = choose_engine(single, trial, detail=endpoint == "response", engine=engine)
    root = root_sequence(seed)
    tasks = [(single, trial, engine_name, bounds, endpoint, response_level, response_week, root, c, start, stop)
             for c, (start, stop) in enumerate(chunk_bounds(n_replicates, CHUNK_SIZE))]
    import os

    workers = (os.cpu_count() or 1) if n_jobs in (None, -1) else check_count("n_jobs", n_jobs)
    parts, _ = execute(_chunk, tasks, n_workers=workers, backend=backend, progress=progress, total=n_replicates)
    r = float(n_replicates)
    reject = sum(p_.reject for p_ in parts) / r
    pet = sum(p_.stopped for p_ in parts) / r
    en = sum(p_.patients for p_ in parts) / r
    en_var = max(sum(p_.patients_sq for p_ in parts) / r - en ** 2, 0.0)
    if isinstance(design, SimonDesign):
        exact = simon_oc(design.r1, design.n1, design.r, design.n, p)
        exact_reject, exact_pet, exact_en = exact["reject"], exact["pet"], exact["en"]
    else:
        exact = design.operating_characteristics(p)
        exact_reject, exact_pet, exact_en = exact["reject"], exact["pet"], exact["en"]
    entropy, _ = seed_record(root)
    return MonitoringOC(reject=reject, reject_standard_error=math.sqrt(reject * (1 - reject) / r), pet=pet,
                        pet_standard_error=math.sqrt(pet * (1 - pet) / r), en=en,
                        en_standard_error=math.sqrt(en_var / r), exact_reject=exact_reject, exact_pet=exact_pet,
                        exact_en=exact_en, p=p, n_replicates=n_replicates, seed=entropy, endpoint=endpoint,
                        arm=model.arm_names[arm], engine=engine_name)
