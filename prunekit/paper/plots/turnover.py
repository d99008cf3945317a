"""Figures of what iterative pruning does round by round (Appendix E)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from prunekit.paper.plots import _new_figure, book_style


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


def schematic_plot(masks: Sequence[Mapping[str, np.ndarray]], targets: Sequence[float], *,
                   title: str | None = None) -> Figure:
    """Appendix D's schematic of SNIP-it, drawn from real masks of a small MLP: one panel per round, surviving
    connections in grey, the ones the round removes in red (``masks[0]`` is the unpruned network)."""
    if len(masks) != len(targets) + 1:
        raise ValueError(f"need one mask set per round plus the unpruned one: {len(masks)} masks, "
                         f"{len(targets)} targets")
    shapes = [np.asarray(m).shape for m in masks[0].values()]
    if any(len(s) != 2 for s in shapes) or any(a[0] != b[1] for a, b in zip(shapes, shapes[1:])):
        raise ValueError(f"schematic_plot draws chained Linear layers, got weight shapes {shapes}")
    widths = [shapes[0][1]] + [s[0] for s in shapes]
    ys = [np.linspace(-1, 1, w) if w > 1 else np.zeros(1) for w in widths]
    with book_style():
        fig, axes = _new_figure(2.1 * len(targets), 2.6, ncols=len(targets))
        for ax, before, after, target in zip(axes, masks, masks[1:], targets):
            for layer, (old, new) in enumerate(zip(before.values(), after.values())):
                old, new = np.asarray(old) != 0, np.asarray(new) != 0
                for (j, i), alive in np.ndenumerate(old):
                    if alive:
                        ax.plot([layer, layer + 1], [ys[layer][i], ys[layer + 1][j]],
                                color="#7f7f7f" if new[j, i] else "#d62728", linewidth=0.8 if new[j, i] else 0.6,
                                linestyle="-" if new[j, i] else ":", zorder=1)
            for layer, column in enumerate(ys):
                ax.scatter(np.full_like(column, layer), column, s=14, color="black", zorder=2)
            ax.set_title(f"κ = {target:.3g}", fontsize="small")
            ax.set_axis_off()
        if title:
            fig.suptitle(title)
    return fig
