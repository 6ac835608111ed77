"""Plots of designs: power curves, group-sequential boundaries, assurance, Bayesian prior-data conflict.

Each returns a matplotlib ``Figure`` and, with ``ax`` given, draws on it and returns its figure. Artists carry a
``gid`` for callers and tests: ``"power-simulated"``, ``"power-band"``, ``"power-analytic"``, ``"power-target"``;
``"bound:efficacy"``, ``"bound:efficacy-lower"``, ``"bound:futility"``, ``"hr:efficacy"``, ``"hr:efficacy-harm"``,
``"hr:futility"``, ``"hr:design"``, ``"stop:efficacy"``, ``"stop:futility"``, ``"stop:any"``,
``"stop-design:efficacy"``, ``"stop-design:futility"``; ``"assurance-hist"``, ``"assurance"``, ``"point-power"``;
``"oc:type-i-error"``, ``"oc:power"``, ``"alpha"``, ``"historical"``, ``"historical-ci"``, ``"prior-mean"``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from ..design import ConflictOC, GroupSequentialDesign, PowerResult, SequentialPowerResult, SurvivalDesign
from ..exceptions import invalid
from ..model import TARGETS_BY_NAME
from ..model.validation import check_choice, check_positive, check_probability, is_number
from ..stats import proportion_ci
from .common import legend_below, new_axes, new_figure

__all__ = ["plot_power_curve", "plot_boundaries", "plot_sequential_power", "hazard_ratio_bound", "plot_assurance",
           "plot_conflict_oc"]

_SIMULATED, _ANALYTIC, _EFFICACY, _FUTILITY = "#1f5fa8", "#555555", "#2e8b57", "#c8402c"
_TYPE_I, _POWER = "#c8402c", "#1f5fa8"
#: The study's historical controls: 13/21 alive at week 8.
STUDY_CONTROL: tuple[int, int] = (int(TARGETS_BY_NAME["survival_control"].count or 0),
                                  int(TARGETS_BY_NAME["survival_control"].size or 0))
_AXIS_NAMES = {"n": "trial size n (patients, all arms)"}


# ------------------------------------------------------------------------------------------------ power


def plot_power_curve(points: Sequence[tuple[float, PowerResult]], *, parameter: str = "n", band: str = "wilson",
                     target: float | None = None, analytic: bool = True, ax=None):
    """Simulated power against a swept parameter, with its Monte Carlo band and the analytic curve beside it.

    Parameters
    ----------
    points
        ``(value, PowerResult)`` pairs (what ``trialsim power --grid`` computes). Numbers are sorted on a numeric
        axis; other values (an allocation ``(2, 1)``, a name) get one tick each, in the order given.
    parameter
        The swept parameter's name, for the axis (``"n"`` is spelled out).
    band
        ``"wilson"`` (default): each result's 95% Wilson interval (``ci_low``, ``ci_high``); ``"se"``:
        ``power +/- 1.96 standard_error``, clipped to [0, 1].
    target
        Draw a horizontal line at this power (e.g. 0.8).
    analytic
        Draw each result's ``analytic_power`` (dashed).
    ax
        Draw on this matplotlib axes (default: a new figure).

    Returns
    -------
    matplotlib.figure.Figure
        The simulated power (line and markers, ``gid`` ``"power-simulated"``), the band (a ``PolyCollection``
        from ``fill_between``, ``"power-band"``), the analytic power (``"power-analytic"``) and the target
        (``"power-target"``).
    """
    band = check_choice("band", band, ("wilson", "se"))
    if target is not None:
        target = check_probability("target", target)
    rows = []
    for item in points:
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], PowerResult)):
            raise invalid("points", "must hold (value, PowerResult) pairs", item)
        rows.append(item)
    if not rows:
        raise invalid("points", "must hold at least one (value, PowerResult) pair", points)
    numeric = all(is_number(v) and math.isfinite(v) for v, _ in rows)
    if numeric:
        rows.sort(key=lambda row: row[0])
    fig, ax = new_axes(ax, caller="plot_power_curve")
    # numbers on a numeric axis; anything else (an allocation 2:1, a test name) one tick per value, in order
    x = np.array([float(v) for v, _ in rows]) if numeric else np.arange(len(rows), dtype=float)
    if not numeric:
        ax.set_xticks(x)
        ax.set_xticklabels([_value_label(v) for v, _ in rows])
    results = [r for _, r in rows]
    power = np.array([r.power for r in results])
    if band == "wilson":
        low, high = np.array([r.ci_low for r in results]), np.array([r.ci_high for r in results])
        band_label = "Monte Carlo 95% interval (Wilson)"
    else:
        se = np.array([r.standard_error for r in results])
        low, high = np.clip(power - 1.96 * se, 0, 1), np.clip(power + 1.96 * se, 0, 1)
        band_label = "Monte Carlo ±1.96 s.e."
    ax.fill_between(x, low, high, color=_SIMULATED, alpha=0.22, linewidth=0, label=band_label, gid="power-band")
    reps = sorted({r.n_replicates for r in results})
    reps_text = f"{reps[0]:,}" if len(reps) == 1 else f"{reps[0]:,}-{reps[-1]:,}"
    ax.plot(x, power, color=_SIMULATED, marker="o", markersize=4, linewidth=1.8, gid="power-simulated",
            label=f"simulated ({reps_text} trials per point)")
    if analytic:
        methods = sorted({r.analytic_method for r in results})
        ax.plot(x, [r.analytic_power for r in results], color=_ANALYTIC, linestyle="--", linewidth=1.5,
                gid="power-analytic", label=f"analytic ({', '.join(methods)})")
    if target is not None:
        ax.axhline(target, color="0.5", linestyle=":", linewidth=1, gid="power-target", label=f"power {target:g}")
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel(_AXIS_NAMES.get(parameter, parameter))
    ax.set_ylabel("power")
    first = results[0]
    ax.set_title(first.design or "Power")
    ax.title.set_fontsize("medium")
    ax.legend(loc="lower right", fontsize="small", frameon=False)
    ax.grid(alpha=0.25)
    return fig


def _value_label(value) -> str:
    if isinstance(value, (tuple, list)):
        return ":".join(f"{v:g}" if is_number(v) else str(v) for v in value)
    return f"{value:g}" if is_number(value) else str(value)


# ------------------------------------------------------------------------------------------------ boundaries


def hazard_ratio_bound(z, events, allocation_ratio: float = 1.0, *, benefit_below_one: bool = True) -> np.ndarray:
    """The observed hazard ratio at which the log-rank z equals ``z`` with ``events`` deaths (Schoenfeld):
    ``exp(-z (1 + r) / sqrt(r d))`` (treatment better below 1), ``exp(+...)`` with ``benefit_below_one=False``.

    >>> round(float(hazard_ratio_bound(1.96, 100)), 4)
    0.6757
    >>> [round(float(h), 3) for h in hazard_ratio_bound([2.96, 1.97], [15, 30], 2.0)]
    [0.198, 0.466]
    """
    r = check_positive("allocation_ratio", allocation_ratio)
    d = np.asarray(events, dtype=float)
    if np.any(~np.isfinite(d)) or np.any(d <= 0):
        raise invalid("events", "must be positive numbers", events)
    sign = -1.0 if benefit_below_one else 1.0
    return np.exp(sign * np.asarray(z, dtype=float) * (1 + r) / np.sqrt(r * d))


def _events(gs: GroupSequentialDesign, events) -> np.ndarray | None:
    if events is None:
        return None
    t = np.asarray(gs.information_fractions)
    d = np.atleast_1d(np.asarray(events, dtype=float))
    if d.size == 1:
        d = float(d[0]) * t
    if d.size != t.size or np.any(~np.isfinite(d)) or np.any(d <= 0):
        raise invalid("events", f"must be the maximum number of deaths or one positive number per look ({t.size})",
                      events)
    return d


def _stopping(stopping, k: int) -> dict[str, np.ndarray]:
    if stopping is None:
        return {}
    items = stopping.items() if isinstance(stopping, Mapping) else [("any", stopping)]
    out = {}
    for key, values in items:
        if key not in ("efficacy", "futility", "any"):
            raise invalid("stopping", "keys must be 'efficacy' and 'futility'", key)
        arr = np.asarray(values, dtype=float).ravel()
        if arr.size != k or np.any(~np.isfinite(arr)) or np.any(arr < 0) or np.any(arr > 1):
            raise invalid("stopping", f"must give one proportion in [0, 1] per look ({k})", values)
        out[key] = arr
    return out


def plot_boundaries(design: GroupSequentialDesign | SurvivalDesign, *, scale: str | None = None, events=None,
                    allocation_ratio: float | None = None, stopping=None, expected: str | None = None, ax=None):
    """Group-sequential boundaries on the z scale and on the hazard-ratio scale, with stopping proportions.

    Parameters
    ----------
    design
        A :class:`~trialsim.design.GroupSequentialDesign`, or a :class:`~trialsim.design.SurvivalDesign`
        (its looks carry the events, the allocation ratio and the efficacy hazard ratios).
    scale
        ``"z"``, ``"hr"`` or ``"both"`` (two panels side by side; only without ``ax``). Default: ``"both"``
        when the events are known and no ``ax`` is given, else ``"z"``.
    events
        For a ``GroupSequentialDesign``: the maximum number of deaths (looks at ``t_k`` times it) or one number
        per look; needed for the hazard-ratio scale. Taken from a ``SurvivalDesign``.
    allocation_ratio
        ``r`` = n_treatment / n_control for the hazard-ratio scale (default 1, or the survival design's).
    stopping
        Simulated proportions of trials stopping at each look: an array (any reason), or a mapping with
        ``"efficacy"`` and/or ``"futility"`` arrays. Drawn as bars on a right-hand axis of the z panel.
    expected
        ``"h0"`` or ``"h1"``: also mark the design's own stopping probabilities at each look under that
        hypothesis (hollow markers on the same axis), to compare with ``stopping``.
    ax
        Draw on this matplotlib axes (default: a new figure).

    Returns
    -------
    matplotlib.figure.Figure
        Efficacy bounds (``gid`` ``"bound:efficacy"``, and ``"bound:efficacy-lower"`` when two-sided), the
        futility bound (``"bound:futility"``); on the HR scale ``"hr:efficacy"`` (stop for efficacy at an
        observed HR at or beyond it), ``"hr:efficacy-harm"`` (two-sided), ``"hr:futility"``, ``"hr:design"``;
        the bars ``"stop:efficacy"``, ``"stop:futility"``, ``"stop:any"``.

    Notes
    -----
    On the HR scale a bound z at d deaths is the hazard ratio ``exp(-z (1 + r) / sqrt(r d))`` (Schoenfeld's
    approximation; :func:`hazard_ratio_bound`); a survival design designed for a harmful effect (HR > 1) uses
    the opposite sign, as its ``efficacy_hazard_ratio`` does.
    """
    d: np.ndarray | None
    if isinstance(design, SurvivalDesign):
        gs, survival = design.design, design
        if events is not None:
            raise invalid("events", "come from the SurvivalDesign; give them only with a GroupSequentialDesign",
                          events)
        d = np.asarray(design.events, dtype=float)
        r = design.allocation_ratio if allocation_ratio is None else check_positive("allocation_ratio",
                                                                                    allocation_ratio)
    elif isinstance(design, GroupSequentialDesign):
        gs, survival = design, None
        d = _events(gs, events)
        r = 1.0 if allocation_ratio is None else check_positive("allocation_ratio", allocation_ratio)
    else:
        raise invalid("design", "must be a GroupSequentialDesign or a SurvivalDesign", type(design).__name__)
    if scale is None:
        scale = "both" if d is not None and ax is None else "z"
    scale = check_choice("scale", scale, ("z", "hr", "both"))
    if scale == "both" and ax is not None:
        raise invalid("scale", "'both' draws two panels: give no ax, or scale 'z' or 'hr'", scale)
    if scale in ("hr", "both") and d is None:
        raise invalid("events", "are needed for the hazard-ratio scale (or give a SurvivalDesign)", events)
    if expected is not None:
        expected = check_choice("expected", expected, ("h0", "h1"))
    stops = _stopping(stopping, len(gs.information_fractions))
    if scale == "both":
        fig = new_figure((11.0, 4.2), caller="plot_boundaries")
        _draw_z(fig.add_subplot(1, 2, 1), gs, d, stops, expected)
        _draw_hr(fig.add_subplot(1, 2, 2), gs, d, r, survival)
        return fig
    fig, ax = new_axes(ax, caller="plot_boundaries")
    if scale == "z":
        _draw_z(ax, gs, d, stops, expected)
    else:
        _draw_hr(ax, gs, d, r, survival)
    return fig


def plot_sequential_power(result: SequentialPowerResult, boundaries: GroupSequentialDesign, *,
                          allocation_ratio: float | None = None, scale: str | None = None, ax=None):
    """A simulated trial with looks: the bounds as applied, at the planned deaths, with the share of simulated
    trials that stopped at each look (what ``trialsim power --looks ... --plot`` and the report draw).

    Parameters
    ----------
    result
        A :class:`~trialsim.design.SequentialPowerResult` of a design with looks (``result.sequential``).
    boundaries
        The normal-theory design of those looks (``SequentialDesign.boundaries_at(fractions)``): its name,
        spending, alpha and sides label the figure; the bounds drawn are the result's, as applied (calibrated
        ones where the design calibrated them), at each look's planned (or expected) deaths.
    allocation_ratio, scale, ax
        As :func:`plot_boundaries` (default scale: both panels without ``ax``).

    Returns
    -------
    matplotlib.figure.Figure
        :func:`plot_boundaries`' artists; the bars ``"stop:efficacy"`` and ``"stop:futility"`` are the simulated
        shares (at the last look, 'futility' is ending without rejecting H0).
    """
    from dataclasses import replace

    if not isinstance(result, SequentialPowerResult) or not result.sequential:
        raise invalid("result", "must be the SequentialPowerResult of a design with looks", type(result).__name__)
    looks = result.looks
    fractions = tuple(look.information_fraction for look in looks)
    if not isinstance(boundaries, GroupSequentialDesign) or not np.allclose(boundaries.information_fractions,
                                                                               fractions):
        raise invalid("boundaries", f"must be a GroupSequentialDesign at the result's fractions {fractions}",
                      type(boundaries).__name__)
    applied = replace(boundaries, efficacy_z=tuple(look.efficacy_z for look in looks),
                      futility_z=tuple(look.futility_z for look in looks))
    stopping = {"efficacy": [look.efficacy_stop for look in looks],
                "futility": [look.futility_stop for look in looks]}
    return plot_boundaries(applied, events=[look.planned_deaths for look in looks], scale=scale,
                           allocation_ratio=allocation_ratio, stopping=stopping, ax=ax)


def _futility(gs: GroupSequentialDesign) -> np.ndarray | None:
    if all(z is None for z in gs.futility_z):
        return None
    return np.array([math.nan if z is None else z for z in gs.futility_z])


def _look_labels(t: np.ndarray, d: np.ndarray | None) -> list[str]:
    if d is None:
        return [f"{x:.2f}" for x in t]
    return [f"{x:.2f}\n({e:.0f} deaths)" for x, e in zip(t, d)]


def _draw_z(ax, gs: GroupSequentialDesign, d, stops: dict, expected: str | None) -> None:
    t = np.asarray(gs.information_fractions)
    upper = np.asarray(gs.efficacy_z)
    futility = _futility(gs)
    top = float(np.max(upper)) + 1.0
    bottom = min(-1.0, float(np.nanmin(futility)) - 1.0) if futility is not None else -1.0
    if gs.sided == 2:
        bottom = -top
    ax.fill_between(t, upper, top, color=_EFFICACY, alpha=0.08, linewidth=0, zorder=0)
    ax.plot(t, upper, color=_EFFICACY, marker="o", linewidth=2, gid="bound:efficacy", zorder=3,
            label=f"efficacy ({gs.efficacy}): stop, reject H0")
    for x, z in zip(t, upper):
        ax.annotate(f"{z:.2f}", (x, z), textcoords="offset points", xytext=(0, 7), ha="center",
                    fontsize="small", color=_EFFICACY)
    if gs.sided == 2:
        ax.fill_between(t, bottom, -upper, color=_EFFICACY, alpha=0.08, linewidth=0, zorder=0)
        ax.plot(t, -upper, color=_EFFICACY, marker="o", linewidth=2, gid="bound:efficacy-lower", zorder=3,
                label="efficacy, lower tail")
    if futility is not None:
        kind = "binding" if gs.binding else "non-binding"
        ax.fill_between(t, bottom, futility, color=_FUTILITY, alpha=0.08, linewidth=0, zorder=0)
        ax.plot(t, futility, color=_FUTILITY, marker="s", linewidth=2, gid="bound:futility", zorder=3,
                label=f"futility ({gs.futility}, {kind}): stop")
        for x, z in zip(t[:-1], futility[:-1]):
            ax.annotate(f"{z:.2f}", (x, z), textcoords="offset points", xytext=(0, -13), ha="center",
                        fontsize="small", color=_FUTILITY)
    ax.axhline(0.0, color="0.6", linewidth=0.6, zorder=1)
    ax.set_ylim(bottom, top)
    ax.set_xlim(0.0, 1.05)
    ax.set_xticks(t)
    ax.set_xticklabels(_look_labels(t, d), fontsize="small")
    ax.set_xlabel("information fraction at the look")
    ax.set_ylabel("z statistic (treatment better: z > 0)")
    ax.set_title(f"Boundaries, {len(t)} looks, alpha {gs.alpha:g} ({gs.sided}-sided), power {gs.power:g}")
    ax.title.set_fontsize("medium")
    handles, labels = ax.get_legend_handles_labels()
    if stops or expected:
        twin = ax.twinx()
        ax.set_zorder(twin.get_zorder() + 1)   # the bounds above the bars
        ax.patch.set_visible(False)
        width = min(0.5 * float(np.min(np.diff(np.concatenate(([0.0], t))))), 0.16)
        ax.set_xlim(0.0, max(1.05, float(t[-1]) + 0.5 * width + 0.01))   # the last look's bar whole
        base = np.zeros(t.size)
        colours = {"efficacy": _EFFICACY, "futility": _FUTILITY, "any": "0.45"}
        for key in ("efficacy", "futility", "any"):
            if key in stops:
                bars = twin.bar(t, stops[key], width=width, bottom=base, color=colours[key], alpha=0.3,
                                label=f"simulated: stopped ({key})", zorder=1)
                for patch in bars:
                    patch.set_gid(f"stop:{key}")
                base = base + stops[key]
        if expected:
            for key, values in (("efficacy", getattr(gs, f"efficacy_crossing_{expected}")),
                                ("futility", getattr(gs, f"futility_crossing_{expected}"))):
                values = np.asarray(values, dtype=float)
                if key == "futility" and futility is None:
                    continue
                twin.plot(t, values, linestyle="none", marker="o" if key == "efficacy" else "s",
                          markerfacecolor="none", markeredgecolor=colours[key], markersize=8,
                          gid=f"stop-design:{key}", label=f"design: stops ({key}) under {expected.upper()}")
        twin.set_ylim(0.0, 1.0)
        twin.set_ylabel("share of trials stopping at the look")
        more_h, more_l = twin.get_legend_handles_labels()
        handles, labels = handles + more_h, labels + more_l
    legend_below(ax, 46, handles, labels, ncol=2)


def _draw_hr(ax, gs: GroupSequentialDesign, d: np.ndarray | None, r: float, survival: SurvivalDesign | None
             ) -> None:
    assert d is not None   # plot_boundaries checked
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    below = survival is None or survival.hazard_ratio < 1
    upper = np.asarray(gs.efficacy_z)
    if survival is not None:
        hr_eff = np.asarray(survival.efficacy_hazard_ratio)
    else:
        hr_eff = hazard_ratio_bound(upper, d, r, benefit_below_one=below)
    ax.plot(d, hr_eff, color=_EFFICACY, marker="o", linewidth=2, gid="hr:efficacy", zorder=3,
            label="efficacy: stop if the observed HR is " + ("below" if below else "above"))
    for x, h in zip(d, hr_eff):
        ax.annotate(f"{h:.2f}", (x, h), textcoords="offset points", xytext=(0, 7 if below else -13), ha="center",
                    fontsize="small", color=_EFFICACY)
    values = list(hr_eff)
    if gs.sided == 2:
        harm = 1.0 / hr_eff
        ax.plot(d, harm, color=_EFFICACY, marker="o", linewidth=1.2, linestyle="--", gid="hr:efficacy-harm",
                label="efficacy, other tail")
        values += list(harm)
    futility = _futility(gs)
    if futility is not None:
        hr_fut = hazard_ratio_bound(futility, d, r, benefit_below_one=below)
        ax.plot(d, hr_fut, color=_FUTILITY, marker="s", linewidth=2, gid="hr:futility", zorder=3,
                label="futility: stop if the observed HR is " + ("above" if below else "below"))
        values += [v for v in hr_fut if np.isfinite(v)]
    ax.axhline(1.0, color="0.6", linewidth=0.6)
    if survival is not None:
        ax.axhline(survival.hazard_ratio, color="0.3", linestyle=":", linewidth=1.2, gid="hr:design",
                   label=f"design hazard ratio {survival.hazard_ratio:g}")
        values.append(survival.hazard_ratio)
    ax.set_yscale("log")
    low, high = min(values + [1.0]), max(values + [1.0])
    ax.set_ylim(low / 1.25, high * 1.25)
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xlim(0.0, float(np.max(d)) * 1.08)
    ax.set_xlabel("deaths at the look")
    ax.set_ylabel("hazard ratio, treatment / control")
    ax.set_title(f"Boundaries as hazard ratios (allocation {r:g}:1)")
    ax.title.set_fontsize("medium")
    legend_below(ax, 34, ncol=2)


# ------------------------------------------------------------------------------------------------ assurance


def plot_assurance(powers, *, assurance: float | None = None, point_power: float | None = None, bins=None,
                   ax=None):
    """The distribution of power over draws of the uncertain parameters (the prior), with the assurance.

    Parameters
    ----------
    powers
        One power per draw, each in [0, 1].
    assurance
        The assurance (the power averaged over the prior); default: the mean of ``powers``.
    point_power
        The power at the point estimate (e.g. at the study's 19/20 and 13/21), drawn beside it.
    bins
        Histogram bins (default: 40 of width 0.025 on [0, 1]).
    ax
        Draw on this matplotlib axes (default: a new figure).

    Returns
    -------
    matplotlib.figure.Figure
        The histogram (its bars ``gid`` ``"assurance-hist"``), the assurance line (``"assurance"``) and the
        point-estimate line (``"point-power"``).
    """
    p = np.asarray(powers, dtype=float).ravel()
    if p.size == 0 or np.any(~np.isfinite(p)) or np.any(p < 0) or np.any(p > 1):
        raise invalid("powers", "must be one or more numbers in [0, 1]", powers if p.size < 6 else f"{p.size} values")
    given = assurance is not None
    a = check_probability("assurance", assurance) if given else float(p.mean())
    if point_power is not None:
        point_power = check_probability("point_power", point_power)
    fig, ax = new_axes(ax, caller="plot_assurance")
    bins = np.linspace(0.0, 1.0, 41) if bins is None else bins
    _, _, patches = ax.hist(p, bins=bins, color="#7a9cc6", edgecolor="white", linewidth=0.5,
                            label=f"power over {p.size:,} prior draws")
    for patch in patches:
        patch.set_gid("assurance-hist")
    ax.axvline(a, color="#1f3f78", linewidth=2, gid="assurance",
               label=f"assurance {a:.3f}" + ("" if given else " (mean power)"))
    if point_power is not None:
        ax.axvline(point_power, color="#c8402c", linewidth=1.8, linestyle="--", gid="point-power",
                   label=f"power at the point estimate {point_power:.3f}")
    below = float(np.mean(p < 0.8))
    ax.text(0.02, 0.95, f"P(power < 0.8) = {below:.2f}", transform=ax.transAxes, va="top", fontsize="small")
    ax.set_xlim(0.0, 1.0)
    ax.set_xlabel("power of the trial at a draw from the prior")
    ax.set_ylabel("draws")
    ax.set_title("Assurance: power averaged over the uncertainty in the effect")
    ax.title.set_fontsize("medium")
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, 0.88), fontsize="small", frameon=False)
    return fig


# ------------------------------------------------------------------------------------------------ conflict


def plot_conflict_oc(oc: ConflictOC, *, alpha: float = 0.025, historical: tuple[int, int] | None = STUDY_CONTROL,
                     ax=None):
    """Bayesian operating characteristics under prior-data conflict: type I error and power against the true
    control rate.

    Parameters
    ----------
    oc
        A :class:`~trialsim.design.ConflictOC` (:func:`trialsim.design.conflict_oc`).
    alpha
        The nominal type I error, drawn as a horizontal line (e.g. ``1 - rule.threshold`` or the frequentist
        design's one-sided alpha).
    historical
        ``(x0, n0)`` of the historical controls, drawn at ``x0 / n0`` with its exact 95% interval shaded
        (default the study's 13/21); ``None`` draws nothing.
    ax
        Draw on this matplotlib axes (default: a new figure); the power goes on a right-hand twin axis.

    Returns
    -------
    matplotlib.figure.Figure
        Type I error (``gid`` ``"oc:type-i-error"``, left axis), power (``"oc:power"``, right axis), the nominal
        alpha (``"alpha"``), the historical rate (``"historical"``) and its interval (``"historical-ci"``), the
        control prior's mean (``"prior-mean"``).
    """
    if not isinstance(oc, ConflictOC):
        raise invalid("oc", "must be a ConflictOC (trialsim.design.conflict_oc)", type(oc).__name__)
    alpha = check_probability("alpha", alpha, open_low=True, open_high=True)
    if historical is not None:
        if not (isinstance(historical, tuple) and len(historical) == 2):
            raise invalid("historical", "must be (x0, n0) or None", historical)
        ci = proportion_ci(historical[0], historical[1])
    fig, ax = new_axes(ax, caller="plot_conflict_oc")
    pc = np.asarray(oc.p_c, dtype=float)
    order = np.argsort(pc)
    pc, t1e, power = pc[order], np.asarray(oc.type_i_error)[order], np.asarray(oc.power)[order]
    shift = np.asarray(oc.p_t, dtype=float)[order] - pc
    if historical is not None:
        ax.axvspan(float(ci.ci_low), float(ci.ci_high), color="0.85", alpha=0.6, zorder=0, gid="historical-ci",
                   label=f"historical 95% CI ({100 * ci.ci_low:.0f}-{100 * ci.ci_high:.0f}%)")
        ax.axvline(historical[0] / historical[1], color="0.25", linewidth=1.2, gid="historical",
                   label=f"historical {historical[0]}/{historical[1]}")
    ax.axvline(oc.prior_mean_control, color="0.25", linewidth=1, linestyle=":", gid="prior-mean",
               label=f"control prior mean {oc.prior_mean_control:.2f} (ESS {oc.ess_control:.1f})")
    ax.plot(pc, t1e, color=_TYPE_I, marker="o", markersize=3, linewidth=1.8, gid="oc:type-i-error",
            label="type I error (left)")
    ax.axhline(alpha, color=_TYPE_I, linestyle="--", linewidth=1, gid="alpha", label=f"nominal alpha {alpha:g}")
    ax.set_ylim(0.0, max(float(np.nanmax(t1e)) * 1.15, 3 * alpha))
    ax.set_xlabel("true control rate p_C")
    ax.set_ylabel("type I error (p_T = p_C)", color=_TYPE_I)
    twin = ax.twinx()
    constant = np.allclose(shift, shift[0]) if shift.size else False
    power_axis = f"power (p_T = p_C + {shift[0]:.2g})" if constant else "power (p_T given)"
    twin.plot(pc, power, color=_POWER, marker="s", markersize=3, linewidth=1.8, gid="oc:power",
              label="power (right)")
    twin.set_ylim(0.0, 1.02)
    twin.set_ylabel(power_axis, color=_POWER)
    ax.set_xlim(float(pc.min()), float(pc.max())) if pc.size > 1 else None
    ax.set_title("Prior-data conflict: operating characteristics over the true control rate")
    ax.title.set_fontsize("medium")
    handles, labels = ax.get_legend_handles_labels()
    more_h, more_l = twin.get_legend_handles_labels()
    ax.legend(handles + more_h, labels + more_l, loc="upper left", fontsize="x-small", frameon=False)
    return fig
