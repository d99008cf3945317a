"""Figures of the structured chapter: accuracy against node sparsity for every structured method (Figures 1,
11, 13, 15) and accuracy against the memory a network needs at the start of training (Figure 8).

Methods are node criteria; each has a colour, a label that says when it prunes, and a marker per timing
(before ○, during △, after □), shared by every figure here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter, NullLocator, PercentFormatter

from prunekit.experiments.methods import (
    STRUCTURED_ORDER,
    STRUCTURED_TIMINGS,
    structured_label,
    structured_order,
    structured_timing,
)
from prunekit.paper.plots import book_style, figure_for, method_color, sparsity_axis

TIMING_MARKERS = {"before": "o", "during": "^", "after": "s"}
MIB = 2**20
_MEMORY_TICKS = tuple(m * 10.0**e for e in range(-2, 6) for m in (1, 2, 5))  # MiB


def _marker(method: str) -> str:
    return TIMING_MARKERS.get(structured_timing(method) or "before", "o")


def _require(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"the frame lacks column(s) {missing}; it has {list(frame.columns)}")


def structured_tradeoff_plot(agg: pd.DataFrame, *, method: str = "criterion", x: str = "node_sparsity",
                             baseline: float | None = None, highlight: float | None = None,
                             title: str | None = None, ax=None) -> Figure:
    """Accuracy against node (or weight) sparsity per structured method: the mean over seeds of every swept level
    (target κ, or λ) with its ``1.96·σ/√n`` bounds in both directions (a λ method's sparsity varies by seed).

    ``agg`` is a :func:`prunekit.experiments.stats.aggregate` frame with ``accuracy_*`` and ``<x>_*`` columns (fractions).
    """
    _require(agg, [method, "accuracy_mean", f"{x}_mean"])
    if agg.empty:
        raise ValueError("structured_tradeoff_plot needs at least one aggregated row")
    with book_style():
        fig, ax = figure_for(ax, 6.2, 3.6)
        for name in structured_order(agg[method]):
            part = agg[agg[method].astype(str) == name].sort_values(f"{x}_mean")
            xs, ys = part[f"{x}_mean"].to_numpy(float), part["accuracy_mean"].to_numpy(float)
            yerr = part["accuracy_bound"].to_numpy(float) if "accuracy_bound" in part else None
            xerr = part[f"{x}_bound"].to_numpy(float) if f"{x}_bound" in part else None
            color = method_color(name)
            ax.errorbar(xs, ys, yerr=yerr, xerr=xerr, marker=_marker(name), color=color, capsize=2,
                        label=structured_label(name))
            if yerr is not None:
                ax.fill_between(xs, ys - yerr, ys + yerr, color=color, alpha=0.15, linewidth=0)
        if baseline is not None:
            ax.axhline(baseline, color="black", linestyle="--", linewidth=0.9, label="dense (ours)")
        if highlight is not None:
            ax.axvline(highlight, color="black", linewidth=0.8, alpha=0.5)
        xs_all = agg[f"{x}_mean"].astype(float)
        sparsity_axis(ax, float(min(xs_all.min(), highlight if highlight is not None else 1.0)),
                      float(max(xs_all.max(), highlight if highlight is not None else 0.0)))
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.set_xlabel(x.replace("_", " "))
        ax.set_ylabel("test accuracy")
        if title:
            ax.set_title(title)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def memory_axis(ax, which: str = "x") -> None:
    """Make ``ax``'s x (or y) axis a log-scaled memory axis in MiB with plain round ticks."""
    getattr(ax, f"set_{which}scale")("log")
    axis = ax.xaxis if which == "x" else ax.yaxis
    lo, hi = ax.get_xlim() if which == "x" else ax.get_ylim()
    axis.set_major_locator(FixedLocator([t for t in _MEMORY_TICKS if lo <= t <= hi] or [lo, hi]))
    axis.set_minor_locator(NullLocator())
    axis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:.3g}"))
    axis.set_minor_formatter(NullFormatter())


def memory_accuracy_plot(runs: pd.DataFrame, *, method: str = "criterion", level: str = "level",
                         memory: str = "train_memory_bytes", dense_memory: float | None = None,
                         title: str | None = None, ax=None) -> Figure:
    """Figure 8: final accuracy against the memory a network needs at the start of training (log scale), the
    mean over seeds of every method and level with its bounds, and a least-squares trend line of accuracy on
    log-memory through every point. ``runs`` has one row per run (a store frame with ``level``)."""
    _require(runs, [method, level, memory, "accuracy"])
    pruned = runs[runs[method].astype(str) != "none"]
    pruned = pruned[pd.to_numeric(pruned[memory], errors="coerce").notna()]  # records from before the metric existed
    if pruned.empty:
        raise ValueError(f"memory_accuracy_plot needs at least one pruned run with {memory!r}")
    grouped = pruned.groupby([method, level], sort=True)
    stats = grouped.agg(mem=(memory, "mean"), acc=("accuracy", "mean"), std=("accuracy", "std"),
                        n=("accuracy", "count")).reset_index()
    stats["bound"] = 1.96 * stats["std"].fillna(0.0) / np.sqrt(stats["n"])
    with book_style():
        fig, ax = figure_for(ax, 6.2, 3.6)
        for name in structured_order(stats[method]):
            part = stats[stats[method].astype(str) == name]
            ax.errorbar(part["mem"] / MIB, part["acc"], yerr=part["bound"], fmt=_marker(name), capsize=2,
                        color=method_color(name), label=structured_label(name))
        xs = np.log10(stats["mem"].to_numpy(float) / MIB)
        if len(np.unique(xs)) > 1:
            slope, intercept = np.polyfit(xs, stats["acc"].to_numpy(float), 1)
            grid = np.linspace(xs.min(), xs.max(), 50)
            ax.plot(10**grid, slope * grid + intercept, color="grey", linestyle=":", label="trend (all points)")
        if dense_memory is not None:
            ax.axvline(dense_memory / MIB, color="black", linestyle="--", linewidth=0.9, label="dense network")
        memory_axis(ax, "x")
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.set_xlabel("memory at the start of training (MiB)")
        ax.set_ylabel("test accuracy after training")
        if title:
            ax.set_title(title)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


__all__ = [
    "STRUCTURED_ORDER",
    "STRUCTURED_TIMINGS",
    "memory_accuracy_plot",
    "structured_label",
    "structured_order",
    "structured_tradeoff_plot",
]
