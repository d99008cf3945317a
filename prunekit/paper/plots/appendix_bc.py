"""Figures of Appendices B and C: CNIP-it against SNAP-it on both sparsity axes (Figure 7) and the memory a
structured method's network needs at the start of training against the node sparsity it reaches (Figure 8's
companion; Figure 8 itself is :func:`prunekit.paper.plots.structured.memory_accuracy_plot`).

Both take :func:`prunekit.experiments.stats.aggregate` frames (one row per method and swept level, ``<value>_mean`` and
``<value>_bound`` columns, fractions and bytes) and return a matplotlib ``Figure`` that is not registered with
pyplot. ``highlight`` rings every point swept at that target node sparsity κ (the slider frames); methods whose
level is a regulariser strength λ (Group-HS, L0) are never ringed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, PercentFormatter

from prunekit.experiments.methods import structured_label, structured_order, structured_timing, sweeps_lambda
from prunekit.paper.plots import SPARSITY_TICKS, book_style, figure_for, method_color, percent_label, sparsity_axis
from prunekit.paper.plots.structured import MIB, TIMING_MARKERS, memory_axis

LINESTYLES = {"cnip-it": "--"}  # CNIP-it and SNAP-it share a hue family: CNIP-it is dashed
MARKERS = {"cnip-it": "D"}
LOW_SPARSITY_TICKS = (0.0,)  # below the paper's 50 %: CNIP-it's node sparsity starts near 0


def _require(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"the frame lacks column(s) {missing}; it has {list(frame.columns)}")


def _marker(method: str) -> str:
    key = str(method).lower()
    return MARKERS.get(key, TIMING_MARKERS.get(structured_timing(key) or "before", "o"))


def _bound(part: pd.DataFrame, name: str) -> np.ndarray | None:
    column = f"{name}_bound"
    return part[column].to_numpy(float) if column in part else None


def _ringed(part: pd.DataFrame, method: str, level: str, highlight: float | None) -> pd.DataFrame:
    """The rows of one method swept at the target ``highlight`` (none for a λ method or without a highlight)."""
    if highlight is None or sweeps_lambda(method):
        return part.iloc[0:0]
    return part[np.isclose(part[level].astype(float), float(highlight))]


def _sparsity_axis(ax, values: pd.Series, highlight: float | None) -> None:
    """The nines scale of the book's trade-off plots, ticked at every paper level inside the padded range (and at
    0 % when points lie near it)."""
    lo, hi = float(values.min()), float(values.max())
    if highlight is not None:
        lo, hi = min(lo, float(highlight)), max(hi, float(highlight))
    sparsity_axis(ax, lo, hi)
    left, right = ax.get_xlim()
    ticks = [t for t in (*LOW_SPARSITY_TICKS, *SPARSITY_TICKS) if left <= t <= right]
    if ticks:
        ax.xaxis.set_major_locator(FixedLocator(ticks))


def weight_node_tradeoff_plot(agg: pd.DataFrame, *, method: str = "criterion", level: str = "level",
                              baseline: float | None = None, highlight: float | None = None,
                              title: str | None = None) -> Figure:
    """Figure 7: mean accuracy over seeds against weight sparsity (left) and node sparsity (right) per structured
    method, with ``1.96·σ/√n`` bounds in both directions; ``baseline`` draws the dense accuracy, ``highlight``
    rings the points swept at that target κ. ``agg`` has ``accuracy_*``, ``weight_sparsity_*`` and
    ``node_sparsity_*`` columns (``_mean``, optionally ``_bound``)."""
    _require(agg, [method, level, "accuracy_mean", "weight_sparsity_mean", "node_sparsity_mean"])
    if agg.empty:
        raise ValueError("weight_node_tradeoff_plot needs at least one aggregated row")
    with book_style():
        fig = Figure(figsize=(9.0, 3.4), layout="constrained")
        axes = fig.subplots(1, 2)
        ringed = False
        for ax, x, name in zip(axes, ("weight_sparsity", "node_sparsity"), ("weight", "node")):
            for key in structured_order(agg[method]):
                part = agg[agg[method].astype(str) == key].sort_values(f"{x}_mean")
                xs, ys = part[f"{x}_mean"].to_numpy(float), part["accuracy_mean"].to_numpy(float)
                yerr = _bound(part, "accuracy")
                color = method_color(key)
                ax.errorbar(xs, ys, yerr=yerr, xerr=_bound(part, x), marker=_marker(key), color=color, capsize=2,
                            linestyle=LINESTYLES.get(key.lower(), "-"), label=structured_label(key))
                if yerr is not None:
                    ax.fill_between(xs, ys - yerr, ys + yerr, color=color, alpha=0.15, linewidth=0)
                ring = _ringed(part, key, level, highlight)
                if len(ring):
                    ax.plot(ring[f"{x}_mean"], ring["accuracy_mean"], linestyle="none", marker="o", markersize=11,
                            markerfacecolor="none", markeredgecolor="black", markeredgewidth=1.1,
                            label=None if ringed else f"swept at κ = {percent_label(highlight)}")
                    ringed = True
            if baseline is not None:
                ax.axhline(baseline, color="black", linestyle="--", linewidth=0.9, label="dense (ours)")
            _sparsity_axis(ax, agg[f"{x}_mean"].astype(float), None)
            ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
            ax.set_xlabel(f"{name} sparsity")
            ax.set_ylabel("test accuracy")
            ax.set_title(f"({'ab'[name == 'node']}) {name} sparsity")
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside right upper")
        if title:
            fig.suptitle(title)
    return fig


def memory_sparsity_plot(agg: pd.DataFrame, *, method: str = "criterion", level: str = "level",
                         x: str = "node_sparsity", memory: str = "train_memory_bytes",
                         dense_memory: float | None = None, highlight: float | None = None,
                         title: str | None = None, ax=None) -> Figure:
    """The memory a network needs at the start of training (MiB, log scale) against the node sparsity it ends
    with, mean over seeds per method and level with bounds; ``dense_memory`` (bytes) draws the unpruned network,
    ``highlight`` rings the points swept at that target κ. ``agg`` has ``<memory>_*`` and ``<x>_*`` columns."""
    _require(agg, [method, level, f"{memory}_mean", f"{x}_mean"])
    points = agg[agg[method].astype(str) != "none"]
    points = points[pd.to_numeric(points[f"{memory}_mean"], errors="coerce").notna()]
    if points.empty:
        raise ValueError(f"memory_sparsity_plot needs at least one pruned row with {memory!r}")
    with book_style():
        fig, ax = figure_for(ax, 6.2, 3.6)
        ringed = False
        for key in structured_order(points[method]):
            part = points[points[method].astype(str) == key].sort_values(f"{x}_mean")
            ys = part[f"{memory}_mean"].to_numpy(float) / MIB
            yerr = _bound(part, memory)
            ax.errorbar(part[f"{x}_mean"], ys, yerr=None if yerr is None else yerr / MIB, xerr=_bound(part, x),
                        marker=_marker(key), color=method_color(key), capsize=2,
                        linestyle=LINESTYLES.get(key.lower(), "-"), label=structured_label(key))
            ring = _ringed(part, key, level, highlight)
            if len(ring):
                ax.plot(ring[f"{x}_mean"], ring[f"{memory}_mean"] / MIB, linestyle="none", marker="o", markersize=11,
                        markerfacecolor="none", markeredgecolor="black", markeredgewidth=1.1,
                        label=None if ringed else f"swept at κ = {percent_label(highlight)}")
                ringed = True
        if dense_memory is not None:
            ax.axhline(dense_memory / MIB, color="black", linestyle="--", linewidth=0.9, label="dense network")
        _sparsity_axis(ax, points[f"{x}_mean"].astype(float), highlight)
        memory_axis(ax, "y")
        ax.set_xlabel(x.replace("_", " ") + " after pruning")
        ax.set_ylabel("memory at the start of training (MiB)")
        if title:
            ax.set_title(title)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


__all__ = ["memory_sparsity_plot", "weight_node_tradeoff_plot"]
