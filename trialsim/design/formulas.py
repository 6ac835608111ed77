"""Analytic sample size and power: Schoenfeld, Freedman, Lachin-Foulkes, exact binomial, two proportions.

These are the closed-form answers that stand beside every simulated power; each design turns its trial into
their inputs (:mod:`trialsim.design.analytic`).
They assume large samples (the log-rank statistic is normal with the stated mean and unit variance) and,
for Lachin-Foulkes, exponential survival and dropout with uniform accrual. ``docs/design.md`` explains why
they differ from simulation in small trials.

Conventions: ``allocation_ratio`` r is n_treatment / n_control; ``alpha`` is the total type I error of a
test with ``sided`` 1 or 2 sides (a two-sided test spends ``alpha / 2`` on each side).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import special

from ..exceptions import invalid
from ..model.validation import check_choice, check_level, check_nonnegative, check_positive, check_probability
from ..stats import binomial_pvalues
from ..stats.binary import Alternative

__all__ = [
    "schoenfeld_events",
    "freedman_events",
    "schoenfeld_power",
    "lachin_foulkes",
    "LachinFoulkesResult",
    "binomial_power",
    "binomial_rejection_region",
    "two_proportion_power",
    "one_sample_logrank_power",
    "z_alpha",
]


def _binom():
    """scipy.stats.binom, imported when a binomial design needs it (scipy.stats is slow to import)."""
    from scipy.stats import binom

    return binom


def z_alpha(alpha: float, sided: int) -> float:
    """The critical value of a test with total type I error ``alpha`` over ``sided`` sides."""
    return float(special.ndtri(1.0 - alpha / sided))


def _events_iv(hazard_ratio, alpha, power, sided, allocation_ratio) -> tuple[float, float, float, int, float]:
    hr = check_positive("hazard_ratio", hazard_ratio)
    if hr == 1.0:
        raise invalid("hazard_ratio", "must differ from 1 (no effect needs infinitely many events)", hazard_ratio)
    return (hr, check_level("alpha", alpha), check_level("power", power), check_choice("sided", sided, (1, 2)),
            check_positive("allocation_ratio", allocation_ratio))


# -------------------------------------------------------------------------------------- log-rank: events


def schoenfeld_events(hazard_ratio: float, *, alpha: float, power: float, sided: int = 1,
                      allocation_ratio: float = 1.0) -> float:
    """Events needed for the log-rank test to reach ``power`` (Schoenfeld 1981).

    Parameters
    ----------
    hazard_ratio
        Hazard ratio treatment / control under the alternative (> 0, != 1).
    alpha, power
        Type I error (total over ``sided`` sides) and target power.
    sided
        1 or 2. A two-sided test uses ``z_{1 - alpha/2}`` (the other tail is ignored, as usual).
    allocation_ratio
        r = n_treatment / n_control.

    Returns
    -------
    float
        The continuous number of events d (round up for a design).

    Notes
    -----
    .. math:: d = \\frac{(1 + r)^2}{r} \\frac{(z_{1-\\alpha/s} + z_{1-\\beta})^2}{(\\log \\mathrm{HR})^2}

    Under proportional hazards the log-rank statistic is approximately normal with unit variance and mean
    ``log(HR) sqrt(d r) / (1 + r)``.

    References
    ----------
    Schoenfeld D (1981). The asymptotic properties of nonparametric tests for comparing survival
    distributions. Biometrika 68, 316-319.

    Examples
    --------
    >>> round(schoenfeld_events(0.7, alpha=0.025, power=0.9), 6)
    330.377914
    """
    hr, alpha, power, sided, r = _events_iv(hazard_ratio, alpha, power, sided, allocation_ratio)
    z = z_alpha(alpha, sided) + special.ndtri(power)
    return float((1 + r) ** 2 / r * z ** 2 / math.log(hr) ** 2)


def freedman_events(hazard_ratio: float, *, alpha: float, power: float, sided: int = 1,
                    allocation_ratio: float = 1.0) -> float:
    """Events needed for the log-rank test to reach ``power`` (Freedman 1982).

    Same arguments as :func:`schoenfeld_events`.

    Notes
    -----
    .. math:: d = \\frac{(z_{1-\\alpha/s} + z_{1-\\beta})^2 (1 + r\\,\\mathrm{HR})^2}{r (1 - \\mathrm{HR})^2}

    Freedman's approximation keeps the ratio of numbers at risk at its expected value under the alternative
    instead of 1:1; it asks for more events than Schoenfeld when HR < 1.

    References
    ----------
    Freedman LS (1982). Tables of the number of patients required in clinical trials using the logrank test.
    Statistics in Medicine 1, 121-129.

    Examples
    --------
    >>> round(freedman_events(0.7, alpha=0.025, power=0.9), 6)
    337.405029
    """
    hr, alpha, power, sided, r = _events_iv(hazard_ratio, alpha, power, sided, allocation_ratio)
    z = z_alpha(alpha, sided) + special.ndtri(power)
    return float(z ** 2 * (1 + r * hr) ** 2 / (r * (1 - hr) ** 2))


def schoenfeld_power(hazard_ratio: float, n_events: float, *, alpha: float, sided: int = 1,
                     allocation_ratio: float = 1.0) -> float:
    """Power of the log-rank test with ``n_events`` events (Schoenfeld's normal approximation).

    Notes
    -----
    With :math:`\\delta = |\\log \\mathrm{HR}| \\sqrt{d r} / (1 + r)`, one-sided power is
    :math:`\\Phi(\\delta - z_{1-\\alpha})`; two-sided power counts rejection on either side,
    :math:`\\Phi(\\delta - z_{1-\\alpha/2}) + \\Phi(-\\delta - z_{1-\\alpha/2})`, so that it equals alpha
    when HR = 1 (as the simulated rejection rate does).
    """
    hr = check_positive("hazard_ratio", hazard_ratio)
    d = check_nonnegative("n_events", n_events)
    alpha, sided = check_level("alpha", alpha), check_choice("sided", sided, (1, 2))
    r = check_positive("allocation_ratio", allocation_ratio)
    delta = abs(math.log(hr)) * math.sqrt(d * r) / (1 + r)
    z = z_alpha(alpha, sided)
    if sided == 1:
        return float(special.ndtr(delta - z))
    return float(special.ndtr(delta - z) + special.ndtr(-delta - z))


# ------------------------------------------------------------------------------------ Lachin-Foulkes


@dataclass(frozen=True, kw_only=True, slots=True)
class LachinFoulkesResult:
    """Sample size by Lachin and Foulkes (1986): continuous ``n_subjects`` and ``n_events``.

    ``event_probability`` holds P(event observed) in the control arm, the treatment arm and under the pooled
    hazard (the null), in that order.
    """

    n_subjects: float
    n_events: float
    event_probability: tuple[float, float, float]

    def n_subjects_integer(self, block: int = 2) -> int:
        """``n_subjects`` rounded up to a multiple of ``block`` (the allocation block)."""
        return int(block * math.ceil(self.n_subjects / block - 1e-12))


def _event_probability(hazard: float, dropout: float, accrual_time: float, study_time: float) -> float:
    """P(death observed before the analysis) with uniform entry on [0, R] and analysis at T (exponential)."""
    total = hazard + dropout
    share = hazard / total
    if accrual_time == 0.0:
        return share * -math.expm1(-total * study_time)
    # 1 - (exp(-g (T - R)) - exp(-g T)) / (g R), written with expm1 for accuracy when g R is small
    tail = math.exp(-total * (study_time - accrual_time)) * -math.expm1(-total * accrual_time)
    return share * (1.0 - tail / (total * accrual_time))


LachinFoulkesScale = Literal["log-hazard-ratio", "hazard-difference"]
_LF_SCALES = ("log-hazard-ratio", "hazard-difference")


def lachin_foulkes(lambda_control: float, lambda_treatment: float, *, accrual_time: float, study_time: float,
                   dropout_hazard: float = 0.0, alpha: float, power: float, sided: int = 1,
                   allocation_ratio: float = 1.0,
                   scale: LachinFoulkesScale = "log-hazard-ratio") -> LachinFoulkesResult:
    """Subjects and events for comparing two exponential hazards (Lachin and Foulkes 1986).

    Parameters
    ----------
    lambda_control, lambda_treatment
        Constant death hazards per unit time (> 0, different).
    accrual_time
        Patients enter uniformly over ``[0, accrual_time]`` (0: all at once).
    study_time
        Calendar time of the analysis (>= ``accrual_time``); the minimum follow-up is
        ``study_time - accrual_time``.
    dropout_hazard
        Constant loss-to-follow-up hazard, the same in both arms.
    alpha, power, sided, allocation_ratio
        As in :func:`schoenfeld_events` (r = n_treatment / n_control).
    scale
        ``"log-hazard-ratio"`` (default): the hazards are compared on the log scale, as
        ``gsDesign::nSurvival(type = "rr")`` (gsDesign's default). ``"hazard-difference"``: on their
        difference, as ``gsDesign::nSurvival(type = "rd", approx = FALSE)``.

    Returns
    -------
    LachinFoulkesResult
        Continuous ``n_subjects`` and ``n_events``. gsDesign prints ``2 * ceiling(n / 2)`` subjects
        (:meth:`LachinFoulkesResult.n_subjects_integer`) and ``ceiling(nEvents)`` events.

    Notes
    -----
    P is the probability of an observed death with uniform entry over [0, R], analysis at T and dropout
    hazard :math:`\\eta`:

    .. math::
        P(\\lambda) = \\frac{\\lambda}{\\lambda + \\eta}\\left(1 -
        \\frac{e^{-(\\lambda+\\eta)(T-R)} - e^{-(\\lambda+\\eta)T}}{(\\lambda+\\eta) R}\\right).

    With allocation fractions :math:`Q_T = r/(1+r)`, :math:`Q_C = 1/(1+r)` and the null hazard
    :math:`\\bar\\lambda = Q_C\\lambda_C + Q_T\\lambda_T`, the estimated hazard of each arm has variance
    :math:`\\phi(\\lambda) / (N Q)`. On the log-hazard-ratio scale
    :math:`\\phi(\\lambda) = 1 / P(\\lambda)` (the variance of :math:`\\log\\hat\\lambda`):

    .. math::
        N = \\frac{\\left(z_{1-\\alpha/s} / \\sqrt{P(\\bar\\lambda) Q_C Q_T} +
        z_{1-\\beta}\\sqrt{1/(Q_C P(\\lambda_C)) + 1/(Q_T P(\\lambda_T))}\\right)^2}
        {(\\log\\lambda_C - \\log\\lambda_T)^2}.

    On the hazard-difference scale :math:`\\phi(\\lambda) = \\lambda^2 / P(\\lambda)`:

    .. math::
        N = \\frac{\\left(z_{1-\\alpha/s}\\sqrt{\\phi(\\bar\\lambda)(1/Q_C + 1/Q_T)} +
        z_{1-\\beta}\\sqrt{\\phi(\\lambda_C)/Q_C + \\phi(\\lambda_T)/Q_T}\\right)^2}{(\\lambda_C - \\lambda_T)^2}.

    Either way the events are :math:`N (Q_C P(\\lambda_C) + Q_T P(\\lambda_T))`.

    References
    ----------
    Lachin JM, Foulkes MA (1986). Evaluation of sample size and power for analyses of survival with allowance
    for nonuniform patient entry, losses to follow-up, noncompliance, and stratification. Biometrics 42,
    507-519. gsDesign (Anderson K), ``R/gsSurvival.R``, function ``nSurvival``.
    """
    lc = check_positive("lambda_control", lambda_control)
    lt = check_positive("lambda_treatment", lambda_treatment)
    if lc == lt:
        raise invalid("lambda_treatment", "must differ from `lambda_control`", lt)
    accrual = check_nonnegative("accrual_time", accrual_time)
    study = check_positive("study_time", study_time)
    if study < accrual:
        raise invalid("study_time", f"must be >= `accrual_time` ({accrual!r})", study)
    eta = check_nonnegative("dropout_hazard", dropout_hazard)
    alpha, power = check_level("alpha", alpha), check_level("power", power)
    sided, r = check_choice("sided", sided, (1, 2)), check_positive("allocation_ratio", allocation_ratio)
    if scale not in _LF_SCALES:
        raise invalid("scale", "must be 'log-hazard-ratio' or 'hazard-difference'", scale)

    q_t = r / (1 + r)
    q_c = 1 - q_t
    pooled = q_c * lc + q_t * lt
    p_c, p_t, p_0 = (_event_probability(h, eta, accrual, study) for h in (lc, lt, pooled))
    # phi(lambda) under the null (pooled hazard), in the control arm and in the treatment arm
    if scale == "log-hazard-ratio":
        phi_0, phi_c, phi_t = 1 / p_0, 1 / p_c, 1 / p_t
        effect = math.log(lc / lt)
    else:
        phi_0, phi_c, phi_t = pooled ** 2 / p_0, lc ** 2 / p_c, lt ** 2 / p_t
        effect = lc - lt
    null_sd = math.sqrt(phi_0 * (1 / q_c + 1 / q_t))
    alt_sd = math.sqrt(phi_c / q_c + phi_t / q_t)
    root = z_alpha(alpha, sided) * null_sd + special.ndtri(power) * alt_sd
    n = root ** 2 / effect ** 2
    return LachinFoulkesResult(n_subjects=float(n), n_events=float(n * (q_c * p_c + q_t * p_t)),
                               event_probability=(p_c, p_t, p_0))


# ------------------------------------------------------------------------------------ binary endpoints


def binomial_rejection_region(n: int, p_null: float, *, alpha: float, sided: int = 1) -> np.ndarray:
    """Boolean array over x = 0..n: True where the exact binomial test of ``p = p_null`` rejects at ``alpha``."""
    alpha = check_level("alpha", alpha)
    alternative: Alternative = "greater" if check_choice("sided", sided, (1, 2)) == 1 else "two-sided"
    return binomial_pvalues(n, p_null, alternative=alternative) <= alpha


def binomial_power(n: int, p_null: float, p_alternative: float, *, alpha: float, sided: int = 1) -> float:
    """Exact power of the one-sample binomial test of ``p = p_null`` when the true rate is ``p_alternative``.

    Notes
    -----
    :math:`\\sum_{x \\in \\mathcal{R}} \\binom{n}{x} p_1^x (1-p_1)^{n-x}`, with the rejection region
    :math:`\\mathcal{R}` of :func:`binomial_rejection_region`. Power is not monotone in n (the saw-tooth of
    exact tests): the attained size jumps as the critical value moves by one.
    """
    reject = binomial_rejection_region(n, p_null, alpha=alpha, sided=sided)
    p1 = check_probability("p_alternative", p_alternative)
    return float(_binom().pmf(np.arange(n + 1), n, p1)[reject].sum())


def two_proportion_power(p1: float, p2: float, n1: float, n2: float, *, alpha: float, sided: int = 2) -> float:
    """Normal-approximation power of the two-proportion test (pooled variance under the null).

    Notes
    -----
    With :math:`\\bar p = (n_1 p_1 + n_2 p_2)/(n_1 + n_2)`,
    :math:`\\sigma_0 = \\sqrt{\\bar p (1 - \\bar p)(1/n_1 + 1/n_2)}` (null) and
    :math:`\\sigma_1 = \\sqrt{p_1(1-p_1)/n_1 + p_2(1-p_2)/n_2}` (alternative), one-sided power is

    .. math:: \\Phi\\left(\\frac{|p_1 - p_2| - z_{1-\\alpha}\\,\\sigma_0}{\\sigma_1}\\right)

    and two-sided power counts rejection on either side,

    .. math:: \\Phi\\left(\\frac{|p_1 - p_2| - z_{1-\\alpha/2}\\,\\sigma_0}{\\sigma_1}\\right) +
              \\Phi\\left(\\frac{-|p_1 - p_2| - z_{1-\\alpha/2}\\,\\sigma_0}{\\sigma_1}\\right),

    so that it equals alpha when p1 = p2 (as the simulated rejection rate does). With equal n this is R's
    ``power.prop.test(strict = TRUE)`` (the first term alone is ``strict = FALSE``). It approximates the
    uncorrected chi-square test; Fisher's and Boschloo's exact tests are more conservative in small samples.
    """
    p1 = check_probability("p1", p1)
    p2 = check_probability("p2", p2)
    n1, n2 = check_positive("n1", n1), check_positive("n2", n2)
    alpha, sided = check_level("alpha", alpha), check_choice("sided", sided, (1, 2))
    pbar = (n1 * p1 + n2 * p2) / (n1 + n2)
    null_sd = math.sqrt(pbar * (1 - pbar) * (1 / n1 + 1 / n2))
    alt_sd = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    if alt_sd == 0.0:
        return 1.0 if p1 != p2 else float(alpha)
    shift = abs(p1 - p2)
    z = z_alpha(alpha, sided)
    power = special.ndtr((shift - z * null_sd) / alt_sd)
    if sided == 2:
        power += special.ndtr((-shift - z * null_sd) / alt_sd)
    return float(power)


def one_sample_logrank_power(observed: float, expected: float, *, alpha: float, sided: int = 2) -> float:
    r"""Power of the one-sample log-rank test with ``observed`` deaths expected and ``expected`` under the null.

    Notes
    -----
    With :math:`Z = (E - O)/\sqrt{E}`, O Poisson with mean ``observed`` (variance ``observed``) and E at its
    expectation, one-sided power (fewer deaths than the null predicts) is
    :math:`\Phi((E - O - z_{1-\alpha}\sqrt{E})/\sqrt{O})`; two-sided power adds the other tail. With no deaths
    expected the test cannot reject beyond its size: alpha.
    """
    observed, expected = check_nonnegative("observed", observed), check_nonnegative("expected", expected)
    alpha, sided = check_level("alpha", alpha), check_choice("sided", sided, (1, 2))
    if observed <= 0 or expected <= 0:
        return float(alpha)
    z = z_alpha(alpha, sided)
    power = special.ndtr((expected - observed - z * math.sqrt(expected)) / math.sqrt(observed))
    if sided == 2:
        power += special.ndtr((observed - expected - z * math.sqrt(expected)) / math.sqrt(observed))
    return float(power)
