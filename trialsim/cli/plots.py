"""``--plot FILE`` of the commands that draw: ``power --grid``, ``simulate``, ``calibrate --check``,
``boundaries``, ``design`` and ``assurance``.

Everything about the file is checked before anything is simulated (matplotlib installed, the suffix .png,
.svg or .pdf, the directory there, not the same file as ``--out``); the figure is written whole or not at all
(the atomic writer of every output file, :func:`trialsim.cli.files.write_output`). Without the ``[plot]`` extra, ``--plot`` is one error line naming the
extra to install. The figure is a note on stderr, like ``--out``: the result on stdout is unchanged.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from ..exceptions import SHOWN_PATH, InputError, invalid
from .files import check_output_path, same_file, write_output

__all__ = ["add_plot_option", "check_plot", "require_plot_extra", "write_plot"]


def add_plot_option(p: argparse.ArgumentParser, what: str) -> None:
    """Add ``--plot FILE`` to a command's parser; ``what`` says what is drawn (for the help)."""
    p.add_argument("--plot", metavar="FILE", default=None,
                   help=f"draw {what} to FILE (.png, .svg or .pdf, by the suffix; needs trialsim[plot])")


def check_plot(args: argparse.Namespace, *, needs: str | None = None, has_needed: bool = True) -> None:
    """Check ``--plot`` before any simulation: ``needs`` names an option it requires (absent when
    ``has_needed`` is false), then matplotlib, the suffix and the directory; and that it is not ``--out``."""
    if args.plot is None:
        return
    if needs is not None and not has_needed:
        raise invalid("plot", f"needs {needs}", args.plot, subject="--plot", limit=SHOWN_PATH)
    from ..plot import FORMATS

    check_output_path("--plot", args.plot, FORMATS)   # the same rules as every output file
    require_plot_extra("--plot", args.plot)
    out = getattr(args, "out", None)
    if out is not None and same_file(out, args.plot):
        raise invalid("plot", "must differ from --out", args.plot, subject="--plot", limit=SHOWN_PATH)


def require_plot_extra(option: str, path: str) -> None:
    """One error line naming ``option`` and the extra to install when matplotlib is missing."""
    from ..plot import require_matplotlib

    try:
        require_matplotlib(path, field=option.lstrip("-"))
    except InputError as exc:
        raise exc.about(option, limit=SHOWN_PATH) from None


def write_plot(args: argparse.Namespace, draw: Callable[[], object], prog: str) -> None:
    """Draw the figure (``draw()``) and write it to ``--plot``, with a note on stderr unless ``--quiet``."""
    if args.plot is None:
        return
    from pathlib import Path

    from ..plot import draw_figure

    figure = draw()
    write_output("--plot", args.plot, lambda tmp: draw_figure(figure, tmp, Path(args.plot).suffix.lower()[1:]))
    if not getattr(args, "quiet", False):
        print(f"{prog}: wrote the figure to {args.plot}", file=sys.stderr)
