"""The ``trialsim`` command line: thin argparse front end over the library.

``main(argv=None) -> int`` parses, calls one library function, hands the result to the reporting code and
returns the exit status: 0 on success, 1 when a search did not reach its target (``sample-size``), 2 on bad
input, 130 when interrupted. Bad input is one line on stderr in the one format
``trialsim <command>: error: <subject> <rule> (got <value>)``, where the subject is the option, or the scenario
file and key, that gave the value (``docs/cli.md``, "Errors"); never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ..exceptions import InputError
from .options import (OPTION_OF_FIELD, ArgumentParser, Progress, argparse_text, error_line, nonneg_int,
                      positive_float, positive_int)
from .power import add_power_parsers
from .assurance import add_assurance_parsers
from .sequential import add_sequential_parsers
from .report import add_report_parser
from .simulate import add_simulate_parser

__all__ = ["main", "build_parser"]


def at_least_two(text: str) -> int:
    """--reps of calibrate --check: a Monte Carlo interval needs at least two cohorts."""
    value = positive_int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"must be an integer >= 2 (cohorts for a Monte Carlo interval) (got {text!r})")
    return value


def _add_calibrate(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("calibrate", help="targets vs calibrated model (vs simulated cohorts with --check)",
                              description="Calibrate the CTD-MAS model to the published study and show each target "
                                          "beside the model's exact value.")
    p.add_argument("--horizon", type=positive_float, default=8.0, metavar="WEEKS",
                   help="week at which the survival counts 19/20 and 13/21 are read (default 8)")
    p.add_argument("--check", action="store_true",
                   help="also re-run the study: simulate cohorts of 20 vs 21 with the DES engine")
    p.add_argument("--reps", type=at_least_two, default=2000, help="cohorts simulated by --check (default 2000)")
    p.add_argument("--seed", type=nonneg_int, default=None, help="root seed for --check (default: fresh entropy)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no notes on stderr (the result on "
                                                        "stdout is unchanged)")
    p.set_defaults(run=_run_calibrate)


def _run_calibrate(args: argparse.Namespace) -> int:
    from ..model import calibrate
    from .output import calibration_text, to_json

    result = calibrate(horizon_weeks=args.horizon)
    check = None
    if args.check:
        from ..design.study_rerun import check_calibration

        with Progress("re-running the study", quiet=args.quiet, total=args.reps) as bar:
            check = check_calibration(result, n_cohorts=args.reps, seed=args.seed, progress=bar)
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


def main(argv: Sequence[str] | None = None) -> int:
    from .allocator import tune_allocator

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
    try:
        return int(args.run(args) or 0)
    except InputError as exc:
        print(error_line(prog, str(_named_after_option(exc))), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
