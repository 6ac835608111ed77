"""What every plot shares: the matplotlib check, new figures, colours, the study's marks and atomic saving.

matplotlib is imported inside the functions, never at module level: ``import trialsim.plot`` works without it,
and only drawing (or :func:`require_matplotlib`) raises :class:`~trialsim.exceptions.InputError`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..exceptions import invalid

__all__ = ["require_matplotlib", "check_plot_output", "save_figure", "draw_figure", "FORMATS", "ARM_COLOURS",
           "STATE_COLOURS", "arm_colour", "new_axes", "new_figure", "legend_below"]

#: Suffixes :func:`save_figure` writes (the format follows the suffix).
FORMATS = (".png", ".svg", ".pdf")
#: One colour per arm, in the order of ``arm_names`` (ruxolitinib, control, then any further arms).
ARM_COLOURS = ("#1f5fa8", "#c8402c", "#2e8b57", "#8a5fb0", "#b8860b")
#: NR, PR, CR, dead.
STATE_COLOURS = ("#e3a857", "#9cc3e6", "#3f8f5a", "#4d4d4d")
_INSTALL = "needs matplotlib: pip install 'trialsim[plot]'"


def require_matplotlib(value: object = None, *, field: str = "plot") -> None:
    """Raise ``InputError`` (naming ``field``) unless matplotlib can be imported; ``value`` is reported with it.

    >>> import importlib.util
    >>> require_matplotlib() if importlib.util.find_spec("matplotlib") else None
    """
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise invalid(field, _INSTALL, value) from None


def _suffix(path: str | os.PathLike, field: str) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise invalid(field, "must end in .png, .svg or .pdf", str(path))
    return suffix


def check_plot_output(path: str | os.PathLike, *, field: str = "plot") -> Path:
    """Everything a command can check before it simulates: matplotlib is installed, the suffix is one of
    :data:`FORMATS` and the directory exists. Raises ``InputError`` naming ``field`` (the command line passes
    ``"--plot"``); returns the path.

    >>> check_plot_output("curve.gif")
    Traceback (most recent call last):
    ...
    trialsim.exceptions.InputError: `plot` must end in .png, .svg or .pdf (got 'curve.gif')
    """
    _suffix(path, field)
    require_matplotlib(str(path), field=field)
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise invalid(field, "directory does not exist", str(path))
    return target


def save_figure(fig, path: str | os.PathLike, *, dpi: float | None = None, palette: bool = False,
                field: str = "plot") -> Path:
    """Write ``fig`` to ``path`` as PNG, SVG or PDF (by the suffix), whole or not at all.

    The figure is drawn into a temporary file in the same directory, which then replaces ``path``
    (``os.replace``, an atomic rename); the temporary file is removed on any failure, and ``path`` is then left
    as it was. A suffix other than .png, .svg, .pdf raises ``InputError`` before anything is written; a
    directory that does not exist or cannot be written, or any other ``OSError`` while writing, raises
    ``InputError`` too (``"cannot be written (...)"``).

    Parameters
    ----------
    fig
        A matplotlib ``Figure``.
    path
        Destination; ``.png``, ``.svg`` or ``.pdf`` (any case).
    dpi
        Resolution of a PNG (default: the figure's).
    palette
        PNG only: reduce to 256 colours (a palette image, about a third of the size; what the images of
        ``docs/plots.md`` use). Ignored for SVG and PDF.
    field
        The name the errors give the path (``"--plot"`` on the command line).

    Returns
    -------
    Path
        The destination.
    """
    suffix = _suffix(path, field)
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise invalid(field, f"cannot be written ({exc.strerror or exc})", str(path)) from None
    os.close(fd)
    try:
        os.chmod(tmp, _mode(target))
        draw_figure(fig, tmp, suffix[1:], dpi=dpi, palette=palette)
        os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError):   # a directory in the way, a full disk: bad output, named as such
            raise invalid(field, f"cannot be written ({exc.strerror or exc})", str(path)) from None
        raise
    return target


def draw_figure(fig, file: str, fmt: str, *, dpi: float | None = None, palette: bool = False) -> None:
    """Draw ``fig`` into ``file`` as ``fmt`` (``"png"``, ``"svg"`` or ``"pdf"``), without a date in it, so that
    the same figure gives the same file: what :func:`save_figure` writes into its temporary file (and what the
    command line's atomic writer is given)."""
    if fmt not in ("png", "svg", "pdf"):
        raise invalid("format", "must be 'png', 'svg' or 'pdf'", fmt)
    resolution = dpi if dpi is not None else "figure"
    if palette and fmt == "png":
        _save_palette_png(fig, file, resolution)
    else:
        with _repeatable():
            fig.savefig(file, format=fmt, dpi=resolution, metadata=_metadata("." + fmt))


def figure_bytes(fig, fmt: str = "png", *, dpi: float | None = None) -> bytes:
    """``fig`` drawn as PNG or SVG bytes, with no date or software version in them: the same figure gives the
    same bytes (what a report embeds)."""
    import io

    if fmt not in ("png", "svg"):
        raise invalid("format", "must be 'png' or 'svg'", fmt)
    buffer = io.BytesIO()
    metadata = {"Software": None} if fmt == "png" else {"Date": None, "Creator": None}
    with _repeatable():
        fig.savefig(buffer, format=fmt, dpi=dpi if dpi is not None else "figure", metadata=metadata)
    return buffer.getvalue()


def _repeatable():
    """matplotlib settings under which a figure is drawn to the same bytes every time: SVG element ids salted
    with a fixed string (matplotlib salts them with a random UUID by default)."""
    import matplotlib

    return matplotlib.rc_context({"svg.hashsalt": "trialsim"})


def _save_palette_png(fig, tmp: str, dpi) -> None:
    """Draw ``fig`` as PNG and write it with a 256-colour palette (Pillow comes with matplotlib)."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    buffer.seek(0)
    with Image.open(buffer) as image:
        image.convert("RGB").quantize(colors=256).save(tmp, format="PNG", optimize=True)


def _mode(target: Path) -> int:
    """The permissions of the file written: those of the file replaced, else what ``open`` would give (0o666
    less the umask; ``mkstemp`` alone gives 0o600)."""
    try:
        return target.stat().st_mode & 0o777
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def _metadata(suffix: str) -> dict:
    """Metadata without a creation date, so that the same figure gives the same file (SVG and PDF)."""
    if suffix == ".svg":
        return {"Date": None}
    if suffix == ".pdf":
        return {"CreationDate": None}
    return {}


def arm_colour(index: int) -> str:
    return ARM_COLOURS[index % len(ARM_COLOURS)]


def new_axes(ax, figsize: tuple[float, float] = (6.4, 4.2), *, caller: str = "plot"):
    """``(figure, axes)``: the given axes and its figure, or a new ``Figure`` (no pyplot, no GUI backend) with
    one axes."""
    require_matplotlib(caller)
    if ax is not None:
        return ax.figure, ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def legend_below(ax, points: float, handles=None, labels=None, **kwargs):
    """A legend centred under the axes, ``points`` below its bottom edge (room for the tick labels and the
    axis label whatever the figure's size); constrained layout makes room for it."""
    from matplotlib.transforms import ScaledTranslation

    shift = ax.transAxes + ScaledTranslation(0.0, -points / 72.0, ax.figure.dpi_scale_trans)
    options = {"loc": "upper center", "bbox_to_anchor": (0.5, 0.0), "bbox_transform": shift, "frameon": False,
               "fontsize": "x-small", **kwargs}
    if handles is not None:
        return ax.legend(handles, labels, **options)
    return ax.legend(**options)


def new_figure(figsize: tuple[float, float], *, caller: str = "plot"):
    """A new ``Figure`` (constrained layout) with no axes."""
    require_matplotlib(caller)
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained")
