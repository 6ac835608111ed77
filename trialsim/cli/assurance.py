"""The ``assurance`` and ``simon`` subcommands (``cli/commands.py`` adds them with :func:`add_assurance_parsers`).

``trialsim assurance`` takes the scenario, design, simulation and Bayesian options of ``power`` and reports the
probability that the trial succeeds given the study's evidence (:func:`trialsim.design.assurance.assurance`), or an
assurance curve with ``--grid n=SPEC``. ``trialsim simon`` prints Simon's optimal and minimax two-stage designs
(:func:`trialsim.design.simon.simon_design`) and, with ``--simulate``, their operating characteristics simulated
under the CTD-MAS model (:func:`trialsim.design.monitoring.monitoring_oc`).
"""

from __future__ import annotations

import argparse
import math

from ..exceptions import InputError, invalid
from .output import estimate, plural
from .plots import add_plot_option, check_plot, write_plot
from .options import Progress, jobs, nonneg_float, nonneg_int, open_probability, positive_float, positive_int

__all__ = ["add_assurance_parsers", "run_assurance", "run_simon"]

_PRIOR_HELP = "design prior of the study's counts: jeffreys (default), uniform or A,B"


def add_assurance_parsers(subparsers) -> None:
    """Add ``assurance`` and ``simon`` to the ``trialsim`` subcommands."""
    from .power import add_common_options
    from .sequential import add_look_options

    p = subparsers.add_parser("assurance", help="probability of success given the study's evidence (assurance)",
                              description="Assurance: the power of the trial averaged over truths drawn from the "
                                          "posterior of the study's evidence (19/20 vs 13/21 alive at the horizon), "
                                          "with its Monte Carlo error, the spread of the power over the draws and "
                                          "the power at the point estimate beside it.")
    p.add_argument("--n", type=positive_int, help="patients in the trial (default: the scenario's, 40)")
    p.add_argument("--draws", type=positive_int, default=1000, metavar="D", help="truths drawn (default 1,000)")
    p.add_argument("--prior", default="jeffreys", metavar="PRIOR", help=_PRIOR_HELP)
    p.add_argument("--effect-scale", type=nonneg_float, default=1.0, metavar="F",
                   help="multiply the log hazard ratio by F (0.5: an effect half as large; default 1)")
    p.add_argument("--point-reps", type=positive_int, default=10_000, metavar="R",
                   help="simulated trials for the power at the point estimate (default 10,000)")
    p.add_argument("--grid", metavar="n=SPEC", help="an assurance curve over the trial size: n=20:80:10 or "
                                                     "n=20,40,60")
    add_look_options(p, power_command=False)
    add_common_options(p)
    add_plot_option(p, "the distribution of power over the draws, with the assurance and the power at the point "
                       "estimate (one panel per n with --grid)")
    p.set_defaults(run=run_assurance, reps=1000)
    for action in p._actions:
        if action.dest == "reps":
            action.help = "simulated trials under each drawn truth (default 1,000)"
    s = subparsers.add_parser("simon", help="Simon's optimal and minimax two-stage designs",
                              description="Simon (1989) two-stage designs for a single arm: stop after stage 1 if "
                                          "responses <= r1 of n1; reject H0 (p <= p0) if total responses > r of n.")
    s.add_argument("--p0", type=open_probability, required=True, help="uninteresting rate (H0: p <= p0)")
    s.add_argument("--p1", type=open_probability, required=True, help="target rate, above p0")
    s.add_argument("--alpha", type=open_probability, default=0.05, help="type I error at p0 (default 0.05)")
    s.add_argument("--power", type=open_probability, default=0.8, help="power at p1 (default 0.8)")
    s.add_argument("--n-max", type=positive_int, metavar="N", help="largest total size searched (default: twice "
                                                                    "the single-stage n, plus 5)")
    g = s.add_argument_group("simulated operating characteristics under the CTD-MAS model")
    g.add_argument("--simulate", action="store_true", help="also simulate both designs on each arm of the "
                                                            "calibrated model (control: p near 0.62)")
    g.add_argument("--endpoint", choices=("survival-binary", "response"), default="survival-binary",
                   help="the single arm's outcome: alive at the horizon, or response at week 8")
    g.add_argument("--response-level", choices=("cr-pr", "cr"), default="cr-pr", help="CR+PR or CR alone")
    g.add_argument("--horizon", type=positive_float, default=8.0, metavar="WEEKS", help="survival horizon (8)")
    g.add_argument("--reps", type=positive_int, default=10_000, help="simulated trials per design and arm")
    g.add_argument("--seed", type=nonneg_int, help="root seed (default: fresh entropy, printed)")
    g.add_argument("--jobs", type=jobs, default=None, help="worker processes (default: all cores)")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(run=run_simon)


# --------------------------------------------------------------------------------------------- assurance


def _sizes(spec: str) -> list[int]:
    if "=" not in spec or spec.split("=", 1)[0].strip().lstrip("-") != "n":
        raise invalid("grid", "must be n=SPEC (an assurance curve is over the trial size)", spec, subject="--grid")
    from .power import grid_values

    return grid_values(spec.split("=", 1)[1], positive_int)


def _prior(text: str):
    from ..design.assurance import DesignPrior

    try:
        return DesignPrior(name=text)
    except InputError as exc:
        raise exc.about("--prior") from None


def _heading(result, scenario) -> list[str]:
    from .power_output import model_line, trial_line

    return [f"Assurance: {result.design}", f"  scenario   {scenario.name}: {model_line(scenario)}",
            f"  trial      {trial_line(scenario)}"]


def _text(result, scenario, prior) -> str:
    post_t, post_c = prior.survival()
    ev = prior.evidence
    q = result.power_quantiles
    scale = "" if result.effect_scale == 1 else f"; log hazard ratio x {result.effect_scale:g}"
    if "response" in result.draws:
        level = getattr(scenario.design, "response_level", "cr_pr")
        post_r, counts = prior.response(level), ev.responders if level == "cr_pr" else ev.complete_responders
        scale = f"; {'CR+PR' if level == 'cr_pr' else 'CR'} among the living at week {ev.response_week:g}: " \
                f"{counts[0]}/{counts[1]}, Beta({post_r.a:g}, {post_r.b:g})" + scale
    lines = _heading(result, scenario) + [
        f"  prior      {result.prior} design prior on {ev.treatment[0]}/{ev.treatment[1]} vs {ev.control[0]}/"
        f"{ev.control[1]} alive: survival Beta({post_t.a:g}, {post_t.b:g}) vs Beta({post_c.a:g}, {post_c.b:g})"
        f"{scale}",
        f"  assurance  {result.assurance:.4f}  (Monte Carlo s.e. {estimate(result.standard_error, 4)}; "
        f"{plural(result.n_draws, 'draw')} x {plural(result.trials_per_draw, 'trial')})",
        f"  power      over the draws: 10% {q['0.1']:.3f}, median {q['0.5']:.3f}, 90% {q['0.9']:.3f} "
        f"(between-draw s.d. {estimate(result.between_draw_sd, 3)})",
        f"  no benefit P(true effect null or harmful) = {result.probability_no_benefit:.4f} "
        f"({result.no_benefit_method})",
        f"  point      {result.power_at_point_estimate:.4f} at the point estimate (s.e. "
        f"{result.point_standard_error:.4f}, {result.point_replicates:,} trials; analytic "
        f"{result.analytic_power_at_point_estimate:.4f})",
        f"  deaths     {result.mean_deaths:.2f} per trial on average over the draws"]
    if scenario.model.is_parametric:
        lines.append("  note       the parametric arms take their survival at the horizon from the draws (the scenario's "
                     "values are not used)")
    if result.n_clipped:
        lines.append(f"  note       {result.n_clipped} drawn response rates were beyond the model's reach and set to "
                     "the nearest reachable value")
    lines.append(f"  seed       {result.seed} (repeat with --seed {result.seed}); {result.engine}; "
                 f"{result.elapsed_seconds:.1f} s")
    return "\n".join(lines)


def _figure(results):
    """The power over the draws: one histogram, or one panel per trial size of a curve (shared axes)."""
    from ..plot import plot_assurance
    from ..plot.common import new_figure

    if len(results) == 1:
        (r,) = results
        return plot_assurance(r.draw_powers, assurance=r.assurance, point_power=r.power_at_point_estimate)
    columns = min(4, len(results))
    rows = -(-len(results) // columns)
    fig = new_figure((3.6 * columns, 3.2 * rows + 0.6), caller="assurance")
    axes = fig.subplots(rows, columns, sharex=True, sharey=True, squeeze=False).ravel()
    for ax, r in zip(axes, results):
        plot_assurance(r.draw_powers, assurance=r.assurance, point_power=r.power_at_point_estimate, ax=ax)
        ax.set_title(f"n = {r.n}: assurance {r.assurance:.3f}")
    for ax in axes[len(results):]:
        ax.set_visible(False)
    return fig


def run_assurance(args: argparse.Namespace) -> int:
    """``trialsim assurance``: print the assurance (text or JSON), or an assurance curve with ``--grid n=...``."""
    from ..design.assurance import assurance_curve
    from ..engines.seeding import root_sequence
    from .output import format_table, to_json
    from .power import check_scheduler, scenario_from_args

    check_scheduler(args)
    check_plot(args)
    prior = _prior(args.prior)
    sizes = _sizes(args.grid) if args.grid else None
    if sizes:
        args.n = sizes[0]
    scenario = scenario_from_args(args)
    sizes = sizes or [scenario.design.prepare_trial(scenario.trial).n]
    for n in sizes[1:]:                          # every size checked against the design before any simulation
        args.n = n
        scenario_from_args(args)
    horizon = float(scenario.trial.follow_up if scenario.design.horizon is None else scenario.design.horizon)
    seed = root_sequence(args.seed)
    total = args.draws * args.reps * len(sizes)
    with Progress("assurance", quiet=args.quiet, total=total) as bar:
        results = assurance_curve(scenario.model, scenario.trial, scenario.design, sizes=sizes, n_draws=args.draws,
                                  trials_per_draw=args.reps, prior=prior, effect_scale=args.effect_scale,
                                  horizon=horizon, point_replicates=args.point_reps, seed=seed, n_jobs=args.jobs,
                                  backend=args.backend, scheduler=args.scheduler, engine=args.engine, progress=bar)
    write_plot(args, lambda: _figure(results), "trialsim assurance")
    if not args.grid:
        (result,) = results
        if args.json:
            print(to_json({**result.to_dict(), "scenario": scenario.name}))
        else:
            print(_text(result, scenario, prior))
        return 0
    if args.json:
        print(to_json({"parameter": "n", "design": results[-1].design, "scenario": scenario.name,
                       "points": [r.to_dict() for r in results]}))
        return 0
    rows = [[r.n, r.assurance, r.standard_error, r.power_quantiles["0.1"], r.power_quantiles["0.5"],
             r.power_quantiles["0.9"], r.power_at_point_estimate] for r in results]
    steps = []
    for a, b in zip(results, results[1:]):       # paired: the same draws and trials' numbers at every n
        diff = b.draw_powers - a.draw_powers
        steps.append(f"{a.n}->{b.n} {diff.mean():+.4f} (s.e. {diff.std(ddof=1) / math.sqrt(diff.size):.4f})")
    table = format_table(rows, ["n", "assurance", "s.e.", "10%", "median", "90%", "point"],
                         [None, ".4f", ".4f", ".3f", ".3f", ".3f", ".4f"])
    print(f"Assurance curve: {results[-1].design}\n{table}\n{results[0].n_draws:,} draws x "
          f"{results[0].trials_per_draw:,} trials per point, {results[0].prior} design prior, seed "
          f"{results[0].seed} at every point (the same draws and trials' numbers)\nsteps (paired): "
          + "; ".join(steps))
    return 0


# ------------------------------------------------------------------------------------------------- simon


def run_simon(args: argparse.Namespace) -> int:
    """``trialsim simon``: Simon's optimal and minimax designs; with ``--simulate``, simulated under the model."""
    import warnings

    from ..design.simon import simon_design
    from .output import format_table, to_json

    options = {"p0": "--p0", "p1": "--p1", "alpha": "--alpha", "power": "--power", "n_max": "--n-max"}
    designs = {}
    notes = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for kind in ("optimal", "minimax"):
                designs[kind] = simon_design(args.p0, args.p1, args.alpha, args.power, kind=kind, n_max=args.n_max)
        notes = [str(w.message) for w in caught]
    except InputError as exc:
        raise exc.about(options.get(exc.field or "", "--p1")) if exc.field in options else exc from None
    simulated = _simulate_simon(args, designs) if args.simulate else None
    if args.json:
        payload = {kind: d.to_dict() for kind, d in designs.items()}
        if simulated is not None:
            payload["simulated"] = simulated
        print(to_json(payload))
        return 0
    rows = [[kind, f"{d.r1}/{d.n1}", f"{d.r}/{d.n}", d.en0, d.pet0, d.alpha, d.power] for kind, d in designs.items()]
    lines = [f"Simon two-stage designs: p0 {args.p0:g}, p1 {args.p1:g}, alpha {args.alpha:g}, power {args.power:g}",
             format_table(rows, ["design", "r1/n1", "r/n", "EN(p0)", "PET(p0)", "alpha", "power"],
                          [None, None, None, ".2f", ".3f", ".4f", ".4f"]),
             "rule: stop after stage 1 if responses <= r1 of n1; reject H0 if total responses > r of n "
             "(alpha and power are the designs' exact error rates)"]
    lines += [f"note: {n}" for n in notes]
    if simulated is not None:
        sim_rows = [[s["design"], s["arm"], s["p"], s["exact_reject"], s["reject"], s["reject_standard_error"],
                     s["exact_en"], s["en"]] for s in simulated["rows"]]
        lines += ["", f"Simulated under the calibrated CTD-MAS model ({simulated['endpoint']}, {args.reps:,} trials "
                      f"per row, seed {simulated['seed']}): P(reject H0) and E(N), exact at the arm's rate p beside",
                  format_table(sim_rows, ["design", "arm", "p", "exact", "simulated", "s.e.", "EN exact",
                                          "EN simulated"], [None, None, ".3f", ".4f", ".4f", ".4f", ".2f", ".2f"])]
    print("\n".join(lines))
    return 0


def _simulate_simon(args, designs) -> dict:
    from ..design.monitoring import monitoring_oc
    from ..engines.seeding import root_sequence, seed_record

    root = root_sequence(args.seed)
    endpoint = args.endpoint.replace("-", "_")
    rows = []
    with Progress("simon", quiet=args.quiet, total=args.reps * 4) as bar:
        for kind, d in designs.items():
            for arm in (0, 1):
                oc = monitoring_oc(d, arm=arm, endpoint=endpoint, response_level=args.response_level.replace("-", "_"),
                                   horizon=args.horizon, n_replicates=args.reps, seed=root, n_jobs=args.jobs,
                                   progress=bar)
                rows.append({"design": kind, **oc.to_dict()})
    return {"endpoint": endpoint, "seed": seed_record(root)[0], "rows": rows}
