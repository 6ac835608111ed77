"""The group-sequential command line: ``trialsim boundaries``, ``trialsim design``, and the looks, follow-up and
null options of ``power`` and ``sample-size`` (``docs/cli.md``, ``docs/sequential.md``).

``commands.py`` adds the two commands with :func:`add_sequential_parsers`; ``power.py`` adds the options with
:func:`add_look_options`, applies them to the scenario with :func:`apply_look_options` and
:func:`finish_scenario`, and hands a trial with looks (or an event target, a maximum duration, ``--null``) to
:func:`run_looks_power`. Errors name the option, in the one format.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from ..exceptions import InputError, invalid
from .options import allocation as _allocation, number as _number, open_probability as _probability, \
    positive_float as _positive, Progress
from .output import estimate, format_table, to_json
from .plots import add_plot_option, check_plot, write_plot

__all__ = ["add_sequential_parsers", "add_look_options", "apply_look_options", "finish_scenario", "uses_looks",
           "run_looks_power", "sample_size_seed", "run_boundaries", "run_design"]

_FAILED = argparse.ArgumentTypeError


def _numbers(text: str) -> tuple[float, ...]:
    """A comma-separated list of numbers (checked further by the library: increasing, ending at 1, ...)."""
    try:
        return tuple(_number(part.strip()) for part in text.split(","))
    except _FAILED:
        raise _FAILED(f"must be numbers separated by commas, like 0.5,1 (got {text!r})") from None


@contextmanager
def _options(names: dict[str, str]) -> Iterator[None]:
    """Library errors about these fields, named after the options that set them."""
    try:
        yield
    except InputError as exc:
        option = names.get(exc.field or "")
        if option is None or not str(exc).startswith("`"):
            raise
        raise exc.about(option) from None


_BOUNDARY_OPTIONS = {"information_fractions": "--looks", "efficacy": "--spending", "futility": "--futility",
                     "alpha": "--alpha", "power": "--power", "sided": "--sided"}


def _add_boundary_options(p: argparse.ArgumentParser, *, looks_required: bool) -> None:
    g = p.add_argument_group("boundaries")
    g.add_argument("--looks", type=_numbers, required=looks_required, metavar="FRACTIONS",
                   help="information fractions of the looks, increasing, ending at 1 (e.g. 0.5,1)")
    g.add_argument("--spending", default="ld-of", metavar="NAME",
                   help="efficacy bound: of, pocock, wt:DELTA, ld-of (default), ld-pocock, hsd:GAMMA, kd:RHO, "
                        "haybittle-peto")
    g.add_argument("--futility", metavar="NAME", help="futility bound (one-sided): beta spending ld-of, ld-pocock, "
                                                      "hsd:GAMMA, kd:RHO, or z:V1,...,V(K-1)")
    g.add_argument("--binding", action="store_true", help="binding futility (default: non-binding)")
    g.add_argument("--alpha", type=_probability, default=0.025, help="type I error, total over both sides "
                                                                      "(default 0.025)")
    g.add_argument("--sided", type=int, choices=(1, 2), default=1, help="1 or 2 (symmetric) sides (default 1)")
    g.add_argument("--power", type=_probability, default=0.8, help="power at the design drift (default 0.8)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_plot_option(p, "the boundaries on the z scale (and the hazard-ratio scale, with events), with the design's "
                       "crossing probabilities under H1")
    p.add_argument("--quiet", action="store_true", help="no note on stderr (the result on stdout is unchanged)")


def add_sequential_parsers(subparsers) -> None:
    """Add ``boundaries`` and ``design`` to the ``trialsim`` subcommands."""
    b = subparsers.add_parser("boundaries", help="group-sequential boundaries, computed exactly",
                              description="Efficacy and futility boundaries of a group-sequential design with "
                                          "their spending, crossing probabilities and expected information "
                                          "(docs/sequential.md).")
    _add_boundary_options(b, looks_required=True)
    b.set_defaults(run=run_boundaries)
    d = subparsers.add_parser("design", help="events, times and subjects of a survival trial with looks",
                              description="A group-sequential log-rank design with exponential arms and uniform "
                                          "accrual, as rpact's getSampleSizeSurvival: events, calendar time and "
                                          "subjects at each look. Give two of --accrual-time, --accrual-rate, "
                                          "--min-follow-up.")
    _add_boundary_options(d, looks_required=False)
    a = d.add_argument_group("arms and accrual")
    a.add_argument("--hazard-ratio", type=_positive, required=True, metavar="HR", help="treatment / control")
    a.add_argument("--control-hazard", type=_positive, metavar="PER_WEEK", help="control hazard")
    a.add_argument("--control-median", type=_positive, metavar="WEEKS", help="control median survival")
    a.add_argument("--control-survival", type=_probability, metavar="S", help="control survival at --horizon")
    a.add_argument("--horizon", type=_positive, default=8.0, metavar="WEEKS",
                   help="week at which --control-survival is read (default 8)")
    a.add_argument("--accrual-time", type=_positive, metavar="WEEKS", help="weeks of uniform accrual")
    a.add_argument("--accrual-rate", type=_positive, metavar="PER_WEEK", help="patients per week")
    a.add_argument("--min-follow-up", type=_number, metavar="WEEKS", help="weeks from the end of accrual to the "
                                                                          "final analysis")
    a.add_argument("--dropout", type=_number, default=0.0, metavar="HAZARD", help="dropout hazard per week, both "
                                                                                  "arms (default 0)")
    a.add_argument("--allocation", type=_allocation, default=(1, 1), metavar="T:C",
                   help="allocation treatment:control (default 1:1)")
    d.set_defaults(run=run_design)


# ------------------------------------------------------------------------------------------- boundaries


def _boundaries(args):
    from ..design.boundaries import group_sequential_design

    with _options(_BOUNDARY_OPTIONS):
        return group_sequential_design(args.looks or (1.0,), alpha=args.alpha, power=args.power,
                                       efficacy=args.spending, futility=args.futility, binding=args.binding,
                                       sided=args.sided)


def _boundary_figure(design):
    from ..plot import plot_boundaries

    return plot_boundaries(design, expected="h1")


def _title(gs) -> str:
    futility = f"futility {gs.futility} ({'binding' if gs.binding else 'non-binding'})" if gs.futility else \
        "no futility bound"
    sides = "one-sided" if gs.sided == 1 else "two-sided (symmetric)"
    return (f"{len(gs.information_fractions)} look{'s' if len(gs.information_fractions) > 1 else ''}, efficacy "
            f"{gs.efficacy}, {futility}, {sides} alpha {gs.alpha:g}, power {gs.power:g}")


def run_boundaries(args: argparse.Namespace) -> int:
    """``trialsim boundaries``: the boundary table (text or JSON)."""
    check_plot(args)
    gs = _boundaries(args)
    write_plot(args, lambda: _boundary_figure(gs), "trialsim boundaries")
    if args.json:
        print(to_json(gs.to_dict()))
        return 0
    rows = [[k + 1, t, e, f, p, ca, cb, e0, e1, f0, f1] for k, (t, e, f, p, ca, cb, e0, e1, f0, f1) in enumerate(zip(
        gs.information_fractions, gs.efficacy_z, gs.futility_z, gs.nominal_p, gs.cumulative_alpha,
        gs.cumulative_beta, gs.efficacy_crossing_h0, gs.efficacy_crossing_h1, gs.futility_crossing_h0,
        gs.futility_crossing_h1))]
    headers = ["look", "fraction", "efficacy z", "futility z", "nominal p", "cum. alpha", "cum. beta",
               "eff. H0", "eff. H1", "fut. H0", "fut. H1"]
    formats = [None, ".4f", ".4f", ".4f", ".5f", ".5f", ".5f", ".5f", ".5f", ".5f", ".5f"]
    print(f"Group-sequential boundaries: {_title(gs)}")
    print(format_table(rows, headers, formats, align="r" * len(headers)))
    print(f"inflation factor {gs.inflation_factor:.4f} (maximum information over the fixed design's); expected "
          f"information {gs.expected_information_h0:.4f} under H0, {gs.expected_information_h1:.4f} under H1; drift "
          f"{gs.drift:.4f}")
    print("nominal p is one-sided (double it when two-sided); crossings are per look, every bound obeyed; at the last "
          "look 'fut.' is ending without rejecting H0")
    return 0


# --------------------------------------------------------------------------------------------- design


_DESIGN_OPTIONS = {**_BOUNDARY_OPTIONS, "hazard_ratio": "--hazard-ratio", "control_hazard": "--control-hazard",
                   "control_median": "--control-median", "control_survival": "--control-survival",
                   "accrual_time": "--accrual-time", "accrual_rate": "--accrual-rate", "follow_up": "--min-follow-up",
                   "dropout_hazard": "--dropout", "allocation_ratio": "--allocation"}


def _reachability(sd) -> list[tuple[float, bool]]:
    """(largest log-rank z, bound within it) at each look of a survival design, from its expected deaths and the
    subjects enrolled by then (whole numbers)."""
    from ..design.sequential import max_logrank_z

    r = sd.allocation_ratio
    out = []
    for events, subjects, bound in zip(sd.events, sd.subjects, sd.efficacy_z):
        d = max(1, int(math.floor(events + 0.5)))
        n_c, n_t = max(1, round(subjects / (1 + r))), max(1, round(subjects * r / (1 + r)))
        z = max_logrank_z(d, n_c, n_t) if sd.hazard_ratio < 1 else max_logrank_z(d, n_t, n_c)
        if sd.design.sided == 2:
            z = max(max_logrank_z(d, n_c, n_t), max_logrank_z(d, n_t, n_c))
        out.append((z, bool(bound <= z + 1e-12)))
    return out


def run_design(args: argparse.Namespace) -> int:
    """``trialsim design``: events, calendar times and subjects at each look (text or JSON)."""
    from ..design.survival_sizing import survival_design

    for names, want in ((("--control-hazard", "--control-median", "--control-survival"), 1),
                        (("--accrual-time", "--accrual-rate", "--min-follow-up"), 2)):
        given = [name for name in names if getattr(args, name[2:].replace("-", "_")) is not None]
        if len(given) != want:
            raise invalid(names[0], f"needs exactly {'one' if want == 1 else 'two'} of them given",
                          ", ".join(given) or "none", subject="/".join(names))
    check_plot(args)
    gs = _boundaries(args)
    t, c = args.allocation if len(args.allocation) == 2 else (*args.allocation, 1)
    survival = (args.control_survival, args.horizon) if args.control_survival is not None else None
    with _options(_DESIGN_OPTIONS):
        sd = survival_design(gs, hazard_ratio=args.hazard_ratio, control_hazard=args.control_hazard,
                             control_median=args.control_median, control_survival=survival,
                             accrual_time=args.accrual_time, accrual_rate=args.accrual_rate,
                             follow_up=args.min_follow_up, dropout_hazard=args.dropout, allocation_ratio=t / c)
    reach = _reachability(sd)
    write_plot(args, lambda: _boundary_figure(sd), "trialsim design")
    if args.json:
        out = sd.to_dict()
        out["max_attainable_z"] = [z for z, _ in reach]
        out["reachable"] = [ok for _, ok in reach]
        print(to_json(out))
        return 0
    rows = [[k + 1, f, e, tm, s, ez, fz, hr, z, ok] for k, (f, e, tm, s, ez, fz, hr, (z, ok)) in enumerate(zip(
        sd.information_fractions, sd.events, sd.analysis_time, sd.subjects, sd.efficacy_z, sd.futility_z,
        sd.efficacy_hazard_ratio, reach))]
    headers = ["look", "fraction", "events", "week", "subjects", "efficacy z", "futility z", "efficacy HR",
               "max z", "reachable"]
    print(f"Survival design: {_title(gs)}; hazard ratio {sd.hazard_ratio:g}, control hazard {sd.control_hazard:.4g} "
          f"a week")
    print(format_table(rows, headers, [None, ".4f", ".2f", ".2f", ".1f", ".4f", ".4f", ".4f", ".3f", None],
                       align="r" * len(headers)))
    print(f"maximum events {sd.max_events:.2f} (fixed design {sd.fixed_events:.2f}; inflation factor "
          f"{sd.inflation_factor:.4f}); {sd.n_subjects:.1f} subjects, accrual {sd.accrual_time:.2f} weeks at "
          f"{sd.accrual_rate:.3f} a week, minimum follow-up {sd.follow_up:.2f} weeks")
    print("week: calendar time of the look from the first patient in; efficacy HR: the observed hazard ratio at which "
          "the log-rank z reaches the bound; max z: the largest log-rank z the look's expected deaths (rounded) allow "
          "among the subjects enrolled by then")
    return 0


# ------------------------------------------------------------------------------- power and sample-size


def add_look_options(p: argparse.ArgumentParser, *, power_command: bool) -> None:
    """The looks, follow-up and (``power``) null options of ``power`` and ``sample-size``."""
    g = p.add_argument_group("looks, follow-up and duration (docs/sequential.md)")
    g.add_argument("--looks", type=_numbers, metavar="FRACTIONS",
                   help="information fractions of the looks, ending at 1 (e.g. 0.5,1): interim looks at that share "
                        "of the deaths planned at the final analysis")
    g.add_argument("--look-times", type=_numbers, metavar="WEEKS",
                   help="calendar weeks of the looks, the last being the final analysis")
    g.add_argument("--spending", metavar="NAME", help="efficacy bound (default ld-of)")
    g.add_argument("--futility", metavar="NAME", help="futility bound (one-sided designs)")
    g.add_argument("--binding", action="store_true", default=None, help="binding futility (default: non-binding)")
    g.add_argument("--calibrate-boundaries", action="store_true", default=None,
                   help="efficacy bounds spending the alpha under the simulated null distribution of the log-rank "
                        "statistic (on --reps null trials of their own seed tree)")
    g.add_argument("--follow-up", type=_positive, metavar="WEEKS",
                   help="weeks each patient is followed (default: the horizon); the log-rank uses all of it")
    g.add_argument("--max-duration", type=_positive, metavar="WEEKS",
                   help="calendar week by which the trial ends whatever its trigger")
    if power_command:
        g.add_argument("--null", action="store_true",
                       help="simulate under the null (both arms the control): the simulated type I error")


def apply_look_options(args, put, drop, trial_table: dict, design_table: dict, *, sizing: bool = False) -> None:
    """Put the options into the scenario's overrides (``put(section, key, value, option)``)."""
    from ..design.sequential import SCENARIO_KEYS

    if args.follow_up is not None:
        put("trial", "follow_up", args.follow_up, "--follow-up")
    if args.max_duration is not None:
        put("trial", "max_duration", args.max_duration, "--max-duration")
    if args.look_times is not None:
        for other, option in ((args.events, "--events"), (args.analysis_time, "--analysis-time")):
            if other is not None:
                raise invalid("look_times", f"and {option} exclude each other (the last look time is the final "
                                            "analysis)", ",".join(f"{t:g}" for t in args.look_times),
                              subject="--look-times")
        put("design", "look_times", list(args.look_times), "--look-times")
        put("trial", "analysis", "calendar", "--look-times")
        put("trial", "analysis_time", args.look_times[-1], "--look-times")
        drop("trial", "target_events")
    for key, value, option in (("looks", args.looks, "--looks"), ("spending", args.spending, "--spending"),
                               ("futility", args.futility, "--futility"), ("binding", args.binding, "--binding"),
                               ("calibrate_boundaries", args.calibrate_boundaries, "--calibrate-boundaries")):
        if value is not None:
            put("design", key, list(value) if isinstance(value, tuple) else value, option)
    given = any(k in design_table for k in SCENARIO_KEYS) or args.looks is not None or args.look_times is not None
    if sizing and given and "design_power" not in design_table:
        put("design", "design_power", args.target_power, "--power")


def finish_scenario(args, scenario):
    """The scenario with ``--null`` applied (the looks stay planned under the alternative)."""
    from ..design.sequential import SequentialDesign, null_model

    if getattr(args, "grid", None) and isinstance(scenario.design, SequentialDesign) and scenario.design.calibrate:
        raise invalid("calibrate_boundaries", "does not combine with --grid (run each point on its own)", True,
                      subject="--calibrate-boundaries")
    if getattr(args, "null", False):
        with _options({"model": "--null"}):
            scenario = replace(scenario, model=null_model(scenario.model))
    return scenario


def uses_looks(args, scenario) -> bool:
    """Whether ``power`` reports through :func:`run_looks_power`: looks, an event target, a maximum duration or
    the null."""
    from ..design.sequential import SequentialDesign

    trial = scenario.trial
    return (isinstance(scenario.design, SequentialDesign) or trial.analysis == "events"
            or trial.max_duration is not None or bool(getattr(args, "null", False)))


def sample_size_seed(args, scenario):
    """(scenario, seed) for ``sample-size``: a calibrated design calibrates on its own tree under the run's root."""
    from ..design.sequential import CALIBRATION_KEY, SequentialDesign
    from ..engines.seeding import root_sequence, seed_record

    design = scenario.design
    if not (isinstance(design, SequentialDesign) and design.calibrate):
        return scenario, args.seed
    root = root_sequence(args.seed)
    entropy, key = seed_record(root)
    design = replace(design, calibration_seed=(entropy, (*key, CALIBRATION_KEY)), calibration_replicates=args.reps,
                     engine=args.engine)
    return replace(scenario, design=design), root


def run_looks_power(args: argparse.Namespace, scenario) -> int:
    """``trialsim power`` for a trial with looks (or an event target, a maximum duration, ``--null``)."""
    from ..design.sequential import SequentialDesign
    from ..design.sequential_oc import sequential_power

    design = scenario.design
    if not isinstance(design, SequentialDesign):
        design = SequentialDesign(base=design, model=scenario.model)
    elif design.calibrate:
        design = replace(design, calibration_replicates=args.reps)
    check_plot(args, needs="--grid or looks (--looks, --look-times)", has_needed=design.n_looks > 1)
    with Progress("power", quiet=args.quiet) as bar:
        result = sequential_power(scenario.model, scenario.trial, design, n_replicates=args.reps, seed=args.seed,
                                  n_jobs=args.jobs, backend=args.backend, scheduler=args.scheduler,
                                  engine=args.engine, progress=bar, check_alpha=not args.null)
    write_plot(args, lambda: _looks_figure(result, design, scenario.trial), "trialsim power")
    if args.json:
        out = result.to_dict()
        out.pop("elapsed_seconds", None)
        out["null"] = bool(args.null)
        out["scenario"] = scenario.name
        print(to_json(out))
    else:
        print(looks_text(result, scenario, null=bool(args.null)))
    return 0


def _looks_figure(result, design, trial):
    from ..plot import plot_sequential_power

    allocation = design.prepare_trial(trial).allocation
    boundaries = design.boundaries_at(tuple(look.information_fraction for look in result.looks))
    return plot_sequential_power(result, boundaries, allocation_ratio=allocation[0] / allocation[1])


def looks_text(res, scenario, *, null: bool = False) -> str:
    """The power report, then enrolment, the trials short of their deaths and, with looks, the look table."""
    from .power_output import power_text

    text = power_text(res.result, scenario)
    if null:
        text = text.replace("Power: ", "Type I error (null: both arms the control): ", 1)
    lines = [text]
    trial = scenario.design.prepare_trial(scenario.trial)
    limits = [f"follow-up {trial.follow_up:g} weeks a patient"]
    if trial.max_duration is not None:
        limits.append(f"the trial ends by week {trial.max_duration:g}")
    lines.append(f"  enrolled   {res.mean_enrolled:.2f} patients on average when the trial ended (s.e. "
                 f"{estimate(res.mean_enrolled_se, 2)}); {'; '.join(limits)}")
    lines.append(f"  s.e.       of the mean deaths {estimate(res.mean_deaths_se, 3)}, of the mean week of the analysis "
                 f"{estimate(res.mean_duration_se, 3)}")
    if res.target_events is not None:
        lines.append(f"  short      {res.short_of_events:,} of {res.result.n_replicates:,} trials ended with fewer "
                     f"than {res.target_events} deaths (follow-up over, or the maximum duration, first)")
    if not res.sequential:
        return "\n".join(lines)
    calibrated = res.calibration is not None
    rows, notes = [], []
    for k, look in enumerate(res.looks):
        row = [k + 1, look.information_fraction, look.planned_deaths, look.look_time, look.efficacy_z,
               look.futility_z, look.max_attainable_z, look.reachable, look.happened, look.mean_deaths,
               f"{look.efficacy_stop:.4f} ({look.efficacy_stop_se:.4f})",
               f"{look.futility_stop:.4f} ({look.futility_stop_se:.4f})"]
        if calibrated:
            checked = "-" if look.checked_alpha is None else f"{look.checked_alpha:.4f} ({look.checked_alpha_se:.4f})"
            row += [look.calibrated_alpha, checked]
        rows.append(row)
        if look.efficacy_z == math.inf:
            notes.append(f"look {k + 1}: no efficacy bound (no z value the simulated null trials reached there is "
                         "rare enough to spend the look's alpha); the alpha goes to the later looks")
        elif not look.reachable:
            notes.append(f"look {k + 1}: the efficacy bound {look.efficacy_z:.3f} cannot be crossed with the "
                         f"{look.planned_deaths:.3g} deaths planned there (largest log-rank z "
                         f"{look.max_attainable_z:.2f}); it stops no trial for efficacy and the alpha it spends "
                         "is lost (see --calibrate-boundaries)")
    headers = ["look", "fraction", "deaths", "week", "efficacy z", "futility z", "max z", "reachable", "reached",
               "mean deaths", "efficacy stop (s.e.)", "futility stop (s.e.)"]
    formats: list[str | None] = [None, ".3f", ".4g", ".4g", ".3f", ".3f", ".2f", None, ".3f", ".2f", None, None]
    if calibrated:
        headers += ["alpha calibrated", "alpha on new null trials (s.e.)"]
        formats += [".4f", None]
    lines += ["", format_table(rows, headers, formats, align="r" * len(headers))]
    lines.append("deaths: planned at the look (the final look: the event target, or those expected); max z: the largest "
                 "log-rank z those deaths allow; reached: share of trials that got to the look; the last look's "
                 "'futility stop' is ending without rejecting H0")
    if calibrated:
        cal = res.calibration
        lines.append(f"efficacy bounds calibrated on {cal.n_replicates:,} simulated null trials (seed {cal.seed}, "
                     f"spawn key {list(cal.spawn_key)}); 'alpha on new null trials' comes from as many others")
    lines += [f"note: {note}" for note in notes]
    return "\n".join(lines)
