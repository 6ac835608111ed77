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
    # estimators
    "BinomialTestResult": "estimators", "CoxResult": "estimators", "KaplanMeierResult": "estimators",
    "LogRankBatchResult": "estimators", "LogRankResult": "estimators", "OneSampleLogRankResult": "estimators",
    "ProportionCIResult": "estimators", "RMSTDifferenceResult": "estimators", "RMSTResult": "estimators",
    "SurvivalQuantile": "estimators", "TwoProportionTestResult": "estimators", "binomial_test": "estimators",
    "boschloo_exact": "estimators", "chi_square_test": "estimators", "cox": "estimators",
    "fisher_exact": "estimators", "kaplan_meier": "estimators", "km_survival_at_batch": "estimators",
    "logrank": "estimators", "logrank_batch": "estimators", "one_sample_logrank": "estimators",
    "one_sample_logrank_batch": "estimators", "proportion_ci": "estimators", "rmst": "estimators",
    "rmst_difference": "estimators", "two_proportion_pvalues": "estimators",
    # designs, power and sample size
    "PowerResult": "power", "SampleSizeResult": "power", "power": "power", "sample_size": "power",
    "schoenfeld_events": "power", "freedman_events": "power", "schoenfeld_power": "power",
    "lachin_foulkes": "power", "LachinFoulkesResult": "power", "binomial_power": "power",
    "two_proportion_power": "power",
    "TwoArmDesign": "designs", "SingleArmDesign": "designs", "HistoricalControlDesign": "designs",
    "load_scenario": "scenarios", "Scenario": "scenarios",
    "default_trial": "ctdmas",
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
