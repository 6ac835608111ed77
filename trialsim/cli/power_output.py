"""Text, JSON and CSV for power and sample-size results (formatting only, no computation)."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from typing import Any

from .output import format_table, to_json

__all__ = ["power_text", "power_json", "power_dict", "sample_size_text", "sample_size_json", "grid_text",
           "grid_dict", "write_grid_csv", "GRID_COLUMNS", "model_line", "trial_line"]

#: Fields that describe how a run was executed, not what it computed: left out of JSON so that the same seed
#: gives identical JSON whatever the number of jobs or the backend.
_VOLATILE = ("elapsed_seconds",)


def _pct(p: float) -> str:
    return "-" if p is None or not math.isfinite(p) else f"{100 * p:.1f}%"


def power_dict(result, scenario=None) -> dict:
    out = {k: v for k, v in result.to_dict().items() if k not in _VOLATILE}
    if scenario is not None:
        out["scenario"] = scenario.name
    return out


def power_json(result, scenario=None) -> str:
    return to_json(power_dict(result, scenario))


def trial_line(scenario) -> str:
    trial = scenario.design.prepare_trial(scenario.trial)
    arms = ":".join(str(k) for k in trial.n_per_arm()) if trial.n_arms > 1 else str(trial.n)
    parts = [f"n = {trial.n} ({arms})" if trial.n_arms > 1 else f"n = {trial.n}",
             f"follow-up {trial.follow_up:g} weeks"]
    if trial.accrual.kind == "instant":
        parts.append("all enrolled at week 0")
    elif trial.accrual.kind == "poisson":
        parts.append(f"accrual {trial.accrual.rate:g}/week")
    else:
        parts.append("piecewise accrual")
    if any(trial.dropout_hazard):
        parts.append(f"dropout {', '.join(f'{h:g}' for h in trial.dropout_hazard)}/week")
    if trial.analysis == "events":
        parts.append(f"analysis at death {trial.target_events}")
    elif trial.analysis == "calendar":
        parts.append(f"analysis at week {trial.analysis_time:g}")
    else:
        parts.append("analysis when follow-up is complete")
    return ", ".join(parts)


def model_line(scenario) -> str:
    model = scenario.model
    kind = "parametric (exponential arms)" if model.is_parametric else "calibrated CTD-MAS model"
    return f"{kind}; arms {', '.join(model.arm_names)}"


def _by_group(values: Sequence[float], result) -> str:
    """`` (a 4.10, b 4.50)`` when the analysis compares more than one group, else nothing."""
    if len(values) < 2:
        return ""
    return " (" + ", ".join(f"{g} {v:.2f}" for g, v in zip(result.groups, values)) + ")"


def power_text(result, scenario=None) -> str:
    lines = [f"Power: {result.design}"]
    if scenario is not None:
        lines.append(f"  scenario   {scenario.name}: {model_line(scenario)}")
        lines.append(f"  trial      {trial_line(scenario)}")
    lines.append(f"  simulated  {result.power:.4f}  (Monte Carlo s.e. {result.standard_error:.4f}; 95% CI "
                 f"{result.ci_low:.4f} to {result.ci_high:.4f}; {result.n_replicates:,} trials)")
    detail = [result.analytic_method]
    if math.isfinite(result.analytic_deaths):
        detail.append(f"{result.analytic_deaths:.2f} expected deaths{_by_group(result.analytic_deaths_by_arm, result)}")
    if math.isfinite(result.hazard_ratio):
        detail.append(f"hazard ratio {result.hazard_ratio:.3g}")
    lines.append(f"  analytic   {result.analytic_power:.4f}  ({'; '.join(detail)})")
    lines.append(f"  deaths     {result.mean_deaths:.2f} per trial on average{_by_group(result.mean_deaths_by_arm, result)} "
                 f"by the horizon; analysis at week {result.mean_duration:.2f} on average")
    if result.n_degenerate:
        lines.append(f"  note       {result.n_degenerate} of {result.n_replicates:,} trials had a degenerate statistic "
                     f"(no deaths or an empty group) and count as not significant")
    lines.append(f"  seed       {result.seed} (repeat with --seed {result.seed}); engine {result.engine}; "
                 f"{result.elapsed_seconds:.1f} s")
    return "\n".join(lines)


def sample_size_json(result, scenario=None) -> str:
    out = result.to_dict()
    if scenario is not None:
        out["scenario"] = scenario.name
    return to_json(out)


def sample_size_text(result, scenario=None) -> str:
    lines = [f"Sample size for {100 * result.target_power:g}% power: {result.design}"]
    if scenario is not None:
        lines.append(f"  scenario   {scenario.name}: {model_line(scenario)}")
        lines.append(f"  trial      {trial_line(scenario).split(', ', 1)[1]}")
    lines.append(f"  n          {result.n}  (multiples of {result.block})")
    lines.append(f"  power      {result.power_at_n:.4f} at n = {result.n} (s.e. {result.standard_error_at_n:.4f}); "
                 + (f"{result.power_below:.4f} at n = {result.n_below} (s.e. {result.standard_error_below:.4f})"
                    if math.isfinite(result.power_below) else f"n = {result.n_below} is below the search range"))
    if math.isfinite(result.power_difference):
        unpaired = math.hypot(result.standard_error_at_n, result.standard_error_below)
        lines.append(f"  step       +{result.power_difference:.4f} from n = {result.n_below} to {result.n} (paired s.e. "
                     f"{result.standard_error_difference:.4f}: the same replicates at both n; unpaired it would be "
                     f"{unpaired:.4f})")
    lines.append(f"  deaths     {result.mean_deaths_at_n:.2f} per trial on average at n = {result.n} by the horizon "
                 f"(analytic {result.analytic_deaths_at_n:.2f})")
    analytic = "-" if result.analytic_n is None else str(result.analytic_n)
    lines.append(f"  analytic   n = {analytic}; analytic power at n = {result.n}: {result.analytic_power_at_n:.4f}")
    if result.n_smallest is not None:
        lines.append(f"  exact      smallest n that works {result.n_smallest}; every n from {result.n_stable} works "
                     f"(checked up to {result.checked_up_to}): exact tests have a saw-tooth power curve")
    lines.append(f"  replicates {result.n_replicates:,} at n and n - {result.block} (same seed at every n); seed "
                 f"{result.seed}")
    if result.note:
        lines.append(f"  note       {result.note}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------- power curves

GRID_COLUMNS = ("parameter", "value", "n", "power", "standard_error", "ci_low", "ci_high", "analytic_power",
                "mean_deaths", "analytic_deaths", "mean_duration", "n_replicates", "seed", "design")


def _grid_rows(parameter: str, points: Sequence[tuple[object, Any]]) -> list[list]:
    return [[parameter, value, r.n, r.power, r.standard_error, r.ci_low, r.ci_high, r.analytic_power, r.mean_deaths,
             r.analytic_deaths, r.mean_duration, r.n_replicates, r.seed, r.design] for value, r in points]


def _one_design(points: Sequence[tuple[object, Any]]) -> str | None:
    """The design of every point when they share one, else None (``--grid endpoint=...`` or ``test=...``)."""
    designs = {r.design for _, r in points}
    return designs.pop() if len(designs) == 1 else None


def grid_text(parameter: str, points: Sequence[tuple[object, Any]]) -> str:
    """The power curve as a table. When the points differ in design, each row says its own."""
    design = _one_design(points)
    rows = [[row[1], row[2], _pct(row[3]), f"{100 * row[4]:.2f}", f"{_pct(row[5])} to {_pct(row[6])}",
             _pct(row[7]), row[8], row[13]] for row in _grid_rows(parameter, points)]
    headers = [parameter, "n", "power", "s.e. (pts)", "95% CI", "analytic", "deaths", "design"]
    formats: list[str | None] = [None, None, None, None, None, None, ".2f", None]
    align = "r" * 7 + "l"
    if design is not None:
        rows, headers, formats, align = [r[:-1] for r in rows], headers[:-1], formats[:-1], align[:-1]
    if parameter == "n":
        rows, headers, formats, align = [r[1:] for r in rows], headers[1:], formats[1:], align[1:]
    table = format_table(rows, headers, formats, align=align)
    seed = points[0][1].seed if points else "-"
    reps = points[0][1].n_replicates if points else 0
    title = f"Power curve: {design}" if design is not None else f"Power curve over {parameter} (designs per row)"
    return f"{title}\n{table}\n{reps:,} trials per point, seed {seed} at every point"


def grid_dict(parameter: str, points: Sequence[tuple[object, Any]]) -> dict:
    """``{"parameter", "design" (None when the points differ), "points": [...]}``; every point names its design."""
    return {"parameter": parameter, "design": _one_design(points),
            "points": [dict(zip(GRID_COLUMNS, row)) for row in _grid_rows(parameter, points)]}


def write_grid_csv(path: str, parameter: str, points: Sequence[tuple[object, Any]]) -> None:
    """Write the power curve as CSV (``--out``), whole or not at all."""
    from .files import write_output

    rows = _grid_rows(parameter, points)

    def writer(tmp: str) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as handle:
            out = csv.writer(handle)
            out.writerow(GRID_COLUMNS)
            for row in rows:
                out.writerow([repr(v) if isinstance(v, float) else v for v in row])

    write_output("--out", path, writer)
