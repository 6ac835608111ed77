"""Plots of simulated trials: Kaplan-Meier fans, state occupation over the visits, glucocorticoid dose paths.

Each takes a :class:`~trialsim.engines.TrialBatch` (``des.simulate`` or ``vectorized.simulate``; the state and
dose plots need ``detail=True``), marks the published study's figures (``trialsim.model.TARGETS``) with their exact
95% intervals, and returns a matplotlib ``Figure``. With ``ax`` given, each draws on it and returns its figure.

Every artist a test or a caller may look for carries a ``gid``: ``"km-fan:ARM"``, ``"km-pooled:ARM"``,
``"km-model:ARM"``, ``"study:TARGET"``, ``"state:STATE"``, ``"state-model:LEVEL"``, ``"dose-paths:ARM"``,
``"dose-median:ARM"``, ``"study:dose"``.
"""

from __future__ import annotations

import math
import re

import numpy as np

from ..engines.batch import TrialBatch
from ..exceptions import invalid
from ..model import (CR, DEAD, DEFAULT_HORIZON_WEEKS, NR, PR, STATES, TARGETS, ArmModel, DiseaseModel,
                     state_probabilities)
from ..model.validation import check_choice, check_count, check_positive
from ..stats import kaplan_meier, proportion_ci
from .common import STATE_COLOURS, arm_colour, legend_below, new_axes, new_figure

__all__ = ["plot_km", "plot_states", "plot_doses", "plot_simulation", "survival_marks", "state_marks"]

_WEEK_TARGET = re.compile(r"^(nr_alive|pr|cr|dead)_week(\d+(?:\.\d+)?)$")
_STATE_OF = {"nr_alive": NR, "pr": PR, "cr": CR, "dead": DEAD}
#: Stacking order of the state bars, bottom to top: the best response at the bottom, death on top.
_STACK = (CR, PR, NR, DEAD)
_LEVEL_NAMES = ("CR", "CR+PR", "alive")
#: Offsets (weeks) of the study's marks of NR, PR, CR, dead at one visit in the "lines" style.
_NUDGE = (-0.18, -0.06, 0.06, 0.18)
_STUDY_STYLE = {"fmt": "D", "markersize": 6, "markerfacecolor": "white", "markeredgecolor": "black",
                "ecolor": "black", "elinewidth": 1.2, "capsize": 4, "zorder": 6}


# ------------------------------------------------------------------------------------------------ checks


def _check_batch(batch) -> TrialBatch:
    if not isinstance(batch, TrialBatch):
        raise invalid("batch", "must be a TrialBatch (des.simulate or vectorized.simulate)", type(batch).__name__)
    return batch


def _arm_index(batch: TrialBatch, arm) -> int:
    if isinstance(arm, str):
        if arm not in batch.arm_names:
            raise invalid("arm", f"must be one of {list(batch.arm_names)}", arm)
        return batch.arm_names.index(arm)
    if isinstance(arm, bool) or not isinstance(arm, (int, np.integer)) or not 0 <= arm < len(batch.arm_names):
        raise invalid("arm", f"must be an arm name or an index in 0..{len(batch.arm_names) - 1}", arm)
    return int(arm)


def _check_model(model, batch: TrialBatch) -> DiseaseModel | None:
    if model is None:
        return None
    if not isinstance(model, DiseaseModel):
        raise invalid("model", "must be a DiseaseModel", type(model).__name__)
    if model.n_arms != len(batch.arm_names):
        raise invalid("model", f"must have the batch's {len(batch.arm_names)} arms", model.arm_names)
    return model


def has_course(batch: TrialBatch) -> bool:
    """True when the batch holds observed responses and doses (``detail=True`` with a multi-state model)."""
    return (batch.response is not None and batch.dose is not None and batch.dose_start is not None
            and bool(np.any(batch.response >= 0)))


def _require_course(batch: TrialBatch, what: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(response, dose, dose_start)`` of a batch with observed responses, else ``InputError``."""
    if batch.response is None or batch.dose is None or batch.dose_start is None:
        raise invalid("batch", f"has no {what}: simulate with detail=True", batch.engine or "batch")
    if not np.any(batch.response >= 0):
        raise invalid("batch", f"has no observed {what} (a survival-only model has no responses or doses)",
                      batch.engine or "batch")
    return batch.response, batch.dose, batch.dose_start


# ------------------------------------------------------------------------------------------------ the study


def survival_marks(arm_names, horizon: float = DEFAULT_HORIZON_WEEKS) -> list[dict]:
    """The study's survival counts at the horizon for the arms present, with exact 95% intervals.

    >>> marks = survival_marks(("ruxolitinib", "control"))
    >>> [(m["target"], m["count"], m["size"], round(m["ci_low"], 4)) for m in marks]
    [('survival_ruxolitinib', 19, 20, 0.7513), ('survival_control', 13, 21, 0.3844)]
    """
    marks = []
    for target in TARGETS:
        if target.name.startswith("survival_") and target.arm in arm_names:
            ci = proportion_ci(target.count, target.size)
            marks.append({"target": target.name, "arm": target.arm, "x": float(horizon), "count": target.count,
                          "size": target.size, "estimate": target.observed, "ci_low": float(ci.ci_low),
                          "ci_high": float(ci.ci_high)})
    return marks


def state_marks(arm_name: str, *, stacked: bool = True) -> list[dict]:
    """The study's state counts at the visits for one arm, with exact 95% intervals.

    ``stacked=False``: one mark per target (PR 9/20 at week 1, ...). ``stacked=True``: the same counts as the
    levels of the stacked bars (bottom to top CR, CR+PR, alive): a level is marked at a week where every state
    under it is reported (week 1: CR 0/20 and CR+PR 9/20; week 3: CR 3/20; week 8: CR 6/20, CR+PR 16/20, alive
    19/20), with the exact interval of the summed count.

    >>> [(m["label"], m["week"], m["count"]) for m in state_marks("ruxolitinib")]
    [('CR', 1.0, 0), ('CR+PR', 1.0, 9), ('CR', 3.0, 3), ('CR', 8.0, 6), ('CR+PR', 8.0, 16), ('alive', 8.0, 19)]
    >>> [(m["label"], m["week"], m["count"]) for m in state_marks("ruxolitinib", stacked=False)][:2]
    [('PR', 1.0, 9), ('CR', 1.0, 0)]
    """
    by_week: dict[float, dict[int, tuple[int, int, str]]] = {}
    for target in TARGETS:
        match = _WEEK_TARGET.match(target.name)
        if match and target.arm == arm_name and target.count is not None:
            week, size = float(target.week or 0.0), int(target.size or 0)
            by_week.setdefault(week, {})[_STATE_OF[match.group(1)]] = (int(target.count), size, target.name)
    marks = []
    for week in sorted(by_week):
        known = by_week[week]
        if not stacked:
            for state, (count, size, name) in known.items():
                marks.append(_mark(STATES[state], week, count, size, name))
            continue
        cum, names, reached = 0, [], 0
        size = next(iter(known.values()))[1]
        for state, label in zip(_STACK[:3], _LEVEL_NAMES):
            if state not in known:
                break
            cum += known[state][0]
            names.append(known[state][2])
            marks.append(_mark(label, week, cum, size, "+".join(names)))
            reached += 1
        if reached < 3 and DEAD in known:  # alive = 1 - dead where the lower layers are not all reported
            marks.append(_mark("alive", week, size - known[DEAD][0], size, known[DEAD][2]))
    return marks


def _mark(label: str, week: float, count: int, size: int, target: str) -> dict:
    ci = proportion_ci(count, size)
    return {"label": label, "week": week, "count": int(count), "size": int(size), "estimate": count / size,
            "ci_low": float(ci.ci_low), "ci_high": float(ci.ci_high), "target": target}


def _errorbar(ax, x: float, mark: dict, *, label: str | None, gid: str, colour: str = "black",
              face: str = "white"):
    y = mark["estimate"]
    style = dict(_STUDY_STYLE, ecolor=colour, markeredgecolor=colour, markerfacecolor=face)
    container = ax.errorbar([x], [y], yerr=[[y - mark["ci_low"]], [mark["ci_high"] - y]],
                            label=label if label else "_nolegend_", **style)
    container.lines[0].set_gid(gid)
    return container


# ------------------------------------------------------------------------------------------------ survival


def _steps(time: np.ndarray, survival: np.ndarray, end: float) -> np.ndarray:
    """The right-continuous step function S through ``(time, survival)`` as polyline vertices, from (0, 1) to
    ``end``."""
    x = np.concatenate(([0.0], np.repeat(time, 2), [max(end, time[-1] if time.size else 0.0)]))
    y = np.repeat(np.concatenate(([1.0], survival)), 2)
    return np.column_stack((x, y))


def _grid(end: float, knots) -> np.ndarray:
    """Times at which an exact model curve is evaluated: 40 steps to ``end`` and the ``knots`` (the model's
    matrix exponentials cost about 10 ms a time point; the curves are smooth between)."""
    return np.unique(np.concatenate((np.linspace(0.0, end, 41), np.asarray(knots, dtype=float))))


def _model_survival(model: DiseaseModel, arm: int, times: np.ndarray) -> np.ndarray:
    return np.asarray(sum(w * model.arms[arm].survival(times, m) for w, m in model.baseline.strata()))


def plot_km(batch: TrialBatch, *, horizon: float | None = None, n_trials: int = 40, model: DiseaseModel | None = None,
            study: bool = True, ax=None):
    """Kaplan-Meier curves of simulated trials: a fan of single trials and the pooled curve per arm.

    Parameters
    ----------
    batch
        Simulated trials (any engine; survival fields only are used).
    horizon
        Week at which the study's survival counts are marked (default 8, the calibration's horizon).
    n_trials
        Single trials drawn per arm as thin translucent step curves (the first ``n_trials`` replicates: they are
        exchangeable); 0 draws none.
    model
        Also draw each arm's exact survival under this model (dashed), averaged over the baseline strata.
    study
        Mark the study's 19/20 (ruxolitinib) and 13/21 (historical control) at the horizon with their exact
        (Clopper-Pearson) 95% intervals, for the arms of those names.
    ax
        Draw on this matplotlib axes (default: a new figure).

    Returns
    -------
    matplotlib.figure.Figure
        One ``LineCollection`` per arm for the fan (``gid`` ``"km-fan:ARM"``), one line per arm for the pooled
        Kaplan-Meier estimate over all replicates' patients (``"km-pooled:ARM"``), the model curves
        (``"km-model:ARM"``) and one error bar per study count (``"study:survival_ARM"``).
    """
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D

    batch = _check_batch(batch)
    horizon = DEFAULT_HORIZON_WEEKS if horizon is None else check_positive("horizon", horizon)
    n_trials = check_count("n_trials", n_trials, minimum=0)
    model = _check_model(model, batch)
    fig, ax = new_axes(ax, caller="plot_km")
    shown = min(n_trials, batch.n_replicates)
    end = float(np.max(batch.time)) if batch.time.size else horizon
    handles = []
    for a, name in enumerate(batch.arm_names):
        colour = arm_colour(a)
        in_arm = batch.arm == a
        segments = []
        for r in range(shown):
            mask = in_arm[r]
            if mask.any():
                km = kaplan_meier(batch.time[r, mask], batch.event[r, mask])
                segments.append(_steps(km.time, km.survival, km.max_time))
        if segments:
            ax.add_collection(LineCollection(segments, colors=colour, linewidths=0.7, alpha=0.2, zorder=1,
                                             gid=f"km-fan:{name}", label=f"_fan {name}"))
        if in_arm.any():
            km = kaplan_meier(batch.time[in_arm], batch.event[in_arm])
            xy = _steps(km.time, km.survival, km.max_time)
            line, = ax.plot(xy[:, 0], xy[:, 1], color=colour, linewidth=2.2, zorder=4, gid=f"km-pooled:{name}",
                            label=f"{name}: pooled ({int(in_arm.sum())} patients)")
            handles.append(line)
        if model is not None:
            grid = _grid(max(end, horizon), (horizon,))
            line, = ax.plot(grid, _model_survival(model, a, grid), color=colour, linestyle="--", linewidth=1.3,
                            zorder=3, gid=f"km-model:{name}", label=f"{name}: model (exact)")
            handles.append(line)
    if shown:
        handles.append(Line2D([], [], color="grey", alpha=0.5, linewidth=0.8,
                              label=f"single simulated trials ({shown} per arm)"))
    if study:
        for mark in survival_marks(batch.arm_names, horizon):
            colour = arm_colour(batch.arm_names.index(mark["arm"]))
            label = (f"study {mark['count']}/{mark['size']} "
                     f"(95% CI {100 * mark['ci_low']:.0f}-{100 * mark['ci_high']:.0f}%)")
            handles.append(_errorbar(ax, mark["x"], mark, label=label, gid=f"study:{mark['target']}",
                                     colour=colour))
        ax.axvline(horizon, color="0.6", linestyle=":", linewidth=1, zorder=0, gid="horizon")
    ax.set_xlim(0.0, max(end, horizon) * 1.03)
    ax.set_ylim(-0.02, 1.03)
    ax.set_xlabel("weeks since enrolment")
    ax.set_ylabel("alive (Kaplan-Meier)")
    ax.set_title(f"Survival: {batch.n_replicates} simulated trial{'s' if batch.n_replicates != 1 else ''} "
                 f"of {batch.n_patients}")
    ax.legend(handles=handles, loc="lower left", fontsize="x-small", frameon=False)
    return fig


# ------------------------------------------------------------------------------------------------ states


def state_shares(batch: TrialBatch, arm: int) -> tuple[np.ndarray, np.ndarray]:
    """Share of the arm's observed patients in NR, PR, CR, dead at each visit: ``(shares (4, V), observed (V,))``
    (NaN at a visit nobody was observed at). Pooled over the replicates."""
    response, _, _ = _require_course(batch, "responses")
    codes = response[batch.arm == arm]
    observed = (codes >= 0).sum(axis=0)
    counts = np.stack([(codes == s).sum(axis=0) for s in (NR, PR, CR, DEAD)]).astype(float)
    shares = np.full(counts.shape, np.nan)
    seen = observed > 0
    shares[:, seen] = counts[:, seen] / observed[seen]
    return shares, observed


def plot_states(batch: TrialBatch, *, arm: int | str = 0, style: str = "stacked", model: DiseaseModel | None = None,
                study: bool = True, ax=None):
    """State occupation (NR, PR, CR, dead) at each visit for one arm, pooled over the simulated trials.

    Parameters
    ----------
    batch
        Simulated trials with ``detail=True`` (``batch.response``).
    arm
        Arm name or index.
    style
        ``"stacked"`` (default): stacked bars per visit, bottom to top CR, PR, NR, dead, so that the tops of
        the layers are the shares in CR, in CR or PR, and alive. ``"lines"``: one line per state.
    model
        Also draw the model's exact occupation probabilities (:func:`trialsim.model.state_probabilities`) in
        continuous time: the layer tops (stacked) or one dashed curve per state (lines).
    study
        Mark the study's figures for this arm (ruxolitinib: PR 9/20 at week 1; CR 3/20 at week 3; CR 6/20,
        PR 10/20, NR alive 3/20, dead 1/20 at week 8) with exact 95% intervals. Stacked, they are marked as
        layer tops (CR+PR 9/20 at week 1 since CR is 0/20; CR+PR 16/20 and alive 19/20 at week 8), the interval
        being that of the summed count; lines, one mark per target in the state's colour, the four states of a
        visit side by side (NR, PR, CR, dead at -0.18, -0.06, +0.06, +0.18 weeks).
    ax
        Draw on this matplotlib axes (default: a new figure).

    Returns
    -------
    matplotlib.figure.Figure
        Stacked: four bar containers (``gid`` ``"state:NR"`` ...); lines: four lines (same gids). Model curves
        ``"state-model:LEVEL"`` (CR, CR+PR, alive; or the state names), study marks ``"study:LEVEL@WEEK"``.
    """
    batch = _check_batch(batch)
    a = _arm_index(batch, arm)
    style = check_choice("style", style, ("stacked", "lines"))
    model = _check_model(model, batch)
    _require_course(batch, "responses")
    fig, ax = new_axes(ax, caller="plot_states")
    name = batch.arm_names[a]
    visits = np.asarray(batch.visit_times, dtype=float)
    shares, observed = state_shares(batch, a)
    width = 0.7 * (float(np.min(np.diff(visits))) if visits.size > 1 else 1.0)
    if style == "stacked":
        bottom = np.zeros(visits.size)
        for state in _STACK:
            height = np.nan_to_num(shares[state])
            bars = ax.bar(visits, height, width=width, bottom=bottom, color=STATE_COLOURS[state], alpha=0.85,
                          edgecolor="white", linewidth=0.5, label=STATES[state], zorder=2)
            for patch in bars:
                patch.set_gid(f"state:{STATES[state]}")
            bottom = bottom + height
    else:
        for state in (NR, PR, CR, DEAD):
            ax.plot(visits, shares[state], color=STATE_COLOURS[state], marker="o", linewidth=1.8,
                    label=STATES[state], gid=f"state:{STATES[state]}", zorder=3)
    arm_model = None if model is None else model.arms[a]
    if model is not None and isinstance(arm_model, ArmModel):
        grid = _grid(float(visits.max()), visits)
        probs = state_probabilities(arm_model.response, grid, model.baseline)
        if style == "stacked":
            levels = np.cumsum(probs[:, list(_STACK[:3])], axis=1)
            for k, level in enumerate(_LEVEL_NAMES):
                ax.plot(grid, levels[:, k], color="black", linestyle="--", linewidth=1.0, zorder=4,
                        gid=f"state-model:{level}", label="model (exact)" if k == 0 else "_nolegend_")
        else:
            for state in (NR, PR, CR, DEAD):
                ax.plot(grid, probs[:, state], color=STATE_COLOURS[state], linestyle="--", linewidth=1.0,
                        gid=f"state-model:{STATES[state]}", label="model (exact)" if state == NR else "_nolegend_")
    if study:
        first = True
        for mark in state_marks(name, stacked=style == "stacked"):
            label = None
            if first:
                label = "study, cumulative from CR up (95% CI)" if style == "stacked" else "study (95% CI)"
            if style == "stacked":
                _errorbar(ax, mark["week"], mark, label=label, gid=f"study:{mark['label']}@{mark['week']:g}")
            else:   # side by side at a week, in the state's colour
                state = STATES.index(mark["label"])
                _errorbar(ax, mark["week"] + _NUDGE[state], mark, label=label, face=STATE_COLOURS[state],
                          gid=f"study:{mark['label']}@{mark['week']:g}")
            first = False
    ax.set_xlim(-0.2, float(visits.max()) + 0.8)
    ax.set_ylim(-0.02, 1.03)
    ax.set_xticks(visits)
    ax.set_xlabel("week of assessment")
    ax.set_ylabel("share of patients" + (" (stacked)" if style == "stacked" else ""))
    ax.set_title(f"Response, {name} ({int(observed.max()) if observed.size else 0} patients)")
    legend_below(ax, 34, ncol=3)
    return fig


# ------------------------------------------------------------------------------------------------ doses


def _dose_median(batch: TrialBatch, arm: int) -> np.ndarray:
    """Median dose of the arm's patients at the start and after each visit (those alive and observed then)."""
    response, dose, dose_start = _require_course(batch, "doses")
    in_arm = batch.arm == arm
    out = [float(np.median(dose_start[in_arm]))] if in_arm.any() else [math.nan]
    for j in range(len(batch.visit_times)):
        state = response[:, :, j]
        alive = in_arm & (state >= NR) & (state <= CR) & np.isfinite(dose[:, :, j])
        out.append(float(np.median(dose[:, :, j][alive])) if alive.any() else math.nan)
    return np.array(out)


def plot_doses(batch: TrialBatch, *, n_paths: int = 30, log: bool = False, study: bool = True, ax=None):
    """Glucocorticoid dose paths: a sample of patients per arm and the median per visit.

    The dose is constant between visits (it changes at each visit's adjustment), so paths are step functions,
    each ending at the patient's last observed visit (death, loss or the end of follow-up).

    Parameters
    ----------
    batch
        Simulated trials with ``detail=True`` (``batch.dose_start``, ``batch.dose``).
    n_paths
        Patients drawn per arm (the first of the first replicates).
    log
        Logarithmic dose axis (the taper is multiplicative).
    study
        Mark the study's median doses, 2.7 mg/kg/day at the start and 0.5 at week 8 (ruxolitinib).
    ax
        Draw on this matplotlib axes (default: a new figure).

    Returns
    -------
    matplotlib.figure.Figure
        A ``LineCollection`` of paths per arm (``gid`` ``"dose-paths:ARM"``), the median per visit of patients
        alive then (``"dose-median:ARM"``, from week 0) and the study's two medians (``"study:dose"``).
    """
    from matplotlib.collections import LineCollection

    batch = _check_batch(batch)
    n_paths = check_count("n_paths", n_paths, minimum=0)
    _, dose, dose_start = _require_course(batch, "doses")
    fig, ax = new_axes(ax, caller="plot_doses")
    visits = np.asarray(batch.visit_times, dtype=float)
    tail = 0.5 * (float(np.min(np.diff(visits))) if visits.size > 1 else 1.0)
    knots = np.concatenate(([0.0], visits, [visits[-1] + tail]))
    for a, name in enumerate(batch.arm_names):
        colour = arm_colour(a)
        in_arm = batch.arm == a
        doses = np.concatenate((dose_start[in_arm][:, None], dose[in_arm]), axis=1)[:n_paths]
        died = (batch.event[in_arm][:n_paths], batch.time[in_arm][:n_paths])
        segments = []
        for path, event, time in zip(doses, *died):
            finite = np.isfinite(path)
            last = int(np.argmin(finite)) if not finite.all() else path.size   # the first unobserved visit
            if last == 0:
                continue
            x = np.repeat(knots[:last + 1], 2)[1:-1]
            if event:   # the path ends at death
                x[-1] = max(x[-2], min(x[-1], time))
            segments.append(np.column_stack((x, np.repeat(path[:last], 2))))
        if segments:
            ax.add_collection(LineCollection(segments, colors=colour, linewidths=0.6, alpha=0.25, zorder=1,
                                             gid=f"dose-paths:{name}", label=f"_paths {name}"))
        median = _dose_median(batch, a)
        ax.plot(knots, np.append(median, median[-1]), color=colour, linewidth=2.2, marker="o", markersize=4,
                markevery=list(range(knots.size - 1)), drawstyle="steps-post", zorder=4,
                gid=f"dose-median:{name}", label=f"{name}: median of patients alive")
    if study:
        marks = [(t.week, t.value) for t in TARGETS
                 if t.name.startswith("dose_median_week") and t.arm in batch.arm_names]
        if marks:
            weeks, values = zip(*sorted(marks))
            ax.plot(weeks, values, linestyle="none", marker="*", markersize=13, markerfacecolor="gold",
                    markeredgecolor="black", zorder=6, gid="study:dose",
                    label="study median " + " → ".join(f"{v:g}" for v in values) + " mg/kg/day")
    ax.set_xlim(-0.25, knots[-1])
    if log:
        ax.set_yscale("log")
    else:
        ax.set_ylim(bottom=0.0)
    ax.set_xticks(np.concatenate(([0.0], visits)))
    ax.set_xlabel("weeks since enrolment")
    ax.set_ylabel("glucocorticoid dose (mg/kg/day)")
    ax.set_title(f"Glucocorticoid dose ({n_paths} patients an arm)")
    ax.legend(loc="upper right", fontsize="small", frameon=False)
    return fig


# ------------------------------------------------------------------------------------------------ together


def plot_simulation(batch: TrialBatch, *, model: DiseaseModel | None = None, horizon: float | None = None,
                    n_trials: int = 40, n_paths: int = 30, figsize: tuple[float, float] | None = None):
    """One figure of a simulated batch: Kaplan-Meier fan, dose paths, and state occupation per arm.

    With detail (responses and doses observed) the panels are survival and doses on top, one state panel per
    arm below; without (a survival-only model) the Kaplan-Meier panel alone. ``model`` adds the exact curves
    to the survival and state panels (what ``trialsim calibrate --check`` compares the cohorts with).
    ``figsize`` (inches) defaults to 11.2 x 8.6 with two arms (6.4 x 4.4 for the survival panel alone).

    Returns
    -------
    matplotlib.figure.Figure
    """
    batch = _check_batch(batch)
    model = _check_model(model, batch)
    if not has_course(batch):
        fig = new_figure(figsize or (6.4, 4.4), caller="plot_simulation")
        plot_km(batch, horizon=horizon, n_trials=n_trials, model=model, ax=fig.add_subplot())
        return fig
    n_arms = len(batch.arm_names)
    ncols = max(2, n_arms)
    fig = new_figure(figsize or (5.6 * ncols, 8.6), caller="plot_simulation")
    grid = fig.add_gridspec(2, ncols * 2)
    half = ncols  # the top row splits in two halves, the bottom row in one column per arm
    plot_km(batch, horizon=horizon, n_trials=n_trials, model=model, ax=fig.add_subplot(grid[0, :half]))
    plot_doses(batch, n_paths=n_paths, ax=fig.add_subplot(grid[0, half:]))
    for a in range(n_arms):
        plot_states(batch, arm=a, model=model, ax=fig.add_subplot(grid[1, 2 * a * ncols // n_arms:
                                                                         2 * (a + 1) * ncols // n_arms]))
    seed = "" if batch.seed is None else f", seed {batch.seed}"
    fig.suptitle(f"{batch.n_replicates} simulated trial{'s' if batch.n_replicates != 1 else ''} of "
                 f"{batch.n_patients} patients ({batch.engine or 'engine'}{seed})")
    return fig
