"""The ``trialsim`` command line: thin argparse front end over the library.

``main(argv=None) -> int`` parses, calls one library function, hands the result to the reporting code and
returns the exit status: 0 on success, 1 when a search did not reach its target (``sample-size``), 2 on bad
input, 130 when interrupted (Ctrl-C), 143 on SIGTERM and 129 on SIGHUP. Bad input is one line on stderr in the one format
``trialsim <command>: error: <subject> <rule> (got <value>)``, where the subject is the option, or the scenario
file and key, that gave the value (``docs/cli.md``, "Errors"); never a traceback.
"""

from __future__ import annotations

import argparse
import io
import signal
import sys
import threading
import warnings
from collections.abc import Sequence
from typing import TextIO

from ..exceptions import InputError
from .options import (OPTION_OF_FIELD, ArgumentParser, Progress, argparse_text, cap_jobs, error_line, in_range,
                      nonneg_int, replicates)
from .plots import add_plot_option, check_plot, write_plot
from .power import add_power_parsers
from .assurance import add_assurance_parsers
from .sequential import add_sequential_parsers
from .report import add_report_parser
from .simulate import add_simulate_parser

__all__ = ["main", "build_parser"]


def at_least_two(text: str) -> int:
    """--reps of calibrate --check: a Monte Carlo interval needs at least two cohorts."""
    value = replicates(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"must be an integer >= 2 (cohorts for a Monte Carlo interval) (got {text!r})")
    return value


def _add_calibrate(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("calibrate", help="targets vs calibrated model (vs simulated cohorts with --check)",
                              description="Calibrate the CTD-MAS model to the published study and show each target "
                                          "beside the model's exact value.")
    p.add_argument("--horizon", type=in_range("ctdmas_horizon"), default=8.0, metavar="WEEKS",
                   help="week at which the survival counts 19/20 and 13/21 are read (default 8)")
    p.add_argument("--check", action="store_true",
                   help="also re-run the study: simulate cohorts of 20 vs 21 with the DES engine")
    p.add_argument("--reps", type=at_least_two, default=2000, help="cohorts simulated by --check (default 2000)")
    p.add_argument("--seed", type=nonneg_int, default=None, help="root seed for --check (default: fresh entropy)")
    add_plot_option(p, "the re-run cohorts beside the model and the study's figures (--check)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no notes on stderr (the result on "
                                                        "stdout is unchanged)")
    p.set_defaults(run=_run_calibrate)


def _run_calibrate(args: argparse.Namespace) -> int:
    from ..model import calibrate
    from .output import calibration_text, to_json

    check_plot(args, needs="--check", has_needed=args.check)
    result = calibrate(horizon_weeks=args.horizon)
    check = None
    if args.check:
        from ..design.resources import check_table_memory
        from ..design.study_rerun import check_calibration

        check_table_memory(args.reps, 41, "des")  # every cohort of 20 + 21 is kept until the end

        with Progress("re-running the study", quiet=args.quiet, total=args.reps) as bar:
            check = check_calibration(result, n_cohorts=args.reps, seed=args.seed, progress=bar,
                                      detail_batch=args.plot is not None)
        batch = check.pop("batch", None)
        write_plot(args, lambda: _calibration_figure(batch, result), "trialsim calibrate")
    if args.json:
        payload = result.to_dict()
        if check:
            sim = {row["name"]: row for row in check["targets"]}
            for row in payload["targets"]:
                s = sim.get(row["name"], {})
                for key in ("simulated", "simulated_ci_low", "simulated_ci_high"):
                    row[key] = s.get(key)
                if s.get("simulated_pooled_median") is not None:
                    row["simulated_pooled_median"] = s["simulated_pooled_median"]
            payload["check"] = {k: v for k, v in check.items() if k != "targets"}
        print(to_json(payload))
    else:
        print(calibration_text(result, check))
    return 0


def _calibration_figure(batch, result):
    from ..plot import plot_simulation

    return plot_simulation(batch, model=result.model, horizon=result.horizon_weeks)


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="trialsim", description="Simulation and design of small survival trials "
                                                         "(CTD-MAS ruxolitinib model by default).")
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"trialsim {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    subparsers.required = True
    add_power_parsers(subparsers)
    add_assurance_parsers(subparsers)
    add_simulate_parser(subparsers)
    add_sequential_parsers(subparsers)
    _add_calibrate(subparsers)
    add_report_parser(subparsers)
    return parser


def _named_after_option(exc: InputError) -> InputError:
    """An error the library raised about one of its fields, named after the option that sets that field."""
    option = OPTION_OF_FIELD.get(exc.field or "")
    if option is not None and str(exc).startswith("`"):  # still named after the field, not yet a file or option
        return exc.about(option)
    return exc


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where the program is, so that it unwinds as from Ctrl-C: temporary files
    removed, worker pools stopped (a KeyboardInterrupt, so every cleanup written for Ctrl-C runs for it too)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


def _on_signal(signum: int, frame: object) -> None:
    for other in _SIGNALS:  # a second signal during the cleanup ends the process at once
        signal.signal(other, signal.SIG_DFL)
    raise Terminated(signum)


def _catch_signals() -> dict:
    """Handle SIGTERM and SIGHUP like SIGINT (only the main thread can); returns the handlers to put back."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {signum: signal.signal(signum, _on_signal) for signum in _SIGNALS}


def main(argv: Sequence[str] | None = None) -> int:
    from .allocator import tune_allocator

    previous = _catch_signals()
    prog = "trialsim"
    try:
        tune_allocator()  # keep numpy's chunk-sized temporaries in the heap between chunks (see cli/allocator.py)
        parser = build_parser()
        try:
            args, extra = parser.parse_known_args(argv)
        except SystemExit as exit_:
            return int(exit_.code or 0)
        prog = f"trialsim {args.command}"
        if extra:  # name the command the unknown option was given to
            print(error_line(prog, argparse_text(f"unrecognized arguments: {' '.join(extra)}")), file=sys.stderr)
            return 2
        # Notes wait for the command's end: printed with its result when it succeeds, dropped when it fails, so
        # that a bad input is one line on stderr whatever was noted before the error was found
        notes = io.StringIO()
        quiet = bool(getattr(args, "quiet", False))
        if isinstance(getattr(args, "jobs", None), int):  # more workers than cores: capped, with a note
            args.jobs = cap_jobs(prog, args.jobs, quiet=quiet, file=notes)
        try:
            with warnings.catch_warnings():  # a warning is one line, a note, like the others (none with --quiet)
                warnings.showwarning = _note(prog, quiet=quiet, file=notes)
                code = int(args.run(args) or 0)
        except InputError as exc:
            print(error_line(prog, str(_named_after_option(exc))), file=sys.stderr)
            return 2
        sys.stderr.write(notes.getvalue())
        return code
    except Terminated as exc:
        _stop_workers()
        print(f"{prog}: interrupted ({signal.Signals(exc.signum).name})", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt:
        _stop_workers()
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _note(prog: str, *, quiet: bool, file: TextIO):
    """``warnings.showwarning`` for the command line: ``trialsim <command>: note: <message>`` on one line (the
    category named unless it is trialsim's own) written to ``file``, nothing with ``--quiet``."""
    from ..exceptions import TrialsimWarning

    def show(message, category, filename, lineno, file_=None, line=None) -> None:  # noqa: ARG001 - warnings API
        if quiet:
            return
        kind = "" if issubclass(category, TrialsimWarning) else f"{category.__name__}: "
        print(f"{prog}: note: {kind}{' '.join(str(message).split())}", file=file)

    return show


def _stop_workers() -> None:
    """No worker process outlives an interrupted command (loky keeps its pool for reuse)."""
    if "trialsim.design.montecarlo" in sys.modules:
        from ..design.montecarlo import stop_workers

        stop_workers()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
