"""Figures of the cost chapter (Appendix K.4–K.7, Figures 16–21): reductions against the dense baseline.

Every figure takes frames of :mod:`prunekit.paper.chapters.costs`: :func:`~prunekit.paper.chapters.costs.summarise_reductions`
rows (median, min and max over seeds of ``<cost>_reduction``) or
:func:`~prunekit.paper.chapters.costs.cumulative_training_flops` rows. A reduction is ``baseline / method``: above
the dashed 1× line the method is cheaper. Values span decades, so the reduction axes are logarithmic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from prunekit.paper.plots import (METHOD_COLORS, book_style, figure_for, method_color, method_label, method_order,
                            percent_label, sparsity_axis)

COST_LABELS: dict[str, str] = {
    "training_flops": "training FLOPs",
    "inference_flops": "inference FLOPs",
    "disk": "disk (CSR)",
    "run_time": "run time",
    "train_time": "training time",
    "inference_time": "inference time",
    "memory": "memory (peak RSS)",
    "median_memory": "memory (median)",
}
SPARSITY_LABELS: dict[str, str] = {"weight_sparsity": "weight sparsity", "node_sparsity": "node sparsity",
                                   "kappa": "target sparsity κ", "sparsity": "target sparsity κ"}
STRUCTURED_HATCH = "///"


def cost_label(metric: str) -> str:
    """'run_time' → 'run time': the axis name of a cost (the reduction suffix is dropped)."""
    name = metric.removesuffix("_reduction")
    return COST_LABELS.get(name, name.replace("_", " "))


def times_label(value: float, _pos: object = None) -> str:
    """A reduction factor as the paper writes it: 50 → '50×', 0.5 → '0.5×', 2e4 → '2e+04×'."""
    if not np.isfinite(value) or value <= 0:
        return ""
    if value >= 1e4:
        return f"{value:.0e}×"
    return f"{value:.3g}×"


def times_range(values) -> str:
    """'2×–50×' for the lowest and highest of ``values`` ('50×' when both print alike, '—' when there are none)."""
    finite = [float(v) for v in values if np.isfinite(float(v))]
    if not finite:
        return "—"
    low, high = times_label(min(finite)), times_label(max(finite))
    return low if low == high else f"{low}–{high}"


# for methods the book has no colour for yet (e.g. the structured after-training baselines): distinct, not hashed
EXTRA_COLORS = ("#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#e7ba52", "#31a354", "#636363")


def method_colors(methods) -> dict[str, str]:
    """A colour per method: the book's own where it has one, else the next unused one of ``EXTRA_COLORS``."""
    names = method_order(methods)
    known = {m: METHOD_COLORS[m.lower()] for m in names if m.lower() in METHOD_COLORS}
    spare = [c for c in EXTRA_COLORS if c not in METHOD_COLORS.values()]
    unknown = [m for m in names if m not in known]
    extra = {m: spare[i] if i < len(spare) else method_color(m) for i, m in enumerate(unknown)}
    return {**known, **extra}


def _median(metric: str) -> str:
    return f"{metric.removesuffix('_reduction')}_reduction_median"


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} needs column(s) {missing}; the frame has {list(frame.columns)}")


def _log_reduction_axis(ax, values: np.ndarray, axis: str = "y") -> None:
    """A log axis in '×' covering ``values`` and 1×, with at least a factor 4 of range."""
    finite = values[np.isfinite(values) & (values > 0)]
    lo = min(float(finite.min()) if finite.size else 1.0, 1.0)
    hi = max(float(finite.max()) if finite.size else 1.0, 1.0)
    if hi / lo < 4:
        middle = np.sqrt(hi * lo)
        lo, hi = middle / 2, middle * 2
    limits = (lo / 1.6, hi * 1.6)
    scale, set_lim, target = ((ax.set_yscale, ax.set_ylim, ax.yaxis) if axis == "y"
                              else (ax.set_xscale, ax.set_xlim, ax.xaxis))
    scale("log")
    set_lim(*limits)
    if hi / lo < 30:  # short range: label 2×, 5× too, not only the decades
        target.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    target.set_major_formatter(FuncFormatter(times_label))
    target.set_minor_formatter(NullFormatter())


def reduction_curve_plot(summary: pd.DataFrame, metric: str, *, x: str = "weight_sparsity", method: str = "method",
                         highlight: float | None = None, title: str | None = None, ax=None,
                         legend: bool = True, colors: Mapping[str, str] | None = None) -> Figure:
    """One cost's reduction against sparsity, a line per method: median over seeds, min–max over seeds shaded.

    ``colors`` (method → colour) keeps colours equal across panels; by default :func:`method_colors`.
    """
    median = _median(metric)
    low, high = median.replace("_median", "_min"), median.replace("_median", "_max")
    _require(summary, [method, x, median], "reduction_curve_plot")
    data = summary[np.isfinite(pd.to_numeric(summary[median], errors="coerce").astype(float))]
    # reached sparsities sit a hair below their targets (0.97998 nodes): round so the axis ticks the targets
    data = data.assign(**{x: data[x].astype(float).round(4)})
    with book_style():
        fig, ax = figure_for(ax, 5.0, 3.2)
        if data.empty:
            ax.text(0.5, 0.5, f"no run records its {cost_label(metric)}", ha="center", va="center",
                    transform=ax.transAxes)
            ax.set_xticks([])
            ax.set_yticks([])
        else:
            colors = dict(colors) if colors is not None else method_colors(data[method].astype(str))
            for name in method_order(data[method]):
                part = data[data[method].astype(str) == name].sort_values(x)
                xs, ys = part[x].astype(float).to_numpy(), part[median].astype(float).to_numpy()
                color = colors[name]
                ax.plot(xs, ys, marker="o", color=color, label=method_label(name))
                if low in part.columns and high in part.columns:
                    ax.fill_between(xs, part[low].astype(float), part[high].astype(float), color=color, alpha=0.15,
                                    linewidth=0)
            ax.axhline(1.0, color="black", linestyle="--", linewidth=0.9, label="dense (1×)")
            bands = [data[c] for c in (median, low, high) if c in data.columns]
            _log_reduction_axis(ax, pd.concat(bands).astype(float).to_numpy())
            xs_all = data[x].astype(float)
            sparsity_axis(ax, float(xs_all.min()), float(xs_all.max()))
            if highlight is not None:
                ax.axvline(highlight, color="black", linewidth=0.8, alpha=0.5)
            if legend and data[method].nunique() > 4:  # a dozen entries inside the axes would hide the lines
                ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize=6.5, ncol=3, frameon=False)
            elif legend:
                ax.legend(loc="best", fontsize=6.5)
        ax.set_xlabel(SPARSITY_LABELS.get(x, x.replace("_", " ")))
        ax.set_ylabel(f"{cost_label(metric)} reduction")
        if title:
            ax.set_title(title)
    return fig


def reduction_panels_plot(panels: Mapping[str, pd.DataFrame], metric: str, *, x: str | Mapping[str, str] =
                          "weight_sparsity", method: str = "method", title: str | None = None) -> Figure:
    """One figure of Figures 16–21: a :func:`reduction_curve_plot` panel per family (e.g. unstructured, structured)."""
    if not panels:
        raise ValueError("reduction_panels_plot needs at least one panel, got none")
    names = list(panels)
    with book_style():
        many = max(panels[name][method].nunique() for name in names) > 4
        colors = method_colors(pd.concat([panels[name][method] for name in names]).astype(str))
        fig = Figure(figsize=(4.6 * len(names) + 0.4, 4.6 if many else 3.4), layout="constrained")
        axes = fig.subplots(1, len(names), squeeze=False)[0]
        for ax, name in zip(axes, names):
            column = x[name] if isinstance(x, Mapping) else x
            reduction_curve_plot(panels[name], metric, x=column, method=method, ax=ax, title=name, colors=colors)
        if title:
            fig.suptitle(title)
    return fig


FAMILY_PANELS: dict[str, tuple[str, str]] = {"unstructured": ("unstructured (weights)", "weight_sparsity"),
                                             "structured": ("structured (nodes, shrunk)", "node_sparsity")}


def cost_figure(summary: pd.DataFrame, metric: str, *, family: str = "family", method: str = "method",
                title: str | None = None) -> Figure:
    """One of Figures 16–21 from a summary of both families: unstructured against weight sparsity, structured
    against node sparsity, side by side (a family the summary lacks gets no panel)."""
    _require(summary, [family], "cost_figure")
    panels, xs = {}, {}
    for name, (label, x) in FAMILY_PANELS.items():
        part = summary[summary[family] == name]
        if not part.empty:
            panels[label], xs[label] = part, x
    if not panels:
        raise ValueError(f"cost_figure needs rows of the families {list(FAMILY_PANELS)}; the summary has "
                         f"{sorted(summary[family].astype(str).unique())}")
    return reduction_panels_plot(panels, metric, x=xs, method=method, title=title)


def _bar_label(row: pd.Series, method: str, family: str | None) -> str:
    label = method_label(str(row[method]))
    return f"{label} (structured)" if family and row.get(family) == "structured" else label


def reduction_bars_plot(at_level: pd.DataFrame, metrics: Sequence[str], *, method: str = "method",
                        family: str | None = "family", title: str | None = None, ncols: int = 3,
                        rows: int | None = None) -> Figure:
    """The costs of each method at one level: a panel of horizontal bars (median over seeds) per cost.

    Bars start at the 1× line (the dense network): to the right the method is cheaper, to the left
    dearer. Structured methods' bars are hatched. A missing reduction (the runs do not record that cost) leaves
    the bar out and writes 'n/a'. ``rows`` reserves room for that many methods (from the top), so that the
    frames of a slider keep one size when some levels have fewer methods.
    """
    metrics = list(metrics)
    if not metrics:
        raise ValueError("reduction_bars_plot needs at least one cost, got none")
    _require(at_level, [method, *[_median(m) for m in metrics]], "reduction_bars_plot")
    if at_level.empty:
        raise ValueError("reduction_bars_plot needs at least one method row")
    if rows is not None and (isinstance(rows, bool) or not isinstance(rows, int) or rows < 1):
        raise ValueError(f"rows must be a positive integer or None, got {rows!r}")
    sort_family = at_level[family].eq("structured").astype(int) if family and family in at_level.columns else 0
    rank = {name: i for i, name in enumerate(method_order(at_level[method]))}
    table = at_level.assign(_family=sort_family, _rank=at_level[method].astype(str).map(rank))
    table = table.sort_values(["_family", "_rank"]).reset_index(drop=True)
    labels = [_bar_label(r, method, family) for _, r in table.iterrows()]
    slots = max(len(table), rows or 0)
    nrows = int(np.ceil(len(metrics) / ncols))
    with book_style():
        fig = Figure(figsize=(3.3 * min(ncols, len(metrics)) + 1.4, 0.9 + nrows * (0.5 + 0.19 * slots)),
                     layout="constrained")
        axes = fig.subplots(nrows, min(ncols, len(metrics)), squeeze=False).ravel()
        positions = np.arange(slots - 1, slots - 1 - len(table), -1)
        colors = method_colors(table[method].astype(str))
        for i, (ax, metric) in enumerate(zip(axes, metrics)):
            values = pd.to_numeric(table[_median(metric)], errors="coerce").astype(float).to_numpy()
            for pos, value, (_, row) in zip(positions, values, table.iterrows()):
                structured = bool(family) and row.get(family) == "structured"
                if np.isfinite(value) and value > 0:  # bars grow from the 1× line: left for a cost above dense
                    ax.barh(pos, value - 1.0, left=1.0, color=colors[str(row[method])], height=0.75,
                            hatch=STRUCTURED_HATCH if structured else None, edgecolor="white", linewidth=0)
                    ax.text(value * 1.08 if value >= 1 else value / 1.08, pos, times_label(value), va="center",
                            ha="left" if value >= 1 else "right", fontsize=6.5)
                else:
                    ax.text(1.08, pos, "n/a", va="center", fontsize=6.5, color="0.4")
            ax.axvline(1.0, color="black", linestyle="--", linewidth=0.9)
            _log_reduction_axis(ax, np.concatenate([values, values * 3.0, values / 3.0]), axis="x")  # label room
            ax.set_yticks(positions, labels if i % ncols == 0 else [""] * len(labels), fontsize=7)
            ax.set_ylim(-0.6, slots - 0.4)
            ax.grid(axis="y", visible=False)
            ax.set_title(cost_label(metric), fontsize=9)
        for ax in axes[len(metrics):]:
            ax.set_visible(False)
        if title:
            fig.suptitle(title)
    return fig


def cumulative_flops_plot(cumulative: pd.DataFrame, *, method: str = "method", family: str | None = "family",
                          title: str | None = None, ax=None) -> Figure:
    """Cumulative training FLOPs against epochs (median over seeds), per method, beside the dense network's.

    ``cumulative`` is a :func:`prunekit.paper.chapters.costs.cumulative_training_flops` frame. On the log axis
    a constant reduction is a constant gap below the dense line.
    """
    _require(cumulative, [method, "epoch", "cumulative_flops", "dense_cumulative_flops"], "cumulative_flops_plot")
    data = cumulative[cumulative["epoch"] > 0]
    if data.empty:
        raise ValueError("cumulative_flops_plot needs runs with at least one epoch")
    data = data.assign(_family=data[family] if family and family in data.columns else "")
    order = {name: i for i, name in enumerate(method_order(data[method]))}
    colors = method_colors(data[method].astype(str))
    groups = sorted(data.groupby(["_family", method], sort=False),
                    key=lambda item: (item[0][0] == "structured", order[str(item[0][1])]))
    with book_style():
        fig, ax = figure_for(ax, 6.4, 3.8)
        dense = data.groupby("epoch")["dense_cumulative_flops"].median()
        ax.plot(dense.index, dense.to_numpy(), color="black", linestyle="--", label="dense")
        for (kind, name), part in groups:
            curve = part.groupby("epoch")["cumulative_flops"].median()
            structured = kind == "structured"
            ax.plot(curve.index, curve.to_numpy(), marker="o", color=colors[str(name)],
                    linestyle=":" if structured else "-",
                    label=method_label(str(name)) + (" (structured)" if structured else ""))
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel("cumulative training FLOPs")
        ax.set_xticks(sorted(data["epoch"].unique()))
        if title:
            ax.set_title(title)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=6.5)
    return fig


def level_title(kappa: float) -> str:
    """'κ = 98 %' for slider frames and titles."""
    return f"κ = {percent_label(kappa)}"


__all__ = [
    "COST_LABELS",
    "FAMILY_PANELS",
    "cost_figure",
    "cost_label",
    "cumulative_flops_plot",
    "level_title",
    "method_colors",
    "reduction_bars_plot",
    "reduction_curve_plot",
    "reduction_panels_plot",
    "times_label",
    "times_range",
]
