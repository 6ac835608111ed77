"""``trialsim report``: one self-contained document of a design (HTML, or Markdown with its images beside it).

The report runs the library on one scenario with one seed and lays out, in this order: the scenario as given; the
calibration table and the re-run of the study (CTD-MAS model) with its figure, or the simulated cohorts
(parametric model); power and sample size with their Monte Carlo errors and the analytic answers beside them;
the power curve; the group-sequential boundaries and the assurance where the scenario has them; the seeds and
the version; the commands that reproduce every number. Every image is an inline PNG (``data:`` URL) in HTML,
the page has its style inline and makes no external reference, and the file is written atomically. For a
fixed seed two runs give identical files except the one time-stamp line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shlex
from typing import Any

from .files import check_output_path
from .options import Progress, jobs, nonneg_int, positive_int
from .report_render import Report, write_report

__all__ = ["add_report_parser", "run_report", "build_report"]

_FORMATS = (".html", ".md")
#: Replicates of the study re-run shown in the report (the DES keeps every visit; a few seconds).
_COHORTS = 1000
#: Assurance in the report: truths drawn from the study's evidence, and trials simulated under each (the
#: standard error of the assurance is about the between-draw s.d. of the power over sqrt(draws), ~0.013).
_DRAWS, _TRIALS_PER_DRAW = 500, 200


def add_report_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("report", help="one self-contained document of a design (HTML or Markdown)",
                              description="Run a scenario's calibration, power, sample size and power curve (and "
                                          "its boundaries and assurance where it has them) with one seed, and "
                                          "write them as one self-contained HTML file (or Markdown with the "
                                          "images beside it).")
    p.add_argument("--scenario", default="default", metavar="NAME|PATH",
                   help="built-in scenario name or a TOML file (default: default)")
    p.add_argument("--out", required=True, metavar="FILE", help="design.html (self-contained) or design.md")
    p.add_argument("--seed", type=nonneg_int, default=1, help="root seed of every number (default 1)")
    p.add_argument("--reps", type=positive_int, default=10_000, help="simulated trials per power (default 10,000)")
    p.add_argument("--jobs", type=jobs, default=None, help="worker processes (default: all cores)")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no notes on stderr")
    p.set_defaults(run=run_report)


def run_report(args: argparse.Namespace) -> int:
    from ..scenarios import load_scenario
    from .plots import require_plot_extra

    check_output_path("--out", args.out, _FORMATS)
    require_plot_extra("--out", args.out)
    scenario = load_scenario(args.scenario)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    with Progress("report", quiet=args.quiet) as bar:
        report = build_report(scenario, scenario_argument=args.scenario, seed=args.seed, reps=args.reps,
                              n_jobs=args.jobs, progress=bar, stamp=stamp)
    write_report(report, args.out)
    if not args.quiet:
        import sys

        print(f"trialsim report: wrote {args.out}", file=sys.stderr)
    return 0


# ------------------------------------------------------------------------------------------------ content


def build_report(scenario: Any, *, scenario_argument: str, seed: int, reps: int, n_jobs: int | None,
                 progress: Any, stamp: str) -> Report:
    """Compute every section of the report for ``scenario`` (deterministic for a given seed)."""
    from .. import __version__

    report = Report(title=f"trialsim design report: {scenario.name}", stamp=f"Generated {stamp} by trialsim "
                                                                            f"{__version__}.")
    run = dict(seed=seed, n_replicates=reps, n_jobs=n_jobs, progress=progress)
    commands: list[str] = []
    base = ["trialsim", "{command}", "--scenario", scenario_argument, "--seed", str(seed), "--reps", str(reps)]

    def command(name: str, *extra: str) -> str:
        line = shlex.join([part.replace("{command}", name) for part in base] + list(extra))
        commands.append(line)
        return line

    _scenario_section(report, scenario)
    _model_section(report, scenario, seed=seed, command=command)
    _power_section(report, scenario, run=run, command=command)
    _curve_section(report, scenario, run=run, command=command)
    _looks_section(report, scenario, run=run, command=command)
    _assurance_section(report, scenario, seed=seed, reps=reps, n_jobs=n_jobs, progress=progress,
                       scenario_argument=scenario_argument, commands=commands)
    report.add("Seeds and version").text(
        f"Every number above comes from root seed {seed} (numpy SeedSequence) and trialsim {__version__}; the "
        f"same seed gives the same numbers for any number of jobs or backend.")
    report.add("Reproducing every number").text(
        "Each command prints one section's numbers (add --json for all digits):").code(commands)
    return report


def _scenario_section(report: Report, scenario: Any) -> None:
    section = report.add("The scenario")
    section.text(f"{scenario.name}: {scenario.description}" if scenario.description else scenario.name)
    trial, design, model = scenario.trial, scenario.design, scenario.model
    kind = "parametric arms (piecewise exponential)" if model.is_parametric else "the calibrated CTD-MAS model"
    rows = [["model", f"{kind}; arms {', '.join(model.arm_names)}"],
            ["design", design.describe(trial)],
            ["patients", f"{trial.n}, allocation {':'.join(map(str, trial.allocation))}"
                         f"{', stratified by disease' if trial.stratified else ''}"],
            ["follow-up", f"{trial.follow_up:g} weeks per patient"],
            ["accrual", trial.accrual.kind if trial.accrual.kind == "instant" else
             f"{trial.accrual.kind}, {trial.accrual.rate:g} per week"],
            ["dropout", ", ".join(f"{h:g}" for h in trial.dropout_hazard) + " per week"],
            ["analysis", trial.analysis + (f" at week {trial.analysis_time:g}" if trial.analysis == "calendar" else
                                           f" at death {trial.target_events}" if trial.analysis == "events" else "")],
            ["source", scenario.source]]
    section.table(["", ""], rows)


def _model_section(report: Report, scenario: Any, *, seed: int, command: Any) -> None:
    from ..plot import figure_bytes, plot_simulation

    model = scenario.model
    if model.is_parametric:
        from ..engines import vectorized

        section = report.add("The simulated cohorts")
        batch = vectorized.simulate(model, scenario.trial, n_replicates=200, seed=seed)
        section.text("Two hundred simulated trials of the scenario: the Kaplan-Meier curve of each (thin) and of all "
                     "pooled, per arm.")
        section.figure("cohorts", figure_bytes(plot_simulation(batch, horizon=scenario.horizon), dpi=80),
                       "Simulated cohorts")
        return
    from ..design.study_rerun import check_calibration
    from ..model import calibrate

    horizon = scenario.horizon
    result = calibrate(horizon_weeks=horizon)
    check = check_calibration(result, n_cohorts=_COHORTS, seed=seed, detail_batch=True)
    sim = {row["name"]: row for row in check["targets"]}
    section = report.add("The calibrated model and the study re-run")
    section.text(f"Each published figure of the retrospective study beside the calibrated model's exact value, and "
                 f"the mean over {_COHORTS} simulated cohorts of 20 vs 21 (the study re-run) with its 95% Monte "
                 f"Carlo interval. Survival is read at week {horizon:g}.")
    rows = []
    for t in result.targets:
        observed = f"{t.count}/{t.size}" if t.count is not None else f"{t.observed:g}"
        interval = "-" if t.ci_low is None else f"{t.ci_low:.3f} to {t.ci_high:.3f}"
        s = sim.get(t.name, {})
        simulated = "-" if s.get("simulated") is None else \
            f"{s['simulated']:.4f} ({s['simulated_ci_low']:.4f} to {s['simulated_ci_high']:.4f})"
        rows.append([t.name, observed, interval, f"{t.model:.4f}", "yes" if t.inside else "NO", simulated])
    section.table(["target", "observed", "exact 95% CI", "model", "inside", "simulated (95% MC CI)"], rows)
    lr = check["logrank"]
    section.text(f"Re-running the study: the log-rank P of 20 vs 21 has median {lr['median_pvalue']:.3g}; P <= "
                 f"0.011 (the published P) in {lr['share_p_le_0011']:.1%} of cohorts.")
    section.figure("calibration", figure_bytes(plot_simulation(check["batch"], model=result.model, horizon=horizon),
                                               dpi=80),
                   "The study re-run: survival, glucocorticoid dose and response of the simulated cohorts, with the "
                   "published figures and their exact 95% intervals")
    section.code([shlex.join(["trialsim", "calibrate", "--horizon", f"{horizon:g}", "--check", "--reps",
                              str(_COHORTS), "--seed", str(seed)])])


def _power_section(report: Report, scenario: Any, *, run: dict, command: Any) -> None:
    from ..design import power, sample_size

    result = power(scenario.model, scenario.trial, scenario.design, **run)
    section = report.add("Power and sample size")
    section.text(f"{result.design}.")
    section.table(["", "power", "Monte Carlo s.e.", "95% CI", "deaths"], [
        [f"simulated, {result.n_replicates:,} trials", f"{result.power:.4f}", f"{result.standard_error:.4f}",
         f"{result.ci_low:.4f} to {result.ci_high:.4f}", f"{result.mean_deaths:.2f}"],
        [f"analytic ({result.analytic_method})", f"{result.analytic_power:.4f}", "-", "-",
         f"{result.analytic_deaths:.2f}"]])
    section.code([command("power", "--n", str(scenario.trial.n))])
    size = sample_size(scenario.model, scenario.design, target_power=0.8, trial=scenario.trial,
                       n_max=max(200, 5 * scenario.trial.n), **run)
    verdict = (f"n = {size.n} reaches 80% power ({size.power_at_n:.4f}, s.e. {size.standard_error_at_n:.4f}); "
               f"n = {size.n_below} does not ({size.power_below:.4f}); the step between them, estimated on the same "
               f"replicates, is {size.power_difference:+.4f} (s.e. {size.standard_error_difference:.4f})."
               if size.converged else f"The simulated power does not reach 80% for n <= {size.n}: {size.note}.")
    analytic = "-" if size.analytic_n is None else str(size.analytic_n)
    section.text(f"Smallest trial for 80% power: {verdict} The analytic formula asks for n = {analytic}.")
    section.code([command("sample-size", "--power", "0.8")])


def _curve_section(report: Report, scenario: Any, *, run: dict, command: Any) -> None:
    from dataclasses import replace

    from ..design import power
    from ..plot import figure_bytes, plot_power_curve

    trial = scenario.design.prepare_trial(scenario.trial)
    block = sum(trial.allocation)
    top = max(2 * trial.n, trial.n + 6 * block)
    step = max(block, block * round((top - block) / 7 / block))
    sizes = list(range(step, top + 1, step))
    if trial.analysis == "events":
        sizes = [n for n in sizes if n >= (trial.target_events or 0)]
    points = [(n, power(scenario.model, replace(trial, n=n), scenario.design, **run)) for n in sizes]
    section = report.add("Power curve")
    section.text("Simulated power at each trial size (every point from the same seed: common random numbers), "
                 "with its 95% Monte Carlo band, and the analytic power beside it.")
    section.table(["n", "power", "s.e.", "analytic", "deaths"],
                  [[str(n), f"{r.power:.4f}", f"{r.standard_error:.4f}", f"{r.analytic_power:.4f}",
                    f"{r.mean_deaths:.2f}"] for n, r in points])
    section.figure("power_curve", figure_bytes(plot_power_curve(points, parameter="n", target=0.8), dpi=80),
                   "Power against n: simulated with its Monte Carlo band, analytic beside it")
    section.code([command("power", "--grid", f"n={','.join(str(n) for n in sizes)}")])


def _looks_section(report: Report, scenario: Any, *, run: dict, command: Any) -> None:
    """A design with looks: the bounds as applied and the simulated stopping at each look (what
    ``trialsim power --scenario`` prints for it)."""
    from ..design.sequential import SequentialDesign
    from ..design.sequential_oc import sequential_power
    from ..plot import figure_bytes, plot_sequential_power

    design = scenario.design
    if not isinstance(design, SequentialDesign) or design.n_looks < 2:
        return
    result = sequential_power(scenario.model, scenario.trial, design, **run)
    section = report.add("Group-sequential boundaries")
    calibrated = (" The efficacy bounds were calibrated to the simulated null (the normal-theory bounds assume "
                  "more deaths than a trial this small has)." if result.calibration is not None else "")
    section.text(f"{design.describe(scenario.trial)}: the bounds as applied at each look and the share of "
                 f"{result.result.n_replicates:,} simulated trials that stopped there, with its Monte Carlo "
                 f"standard error; at the last look 'futility' is ending without rejecting H0.{calibrated}")
    section.table(["look", "fraction", "deaths planned", "efficacy z", "futility z", "max z", "efficacy stop",
                   "futility stop"],
                  [[str(k + 1), f"{look.information_fraction:.3f}", f"{look.planned_deaths:.2f}",
                    f"{look.efficacy_z:.3f}", "-" if look.futility_z is None else f"{look.futility_z:.3f}",
                    f"{look.max_attainable_z:.2f}" + ("" if look.reachable else " (bound out of reach)"),
                    f"{look.efficacy_stop:.4f} ({look.efficacy_stop_se:.4f})",
                    f"{look.futility_stop:.4f} ({look.futility_stop_se:.4f})"]
                   for k, look in enumerate(result.looks)])
    trial = design.prepare_trial(scenario.trial)
    boundaries = design.boundaries_at(tuple(look.information_fraction for look in result.looks))
    figure = plot_sequential_power(result, boundaries, allocation_ratio=trial.allocation[0] / trial.allocation[1])
    section.figure("boundaries", figure_bytes(figure, dpi=80),
                   "The bounds on the z and hazard-ratio scales at the planned deaths, with the simulated stopping")
    section.code([command("power")])


def _assurance_section(report: Report, scenario: Any, *, seed: int, reps: int, n_jobs: int | None, progress: Any,
                       scenario_argument: str, commands: list[str]) -> None:
    """Assurance: the power averaged over truths drawn from the study's evidence (two arms to draw)."""
    from ..design.assurance import assurance
    from ..plot import figure_bytes, plot_assurance

    if scenario.model.n_arms != 2:
        return
    design = scenario.design
    horizon = float(scenario.trial.follow_up if design.horizon is None else design.horizon)
    result = assurance(scenario.model, scenario.trial, design, n_draws=_DRAWS, trials_per_draw=_TRIALS_PER_DRAW,
                       horizon=horizon, point_replicates=reps, seed=seed, n_jobs=n_jobs, progress=progress)
    q = result.power_quantiles
    section = report.add("Assurance")
    parametric = (" The parametric arms take their survival at the horizon from the draws (the scenario's values "
                  "are not used)." if scenario.model.is_parametric else "")
    section.text(f"The power at n = {result.n} averaged over {result.n_draws:,} truths drawn from the study's "
                 f"evidence (19/20 vs 13/21 alive at week {horizon:g}, {result.prior} design prior), "
                 f"{result.trials_per_draw:,} simulated trials under each.{parametric}")
    section.table(["", "value"], [
        ["assurance", f"{result.assurance:.4f} (Monte Carlo s.e. {result.standard_error:.4f})"],
        ["power over the draws", f"10% {q['0.1']:.3f}, median {q['0.5']:.3f}, 90% {q['0.9']:.3f} (between-draw "
                                 f"s.d. {result.between_draw_sd:.3f})"],
        ["P(true effect null or harmful)", f"{result.probability_no_benefit:.4f} ({result.no_benefit_method})"],
        ["power at the point estimate", f"{result.power_at_point_estimate:.4f} (s.e. "
                                        f"{result.point_standard_error:.4f}; analytic "
                                        f"{result.analytic_power_at_point_estimate:.4f})"]])
    figure = plot_assurance(result.draw_powers, assurance=result.assurance,
                            point_power=result.power_at_point_estimate)
    section.figure("assurance", figure_bytes(figure, dpi=80),
                   "The power of the trial at each drawn truth, the assurance and the power at the point estimate")
    line = shlex.join(["trialsim", "assurance", "--scenario", scenario_argument, "--seed", str(seed), "--draws",
                       str(_DRAWS), "--reps", str(_TRIALS_PER_DRAW), "--point-reps", str(reps)])
    commands.append(line)
    section.code([line])
