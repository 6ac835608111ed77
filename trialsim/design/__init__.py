"""The design layer: what is tested and what counts as success, and how likely a trial is to succeed.

- :mod:`~trialsim.design.rules`: the analysis rules (two-arm, single-arm, historical control), each with its
  analytic power;
- :mod:`~trialsim.design.formulas`: the closed forms (Schoenfeld, Freedman, Lachin-Foulkes, exact binomial, two
  proportions, one-sample log-rank), and :mod:`~trialsim.design.analytic`, what a trial shows of a model exactly;
- :mod:`~trialsim.design.montecarlo`: the Monte Carlo runner (joblib and dask, only here);
- :mod:`~trialsim.design.sizing`: simulated power and sample size with their Monte Carlo error;
- :mod:`~trialsim.design.study_rerun`: the published study re-run on the calibrated model;
- :mod:`~trialsim.design.boundaries` and :mod:`~trialsim.design.survival_sizing`: exact group-sequential
  boundaries and survival designs with looks; :mod:`~trialsim.design.sequential` (with
  :mod:`~trialsim.design.looks` and :mod:`~trialsim.design.sequential_oc`): trials with looks by simulation,
  boundaries calibrated to the simulated null;
- :mod:`~trialsim.design.simon`, :mod:`~trialsim.design.predictive`, :mod:`~trialsim.design.bayes_rules`:
  Simon two-stage designs, predictive-probability monitoring, Bayesian decision rules with borrowing;
  :mod:`~trialsim.design.monitoring`, both simulated under a model;
- :mod:`~trialsim.design.bayes_design` and :mod:`~trialsim.design.bayes_oc`: Bayesian rules as analysis designs,
  their type I error and power, prior-data conflict;
- :mod:`~trialsim.design.assurance` (with :mod:`~trialsim.design.truths` and :mod:`~trialsim.design.truth_sampler`):
  the probability of success given the study's evidence.
"""

from .analytic import AnalyticPower, average_hazard_ratio, event_probability, expected_events
from .assurance import AssuranceResult, DesignPrior, Evidence, assurance_curve
from .bayes_design import BayesSingleArmDesign, BayesTwoArmDesign
from .bayes_oc import BayesOC, ConflictRow, bayes_operating_characteristics, conflict_table
from .monitoring import MonitoringOC, monitoring_oc
from .bayes_rules import BinaryBayesRule, ConflictOC, SingleArmBayesRule, borrowing_prior, conflict_oc
from .boundaries import (CrossingProbabilities, GroupSequentialDesign, bounds_from_spending, crossing_probabilities,
                         cumulative_spending, group_sequential_design, parse_spending)
from .formulas import (LachinFoulkesResult, binomial_power, binomial_rejection_region, freedman_events,
                       lachin_foulkes, one_sample_logrank_power, schoenfeld_events, schoenfeld_power,
                       two_proportion_power)
from .predictive import PredictiveDesign, predictive_probability, search_predictive_design
from .rules import Design, DesignOutcome, HistoricalControlDesign, SingleArmDesign, TwoArmDesign
from .sequential import SequentialDesign, SequentialOutcome, calibrate_bounds, max_logrank_z, null_model
from .sequential_oc import LookResult, SequentialPowerResult, sequential_power
from .simon import SimonDesign, simon_design, simon_oc
from .sizing import PowerResult, SampleSizeResult, power, sample_size, wilson_interval
from .survival_sizing import SurvivalDesign, boundary_reachable, max_attainable_logrank_z, survival_design

__all__ = [
    "Design", "DesignOutcome", "TwoArmDesign", "SingleArmDesign", "HistoricalControlDesign",
    "AnalyticPower", "average_hazard_ratio", "event_probability", "expected_events",
    "schoenfeld_events", "freedman_events", "schoenfeld_power", "lachin_foulkes", "LachinFoulkesResult",
    "binomial_power", "binomial_rejection_region", "two_proportion_power", "one_sample_logrank_power",
    "PowerResult", "SampleSizeResult", "power", "sample_size", "wilson_interval",
    "GroupSequentialDesign", "group_sequential_design", "CrossingProbabilities", "crossing_probabilities",
    "bounds_from_spending", "cumulative_spending", "parse_spending",
    "SurvivalDesign", "survival_design", "max_attainable_logrank_z", "boundary_reachable",
    "SequentialDesign", "SequentialOutcome", "sequential_power", "SequentialPowerResult", "LookResult", "null_model",
    "calibrate_bounds", "max_logrank_z",
    "SimonDesign", "simon_design", "simon_oc",
    "PredictiveDesign", "predictive_probability", "search_predictive_design",
    "BinaryBayesRule", "SingleArmBayesRule", "ConflictOC", "conflict_oc", "borrowing_prior",
    "AssuranceResult", "DesignPrior", "Evidence", "assurance_curve",  # assurance(): trialsim.design.assurance
    "BayesTwoArmDesign", "BayesSingleArmDesign", "BayesOC", "bayes_operating_characteristics", "ConflictRow",
    "conflict_table", "MonitoringOC", "monitoring_oc",
]
