"""The engines' output contract: a batch of simulated trials as arrays, replicates first.

Both engines (``des`` and ``vectorized``) return a :class:`TrialBatch`. Arrays have shape ``(R, n)``
(replicates x patients) or ``(R, n, V)`` for per-visit fields (V scheduled assessments). Patients are in
order of enrolment within a replicate.

Codes
-----
``censor_reason``: 0 = died (the event), 1 = end of follow-up (the horizon), 2 = lost to follow-up,
3 = data cut (the analysis came first).
``response``: 0 = NR, 1 = PR, 2 = CR, 3 = dead, -1 = not observed (lost, cut, or visit beyond follow-up).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..model import DISEASES, STATES

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["TrialBatch", "CENSOR_REASONS", "DIED", "END_OF_FOLLOW_UP", "LOST", "DATA_CUT", "NOT_OBSERVED"]

DIED, END_OF_FOLLOW_UP, LOST, DATA_CUT = 0, 1, 2, 3
CENSOR_REASONS = ("died", "end_of_follow_up", "lost_to_follow_up", "data_cut")
NOT_OBSERVED = -1


@dataclass(frozen=True, kw_only=True, slots=True)
class TrialBatch:
    """R simulated trials of n patients each.

    Survival fields (always present)
    --------------------------------
    arm : int8 (R, n)            index into ``arm_names``
    stratum : int8 (R, n)        underlying disease, index into ``model.DISEASES``
    female : bool (R, n)
    entry : float (R, n)         calendar time of enrolment (weeks since the trial opened)
    time : float (R, n)          weeks from entry to death or censoring
    event : bool (R, n)          death observed
    censor_reason : int8 (R, n)  see module docstring (0 when ``event``)
    analysis_time : float (R,)   calendar time of the analysis (data cut)

    Detail fields (``None`` unless the engine was asked for ``detail=True``)
    -------------------------------------------------------------------
    response : int8 (R, n, V)    observed state at each visit in ``visit_times``
    best_response : int8 (R, n)  best observed response (0 NR, 1 PR, 2 CR); -1 if no visit was observed
    infection_time : float (R, n) weeks from entry to CMV infection, ``inf`` if none was observed
    dose_start : float (R, n)    glucocorticoid dose at entry, mg/kg/day
    dose : float (R, n, V)       dose after each visit's adjustment; NaN where the visit was not observed

    Provenance
    ----------
    seed : int                   root entropy of the ``SeedSequence`` that drew the batch
    spawn_key : tuple of int     its spawn key (empty unless the seed was a spawned ``SeedSequence``):
                                 ``SeedSequence(seed, spawn_key=spawn_key)`` draws the batch again
    engine : str                 ``"des"`` or ``"vectorized"``
    first_replicate : int        index of the first replicate of the batch within the run
    """

    arm: np.ndarray
    stratum: np.ndarray
    female: np.ndarray
    entry: np.ndarray
    time: np.ndarray
    event: np.ndarray
    censor_reason: np.ndarray
    analysis_time: np.ndarray
    arm_names: tuple[str, ...]
    visit_times: tuple[float, ...] = ()
    response: np.ndarray | None = None
    best_response: np.ndarray | None = None
    infection_time: np.ndarray | None = None
    dose_start: np.ndarray | None = None
    dose: np.ndarray | None = None
    seed: int | None = None
    spawn_key: tuple[int, ...] = ()
    engine: str = ""
    first_replicate: int = 0
    events_log: list | None = field(default=None, compare=False)

    @property
    def n_replicates(self) -> int:
        return self.time.shape[0]

    @property
    def n_patients(self) -> int:
        return self.time.shape[1]

    @property
    def has_detail(self) -> bool:
        return self.response is not None

    def n_events(self) -> np.ndarray:
        """Deaths observed per replicate, shape (R,)."""
        return self.event.sum(axis=1)

    @staticmethod
    def concatenate(batches: list["TrialBatch"]) -> "TrialBatch":
        """Join batches of the same trial along the replicate axis (in the order given)."""
        first = batches[0]

        def joined(name: str) -> np.ndarray:
            return np.concatenate([getattr(b, name) for b in batches], axis=0)

        def joined_detail(name: str) -> np.ndarray | None:
            parts = [getattr(b, name) for b in batches]
            return None if parts[0] is None else np.concatenate(parts, axis=0)

        logs: list[Any] | None = None
        if first.events_log is not None:
            logs = []
            for b in batches:
                if b.events_log is None:
                    raise ValueError("cannot join a batch without an event log to batches with one")
                logs.extend(b.events_log)
        return TrialBatch(arm=joined("arm"), stratum=joined("stratum"), female=joined("female"),
                          entry=joined("entry"), time=joined("time"), event=joined("event"),
                          censor_reason=joined("censor_reason"), analysis_time=joined("analysis_time"),
                          response=joined_detail("response"), best_response=joined_detail("best_response"),
                          infection_time=joined_detail("infection_time"), dose_start=joined_detail("dose_start"),
                          dose=joined_detail("dose"), arm_names=first.arm_names, visit_times=first.visit_times,
                          seed=first.seed, spawn_key=first.spawn_key, engine=first.engine,
                          first_replicate=first.first_replicate, events_log=logs)

    def to_frame(self) -> pd.DataFrame:
        """Patient-level table: one row per patient, with a ``replicate`` column.

        Detail fields become ``response_week{v}`` and ``dose_week{v}`` columns (one per visit),
        ``best_response``, ``infection_time`` and ``dose_start``.
        """
        import pandas as pd

        r, n = self.time.shape
        rep = np.repeat(np.arange(self.first_replicate, self.first_replicate + r), n)
        cols = {
            "replicate": rep,
            "patient": np.tile(np.arange(n), r),
            "arm": pd.Categorical.from_codes(self.arm.ravel().astype(int), categories=list(self.arm_names)),
            "stratum": pd.Categorical.from_codes(self.stratum.ravel().astype(int), categories=list(DISEASES)),
            "female": self.female.ravel(),
            "entry": self.entry.ravel(),
            "time": self.time.ravel(),
            "event": self.event.ravel().astype(int),
            "censor_reason": pd.Categorical.from_codes(self.censor_reason.ravel().astype(int),
                                                       categories=list(CENSOR_REASONS)),
            "analysis_time": np.repeat(self.analysis_time, n),
        }
        response, best, infection, dose_start, dose = (self.response, self.best_response, self.infection_time,
                                                       self.dose_start, self.dose)
        if response is not None:  # has_detail
            # the engines set the detail fields all together
            assert best is not None and infection is not None and dose_start is not None and dose is not None
            labels = list(STATES)
            for j, v in enumerate(self.visit_times):
                week = f"{v:g}"
                codes = response[:, :, j].ravel().astype(int)
                cols[f"response_week{week}"] = pd.Categorical.from_codes(codes, categories=labels)
            cols["best_response"] = pd.Categorical.from_codes(best.ravel().astype(int), categories=labels[:3])
            cols["infection_time"] = infection.ravel()
            cols["dose_start"] = dose_start.ravel()
            for j, v in enumerate(self.visit_times):
                cols[f"dose_week{v:g}"] = dose[:, :, j].ravel()
        return pd.DataFrame(cols)
