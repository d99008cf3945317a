"""Figures of Appendix F's tuning: the IMP grid as a heat map, HoyerSquare's threshold sweep."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from prunekit.paper.plots import _new_figure, book_style


def grid_heatmap(table: pd.DataFrame, *, xlabel: str, ylabel: str, title: str | None = None,
                 marked: tuple[float, float] | None = None) -> Figure:
    """A table of accuracies (fractions) as a heat map with the values written in; ``marked`` = (row, column)."""
    if table.empty:
        raise ValueError("grid_heatmap needs a non-empty table")
    values = 100 * table.to_numpy(dtype=float)
    with book_style():
        fig, (ax,) = _new_figure(1.1 * table.shape[1] + 2.2, 0.55 * table.shape[0] + 1.6)
        image = ax.imshow(values, cmap="viridis", aspect="auto")
        ax.grid(False)
        ax.set_xticks(range(table.shape[1]), [f"{c:g}" for c in table.columns])
        ax.set_yticks(range(table.shape[0]), [f"{r:g}" for r in table.index])
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        middle = np.nanmean(values)
        for (i, j), v in np.ndenumerate(values):
            ax.text(j, i, "—" if np.isnan(v) else f"{v:.2f}", ha="center", va="center",
                    color="white" if v < middle else "black", fontsize="small")
        if marked is not None:
            i, j = list(table.index).index(marked[0]), list(table.columns).index(marked[1])
            ax.add_patch(Rectangle(
                (j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="#d62728", linewidth=2))
        fig.colorbar(image, ax=ax, label="validation accuracy (%)")
        if title:
            ax.set_title(title)
    return fig


def threshold_sweep_plot(table: pd.DataFrame, *, chosen: float | None = None, title: str | None = None) -> Figure:
    """Validation accuracy, weight sparsity and their HM against the pruning threshold (log axis)."""
    if table.empty:
        raise ValueError("threshold_sweep_plot needs a non-empty table")
    with book_style():
        fig, (ax,) = _new_figure(5.2, 3.4)
        for column, label, style in (("accuracy", "validation accuracy", "o-"), ("weight_sparsity", "weight sparsity", "s--"),
                                     ("hm", "harmonic mean", "d-")):
            ax.plot(table["threshold"], 100 * table[column], style, label=label)
        ax.set_xscale("log")
        ax.set_xlabel("pruning threshold |w| ≤ t")
        ax.set_ylabel("%")
        if chosen is not None:
            ax.axvline(chosen, color="#7f7f7f", linestyle=":", label=f"paper's choice ({chosen:g})")
        ax.legend(fontsize="small")
        if title:
            ax.set_title(title)
    return fig
