"""Text of ``trialsim simulate`` without ``--out``: the per-arm summary of the simulated trial(s)."""

from __future__ import annotations

from .output import format_table

__all__ = ["simulate_text"]


def _count(row: dict, key: str, n_replicates: int) -> str:
    value = row[key]
    return f"{value}" if n_replicates == 1 else f"{value / n_replicates:.2f}"


def simulate_text(summary: dict) -> str:
    """Format :func:`trialsim.engines.summary.batch_summary` output as a table, one row per arm."""
    r = summary["n_replicates"]
    week = summary.get("week")
    headers = ["arm", "enrolled", "deaths", f"S({summary['horizon_weeks']:g} wk) KM"]
    if week is not None:
        headers += [f"CR/PR/NR/dead wk {week:g}", "infections", f"median dose wk {week:g}"]
    rows = []
    for arm in summary["arms"]:
        row = [arm["arm"], _count(arm, "enrolled", r), _count(arm, "deaths", r), arm["survival_at_horizon"]]
        if week is not None:
            resp = arm["response"]
            parts = [resp[k] if r == 1 else resp[k] / r for k in ("CR", "PR", "NR", "dead")]
            if not any(parts):  # no visit observed at all: a parametric arm has no response, taper or infection
                row += ["-", "-", None]
                rows.append(row)
                continue
            row.append("/".join(str(p) if r == 1 else f"{p:.1f}" for p in parts))
            row.append(_count(arm, "infections", r))
            row.append(arm["median_dose"])
        rows.append(row)
    formats = [None, None, None, ".3f"] + ([None, None, ".2f"] if week is not None else [])
    what = "1 simulated trial" if r == 1 else f"{r} simulated trials (counts are means per trial)"
    lines = [f"trialsim simulate: {what} of {summary['n_patients']} patients, engine {summary['engine']}, "
             f"seed {summary['seed']}", "", format_table(rows, headers, formats)]
    if r == 1:
        lines.append(f"\ncalendar duration: {summary['duration_weeks']:.2f} weeks (enrolment to analysis)")
    else:
        lo, hi = summary["duration_weeks_range"]
        lines.append(f"\ncalendar duration: mean {summary['duration_weeks_mean']:.2f} weeks "
                     f"(range {lo:.2f} to {hi:.2f})")
    return "\n".join(lines)
