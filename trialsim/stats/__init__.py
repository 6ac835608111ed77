"""The statistics layer: survival and binary-endpoint estimators and tests, batch kernels, conjugate posteriors.

Checked against R and the published references (``docs/references.md``).

Every power figure trialsim prints rests on these functions. Scalar forms take one data set; batch forms take
(replicates x patients) arrays from the engines (``TrialBatch.time``, ``.event``, ``.arm``, ``.stratum``) and
compute one statistic per replicate without a Python loop over replicates, giving the scalar forms' numbers to
the last bit.

Survival
    :func:`kaplan_meier` (Greenwood errors; log, log-log and plain intervals; R's median rule),
    :func:`logrank` (K groups, stratified, Fleming-Harrington weighted; ties as R's ``survdiff``),
    :func:`cox` (statsmodels ``PHReg``; Efron or Breslow ties; Wald, score and likelihood-ratio tests),
    :func:`rmst` and :func:`rmst_difference`, :func:`one_sample_logrank`.
Batch forms for Monte Carlo
    :func:`logrank_batch`, :func:`km_survival_at_batch`, :func:`one_sample_logrank_batch`,
    :func:`two_proportion_pvalues`.
Binary
    :func:`binomial_test`, :func:`binomial_pvalues`, :func:`proportion_ci` (Clopper-Pearson, Wilson),
    :func:`fisher_exact`, :func:`boschloo_exact`, :func:`chi_square_test`.
Bayesian
    Conjugate posteriors (:class:`Beta`, :class:`Gamma` and their mixtures), priors (uniform, Jeffreys, power
    priors, robust mixtures) and posterior probabilities (:func:`prob_greater`, :func:`prob_ratio_below`).

Degenerate data (no events, an empty group, zero variance) never raise: the functions return the documented
value (a p-value of 1, so that it never counts as a rejection) and issue a
:class:`~trialsim.exceptions.DegenerateStatisticWarning` (once per call for the batch forms). Invalid input
raises ``ValueError`` naming the argument and the value.
"""

from __future__ import annotations

from .binary import (BinomialTestResult, ProportionCIResult, TwoProportionTestResult, binomial_pvalues,
                     binomial_test, boschloo_exact, chi_square_test, fisher_exact, proportion_ci,
                     two_proportion_pvalues)
from .posteriors import (Beta, BetaMixture, Gamma, GammaMixture, jeffreys, parse_beta_prior, power_prior_beta,
                         power_prior_gamma, prob_greater, prob_greater_table, prob_ratio_below, robust_mixture,
                         uniform)
from .proportional_hazards import CoxResult, cox
from .product_limit import KaplanMeierResult, SurvivalQuantile, kaplan_meier, km_survival_at_batch
from .rank_tests import (LogRankBatchResult, LogRankResult, OneSampleLogRankResult, logrank, logrank_batch,
                       one_sample_logrank, one_sample_logrank_batch)
from .restricted_mean import RMSTDifferenceResult, RMSTResult, rmst, rmst_difference

__all__ = [
    "BinomialTestResult", "CoxResult", "KaplanMeierResult", "LogRankBatchResult", "LogRankResult",
    "OneSampleLogRankResult", "ProportionCIResult", "RMSTDifferenceResult", "RMSTResult", "SurvivalQuantile",
    "TwoProportionTestResult",
    "binomial_pvalues", "binomial_test", "boschloo_exact", "chi_square_test", "cox", "fisher_exact", "kaplan_meier",
    "km_survival_at_batch", "logrank", "logrank_batch", "one_sample_logrank", "one_sample_logrank_batch",
    "proportion_ci", "rmst", "rmst_difference", "two_proportion_pvalues",
    "Beta", "Gamma", "BetaMixture", "GammaMixture", "uniform", "jeffreys", "parse_beta_prior", "power_prior_beta",
    "power_prior_gamma", "robust_mixture", "prob_greater", "prob_greater_table", "prob_ratio_below",
]
