"""The ``power`` and ``sample-size`` subcommands (``cli.py`` adds them with :func:`add_power_parsers`).

A scenario (``--scenario``, default ``default``) gives the model, the trial and the design; options override
its values, and errors about them name the option. ``--control-survival`` and friends switch to a plain
parametric model built from the options alone (as rpact takes it).
"""

from __future__ import annotations

import argparse
import math

from .options import allocation as _allocation, jobs as _jobs, nonneg_int as _seed, \
    open_probability as _open_probability, Progress, Once, in_range, parse_float, patients, replicates, sides, \
    timeout as _timeout
from ..exceptions import SHOWN_PATH, invalid
from .files import check_output_path
from .plots import add_plot_option, check_plot, write_plot
from .sequential import (add_look_options, apply_look_options, finish_scenario, run_looks_power, sample_size_seed,
                         uses_looks)
from .bayes_options import add_bayes_options, apply_bayes_options, is_bayes, run_bayes_power

__all__ = ["add_power_parsers", "add_common_options", "run_power", "run_sample_size", "scenario_from_args", "grid_values",
           "check_scheduler"]

_DESIGN_KINDS = {"two-arm": "two_arm", "single-arm": "single_arm", "historical": "historical_control"}
_ENDPOINTS = {"survival": "survival", "survival-binary": "survival_binary", "response": "response"}
_TESTS = ("logrank", "fisher", "boschloo", "chi2", "binomial")


# ---------------------------------------------------------------------------------------------- parsers


def add_common_options(p: argparse.ArgumentParser, *, conflict: bool = False) -> None:
    g = p.add_argument_group("scenario")
    g.add_argument("--scenario", default="default", metavar="NAME|PATH",
                   help="built-in scenario name (default, parametric, single_arm_rate, historical_arm) or a TOML "
                        "file")
    g.add_argument("--design", choices=tuple(_DESIGN_KINDS), help="randomised two-arm, single arm against a "
                   "fixed historical rate, or single arm against a simulated historical arm")
    g.add_argument("--endpoint", choices=tuple(_ENDPOINTS),
                   help="two-arm endpoint: survival to the horizon (log-rank), survival at the horizon as a "
                        "binary endpoint, or response at week 8")
    g.add_argument("--response-level", choices=("cr-pr", "cr"), help="response counted: CR+PR or CR alone")
    g.add_argument("--test", choices=_TESTS, help="the test (default: log-rank for survival, Fisher for binary "
                                                  "endpoints, exact binomial for the single arm)")
    g.add_argument("--alpha", type=_open_probability, help="type I error (default 0.05)")
    g.add_argument("--sided", type=sides, help="1 (treatment better) or 2 sides (default 2)")
    g.add_argument("--horizon", type=in_range("weeks"), metavar="WEEKS",
                   help="survival horizon and follow-up in weeks (default 8)")
    g.add_argument("--events", type=patients, metavar="E", help="analyse at the E-th death")
    g.add_argument("--analysis-time", type=in_range("calendar"), metavar="WEEKS",
                   help="analyse at this calendar week")
    g.add_argument("--allocation", type=_allocation, metavar="T:C", help="allocation ratio treatment:control")
    g.add_argument("--stratified", action="store_true", default=None,
                   help="randomise (and analyse) within underlying disease")
    g.add_argument("--accrual-rate", type=in_range("accrual_rate"), metavar="PER_WEEK",
                   help="Poisson accrual (default: everyone enrolled at week 0)")
    g.add_argument("--dropout", type=in_range("dropout"), metavar="HAZARD",
                   help="loss to follow-up per week, both arms")
    g.add_argument("--null-survival", type=in_range("survival"), metavar="S",
                   help="single arm: historical survival at the horizon (default 0.62)")
    g.add_argument("--n-historical", type=patients, metavar="M", help="size of the simulated historical "
                                                                      "arm (default 21)")
    m = p.add_argument_group("parametric trial (exponential arms, instead of the CTD-MAS model)")
    m.add_argument("--control-survival", type=in_range("survival"), metavar="S", help="control survival at the "
                                                                                     "horizon")
    m.add_argument("--control-median", type=in_range("median"), metavar="WEEKS", help="control median survival")
    m.add_argument("--treatment-survival", type=in_range("survival"), metavar="S",
                   help="treatment survival at the horizon")
    m.add_argument("--treatment-median", type=in_range("median"), metavar="WEEKS",
                   help="treatment median survival")
    m.add_argument("--hazard-ratio", type=in_range("hazard_ratio"), metavar="HR",
                   help="hazard ratio treatment / control")
    r = p.add_argument_group("simulation")
    r.add_argument("--reps", type=replicates, default=10_000, help="simulated trials (default 10,000)")
    r.add_argument("--seed", type=_seed, help="root seed (default: fresh entropy, printed)")
    r.add_argument("--jobs", type=_jobs, default=None, help="worker processes (default: all cores)")
    r.add_argument("--backend", choices=("loky", "threading", "dask"), default="loky",
                   help="joblib backend (dask: a dask.distributed cluster, see --scheduler)")
    r.add_argument("--scheduler", metavar="ADDRESS", help="dask scheduler address, e.g. tcp://host:8786")
    r.add_argument("--timeout", type=_timeout, default=None, metavar="SECONDS",
                   help="seconds a dask scheduler has to answer and to have a worker (default 30)")
    r.add_argument("--engine", choices=("auto", "vectorized", "des"), default="auto",
                   help="simulation engine (default auto: vectorised when it supports the trial)")
    add_bayes_options(p, conflict=conflict)
    o = p.add_argument_group("output")
    o.add_argument("--json", action="store_true", help="print one JSON object")
    o.add_argument("--quiet", action="store_true", help="no progress bar and no notes on stderr (the result on "
                                                        "stdout is unchanged)")


def add_power_parsers(subparsers) -> None:
    """Add ``power`` and ``sample-size`` to the ``trialsim`` subcommands."""
    p = subparsers.add_parser("power", help="Monte Carlo power of a trial, with its error and the analytic power",
                              description="Simulated power of the default randomised CTD-MAS trial (or of a "
                                          "scenario, or of a parametric trial from the options), with Monte "
                                          "Carlo error and the analytic power beside it.")
    p.add_argument("--n", type=patients, help="patients in the trial (default: the scenario's, 40)")
    p.add_argument("--grid", action=Once, metavar="PARAM=SPEC", help="power curve over a parameter: n=20:80:10 (start:stop:step, "
                                                        "inclusive) or hazard-ratio=0.2,0.3,0.5")
    p.add_argument("--out", metavar="FILE.csv", help="write the power curve (--grid) as CSV")
    add_plot_option(p, "the power curve (--grid) with its Monte Carlo band and the analytic power, or the bounds "
                       "of a trial with looks with the simulated stopping at each look")
    add_look_options(p, power_command=True)
    add_common_options(p, conflict=True)
    p.set_defaults(run=run_power)
    s = subparsers.add_parser("sample-size", help="smallest n whose simulated power reaches a target",
                              description="Smallest trial size (a multiple of the allocation block) whose "
                                          "simulated power reaches the target, with the power at n and n - block "
                                          "and the analytic n.")
    s.add_argument("--power", type=_open_probability, default=0.8, dest="target_power", metavar="P",
                   help="target power (default 0.8)")
    s.add_argument("--n-max", type=patients, default=2000, help="largest n searched (default 2000)")
    add_look_options(s, power_command=False)
    add_common_options(s)
    s.set_defaults(run=run_sample_size)


# ------------------------------------------------------------------------------------- options -> scenario


def scenario_from_args(args, *, sizing: bool = False):
    """Load ``args.scenario`` and apply the options over it (errors name the option).

    ``sizing``: the trial size is a placeholder that ``sample_size`` replaces (one allocation block, or enough
    for the target number of events).
    """
    from ..scenarios import read_scenario, build_scenario

    data, label = read_scenario(args.scenario)
    over: dict = {}

    def put(section: str, key: str, value, option: str) -> None:
        over[(section, key)] = (value, option)

    def drop(section: str, key: str) -> None:
        over.setdefault((section, key), (None, ""))

    model = data.get("model", {}) if isinstance(data.get("model"), dict) else {}
    design = data.get("design", {}) if isinstance(data.get("design"), dict) else {}
    trial = data.get("trial", {}) if isinstance(data.get("trial"), dict) else {}
    parametric = {"control_survival": args.control_survival, "control_median": args.control_median,
                  "treatment_survival": args.treatment_survival, "treatment_median": args.treatment_median,
                  "hazard_ratio": args.hazard_ratio}
    if any(v is not None for v in parametric.values()):
        put("model", "kind", "parametric", "--control-survival")
        for key in ("ruxolitinib", "control", "baseline"):
            drop("model", key)
        controls = ("control_survival", "control_median")
        treatments = ("treatment_survival", "treatment_median", "hazard_ratio")
        for group in (controls, treatments):
            if any(parametric[k] is not None for k in group):
                for key in group:
                    if parametric[key] is None:
                        drop("model", key)
        for key, value in parametric.items():
            if value is not None:
                put("model", key, value, "--" + key.replace("_", "-"))
        file_parametric = model.get("kind") == "parametric"
        for group, need in ((controls, "--control-survival or --control-median"),
                            (treatments, "--treatment-survival, --treatment-median or --hazard-ratio")):
            if not any(parametric[k] is not None or (file_parametric and k in model) for k in group):
                given = next(k for k, v in parametric.items() if v is not None)
                option = "--" + given.replace("_", "-")
                raise invalid(given, f"needs {need} too (a parametric trial has both arms)", parametric[given],
                              subject=option)
    if args.horizon is not None:
        put("model", "horizon", args.horizon, "--horizon")
        put("trial", "follow_up", args.horizon, "--horizon")
    if args.design is not None and args.allocation is not None \
            and len(args.allocation) != (2 if args.design == "two-arm" else 1):
        arms = "two integers (T:C)" if args.design == "two-arm" else "one integer"
        raise invalid("allocation", f"and --design {args.design} exclude each other (that design takes {arms})",
                      ":".join(map(str, args.allocation)), subject="--allocation")
    if args.design is not None:
        kind = _DESIGN_KINDS[args.design]
        if kind != design.get("kind", "two_arm"):
            for key in design:
                if key not in ("alpha", "sided", "horizon"):
                    drop("design", key)
            if kind != "two_arm" and len(trial.get("allocation", [1, 1])) == 2 and args.allocation is None:
                put("trial", "allocation", [1], "--design")
                if isinstance(trial.get("dropout_hazard"), list):
                    put("trial", "dropout_hazard", trial["dropout_hazard"][0], "--design")
            if kind == "two_arm" and len(trial.get("allocation", [1, 1])) == 1 and args.allocation is None:
                put("trial", "allocation", [1, 1], "--design")
        put("design", "kind", kind, "--design")
    if args.endpoint is not None:
        put("design", "endpoint", _ENDPOINTS[args.endpoint], "--endpoint")
        if args.test is None and "test" in design:
            drop("design", "test")
    if args.response_level is not None:
        kept = args.design is None or _DESIGN_KINDS[args.design] == design.get("kind", "two_arm")
        endpoint = _ENDPOINTS[args.endpoint] if args.endpoint is not None else \
            (design.get("endpoint", "survival") if kept else "survival")
        if endpoint != "response":
            raise invalid("response_level", f"needs --endpoint response (the endpoint here is {endpoint})",
                          args.response_level, subject="--response-level")
        put("design", "response_level", args.response_level.replace("-", "_"), "--response-level")
    for key, option in (("test", "--test"), ("alpha", "--alpha"), ("sided", "--sided"),
                        ("null_survival", "--null-survival"), ("n_historical", "--n-historical")):
        value = getattr(args, key)
        if value is not None:
            put("design", key, value, option)
    if getattr(args, "n", None) is not None:
        put("trial", "n", args.n, "--n")
    if args.events is not None and args.analysis_time is not None:
        raise invalid("events", "and --analysis-time exclude each other", args.events, subject="--events")
    if args.events is not None:
        put("trial", "analysis", "events", "--events")
        put("trial", "target_events", args.events, "--events")
        drop("trial", "analysis_time")
    if args.analysis_time is not None:
        put("trial", "analysis", "calendar", "--analysis-time")
        put("trial", "analysis_time", args.analysis_time, "--analysis-time")
        drop("trial", "target_events")
    if args.allocation is not None:
        put("trial", "allocation", args.allocation, "--allocation")
    if args.stratified:
        put("trial", "stratified", True, "--stratified")
    if args.accrual_rate is not None:
        put("trial", "accrual_rate", args.accrual_rate, "--accrual-rate")
    if args.dropout is not None:
        put("trial", "dropout_hazard", args.dropout, "--dropout")
    apply_look_options(args, put, drop, trial, design, sizing=sizing)
    apply_bayes_options(args, put, drop, design)
    if sizing:
        allocation = over.get(("trial", "allocation"), (trial.get("allocation", [1, 1]),))[0]
        whole = isinstance(allocation, (list, tuple)) and len(allocation) > 0 and \
            all(isinstance(a, int) and not isinstance(a, bool) and a > 0 for a in allocation)
        block = sum(allocation) if whole else 2  # a bad allocation is named by the trial's own check
        events = over.get(("trial", "target_events"), (trial.get("target_events"),))[0]
        analysis = over.get(("trial", "analysis"), (trial.get("analysis"),))[0]
        wanted = events if analysis == "events" and isinstance(events, int) else 1
        put("trial", "n", block * max(1, math.ceil(wanted / block)), "--power")
    # A dropout list in the file must follow a changed number of arms
    if ("trial", "allocation") in over and ("trial", "dropout_hazard") not in over \
            and isinstance(trial.get("dropout_hazard"), list):
        put("trial", "dropout_hazard", trial["dropout_hazard"][0], "--allocation")
    return finish_scenario(args, build_scenario(data, source=label, overrides=over))


# ------------------------------------------------------------------------------------------------ grids


def grid_values(spec: str, parser_type, choices=None) -> list:
    text = spec.strip()
    if ":" in text:
        parts = text.split(":")
        if len(parts) != 3:
            raise invalid("grid", "must be start:stop:step or a list of values", spec, subject="--grid")
        numbers = [x for x in (parse_float(p.strip()) for p in parts) if x is not None and math.isfinite(x)]
        if len(numbers) != 3:
            raise invalid("grid", "must hold numbers in start:stop:step", spec, subject="--grid")
        start, stop, step = numbers
        if not step > 0 or stop < start:
            raise invalid("grid", "needs step > 0 and stop >= start", spec, subject="--grid")
        ratio = (stop - start) / step
        count = int(math.floor(ratio + 1e-9)) + 1 if math.isfinite(ratio) and ratio < 1e6 else 10 ** 6
        if count > 1000:
            raise invalid("grid", f"must have at most 1000 points ({count} asked for)", spec, subject="--grid")
        integral = all(float(p).is_integer() for p in parts)
        raw = [str(int(start + k * step)) if integral else repr(round(start + k * step, 10)) for k in range(count)]
    else:
        raw = [p.strip() for p in text.split(",")]
        if not any(raw):
            raise invalid("grid", "must hold at least one value", spec, subject="--grid")
        if not all(raw):
            raise invalid("grid", "must not hold an empty item (two commas in a row, or one at an end)", spec,
                          subject="--grid")
    values = []
    for item in raw:
        try:
            values.append(parser_type(item) if parser_type is not None else item)
        except (argparse.ArgumentTypeError, ValueError) as exc:
            raise invalid("grid", f"values {str(exc).split(' (got ')[0]}", item, subject="--grid") from None
        if choices is not None and values[-1] not in choices:
            raise invalid("grid", f"values must be one of {', '.join(map(str, choices))}", item, subject="--grid")
    return values


def _grid(args, parser_actions) -> tuple[str, str, list]:
    if "=" not in args.grid:
        raise invalid("grid", "must be PARAM=VALUES like n=20:80:10", args.grid, subject="--grid")
    name, spec = args.grid.split("=", 1)
    name = name.strip().lstrip("-")
    action = parser_actions.get("--" + name)
    banned = {"grid", "out", "plot", "json", "quiet", "reps", "seed", "jobs", "backend", "scheduler", "engine",
              "scenario", "timeout"}
    if action is None or name in banned or action.nargs == 0:
        raise invalid("grid", "must vary an option of `trialsim power` such as n, hazard-ratio, control-survival, "
                      "treatment-survival, alpha, dropout, accrual-rate", name, subject="--grid")
    return name, action.dest, grid_values(spec, action.type, action.choices)


# ----------------------------------------------------------------------------------------------- runners


def check_scheduler(args: argparse.Namespace) -> None:
    if args.scheduler and args.backend != "dask":
        raise invalid("scheduler", "needs --backend dask", args.scheduler, subject="--scheduler")


def _run_options(args: argparse.Namespace) -> dict:
    return dict(n_replicates=args.reps, n_jobs=args.jobs, backend=args.backend, scheduler=args.scheduler,
                engine=args.engine, timeout=args.timeout)


def run_power(args: argparse.Namespace) -> int:
    """``trialsim power``: print the power (text or JSON), or a power curve with ``--grid``."""
    from . import power_output as report
    from ..design.sizing import power
    from ..engines.seeding import root_sequence

    if args.out is not None and not args.grid:
        raise invalid("out", "writes the power curve: it needs --grid", args.out, subject="--out",
                      limit=SHOWN_PATH)
    check_scheduler(args)
    if args.out is not None:
        check_output_path("--out", args.out, (".csv",))
    check_plot(args)
    if not args.grid:
        scenario = scenario_from_args(args)
        if uses_looks(args, scenario):
            return run_looks_power(args, scenario)
        check_plot(args, needs="--grid or looks (--looks, --look-times)", has_needed=False)
        if is_bayes(scenario.design):
            return run_bayes_power(args, scenario)
        with Progress("power", quiet=args.quiet, total=args.reps) as bar:
            result = power(scenario.model, scenario.trial, scenario.design, seed=args.seed, progress=bar,
                           **_run_options(args))
        print(report.power_json(result, scenario) if args.json else report.power_text(result, scenario))
        return 0
    name, dest, values = _grid(args, _actions(args))
    seed = root_sequence(args.seed)  # one root for every point: common random numbers
    scenarios = []
    for value in values:  # every point's scenario first: a bad value fails before any simulation
        setattr(args, dest, value)
        scenarios.append(scenario_from_args(args))
    points = []
    with Progress("power curve", quiet=args.quiet, total=args.reps * len(values)) as bar:
        for value, scenario in zip(values, scenarios):
            points.append((value, power(scenario.model, scenario.trial, scenario.design, seed=seed, progress=bar,
                                        **_run_options(args))))
    if args.out is not None:
        report.write_grid_csv(args.out, name, points)
    write_plot(args, lambda: _power_curve(points, name), "trialsim power")
    if args.json:
        from .output import to_json

        print(to_json(report.grid_dict(name, points)))
    else:
        print(report.grid_text(name, points))
    return 0


def _power_curve(points: list, name: str):
    from ..plot import plot_power_curve

    return plot_power_curve(points, parameter=name, target=0.8)


def _actions(args) -> dict:
    parser = args._parser if hasattr(args, "_parser") else _power_parser()
    return {opt: action for action in parser._actions for opt in action.option_strings}


def _power_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trialsim")
    add_power_parsers(parser.add_subparsers())
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices["power"]


def run_sample_size(args: argparse.Namespace) -> int:
    """``trialsim sample-size``: the smallest n reaching ``--power`` (exit status 1 when it is not reached)."""
    from . import power_output as report
    from ..design.sizing import sample_size

    check_scheduler(args)
    scenario, seed = sample_size_seed(args, scenario_from_args(args, sizing=True))
    with Progress("sample size", quiet=args.quiet) as bar:  # the search decides how many trials it runs
        result = sample_size(scenario.model, scenario.design, target_power=args.target_power, trial=scenario.trial,
                             seed=seed, n_max=args.n_max, progress=bar, **_run_options(args))
    print(report.sample_size_json(result, scenario) if args.json else report.sample_size_text(result, scenario))
    return 0 if result.converged else 1
