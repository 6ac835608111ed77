"""The ``trialsim`` command line: thin argparse front end over the library.

``main(argv=None) -> int`` parses, calls one library function, hands the result to the reporting code and
returns the exit status: 0 on success, 2 on bad input (one line on stderr naming the option, file or key and
the value; no traceback), 130 when interrupted.
"""

from __future__ import annotations

import sys

from .options import ArgumentParser, nonneg_int, positive_float, positive_int
from .power import add_power_parsers
from .simulate import add_simulate_parser
from ..exceptions import InputError

__all__ = ["main", "build_parser", "ArgumentParser", "fail"]


def fail(message: str) -> int:
    """Print one error line and return the bad-input exit status."""
    print(f"trialsim: error: {message}", file=sys.stderr)
    return 2


def at_least_two(text: str) -> int:
    """--reps of calibrate --check: a Monte Carlo interval needs at least two cohorts."""
    import argparse

    value = positive_int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"expected an integer >= 2 (cohorts for a Monte Carlo interval); got {text!r}")
    return value


def _add_calibrate(subparsers) -> None:
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
    p.set_defaults(run=_run_calibrate)


def _run_calibrate(args) -> int:
    from ..model import calibrate
    from .output import calibration_text, to_json

    result = calibrate(horizon_weeks=args.horizon)
    check = None
    if args.check:
        from ..design.study_rerun import check_calibration

        check = check_calibration(result, n_cohorts=args.reps, seed=args.seed)
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
    add_simulate_parser(subparsers)
    _add_calibrate(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    from .allocator import tune_allocator

    tune_allocator()  # keep numpy's chunk-sized temporaries in the heap between chunks (see _allocator)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    try:
        return int(args.run(args) or 0)
    except InputError as exc:
        return fail(str(exc).splitlines()[0])
    except KeyboardInterrupt:
        print("trialsim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
