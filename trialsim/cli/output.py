"""Reporting: plain-text tables and JSON for the command line (no computation here)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

import numpy as np

__all__ = ["format_table", "to_json", "jsonable", "calibration_text", "estimate", "plural"]


def jsonable(value):
    """Recursively turn numpy scalars/arrays, tuples and non-finite floats into JSON-safe values (NaN -> null)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return value if math.isfinite(value) else None
    return value


def to_json(obj) -> str:
    return json.dumps(jsonable(obj), indent=2, allow_nan=False)


def estimate(value: float, digits: int) -> str:
    """A number as the text prints it, ``-`` where there is none (a standard error of one trial or one draw), as
    in a table and as the JSON's null."""
    return _cell(float(value), f".{digits}f")


def plural(count: int, noun: str) -> str:
    """``1 draw``, ``6 draws``, with thousands separated."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _cell(value, fmt: str | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "NO"
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(value):
            return "-"
        return format(value, fmt or ".4g")
    return str(value)


def format_table(rows: Sequence[Sequence], headers: Sequence[str], formats: Sequence[str | None] | None = None,
                 align: str | None = None) -> str:
    """Fixed-width text table. ``align`` holds one of ``l``/``r`` per column (default: first left, rest right)."""
    formats = formats or [None] * len(headers)
    align = align or "l" + "r" * (len(headers) - 1)
    cells = [[_cell(v, f) for v, f in zip(row, formats)] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]

    def line(values):
        return "  ".join(v.ljust(w) if a == "l" else v.rjust(w) for v, w, a in zip(values, widths, align)).rstrip()

    out = [line(headers), line(["-" * w for w in widths])]
    out += [line(r) for r in cells]
    return "\n".join(out)


def calibration_text(result, check: dict | None = None) -> str:
    """The calibration table a trialist reads: target, observed (95% CI), model, inside; then the parameters."""
    sim = {row["name"]: row for row in (check or {}).get("targets", [])}
    headers = ["target", "observed", "95% CI (exact)", "model", "inside"]
    if check:
        headers += ["simulated", "MC 95% CI"]
    rows = []
    for t in result.targets:
        obs = f"{t.count}/{t.size}" if t.count is not None else f"{t.observed:g}"
        if t.ci_low is None:
            ci = "(+/- 0.05)"
        else:
            ci = f"[{t.ci_low:.3f}, {t.ci_high:.3f}]"
        row = [t.name, obs, ci, f"{t.model:.4f}", t.inside]
        if check:
            s = sim.get(t.name)
            if s is None or s.get("simulated") is None:
                row += ["-", "-"]
            else:
                row += [f"{s['simulated']:.4f}", f"[{s['simulated_ci_low']:.4f}, {s['simulated_ci_high']:.4f}]"]
        rows.append(row)
    out = ["trialsim calibrate: CTD-MAS model calibrated to Li et al., ACR Convergence 2025 (abstract 1179)",
           f"survival horizon: week {result.horizon_weeks:g}", "",
           format_table(rows, headers, align="lrrrr" + "rr" * bool(check))]
    n_in = sum(t.inside for t in result.targets)
    out.append(f"\n{n_in} of {len(result.targets)} targets: model value inside the observed 95% interval "
               f"(median doses: within 0.05 mg/kg/day).")
    pooled = [(name, row["simulated_pooled_median"]) for name, row in sim.items()
              if row.get("simulated_pooled_median") is not None]
    if pooled:
        out.append("dose rows, simulated: the mean of the cohorts' medians (what a study of this size reports; "
                   "the median of a small cohort is biased); pooled over all simulated patients: "
                   + ", ".join(f"{name} {value:.4f}" for name, value in pooled) + ".")
    if check and check.get("logrank") is not None:
        lr = check["logrank"]
        out.append(f"\nre-running the study ({check['n_cohorts']} simulated cohorts of 20 vs 21, seed "
                   f"{check['seed']}): log-rank P median {lr['median_pvalue']:.3g}; "
                   f"P <= 0.011 in {lr['share_p_le_0011']:.1%} of cohorts")
    params = [[name, f"{p['value']:.4g}", p["unit"], p["source"], p["meaning"]]
              for name, p in result.parameters.items()]
    out += ["", "parameters", format_table(params, ["name", "value", "unit", "source", "meaning"], align="lrlll")]
    return "\n".join(out)
