"""Figures of the experimental-setup chapter: the networks' size against their inference cost."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from prunekit.paper.plots import _new_figure, book_style

_MARKERS = ("o", "s", "^", "D", "v", "P")
_MODEL_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def architecture_cost_plot(summary: pd.DataFrame, *, title: str | None = None) -> Figure:
    """Parameters against dense inference FLOPs per sample (log–log), one colour per network, one marker per
    input shape, the points of a network joined (``summary``: :func:`prunekit.paper.chapters.architectures.architecture_summary`)."""
    needed = ("model", "input_shape", "parameters", "flops")
    missing = [c for c in needed if c not in summary.columns]
    if missing:
        raise ValueError(f"the summary lacks column(s) {missing}; it has {list(summary.columns)}")
    shapes = list(dict.fromkeys(summary["input_shape"]))
    with book_style():
        fig, (ax,) = _new_figure(6.4, 3.6)
        for i, (model, rows) in enumerate(summary.groupby("model", sort=False)):
            color = _MODEL_COLORS[i % len(_MODEL_COLORS)]
            ax.plot(rows["parameters"], rows["flops"], color=color, linewidth=0.8, alpha=0.6)
            for _, row in rows.iterrows():
                marker = _MARKERS[shapes.index(row["input_shape"]) % len(_MARKERS)]
                ax.plot(row["parameters"], row["flops"], marker=marker, color=color, linestyle="none")
            label = rows["label"].iloc[0] if "label" in rows.columns else str(model).upper()
            ax.plot([], [], color=color, linewidth=4, label=label)
        for j, shape in enumerate(shapes):
            ax.plot([], [], marker=_MARKERS[j % len(_MARKERS)], color="black", linestyle="none",
                    label="input " + "×".join(map(str, shape)))
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("parameters")
        ax.set_ylabel("inference FLOPs per sample (dense)")
        if title:
            ax.set_title(title)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


__all__ = ["architecture_cost_plot"]
