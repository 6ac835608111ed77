"""``trialsim simulate``: simulated trials, patient by patient, or a per-arm summary.

Wired into :mod:`trialsim.cli` by ``add_simulate_parser(subparsers)``; the parser's ``run`` default is
:func:`run_simulate`, which returns the exit status and raises :class:`~trialsim.exceptions.InputError` (one
line naming the option and the value) for bad input.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .options import allocation as _allocation, nonneg_int as _nonneg_int, \
    Progress, block_size as _block_size, in_range, patients as _patients, replicates as _replicates
from ..exceptions import invalid
from .files import check_output_path, same_file, write_output
from .plots import add_plot_option, check_plot, write_plot

__all__ = ["add_simulate_parser", "run_simulate", "build_trial"]

_FORMATS = (".csv", ".parquet")


def add_simulate_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``simulate`` subcommand to an argparse ``subparsers`` object; returns its parser."""
    p = subparsers.add_parser(
        "simulate", help="simulate trials patient by patient",
        description="Simulate trials of the calibrated CTD-MAS model. With --out, write the patient-level table "
                    "(.csv, or .parquet with pyarrow), written whole or not at all; without it, print a per-arm "
                    "summary.")
    p.add_argument("--n", type=_patients, default=None, help="patients per trial, all arms (default 40)")
    p.add_argument("--reps", type=_replicates, default=1, help="simulated trials (default 1)")
    p.add_argument("--seed", type=_nonneg_int, default=None, help="root seed (default: fresh entropy, printed)")
    p.add_argument("--out", metavar="PATH", help="write the patient-level table here (.csv or .parquet)")
    p.add_argument("--events-log", metavar="PATH", help="write the event log here (CSV; DES engine only)")
    add_plot_option(p, "the simulated trials (Kaplan-Meier fan, dose paths, response states per arm)")
    p.add_argument("--allocation", type=_allocation, default=None, metavar="A:B",
                   help="allocation ratio ruxolitinib:control (default 1:1)")
    p.add_argument("--block-size", type=_block_size, default=None,
                   help="permuted-block size (default twice the ratio's sum)")
    p.add_argument("--stratified", action="store_true", default=None,
                   help="randomise within strata of underlying disease")
    p.add_argument("--accrual", choices=("instant", "poisson"), default=None,
                   help="enrolment: everyone at once (default) or a Poisson process at --accrual-rate")
    p.add_argument("--accrual-rate", type=in_range("accrual_rate"), default=None, metavar="PER_WEEK",
                   help="patients per week, Poisson accrual (implies --accrual poisson; default 1)")
    p.add_argument("--follow-up", type=in_range("weeks"), default=None, metavar="WEEKS",
                   help="weeks each patient is followed (default: the survival horizon)")
    p.add_argument("--horizon", type=in_range("weeks"), default=None, metavar="WEEKS",
                   help="survival horizon of the calibration (default 8)")
    p.add_argument("--dropout", type=in_range("dropout"), default=None, metavar="PER_WEEK",
                   help="loss-to-follow-up hazard per week, every arm (default 0)")
    p.add_argument("--analysis", choices=("complete", "calendar", "events"), default=None,
                   help="analysis trigger: follow-up complete (default), a calendar date, or a number of deaths")
    p.add_argument("--analysis-time", type=in_range("calendar"), default=None, metavar="WEEKS",
                   help="calendar week of the analysis (--analysis calendar)")
    p.add_argument("--target-events", type=_patients, default=None, metavar="E",
                   help="analyse at the E-th death (--analysis events)")
    p.add_argument("--engine", choices=("auto", "des", "vectorized"), default="auto",
                   help="simulation engine (default auto: the DES for --events-log, else vectorised where it "
                        "supports the trial)")
    p.add_argument("--scenario", metavar="NAME|PATH", default=None,
                   help="take the model and trial from a scenario (built-in name or TOML file); options override")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no notes on stderr (the result on "
                                                        "stdout is unchanged)")
    p.set_defaults(run=run_simulate)
    return p


_TRIAL_OPTIONS = {"n": "--n", "allocation": "--allocation", "block_size": "--block-size",
                  "stratified": "--stratified", "follow_up": "--follow-up", "dropout": "--dropout",
                  "analysis": "--analysis", "analysis_time": "--analysis-time", "target_events": "--target-events"}


def build_trial(args, n_arms: int, base=None):
    """The :class:`~trialsim.model.Trial` the options describe over ``base`` (default: the default trial at
    the horizon). An invalid value raises the model's ``InputError``, which the command line names after the
    option that set it."""
    from dataclasses import replace

    from ..model import default_trial
    from ..model import Accrual

    horizon = args.horizon if args.horizon is not None else 8.0
    if base is None:
        base = default_trial(n=40, follow_up=horizon, dropout_hazard=(0.0,) * n_arms,
                             allocation=(1,) * n_arms if n_arms != 2 else (1, 1))
    changes = {}
    for key in _TRIAL_OPTIONS:
        value = getattr(args, key)
        if value is not None:
            changes["dropout_hazard" if key == "dropout" else key] = value
    if "allocation" in changes and len(changes["allocation"]) != n_arms:
        given = ":".join(map(str, changes["allocation"]))
        raise invalid("allocation", f"must give one integer per arm ({n_arms})", given, subject="--allocation")
    if "dropout_hazard" in changes:
        changes["dropout_hazard"] = (changes["dropout_hazard"],) * n_arms
    if args.accrual == "instant" and args.accrual_rate is not None:
        raise invalid("accrual", "instant and --accrual-rate exclude each other", args.accrual, subject="--accrual")
    if args.analysis_time is not None and args.analysis not in (None, "calendar"):
        raise invalid("analysis_time", f"needs --analysis calendar, not {args.analysis}", args.analysis_time,
                      subject="--analysis-time")
    if args.target_events is not None and args.analysis not in (None, "events"):
        raise invalid("target_events", f"needs --analysis events, not {args.analysis}", args.target_events,
                      subject="--target-events")
    if args.accrual == "poisson" or args.accrual_rate is not None:
        changes["accrual"] = Accrual(kind="poisson", rate=args.accrual_rate or 1.0)
    elif args.accrual == "instant":
        changes["accrual"] = Accrual(kind="instant")
    return replace(base, **changes)


def _model_and_trial(args):
    """Model and trial: a scenario's (its first simulated trial: the single arm for single-arm designs), or the
    calibrated CTD-MAS model; the options override the trial."""
    if args.scenario is None:
        from ..model import default_model
        from ..model.validation import check_in_range

        if args.horizon is not None:  # the calibration's own range (the option's is the parametric one)
            try:
                check_in_range("horizon", args.horizon, "ctdmas_horizon")
            except ValueError as exc:
                raise invalid("horizon", getattr(exc, "rule", ""), args.horizon, subject="--horizon") from None
        model = default_model(args.horizon if args.horizon is not None else 8.0)
        return model, build_trial(args, model.n_arms)
    from ..scenarios import load_scenario

    overrides = {("model", "horizon"): (args.horizon, "--horizon")} if args.horizon is not None else None
    scenario = load_scenario(args.scenario, overrides)
    model, trial = scenario.design.simulated_trials(scenario.model, scenario.trial)[0]
    return model, build_trial(args, model.n_arms, base=trial)


def _check_outputs(args: argparse.Namespace) -> None:
    if args.out is not None:
        check_output_path("--out", args.out, _FORMATS)
        if Path(args.out).suffix.lower() == ".parquet":
            try:
                import pyarrow  # noqa: F401
            except ImportError:
                raise invalid("out", "(.parquet) needs pyarrow: pip install 'trialsim[parquet]'", args.out,
                              subject="--out") from None
    if args.events_log is not None:
        check_output_path("--events-log", args.events_log, (".csv",))
        if args.out is not None and same_file(args.out, args.events_log):
            raise invalid("events_log", "must differ from --out", args.events_log, subject="--events-log")
    check_plot(args)
    if args.plot is not None and args.events_log is not None and same_file(args.plot, args.events_log):
        raise invalid("plot", "must differ from --events-log", args.plot, subject="--plot")


def _frame_writer(path: str, frame: Any) -> Callable[[str], object]:
    if Path(path).suffix.lower() == ".parquet":
        return lambda tmp: frame.to_parquet(tmp, index=False)
    return lambda tmp: frame.to_csv(tmp, index=False)


def _figure(batch, model, trial):
    from ..plot import plot_simulation

    return plot_simulation(batch, model=model, horizon=trial.follow_up)


def run_simulate(args) -> int:
    """Run ``trialsim simulate``; returns the exit status (0), raises ``InputError`` for bad input."""
    _check_outputs(args)
    model, trial = _model_and_trial(args)
    engine = args.engine
    if engine == "auto":
        from ..engines.vectorized import supports

        engine = "des" if args.events_log or not supports(model, trial, detail=True) else "vectorized"
    if args.events_log and engine != "des":
        raise invalid("engine", "must be des for --events-log (only the discrete-event engine keeps a log)", engine,
                      subject="--engine")
    if engine == "des":
        from ..engines.des import simulate
        opts = {"events_log": bool(args.events_log)}
    else:
        from ..engines.vectorized import simulate
        opts = {}
    from ..design.resources import check_table_memory

    check_table_memory(args.reps, trial.n, engine, events_log=bool(args.events_log))
    with Progress("simulate", quiet=args.quiet, total=args.reps) as bar:
        batch = simulate(model, trial, n_replicates=args.reps, seed=args.seed, detail=True, progress=bar, **opts)

    if args.out:
        write_output("--out", args.out, _frame_writer(args.out, batch.to_frame()))
    if args.events_log:
        import pandas as pd

        from ..engines.des import EVENT_LOG_COLUMNS
        log = pd.DataFrame(batch.events_log, columns=list(EVENT_LOG_COLUMNS))
        write_output("--events-log", args.events_log, _frame_writer(args.events_log, log))
    write_plot(args, lambda: _figure(batch, model, trial), "trialsim simulate")
    if args.out and not args.json:
        if not args.quiet:  # a note: the result is the file
            print(f"trialsim simulate: wrote {batch.n_replicates * batch.n_patients} patients ({batch.n_replicates} "
                  f"trial{'s' if batch.n_replicates > 1 else ''}, seed {batch.seed}) to {args.out}", file=sys.stderr)
        return 0
    from .simulate_output import simulate_text
    from ..engines.summary import batch_summary

    summary = batch_summary(batch, horizon=trial.follow_up)
    if args.json:
        from .output import to_json
        print(to_json(summary))
    else:
        print(simulate_text(summary))
    return 0
