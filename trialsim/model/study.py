"""The published study as data: calibration targets, each with the sentence it comes from.

Source: Li J, Wang R, Chen J, et al. Efficacy and Safety of Ruxolitinib in Adult Patients With Refractory
Connective Tissue Disease-Associated Macrophage Activation Syndrome [abstract 1179]. Arthritis Rheumatol.
2025;77(suppl 9). ACR Convergence 2025. The quoted sentences and the URL are in ``docs/study.md``.

Where the abstract is ambiguous the reading chosen is written beside the target (``reading``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Target", "TARGETS", "TARGETS_BY_NAME", "DEFAULT_HORIZON_WEEKS", "Assumptions", "ASSUMPTIONS"]

#: The survival horizon is not given in the abstract. Every other figure is reported "by week 8", so the
#: survival counts are read as survival at week 8 by default; ``trialsim calibrate --horizon`` changes it.
DEFAULT_HORIZON_WEEKS = 8.0


@dataclass(frozen=True, kw_only=True, slots=True)
class Target:
    """One calibration target.

    ``count``/``size`` for proportions (``observed = count / size``); ``value`` for the median doses.
    ``arm`` is ``"ruxolitinib"`` or ``"control"``; ``week`` is the assessment week (``None`` for the survival
    horizon, which is a parameter). ``weight`` is the target's weight in the least-squares fit of the response
    panel (0 for targets that are fitted exactly or not fitted).
    """

    name: str
    description: str
    source: str
    reading: str = ""
    arm: str = "ruxolitinib"
    week: float | None = None
    count: int | None = None
    size: int | None = None
    value: float | None = None
    weight: float = 0.0

    @property
    def observed(self) -> float:
        if self.count is not None and self.size is not None:
            return self.count / self.size
        if self.value is not None:
            return float(self.value)
        raise ValueError(f"target {self.name!r} has neither count and size nor value")


_SURVIVAL = ("The survival rate was significantly higher in the ruxolitinib group (19/20, 95%) than in historical "
             "controls (13/21, 62%) (P = 0.011) (Figure 1).")
_PR_WEEK1 = ("Partial response (PR) was observed in 9 patients at the first scheduled response assessment (week 1), "
             "and the first complete remission (CR) was documented at week 2.")
_WEEK3 = ("Two additional patients progressed from PR to CR during the third week, and one patient improved from no "
          "response (NR) to PR.")
_WEEK8 = ("By week 8, 50% (10/20) and 30% (6/20) of ruxolitinib-treated patients had achieved partial and complete "
          "responses, respectively. Four patients exhibited no response to treatment, including the patient who "
          "died of complications (Figure 2).")
_DOSE = "By week 8, the median daily glucocorticoid dose decreased from 2.7 mg/kg/day to 0.5 mg/kg/day."
_CMV = "Cytomegalovirus infection occurred in 20% (4/20) of patients."
_MIX = ("The cohort of 20 patients with refractory CTD-MAS included 17 females and 3 males, with underlying conditions "
        "comprising adult-onset Still's disease (n = 13), systemic lupus erythematosus (n = 4), and other connective "
        "tissue diseases (n = 3) (Table 1).")
_DEATH_READING = ("The one death is counted among the four week-8 non-responders, so NR alive is 3/20 and dead 1/20; "
                  "the week of death is not given, and the model places no constraint on it beyond 'by week 8'.")

TARGETS: tuple[Target, ...] = (
    Target(name="survival_ruxolitinib", description="alive at the survival horizon, ruxolitinib", source=_SURVIVAL,
           reading="Read as survival at the horizon (default week 8, the window of every other reported figure).",
           count=19, size=20),
    Target(name="survival_control", description="alive at the survival horizon, historical control", source=_SURVIVAL,
           reading="As for ruxolitinib: survival at the same horizon.", arm="control", count=13, size=21),
    Target(name="pr_week1", description="in PR at the week-1 assessment", source=_PR_WEEK1, week=1.0,
           count=9, size=20, weight=1.0),
    Target(name="cr_week1", description="in CR at the week-1 assessment", source=_PR_WEEK1,
           reading="'First CR documented at week 2' is read as no CR at week 1.", week=1.0, count=0, size=20,
           weight=0.5),
    Target(name="cr_week3", description="in CR at the week-3 assessment", source=_WEEK3,
           reading="One CR at week 2 (the first) plus two more during week 3: 3/20 in CR at week 3.",
           week=3.0, count=3, size=20, weight=0.5),
    Target(name="cr_week8", description="in CR at week 8", source=_WEEK8, week=8.0, count=6, size=20, weight=1.0),
    Target(name="pr_week8", description="in PR at week 8", source=_WEEK8, week=8.0, count=10, size=20, weight=1.0),
    Target(name="nr_alive_week8", description="alive and in NR at week 8", source=_WEEK8, reading=_DEATH_READING,
           week=8.0, count=3, size=20, weight=1.0),
    Target(name="dead_week8", description="dead by week 8", source=_WEEK8, reading=_DEATH_READING, week=8.0,
           count=1, size=20, weight=1.0),
    Target(name="cmv_week8", description="CMV infection by week 8", source=_CMV,
           reading="Read as cumulative incidence by week 8 (the abstract's window), death competing.",
           week=8.0, count=4, size=20),
    Target(name="dose_median_week0", description="median glucocorticoid dose at the start, mg/kg/day", source=_DOSE,
           reading="The median over all 20 patients at the first dose of ruxolitinib.", week=0.0, value=2.7),
    Target(name="dose_median_week8", description="median glucocorticoid dose at week 8, mg/kg/day", source=_DOSE,
           reading="The median over patients alive at week 8, after the week-8 adjustment.", week=8.0, value=0.5),
    Target(name="female", description="female", source=_MIX, count=17, size=20),
    Target(name="disease_aosd", description="adult-onset Still's disease", source=_MIX, count=13, size=20),
    Target(name="disease_sle", description="systemic lupus erythematosus", source=_MIX, count=4, size=20),
    Target(name="disease_other", description="other connective tissue disease", source=_MIX, count=3, size=20),
)
TARGETS_BY_NAME = {t.name: t for t in TARGETS}


@dataclass(frozen=True, kw_only=True, slots=True)
class Assumptions:
    """Every number the calibration needs that the abstract does not give, with its default.

    Each is discussed in ``docs/model.md``.
    """

    #: Death hazard in PR and in CR relative to NR (the one death was a non-responder; responders die less).
    death_hazard_ratio_pr: float = 0.25
    death_hazard_ratio_cr: float = 0.1
    #: Relapse rate CR -> PR and PR -> NR, per week (the abstract reports none by week 8).
    relapse_rate: float = 0.0
    #: Control arm: share who never respond, and speed of response relative to ruxolitinib.
    control_refractory_fraction: float = 0.4
    control_response_speed: float = 0.5
    #: Spread of the starting dose (log-scale SD of a log-normal with median 2.7 mg/kg/day).
    start_dose_sd_log: float = 0.25
    #: Taper speed by response observed at a visit, relative to PR (NR tapers slowly, CR fastest).
    taper_weight_nr: float = 0.25
    taper_weight_pr: float = 1.0
    taper_weight_cr: float = 1.5
    #: Whether the CMV hazard is proportional to the current dose (the abstract gives no link: off).
    infection_dose_dependent: bool = False


ASSUMPTIONS = Assumptions()
