"""The Bayesian decision options of ``power``, ``sample-size`` and ``assurance``, and the Bayesian power report.

``--decision bayes --threshold T`` analyses every simulated trial by ``P(treatment better | data) > T``
(:mod:`trialsim.design.bayes_design`) instead of a test; ``--analysis-prior``, ``--margin``, ``--borrow``, ``--a0``,
``--robust-weight`` and ``--historical`` set the rule. They become ``[design]`` keys of the scenario (``decision =
"bayes"``, ``threshold``, ``analysis_prior``, ``margin``, ``borrow``, ``a0``, ``robust_weight``, ``historical``), so
a scenario file can hold them too and errors name the option or the key.

``cli/power.py`` adds the options (:func:`add_bayes_options`), applies them (:func:`apply_bayes_options`) and hands a
Bayesian design's ``power`` to :func:`run_bayes_power`, which also simulates the type I error (both arms the control
arm), prints the exact values for binary endpoints and, with ``--conflict-grid``, the operating characteristics as
the true control survival runs over a grid.
"""

from __future__ import annotations

import argparse
import math

from ..exceptions import invalid
from .options import Progress, nonneg_float, open_probability, positive_float

__all__ = ["add_bayes_options", "apply_bayes_options", "is_bayes", "run_bayes_power", "historical_counts",
           "unit_interval", "BAYES_KEYS"]

#: [design] keys of a Bayesian rule -> the option that sets them.
BAYES_KEYS = {"threshold": "--threshold", "analysis_prior": "--analysis-prior", "margin": "--margin",
              "borrow": "--borrow", "a0": "--a0", "robust_weight": "--robust-weight", "historical": "--historical"}
#: [design] keys of the frequentist tests, which a Bayesian rule does not have.
_FREQUENTIST_KEYS = ("test", "alpha", "sided", "stratified", "n_historical", "control_arm", "null_hazard")


def unit_interval(text: str) -> float:
    """A number in [0, 1] (a discount, a mixture weight)."""
    value = nonneg_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1] (got {text!r})")
    return value


def historical_counts(text: str) -> list[int]:
    """``X/N``: X of N historical controls alive (or responding)."""
    parts = text.replace(",", "/").split("/")
    try:
        x, n = (int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be X/N with integers 0 <= X <= N, N > 0 (got {text!r})") from None
    if not (n > 0 and 0 <= x <= n):
        raise argparse.ArgumentTypeError(f"must be X/N with integers 0 <= X <= N, N > 0 (got {text!r})")
    return [x, n]


def add_bayes_options(p: argparse.ArgumentParser, *, conflict: bool = False) -> None:
    """The Bayesian decision options (a group of their own); ``conflict`` adds ``--conflict-grid``."""
    g = p.add_argument_group("Bayesian decision (instead of a test)")
    g.add_argument("--decision", choices=("frequentist", "bayes"),
                   help="frequentist test (default) or Bayesian rule: success if P(treatment better | data) > "
                        "--threshold")
    g.add_argument("--threshold", type=open_probability, metavar="T", help="posterior probability to exceed, in "
                                                                           "(0, 1); required with --decision bayes")
    g.add_argument("--analysis-prior", metavar="PRIOR", help="analysis prior of each arm: uniform (default), jeffreys "
                   "or A,B (Beta(A, B); for a hazard Gamma(A, B), B in weeks)")
    g.add_argument("--margin", type=positive_float, metavar="HR", help="survival: success if P(hazard ratio < HR | "
                                                                        "data) > T (default 1)")
    g.add_argument("--borrow", choices=("none", "power", "robust"), help="control prior from the historical "
                   "controls: none, power prior (--a0) or robust mixture (--robust-weight)")
    g.add_argument("--a0", type=unit_interval, metavar="A0", help="power prior discount in [0, 1] (default 1: pooling)")
    g.add_argument("--robust-weight", type=unit_interval, metavar="W",
                   help="robust prior: weight in [0, 1] of the vague component (default 0.2)")
    g.add_argument("--historical", type=historical_counts, metavar="X/N",
                   help="historical controls: X of N alive at the horizon (default 13/21) or responding")
    if conflict:
        g.add_argument("--conflict-grid", metavar="SPEC", help="also the type I error and power as the true control "
                       "survival runs over SPEC (start:stop:step or a list, e.g. 0.45:0.80:0.05)")


def apply_bayes_options(args: argparse.Namespace, put, drop, design: dict) -> None:
    """Turn the options into ``[design]`` keys (``put(section, key, value, option)``, ``drop(section, key)``);
    ``design`` is the scenario file's ``[design]`` table."""
    given = {key: getattr(args, key, None) for key in BAYES_KEYS}
    decision = getattr(args, "decision", None) or design.get("decision", "frequentist")
    if decision != "bayes":
        extra = next((key for key, value in given.items() if value is not None), None)
        if extra is not None:
            raise invalid(extra, "applies to a Bayesian rule: give --decision bayes", given[extra],
                          subject=BAYES_KEYS[extra])
        if getattr(args, "conflict_grid", None) is not None:
            raise invalid("conflict_grid", "applies to a Bayesian rule: give --decision bayes", args.conflict_grid,
                          subject="--conflict-grid")
        if getattr(args, "decision", None) == "frequentist" and "decision" in design:
            put("design", "decision", "frequentist", "--decision")
            for key in BAYES_KEYS:
                drop("design", key)
        return
    for key, option in (("test", "--test"), ("alpha", "--alpha"), ("sided", "--sided"),
                        ("n_historical", "--n-historical")):
        if getattr(args, key, None) is not None:
            raise invalid(key, "does not apply to --decision bayes (the threshold sets the rule)", getattr(args, key),
                          subject=option)
    if getattr(args, "stratified", None):
        raise invalid("stratified", "does not apply to --decision bayes (the rule is not stratified)", True,
                      subject="--stratified")
    put("design", "decision", "bayes", "--decision" if getattr(args, "decision", None) else "--threshold")
    if design.get("decision") != "bayes":
        for key in _FREQUENTIST_KEYS:
            drop("design", key)
    if given["threshold"] is None and "threshold" not in design:
        raise invalid("threshold", "is required with --decision bayes", None, subject="--threshold")
    for key, value in given.items():
        if value is not None:
            put("design", key, value, BAYES_KEYS[key])
    if given["borrow"] in ("power", "robust") and getattr(args, "null_survival", None) is None:
        drop("design", "null_survival")         # a single arm borrows the historical prior, not a fixed rate


def is_bayes(design) -> bool:
    from ..design.bayes_design import BayesSingleArmDesign, BayesTwoArmDesign

    return isinstance(design, (BayesTwoArmDesign, BayesSingleArmDesign))


def _float_grid(spec: str) -> list[float]:
    text = spec.strip()
    try:
        if ":" in text:
            start, stop, step = (float(v) for v in text.split(":"))
            if not step > 0 or stop < start:
                raise ValueError
            count = int(math.floor((stop - start) / step + 1e-9)) + 1
            values = [round(start + k * step, 10) for k in range(min(count, 1001))]
        else:
            values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise invalid("conflict_grid", "must be start:stop:step or a list of survival probabilities", spec,
                      subject="--conflict-grid") from None
    if not values or len(values) > 200 or not all(0 < v < 1 for v in values):
        raise invalid("conflict_grid", "must hold 1 to 200 survival probabilities in (0, 1)", spec,
                      subject="--conflict-grid")
    return values


def run_bayes_power(args: argparse.Namespace, scenario) -> int:
    """``trialsim power`` for a Bayesian rule: power and type I error (simulated, and exact where available), the
    priors' ESS and, with ``--conflict-grid``, the prior-data conflict table."""
    from ..design.bayes_oc import bayes_operating_characteristics, conflict_table
    from .output import format_table, to_json
    from .power_output import power_dict, power_text

    grid = _float_grid(args.conflict_grid) if getattr(args, "conflict_grid", None) else None
    options = dict(n_replicates=args.reps, n_jobs=args.jobs, backend=args.backend, scheduler=args.scheduler,
                   engine=args.engine)
    with Progress("power", quiet=args.quiet, total=args.reps * 2 * (1 + len(grid or []))) as bar:
        oc = bayes_operating_characteristics(scenario.model, scenario.trial, scenario.design, seed=args.seed,
                                             progress=bar, **options)
        table = conflict_table(scenario.model, scenario.trial, scenario.design, grid, seed=oc.power.seed,
                               progress=bar, **options) if grid else None
    if args.json:
        payload = power_dict(oc.power, scenario)
        payload["decision"] = oc.to_dict()
        if table is not None:
            payload["conflict"] = {"hazard_ratio": table["hazard_ratio"],
                                   "rows": [row.__dict__ for row in table["rows"]]}
        print(to_json(payload))
        return 0
    lines = power_text(oc.power, scenario).split("\n")
    exact = oc.exact or {}
    t1 = f"  type I     {oc.type_i.power:.4f}  (simulated with the treatment arm replaced by the control arm; s.e. " \
         f"{oc.type_i.standard_error:.4f})"
    if exact:
        t1 += f"; exact {exact['type_i_error']:.4f} at {exact['p_control']:.3f}"
    if "max_type_i_error" in exact:
        t1 += f", at most {exact['max_type_i_error']:.4f} (at a common rate of {exact['max_at']:.3f})"
    lines.insert(-1, t1)
    ess = ", ".join(f"{k} {v:.3g}" for k, v in oc.ess.items())
    lines.insert(-1, f"  priors     effective sample size {ess}")
    if table is not None:
        rows = [[r.control_survival, r.treatment_survival, r.type_i_error, r.type_i_exact, r.power, r.power_exact]
                for r in table["rows"]]
        lines += ["", f"Prior-data conflict: the true control survival at the horizon over the grid; the alternative "
                      f"keeps the hazard ratio {table['hazard_ratio']:.3g}; {args.reps:,} trials per point and "
                      f"hypothesis, seed {table['seed']}",
                  format_table(rows, ["control", "treatment", "type I", "exact", "power", "exact"],
                               [".3f", ".3f", ".4f", ".4f", ".4f", ".4f"])]
    print("\n".join(lines))
    return 0
