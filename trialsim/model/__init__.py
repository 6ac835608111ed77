"""The model layer: the disease and the trial as frozen data, the published study, calibration, phase-type tables.

The bottom of the package (it imports only numpy, scipy and :mod:`trialsim.exceptions`):

- :mod:`~trialsim.model.disease`: the multi-state response process, taper, infection, parametric arms, the
  baseline mix, :class:`DiseaseModel`;
- :mod:`~trialsim.model.trial`: :class:`Accrual`, :class:`Trial`, :func:`default_trial`;
- :mod:`~trialsim.model.study`: the published study's targets, each with its source sentence, and the assumptions
  the abstract does not settle;
- :mod:`~trialsim.model.calibration`: targets -> parameters, exact model values, :func:`default_model` (the one
  place the calibrated model comes from);
- :mod:`~trialsim.model.phase_type`: death-time tables for sampling by inversion;
- :mod:`~trialsim.model.validation` and :mod:`~trialsim.model.numerics`: the checks of every kind of value, the
  matrix exponential and the exact binomial interval.
"""

from .calibration import (CalibrationResult, TargetRow, calibrate, default_model, dose_quantile,
                          infection_probability, model_values, state_probabilities)
from .disease import (CR, DEAD, DISEASES, NR, PR, STATES, Arm, ArmModel, BaselineMix, DiseaseModel, Infection,
                      ParametricArm, ResponseProcess, Taper)
from .study import ASSUMPTIONS, DEFAULT_HORIZON_WEEKS, TARGETS, TARGETS_BY_NAME, Assumptions, Target
from .trial import Accrual, Trial, check_model_and_trial, default_trial

__all__ = [
    "STATES", "NR", "PR", "CR", "DEAD", "DISEASES",
    "ResponseProcess", "Taper", "Infection", "ArmModel", "ParametricArm", "Arm", "BaselineMix", "DiseaseModel",
    "Accrual", "Trial", "check_model_and_trial", "default_trial",
    "Target", "TARGETS", "TARGETS_BY_NAME", "DEFAULT_HORIZON_WEEKS", "Assumptions", "ASSUMPTIONS",
    "calibrate", "CalibrationResult", "TargetRow", "model_values", "dose_quantile", "infection_probability",
    "state_probabilities", "default_model",
]
