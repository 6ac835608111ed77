"""The command line: argparse commands, option types, text/JSON/CSV output, atomic writes.

``trialsim`` (the console script) and ``python -m trialsim`` call :func:`main`.
"""

from .commands import build_parser, main

__all__ = ["main", "build_parser"]
