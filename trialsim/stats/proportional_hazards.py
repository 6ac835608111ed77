"""Cox proportional hazards regression: a thin, validated layer over statsmodels ``PHReg``."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import special

from ..exceptions import invalid
from ..model.validation import check_choice, check_level
from .checks import as_events, as_labels, as_times, warn_degenerate
__all__ = ["CoxResult", "cox"]

# A standard error beyond this (hazard-ratio interval wider than exp(+-196)) means a flat likelihood: the
# coefficient is effectively infinite (monotone likelihood), as R's coxph warns "beta may be infinite".
_FLAT_STD_ERR = 100.0


@dataclass(frozen=True, kw_only=True, slots=True)
class CoxResult:
    """Result of :func:`cox` (R's ``summary(coxph(...))``).

    Attributes
    ----------
    names : tuple of str
        Covariate names (DataFrame columns, or ``x0, x1, ...``).
    coef, std_err, z, pvalue : ndarray
        Log hazard ratios, their standard errors (inverse observed information), Wald z and two-sided p.
    hazard_ratio, ci_low, ci_high : ndarray
        exp(coef) and its Wald confidence limits exp(coef -/+ z_(1-a/2) std_err).
    wald_statistic, score_statistic, lr_statistic : float
        The three global tests of all coefficients = 0 (chi-square with ``df`` degrees of freedom), as R prints
        them; the score test uses the information at beta = 0 (with Breslow ties and one binary covariate it
        is the log-rank test without the tie correction of the variance).
    wald_pvalue, score_pvalue, lr_pvalue : float
    loglik_null, loglik : float
        Partial log-likelihood at beta = 0 and at the estimate.
    n, n_events, df : int
    ties : str
    converged : bool
        False if Newton-Raphson did not converge or the likelihood is flat (a coefficient is effectively
        infinite); a :class:`DegenerateStatisticWarning` was issued and the Wald results are not meaningful.
    degenerate : bool
        True when there are no events: coefficients NaN, statistics 0 and p-values 1 (with a warning).
    """

    names: tuple[str, ...]
    coef: np.ndarray
    std_err: np.ndarray
    z: np.ndarray
    pvalue: np.ndarray
    hazard_ratio: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    confidence_level: float
    wald_statistic: float
    wald_pvalue: float
    score_statistic: float
    score_pvalue: float
    lr_statistic: float
    lr_pvalue: float
    loglik_null: float
    loglik: float
    n: int
    n_events: int
    df: int
    ties: str
    converged: bool
    degenerate: bool

    def _repr_html_(self) -> str:
        """What Jupyter shows: :meth:`to_frame` as a compact HTML table."""
        return str(self.to_frame().to_html(index=False))

    def to_frame(self):
        """Coefficient table as a pandas DataFrame indexed by covariate name."""
        import pandas as pd

        return pd.DataFrame({"coef": self.coef, "hazard_ratio": self.hazard_ratio, "std_err": self.std_err,
                             "z": self.z, "pvalue": self.pvalue, "ci_low": self.ci_low, "ci_high": self.ci_high},
                            index=list(self.names))


def _covariates(covariates, n: int) -> tuple[np.ndarray, tuple[str, ...]]:
    names = None
    if hasattr(covariates, "columns"):                       # pandas DataFrame
        names = tuple(str(c) for c in covariates.columns)
    elif hasattr(covariates, "name") and hasattr(covariates, "to_numpy"):   # pandas Series
        names = (str(covariates.name) if covariates.name is not None else "x0",)
    arr = np.asarray(covariates)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise invalid("covariates", "must be numeric (code categories as 0/1 columns)", f"dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] != n or arr.shape[1] == 0:
        raise invalid("covariates", f"must have shape ({n},) or ({n}, k) with k >= 1", f"shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise invalid("covariates", "must be finite (no NaN or infinite values)", "a non-finite value")
    if names is None:
        names = tuple(f"x{j}" for j in range(arr.shape[1]))
    return arr, names


def cox(time, event, covariates, *, ties: Literal["efron", "breslow"] = "efron", strata=None,
        confidence_level: float = 0.95) -> CoxResult:
    r"""Cox proportional hazards model fitted by statsmodels ``PHReg`` (Newton-Raphson), R-style summary.

    Parameters
    ----------
    time, event : array_like, shape (n,)
        Follow-up times (finite, >= 0) and event indicators.
    covariates : array_like or DataFrame, shape (n,) or (n, k)
        Numeric covariates (e.g. a 0/1 treatment indicator).
    ties : {"efron", "breslow"}
        Handling of tied event times (R's default is Efron).
    strata : array_like, shape (n,), optional
        Stratum labels: separate baseline hazards, common coefficients.
    confidence_level : float

    Returns
    -------
    CoxResult

    Warns
    -----
    DegenerateStatisticWarning
        No events (NaN coefficients, statistics 0, p-values 1), or non-convergence / a flat likelihood.

    Notes
    -----
    Partial likelihood :math:`L(\beta) = \prod_j \exp(\beta^\top s_j) / \prod_{r=0}^{d_j - 1}
    \big(\sum_{i \in R_j} e^{\beta^\top x_i} - \tfrac{r}{d_j} \sum_{i \in D_j} e^{\beta^\top x_i}\big)` (Efron;
    Breslow drops the second sum). Wald :math:`\hat\beta^\top I(\hat\beta)\hat\beta`, score
    :math:`U(0)^\top I(0)^{-1} U(0)` and likelihood ratio :math:`2(\ell(\hat\beta) - \ell(0))`.

    References
    ----------
    Cox DR (1972). JRSS B 34:187-220. Efron B (1977). JASA 72:557-565. Breslow NE (1974). Biometrics 30:89-99.
    """
    from statsmodels.base.model import LikelihoodModel  # noqa: PLC0415 (statsmodels is slow to import)
    from statsmodels.duration.hazard_regression import PHReg  # noqa: PLC0415
    from statsmodels.tools.sm_exceptions import ConvergenceWarning  # noqa: PLC0415

    time_ = as_times("time", time, ndim=1)
    n = time_.size
    event_ = as_events("event", event, time_.shape)
    x, names = _covariates(covariates, n)
    ties = check_choice("ties", ties, ("efron", "breslow"))
    level = check_level("confidence_level", confidence_level)
    strata_codes = None if strata is None else as_labels("strata", strata, n)[1]
    k = x.shape[1]
    n_events = int(event_.sum())
    zq = float(special.ndtri(1 - (1 - level) / 2))

    if n_events == 0:
        warn_degenerate("Cox model has no events: coefficients NaN, tests 0, p-values 1")
        nan = np.full(k, np.nan)
        return CoxResult(names=names, coef=nan, std_err=nan, z=nan, pvalue=np.ones(k), hazard_ratio=nan,
                         ci_low=nan, ci_high=nan, confidence_level=level, wald_statistic=0.0, wald_pvalue=1.0,
                         score_statistic=0.0, score_pvalue=1.0, lr_statistic=0.0, lr_pvalue=1.0,
                         loglik_null=0.0, loglik=0.0, n=n, n_events=0, df=k, ties=ties, converged=False,
                         degenerate=True)

    model = PHReg(time_, x, status=event_.astype(np.float64), ties=ties, strata=strata_codes)
    # LikelihoodModel.fit directly (PHReg.fit drops the convergence record); tight tolerance so that the
    # estimates match R's coxph to ~1e-9
    with warnings.catch_warnings():
        # non-convergence is reported below, once, as a DegenerateStatisticWarning
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit = LikelihoodModel.fit(model, start_params=np.zeros(k), method="newton", maxiter=100, tol=1e-12,
                                  disp=False)
    coef = np.asarray(fit.params, dtype=np.float64)
    information = -np.asarray(model.hessian(coef), dtype=np.float64)
    try:
        cov = np.linalg.inv(information)
        std_err = np.sqrt(np.diag(cov))
    except np.linalg.LinAlgError:
        cov = np.full((k, k), np.inf)
        std_err = np.full(k, np.inf)
    converged = bool(fit.mle_retvals.get("converged", True)) and bool(np.all(std_err < _FLAT_STD_ERR))
    if not converged:
        warn_degenerate("Cox fit did not converge or the likelihood is flat (a coefficient may be infinite, "
                        "e.g. no events in one group); Wald results are not meaningful")

    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        z = coef / std_err
        loglik = float(model.loglike(coef))
        loglik_null = float(model.loglike(np.zeros(k)))
        lr = max(2.0 * (loglik - loglik_null), 0.0)
        try:
            wald = float(coef @ np.linalg.solve(cov, coef)) if np.isfinite(cov).all() else 0.0
        except np.linalg.LinAlgError:
            wald = 0.0
        u0 = np.asarray(model.score(np.zeros(k)), dtype=np.float64)
        i0 = -np.asarray(model.hessian(np.zeros(k)), dtype=np.float64)
        try:
            score = float(u0 @ np.linalg.solve(i0, u0))
        except np.linalg.LinAlgError:
            score = 0.0
        hazard_ratio = np.exp(coef)
        ci_low, ci_high = np.exp(coef - zq * std_err), np.exp(coef + zq * std_err)
        pvalue = np.where(np.isfinite(z), special.chdtrc(1, z * z), 1.0)
    return CoxResult(names=names, coef=coef, std_err=std_err, z=z, pvalue=pvalue, hazard_ratio=hazard_ratio,
                     ci_low=ci_low, ci_high=ci_high, confidence_level=level, wald_statistic=wald,
                     wald_pvalue=float(special.chdtrc(k, wald)), score_statistic=score,
                     score_pvalue=float(special.chdtrc(k, score)), lr_statistic=lr,
                     lr_pvalue=float(special.chdtrc(k, lr)), loglik_null=loglik_null, loglik=loglik, n=n,
                     n_events=n_events, df=k, ties=ties, converged=converged, degenerate=False)

