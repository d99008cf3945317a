"""Figures of what iterative pruning does round by round (Appendix E)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from prunekit.plots import _new_figure, book_style


def turnover_plot(turnover: pd.DataFrame, *, variant: str = "variant", title: str | None = None) -> Figure:
    """Per round, the share of surviving weights each variant removes and of pruned weights it revives
    (means over seeds of a :func:`prunekit.analysis.turnover.round_turnover` frame with a ``variant`` column)."""
    missing = {variant, "round", "removed_share", "revived_share"} - set(turnover.columns)
    if missing:
        raise ValueError(f"turnover_plot needs the columns {sorted(missing)}")
    means = turnover.groupby([variant, "round"])[["removed_share", "revived_share"]].mean().reset_index()
    variants = list(dict.fromkeys(means[variant]))
    with book_style():
        fig, axes = _new_figure(4.2 * len(variants), 3.2, ncols=len(variants))
        for ax, name in zip(axes, variants):
            part = means[means[variant] == name]
            x = np.asarray(part["round"])
            ax.bar(x - 0.2, part["removed_share"], width=0.4, label="removed / surviving before", color="#1f77b4")
            ax.bar(x + 0.2, part["revived_share"], width=0.4, label="revived / pruned before", color="#d62728")
            ax.set_xticks(x)
            ax.set_xlabel("pruning round")
            ax.set_ylim(0, 1)
            ax.set_title(name)
        axes[0].set_ylabel("share of the weights")
        axes[0].legend(loc="upper right", fontsize="small")
        if title:
            fig.suptitle(title)
    return fig
