"""What a discrete-event run starts from: each arm's tables and the chunk's random numbers.

:func:`arm_tables` turns a model into the plain Python lists the patient processes of
:mod:`trialsim.engines.des` read (per arm, stratum and stayer status: the total rate out of each state and the
cumulative rates of its ways out; taper factors; infection hazard). :func:`draw_chunk` draws every random number
of a chunk before any process runs.

Random numbers
--------------
Every stream comes from the chunk's component streams (:func:`trialsim.engines.seeding.chunk_streams`) and is drawn
up front, with numpy, in shapes that do not depend on the values drawn (``R`` replicates, ``n`` patients,
``K = POOL_SIZE``), patient by patient (:func:`trialsim.engines.seeding.patient_draws`), so that patient k of
replicate r gets the same numbers whatever n is (common random numbers across n):

=================  ===================================================================================
``baseline``       one uniform per patient: disease stratum and sex (:func:`trialsim.engines.enrolment.draw_baseline`)
``randomisation``  permuted blocks (:func:`trialsim.engines.enrolment.randomise`)
``accrual``        unit exponentials, cumulated (:func:`trialsim.engines.enrolment.draw_entry`; none if instant)
``response``       :class:`trialsim.engines.seeding.JumpPools`: per patient a uniform (stayer or mover), ``K`` unit
                   exponentials (holding times; for a :class:`~trialsim.model.ParametricArm` the first is the
                   cumulative hazard at death) and ``K`` uniforms (destination of each transition)
``taper``          a standard normal per patient (log starting dose)
``infection``      a unit exponential per patient (cumulative infection hazard at infection)
``dropout``        a unit exponential per patient (divided by the arm's dropout hazard)
=================  ===================================================================================

A patient who makes more than ``K`` transitions (possible only with relapse) takes the next numbers from
:meth:`trialsim.engines.seeding.JumpPools.refill`, keyed to the patient, so the result never depends on event order, on
how many trials share an environment, or on ``detail``: the survival fields are identical with and without
detail.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..model import CR, NR, PR, ArmModel, DiseaseModel, ParametricArm, Trial
from .batch import END_OF_FOLLOW_UP, LOST
from .enrolment import draw_baseline, draw_entry, randomise
from .seeding import JumpPools, patient_draws

__all__ = ["Rows", "Tables", "Chain", "ArmTables", "arm_tables", "draw_chunk"]

#: Per state NR, PR, CR: the ``(cumulative rate, destination)`` of each way out, the last bound infinite.
Rows = list[list[tuple[float, int]]]
#: The chain of one arm, stratum and stayer status: (total rate out of each state NR, PR, CR; its rows).
Tables = tuple[list[float], Rows]
#: An :class:`ArmModel` arm's tables by [stratum][stayer] (``None`` for a :class:`ParametricArm` arm).
Chain = list[list[Tables]]


# --------------------------------------------------------------------------------------- the arm tables


ArmTables = tuple[list[Chain | None], list[list[float] | None], list[float], list[bool], list[float], list[bool]]


def arm_tables(model: DiseaseModel, trial: Trial) -> ArmTables:
    """Per arm: chain tables [stratum][stayer] -> (total rate per state, [(cumulative rate, destination)]),
    taper factors, infection hazard, its dose dependence and reference dose, and whether the arm is parametric."""
    chain: list[Chain | None] = []
    factors: list[list[float] | None] = []
    hazard: list[float] = []
    dependent: list[bool] = []
    reference: list[float] = []
    parametric: list[bool] = []
    for arm in model.arms:
        if isinstance(arm, ParametricArm):
            chain.append(None)
            factors.append(None)
            hazard.append(0.0)
            dependent.append(False)
            reference.append(1.0)
            parametric.append(True)
            continue
        by_stratum: Chain = []
        for m in model.baseline.death_hazard_ratio_by_disease:
            pair: list[Tables] = []
            for q in (arm.response.generator(m), arm.response.refractory_generator(m)):
                total: list[float] = []
                rows: Rows = []
                for s in (NR, PR, CR):
                    out = [(float(q[s, d]), d) for d in range(4) if d != s and q[s, d] > 0]
                    cum: list[tuple[float, int]] = []
                    acc = 0.0
                    for r, d in out:
                        acc += r
                        cum.append((acc, d))
                    if cum:  # guard the last bound against rounding: x < total always selects a destination
                        cum[-1] = (math.inf, cum[-1][1])
                    total.append(acc)
                    rows.append(cum)
                pair.append((total, rows))
            by_stratum.append(pair)  # index 0 = mover, 1 = stayer
        chain.append(by_stratum)
        factors.append(np.exp(arm.taper.log_factors()).tolist())
        hazard.append(arm.infection.hazard)
        dependent.append(arm.infection.dose_dependent)
        reference.append(arm.infection.reference_dose)
        parametric.append(False)
    return chain, factors, hazard, dependent, reference, parametric


# ----------------------------------------------------------------------------------------- the draws


def draw_chunk(model: DiseaseModel, trial: Trial, n_replicates: int,
                streams: dict[str, np.random.Generator]) -> dict[str, Any]:
    """All random numbers of a chunk, drawn up front (the module docstring gives the layout)."""
    r, n = n_replicates, trial.n
    female, stratum = draw_baseline(model.baseline, r, n, streams["baseline"])
    arm = randomise(trial, stratum, streams["randomisation"])
    entry = draw_entry(trial.accrual, r, n, streams["accrual"])
    pools = JumpPools(streams["response"], r, n)
    stayer_u, pool_e = pools.stayer_u, pools.exponentials
    z = patient_draws(streams["taper"].standard_normal, r, n)
    infection_e = patient_draws(streams["infection"].standard_exponential, r, n)
    dropout_e = patient_draws(streams["dropout"].standard_exponential, r, n)

    stayer = np.zeros((r, n), dtype=bool)
    dose_start = np.full((r, n), np.nan)
    death_time = np.full((r, n), np.inf)
    multipliers = np.asarray(model.baseline.death_hazard_ratio_by_disease)
    for a, arm_model in enumerate(model.arms):
        in_arm = arm == a
        if isinstance(arm_model, ArmModel):
            stayer[in_arm] = stayer_u[in_arm] < arm_model.response.refractory_fraction
            taper = arm_model.taper
            dose_start[in_arm] = taper.start_dose_median * np.exp(taper.start_dose_sd_log * z[in_arm])
        else:
            for s, m in enumerate(multipliers):
                cell = in_arm & (stratum == s)
                # Survival at death is exp(-E): the first pooled exponential is the cumulative hazard at death.
                death_time[cell] = arm_model.quantile_time(np.exp(-pool_e[:, :, 0][cell]), m)
    hazards = np.asarray(trial.dropout_hazard)[arm]
    with np.errstate(divide="ignore"):
        lost = np.where(hazards > 0, dropout_e / np.where(hazards > 0, hazards, 1.0), np.inf)
    stop = np.minimum(lost, trial.follow_up)
    stop_reason = np.where(lost < trial.follow_up, LOST, END_OF_FOLLOW_UP).astype(np.int8)
    return dict(stratum=stratum, female=female, arm=arm.astype(np.int8), entry=entry, stayer=stayer,
                pool_e=pool_e, pool_u=pools.uniforms, pools=pools, dose_start=dose_start,
                infection_e=infection_e, death_time=death_time, stop=stop, stop_reason=stop_reason)
