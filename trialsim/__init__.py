"""trialsim: simulation and trial design for small survival trials.

The package is built in layers, each a subpackage that imports only the layers below it (``docs/design.md``,
"Architecture"): :mod:`trialsim.model` (the disease, the trial, the study, calibration), :mod:`trialsim.stats`
(estimators), :mod:`trialsim.engines` (seeding, the discrete-event and vectorised simulators),
:mod:`trialsim.design` (analysis rules, formulas, Monte Carlo power and sample size), :mod:`trialsim.scenarios`
(TOML scenario files) and :mod:`trialsim.cli` (the command line). The public API below is loaded lazily, so that
importing one part (say ``trialsim.stats``) does not import the engines' or the parallel layer's dependencies
(simpy, joblib).
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# name -> module that defines it (the public names of the layers, loaded on first use)
_EXPORTS = {
    # the model
    **dict.fromkeys(("ResponseProcess", "Taper", "Infection", "ArmModel", "ParametricArm", "BaselineMix",
                     "DiseaseModel", "Accrual", "Trial", "default_model", "default_trial", "TARGETS", "calibrate",
                     "CalibrationResult"), "model"),
    # errors and warnings
    **dict.fromkeys(("TrialsimWarning", "DegenerateStatisticWarning", "InputError"), "exceptions"),
    # the estimators
    **dict.fromkeys(("BinomialTestResult", "CoxResult", "KaplanMeierResult", "LogRankBatchResult", "LogRankResult",
                     "OneSampleLogRankResult", "ProportionCIResult", "RMSTDifferenceResult", "RMSTResult",
                     "SurvivalQuantile", "TwoProportionTestResult", "binomial_test", "binomial_pvalues",
                     "boschloo_exact", "chi_square_test", "cox", "fisher_exact", "kaplan_meier",
                     "km_survival_at_batch", "logrank", "logrank_batch", "one_sample_logrank",
                     "one_sample_logrank_batch", "proportion_ci", "rmst", "rmst_difference",
                     "two_proportion_pvalues"), "stats"),
    # the engines' output
    "TrialBatch": "engines",
    # designs, power and sample size
    **dict.fromkeys(("PowerResult", "SampleSizeResult", "power", "sample_size", "schoenfeld_events",
                     "freedman_events", "schoenfeld_power", "lachin_foulkes", "LachinFoulkesResult", "binomial_power",
                     "two_proportion_power", "TwoArmDesign", "SingleArmDesign", "HistoricalControlDesign",
                     "group_sequential_design", "survival_design", "simon_design"), "design"),
    # scenario files
    **dict.fromkeys(("load_scenario", "Scenario"), "scenarios"),
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'trialsim' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
