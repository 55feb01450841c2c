"""One style for every figure in the book, and helpers for mean +- CI curves and labelled scatter plots."""

from __future__ import annotations

from typing import Sequence

import matplotlib

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from .metrics import mean_ci

PALETTE = sns.color_palette("colorblind")


def use_book_style() -> None:
    """Seaborn whitegrid, colour-blind palette, readable font sizes and a fixed DPI for every figure."""
    sns.set_theme(style="whitegrid", palette=PALETTE, context="notebook")
    plt.rcParams.update({"figure.dpi": 100, "savefig.dpi": 120, "figure.figsize": (6.4, 4.0),
                         "axes.titlesize": 12, "axes.labelsize": 11, "legend.fontsize": 9})


def curve_with_ci(ax: plt.Axes, x: Sequence[float], runs: np.ndarray, label: str, color=None, marker: str = "o",
                  confidence: float = 0.95) -> None:
    """Plot the mean over runs (rows = seeds, columns = x) with a shaded confidence band."""
    runs = np.atleast_2d(np.asarray(runs, dtype=float))
    stats = np.array([mean_ci(runs[:, j], confidence) for j in range(runs.shape[1])])
    mean, half = stats[:, 0], stats[:, 1]
    line, = ax.plot(x, mean, marker=marker, markersize=4, label=label, color=color)
    ax.fill_between(x, mean - half, mean + half, alpha=0.2, color=line.get_color(), linewidth=0)


def label_axes(ax: plt.Axes, xlabel: str, ylabel: str, title: str | None = None) -> plt.Axes:
    """Set axis labels (and title) in one call so no figure leaves them out."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    return ax
