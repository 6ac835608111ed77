"""trialsim: simulation and trial design for small survival trials.

The public API is loaded lazily, so that importing one part (say ``trialsim.estimators``) does not import the
engines' or the parallel layer's dependencies (simpy, joblib).
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# name -> module that defines it
_EXPORTS = {
    # model
    "ResponseProcess": "model", "Taper": "model", "Infection": "model", "ArmModel": "model",
    "ParametricArm": "model", "BaselineMix": "model", "DiseaseModel": "model", "Accrual": "model",
    "Trial": "model",
    # data and warnings
    "TrialBatch": "data", "TrialsimWarning": "exceptions", "DegenerateStatisticWarning": "exceptions",
    "InputError": "exceptions",
    # the study and calibration
    "default_model": "ctdmas", "TARGETS": "ctdmas", "calibrate": "calibrate", "CalibrationResult": "calibrate",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'trialsim' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
