"""The "Prune your own model" figure: output channels per convolution, dense against shrunk."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from prunekit.paper.plots import _new_figure, book_style


def channel_widths_plot(widths: pd.DataFrame, *, title: str | None = None) -> Figure:
    """Bars of each convolution's output channels (``layer``, ``dense``, ``shrunk`` columns), dense behind shrunk."""
    if widths.empty or not {"layer", "dense", "shrunk"} <= set(widths.columns):
        raise ValueError(f"channel_widths_plot needs rows with layer, dense and shrunk columns, got "
                         f"{list(widths.columns)}")
    positions = np.arange(len(widths))
    with book_style():
        fig, (ax,) = _new_figure(max(5.0, 0.28 * len(widths) + 1.5), 3.4)
        ax.bar(positions, widths["dense"], color="#c7c7c7", label="dense")
        ax.bar(positions, widths["shrunk"], color="#1f77b4", label="shrunk (kept)")
        ax.set_xticks(positions, widths["layer"], rotation=90, fontsize="x-small")
        ax.set_ylabel("output channels")
        ax.legend(fontsize="small")
        if title:
            ax.set_title(title)
    return fig
