"""The plot layer: figures of simulated trials and of designs (matplotlib, the optional ``[plot]`` extra).

Importing this package does not import matplotlib; drawing does, and without it raises
:class:`~trialsim.exceptions.InputError` (``pip install 'trialsim[plot]'``). :func:`check_plot_output` checks
matplotlib, the file's suffix and its directory before a long computation. Every plot returns a matplotlib
``Figure`` (``matplotlib.figure.Figure``: no pyplot, no GUI backend) and takes ``ax=None``: given an axes, it
draws there and returns that axes' figure. :func:`save_figure` writes PNG, SVG or PDF by the suffix, atomically.

Simulated trials (:mod:`~trialsim.plot.cohorts`, from a :class:`~trialsim.engines.TrialBatch`)
    :func:`plot_km` (a fan of Kaplan-Meier curves and the pooled curve per arm, with the study's 19/20 and
    13/21), :func:`plot_states` (NR/PR/CR/dead at each visit, with the study's week-1, 3 and 8 counts),
    :func:`plot_doses` (glucocorticoid dose paths and medians, with the study's 2.7 -> 0.5 mg/kg/day),
    :func:`plot_simulation` (all three in one figure).
Designs (:mod:`~trialsim.plot.designs`)
    :func:`plot_power_curve` (simulated power with its Monte Carlo band beside the analytic power),
    :func:`plot_boundaries` (group-sequential bounds on the z and hazard-ratio scales, with stopping
    proportions), :func:`plot_sequential_power` (the bounds a simulated trial with looks applied, with the
    shares of trials stopping at each look), :func:`plot_assurance` (power across prior draws), :func:`plot_conflict_oc` (type I error
    and power of a Bayesian rule against the true control rate).
"""

from .cohorts import plot_doses, plot_km, plot_simulation, plot_states, state_marks, survival_marks
from .common import FORMATS, check_plot_output, draw_figure, figure_bytes, require_matplotlib, save_figure
from .designs import (hazard_ratio_bound, plot_assurance, plot_boundaries, plot_conflict_oc, plot_power_curve,
                      plot_sequential_power)

__all__ = [
    "plot_km", "plot_states", "plot_doses", "plot_simulation", "survival_marks", "state_marks",
    "plot_power_curve", "plot_boundaries", "plot_sequential_power", "hazard_ratio_bound", "plot_assurance",
    "plot_conflict_oc",
    "save_figure", "draw_figure", "figure_bytes", "check_plot_output", "require_matplotlib", "FORMATS",
]
