"""The book's figures: one function per figure kind, each returning a matplotlib ``Figure``.

Figures are built with ``matplotlib.figure.Figure`` (not pyplot), so nothing is registered
globally; the only shared state is the style, applied through :func:`book_style` while a figure
is built. In a notebook a returned figure displays as the cell's value.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator, PercentFormatter

from prunekit.core.schedule import DEFAULT_STEPS, snip_it_schedule
# A method's label, colour and order live in experiments/methods.py; re-exported here for the figures.
from prunekit.experiments.methods import (
    METHOD_COLORS,
    METHOD_LABELS,
    METHOD_ORDER,
    method_color,
    method_label,
    method_order,
)

STYLE: dict[str, object] = {
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "lines.linewidth": 1.6,
    "lines.markersize": 4.5,
}

SPARSITY_TICKS = (0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999)


@contextlib.contextmanager
def book_style() -> Iterator[None]:
    """Apply the book's matplotlib style for the duration of the block."""
    import matplotlib

    with matplotlib.rc_context(STYLE):
        yield


def figure_for(ax, width: float, height: float) -> tuple[Figure, object]:
    """``ax`` and its figure, or a new constrained-layout figure of the given size with one axes."""
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.subplots()


def _new_figure(width: float, height: float, ncols: int = 1) -> tuple[Figure, list]:
    """A constrained-layout figure with ``ncols`` axes side by side."""
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, list(axes)


def _nines(s: np.ndarray | float) -> np.ndarray:
    """Sparsity to ``−log10(1 − s)``: 90 % → 1, 99 % → 2 (the spacing of the paper's trade-off plots)."""
    s = np.clip(np.asarray(s, dtype=float), 0.0, 1.0 - 1e-9)
    return -np.log10(1.0 - s)


def _from_nines(x: np.ndarray | float) -> np.ndarray:
    """Inverse of :func:`_nines`."""
    return 1.0 - np.power(10.0, -np.asarray(x, dtype=float))


def percent_label(value: float, _pos: object = None) -> str:
    """0.995 → '99.5%', 0.9 → '90%'."""
    pct = 100.0 * value
    return f"{pct:.1f}%" if abs(pct - round(pct)) > 1e-6 else f"{pct:.0f}%"


def sparsity_axis(ax, lo: float, hi: float) -> None:
    """Give ``ax`` a sparsity x-axis on the 'nines' scale, ticked at the paper's sparsity levels."""
    ax.set_xscale("function", functions=(_nines, _from_nines))
    ticks = [t for t in SPARSITY_TICKS if lo - 1e-6 <= t <= hi + 1e-6] or [lo, hi]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(percent_label))
    pad = 0.08 * max(_nines(hi) - _nines(lo), 0.3)
    ax.set_xlim(float(_from_nines(_nines(lo) - pad)), float(_from_nines(_nines(hi) + pad)))


# -------------------------------------------------------------------------------------------- schedule


def schedule_plot(kappas: Sequence[float], steps: int = DEFAULT_STEPS) -> Figure:
    """SNIP-it's targets ``κ_i`` per pruning round for each final sparsity in ``kappas``."""
    kappas = [float(k) for k in kappas]
    if not kappas:
        raise ValueError("schedule_plot needs at least one final sparsity")
    with book_style():
        fig, (ax,) = _new_figure(5.2, 3.0)
        for kappa in kappas:
            targets = snip_it_schedule(kappa, steps)
            rounds = np.arange(len(targets))
            line = ax.plot(rounds, targets, marker="o", label=f"κ = {percent_label(kappa)}")[0]
            ax.axhline(kappa, color=line.get_color(), linestyle=":", linewidth=0.8)
            if len(kappas) == 1:
                for i, t in zip(rounds, targets):
                    ax.annotate(f"{t:.3f}".rstrip("0"), (i, t), textcoords="offset points", xytext=(0, 6),
                                ha="center", va="bottom", fontsize=7)
        ax.set_xlabel("pruning round i")
        ax.set_ylabel("target sparsity κ$_i$")
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_xticks(range(max(len(snip_it_schedule(k, steps)) for k in kappas)))
        ax.set_ylim(min(0.45, min(kappas) - 0.05), 1.03)
        ax.set_title(f"SNIP-it schedule: κ$_i$ = κ − (κ − ½)·½$^i$, i = 0..{steps}, then κ")
        ax.legend(loc="lower right")
    return fig


# ---------------------------------------------------------------------------------------- elasticity


def elasticity_check_plot(reference: Mapping[str, object], check: Mapping[str, object],
                          max_points: int = 4000, seed: int = 0) -> Figure:
    """Scatter of one elasticity computation against another (per weight, log–log, identity line)."""
    names = [n for n in reference if n in check]
    if not names:
        raise ValueError("the two score dicts share no layer name")
    a = np.concatenate([np.asarray(reference[n]).ravel() for n in names])
    b = np.concatenate([np.asarray(check[n]).ravel() for n in names])
    keep = (a > 0) & (b > 0)
    a, b = a[keep], b[keep]
    if len(a) > max_points:
        pick = np.random.default_rng(seed).choice(len(a), max_points, replace=False)
        a, b = a[pick], b[pick]
    with book_style():
        fig, (ax,) = _new_figure(3.4, 3.2)
        ax.loglog(a, b, ".", markersize=2, alpha=0.4, color=METHOD_COLORS["snip-it"])
        lo, hi = float(min(a.min(), b.min())), float(max(a.max(), b.max()))
        ax.plot([lo, hi], [lo, hi], color="black", linewidth=0.8, label="identity")
        ax.set_xlabel("|θ·∂L/∂θ| / L  (weight_elasticity)")
        ax.set_ylabel("|∂L/∂c| / L  (explicit gates)")
        ax.legend(loc="upper left")
    return fig


# ----------------------------------------------------------------------------------------- trade-off


def _column(df: pd.DataFrame, name: str) -> pd.Series:
    """``<name>_mean`` when the frame is aggregated, else ``name``."""
    for candidate in (f"{name}_mean", name):
        if candidate in df.columns:
            return df[candidate].astype(float)
    raise ValueError(f"the frame has neither {name}_mean nor {name}; it has {list(df.columns)}")


def _bound(df: pd.DataFrame, name: str) -> pd.Series:
    """``<name>_bound`` (the paper's 1.96·σ/√n) or zeros when the frame has none."""
    column = f"{name}_bound"
    return df[column].astype(float) if column in df.columns else pd.Series(0.0, index=df.index)


def tradeoff_plot(
    agg: pd.DataFrame,
    *,
    method: str = "criterion",
    x: str = "weight_sparsity",
    y: str = "accuracy",
    reference: pd.DataFrame | None = None,
    baseline: float | None = None,
    highlight: float | None = None,
    title: str | None = None,
    ax=None,
) -> Figure:
    """Accuracy against sparsity per method, mean line with a shaded ``1.96·σ/√n`` band.

    ``agg`` is an :func:`prunekit.experiments.stats.aggregate` frame (``<y>_mean``, ``<y>_bound`` …, fractions).
    ``reference`` adds the paper's points (rows with ``method``, ``accuracy``, ``bound``, ``sparsity``
    in percent, as :func:`prunekit.reference.paper_table`) as hollow markers with error bars.
    ``baseline`` draws the dense accuracy; ``highlight`` marks one sparsity level.
    """
    if method not in agg.columns:
        raise ValueError(f"the frame lacks the method column {method!r}; it has {list(agg.columns)}")
    if agg.empty:
        raise ValueError("tradeoff_plot needs at least one aggregated row")
    with book_style():
        if ax is None:
            fig, (ax,) = _new_figure(5.6, 3.4)
        else:
            fig = ax.figure
        xs_all = [_column(agg, x)]
        for name in method_order(agg[method]):
            part = agg[agg[method].astype(str) == name]
            part = part.assign(_x=_column(part, x)).sort_values("_x")
            xs, ys, bound = part["_x"].to_numpy(), _column(part, y).to_numpy(), _bound(part, y).to_numpy()
            color = method_color(str(name))
            ax.plot(xs, ys, marker="o", color=color, label=method_label(str(name)))
            ax.fill_between(xs, ys - bound, ys + bound, color=color, alpha=0.18, linewidth=0)
        if reference is not None and not reference.empty:
            ref = reference[reference["sparsity"].notna()]
            for _, row in ref.iterrows():
                when = f" {row['prune_at']}" if isinstance(row.get("prune_at"), str) else ""
                ax.errorbar(row["sparsity"] / 100.0, row["accuracy"] / 100.0, yerr=(row.get("bound") or 0) / 100.0,
                            fmt="D", mfc="none", color=method_color(row["method"]), markersize=6, capsize=2,
                            label=f"paper: {method_label(row['method'])}{when}")
            xs_all.append(ref["sparsity"] / 100.0)
        if baseline is not None:
            ax.axhline(baseline, color="black", linestyle="--", linewidth=0.9, label="dense (ours)")
        if highlight is not None:
            ax.axvline(highlight, color="black", linewidth=0.8, alpha=0.5)
        every = pd.concat(xs_all)
        sparsity_axis(ax, float(every.min()), float(every.max()))
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.set_xlabel("weight sparsity" if x == "weight_sparsity" else x.replace("_", " "))
        ax.set_ylabel("test accuracy" if y == "accuracy" else y.replace("_", " "))
        if title:
            ax.set_title(title)
        ax.legend(loc="lower left", ncol=2 if reference is not None else 1)
    return fig


# ---------------------------------------------------------------------------------------- per layer


def layer_remaining_plot(
    layers: pd.DataFrame,
    *,
    method: str = "criterion",
    layer: str = "layer",
    value: str = "remaining",
    title: str | None = None,
    ax=None,
) -> Figure:
    """Bars of the fraction of weights each layer keeps, grouped by layer, one bar per method (log scale)."""
    for column in (method, layer, value):
        if column not in layers.columns:
            raise ValueError(f"the frame lacks column {column!r}; it has {list(layers.columns)}")
    order = list(dict.fromkeys(layers[layer]))
    methods = method_order(layers[method])
    width = 0.8 / max(len(methods), 1)
    with book_style():
        if ax is None:
            fig, (ax,) = _new_figure(5.6, 3.0)
        else:
            fig = ax.figure
        positions = np.arange(len(order))
        for i, name in enumerate(methods):
            part = layers[layers[method].astype(str) == name].set_index(layer).reindex(order)
            values = part[value].astype(float).to_numpy()
            ax.bar(positions + (i - (len(methods) - 1) / 2) * width, np.maximum(values, 1e-4), width,
                   color=method_color(str(name)), label=method_label(str(name)))
        ax.set_yscale("log")
        ax.set_ylim(1e-3, 1.0)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{100 * v:g}%"))
        ax.set_xticks(positions, [f"{i + 1}" for i in range(len(order))])
        ax.set_xlabel("prunable layer (input → output)")
        ax.set_ylabel("weights kept")
        ax.grid(axis="x", visible=False)
        if title:
            ax.set_title(title)
        if len(methods) <= 4:
            ax.legend(loc="upper left", ncol=len(methods))
        else:  # a dozen entries: keep the bars visible, put the legend under the axes
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=3, fontsize=6.5, frameon=False)
    return fig


def sparsity_level_plot(
    agg: pd.DataFrame,
    layers: pd.DataFrame,
    level: float,
    *,
    method: str = "criterion",
    level_column: str = "sparsity",
    baseline: float | None = None,
) -> Figure:
    """One slider frame: the trade-off curve with ``level`` marked, beside the per-layer kept weights there."""
    with book_style():
        many = agg[method].nunique() > 5
        fig, (left, right) = _new_figure(9.6 if many else 8.4, 4.6 if many else 3.0, ncols=2)
        tradeoff_plot(agg, method=method, baseline=baseline, highlight=level, ax=left)
        at_level = agg[np.isclose(agg[level_column].astype(float), level)]
        for _, row in at_level.iterrows():
            left.plot(_column(pd.DataFrame([row]), "weight_sparsity"), _column(pd.DataFrame([row]), "accuracy"),
                      marker="o", markersize=9, mfc="none", color=method_color(str(row[method])))
        left.set_title(f"accuracy at κ = {percent_label(level)}")
        if many:  # a legend of a dozen methods inside the axes would hide the curves
            left.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), fontsize=6.5, ncol=3, frameon=False)
        else:
            left.legend(loc="lower left", fontsize=7)
        part = layers[np.isclose(layers[level_column].astype(float), level)]
        layer_remaining_plot(part, method=method, ax=right, title=f"weights kept per layer at κ = {percent_label(level)}")
    return fig


__all__ = [
    "METHOD_COLORS",
    "METHOD_LABELS",
    "METHOD_ORDER",
    "STYLE",
    "book_style",
    "elasticity_check_plot",
    "layer_remaining_plot",
    "method_color",
    "method_label",
    "method_order",
    "percent_label",
    "schedule_plot",
    "sparsity_axis",
    "sparsity_level_plot",
    "tradeoff_plot",
]


# ------------------------------------------------------------------------------------------ analyses
# Figures of prunekit.analysis: elasticity curves (Fig. 6), saliency grids (Fig. 3), attack success (Fig. 5)
# and cost reductions (Figs. 16–21). Per-layer kept weights (Fig. 4) use layer_remaining_plot above.

ELASTICITY_THRESHOLDS = (1e-3, 1e-2, 1.0)


def elasticity_curve_plot(curves: Mapping[str, pd.DataFrame], *, thresholds: Sequence[float] = ELASTICITY_THRESHOLDS,
                          title: str | None = None, ax=None) -> Figure:
    """Sorted elasticities against rank fraction, one line per label (e.g. dataset), log scale (Figure 6).

    Each value of ``curves`` is a :func:`prunekit.analysis.elasticity_curve` frame; zero
    elasticities cannot be drawn on the log axis and are left out. Dotted lines mark ``thresholds``.
    """
    if not curves:
        raise ValueError("elasticity_curve_plot needs at least one curve")
    for label, curve in curves.items():
        missing = [c for c in ("rank_fraction", "elasticity") if c not in curve.columns]
        if missing:
            raise ValueError(f"curve {label!r} lacks column(s) {missing}; it has {list(curve.columns)}")
    with book_style():
        if ax is None:
            fig, (ax,) = _new_figure(4.6, 3.2)
        else:
            fig = ax.figure
        for label, curve in curves.items():
            positive = curve[curve["elasticity"] > 0]
            ax.plot(positive["rank_fraction"], positive["elasticity"], label=str(label))
        for threshold in thresholds:
            ax.axhline(threshold, color="black", linestyle=":", linewidth=0.8)
        ax.set_yscale("log")
        ax.set_xlim(0.0, 1.0)
        ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.set_xlabel("weights, sorted by elasticity")
        ax.set_ylabel("elasticity |θ·∂L/∂θ| / L")
        if title:
            ax.set_title(title)
        ax.legend(loc="upper left")
    return fig


def _display_image(image: np.ndarray) -> tuple[np.ndarray, str | None]:
    """An image as imshow wants it: (H, W) with a grey colour map, or (H, W, 3) clipped to [0, 1]."""
    image = np.asarray(image, dtype=float)
    if image.ndim == 3 and image.shape[0] == 1:
        image = image[0]
    if image.ndim == 2:
        return image, "gray"
    if image.ndim == 3 and image.shape[0] == 3:
        return np.clip(np.moveaxis(image, 0, -1), 0.0, 1.0), None
    raise ValueError(f"an input image must be (H, W), (1, H, W) or (3, H, W), got shape {image.shape}")


def _as_array(values) -> np.ndarray:
    """A tensor (any device) or array-like as a float NumPy array."""
    return np.asarray(values.detach().cpu() if hasattr(values, "detach") else values, dtype=float)


def saliency_grid_plot(inputs, maps: Mapping[str, object], *, title: str | None = None) -> Figure:
    """Saliency maps of the same inputs per method: first row the inputs, then one row per method.

    ``inputs`` is (N, C, H, W) or (N, H, W) raw images; each value of ``maps`` is (N, H, W) from
    :func:`prunekit.analysis.saliency_maps`. Each map is scaled by its own maximum, so the
    brightest pixel of every map is white: the pattern compares, the magnitude does not.
    """
    images = _as_array(inputs)
    if not maps:
        raise ValueError("saliency_grid_plot needs the maps of at least one method")
    arrays = {name: _as_array(m) for name, m in maps.items()}
    n = len(images)
    for name, array in arrays.items():
        if array.ndim != 3 or len(array) != n:
            raise ValueError(f"maps of {name!r} must be (N, H, W) with N = {n} inputs, got shape {array.shape}")
    methods = method_order(arrays)
    with book_style():
        fig = Figure(figsize=(1.1 * n + 0.9, 1.1 * (len(methods) + 1)), layout="constrained")
        axes = fig.subplots(len(methods) + 1, n, squeeze=False)
        for j in range(n):
            shown, cmap = _display_image(images[j])
            axes[0, j].imshow(shown, cmap=cmap)
            for i, name in enumerate(methods, start=1):
                saliency = arrays[name][j]
                peak = saliency.max()
                axes[i, j].imshow(saliency / peak if peak > 0 else saliency, cmap="inferno", vmin=0.0, vmax=1.0)
        for ax in axes.ravel():
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            for spine in ax.spines.values():
                spine.set_visible(False)
        axes[0, 0].set_ylabel("input")
        for i, name in enumerate(methods, start=1):
            axes[i, 0].set_ylabel(method_label(name))
        if title:
            fig.suptitle(title)
    return fig


def robustness_plot(frame: pd.DataFrame, *, method: str = "criterion", x: str = "epsilon", y: str = "success_rate",
                    title: str | None = None, ax=None) -> Figure:
    """Attack success probability against the maximum ℓ2 distance ε, one line per method (Figure 5b).

    ``frame`` holds rows of :func:`prunekit.analysis.attack_success` with a ``method`` column, or
    their :func:`prunekit.experiments.stats.aggregate` (``<y>_mean`` and a ``<y>_bound`` band). For success
    against sparsity at one ε (Figure 5a) use :func:`tradeoff_plot` with ``y="success_rate"``.
    """
    for column in (method, x):
        if column not in frame.columns:
            raise ValueError(f"the frame lacks column {column!r}; it has {list(frame.columns)}")
    if frame.empty:
        raise ValueError("robustness_plot needs at least one row")
    with book_style():
        if ax is None:
            fig, (ax,) = _new_figure(4.6, 3.2)
        else:
            fig = ax.figure
        for name in method_order(frame[method]):
            part = frame[frame[method].astype(str) == name].sort_values(x)
            xs, ys, bound = part[x].astype(float).to_numpy(), _column(part, y).to_numpy(), _bound(part, y).to_numpy()
            color = method_color(name)
            ax.plot(xs, ys, marker="o", color=color, label=method_label(name))
            ax.fill_between(xs, ys - bound, ys + bound, color=color, alpha=0.18, linewidth=0)
        ax.set_ylim(-0.02, 1.02)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.set_xlabel("maximum ℓ2 distance ε")
        ax.set_ylabel("attack success probability")
        if title:
            ax.set_title(title)
        ax.legend(loc="lower right")
    return fig


def cost_plot(reductions: pd.DataFrame, metric: str, *, method: str = "criterion",
              group: Sequence[str] = ("model", "dataset"), baseline: str = "none",
              title: str | None = None, ax=None) -> Figure:
    """Bars of one cost reduction (baseline / method, log scale) per setup and method (Figures 16–21).

    ``reductions`` is a :func:`prunekit.paper.chapters.costs.cost_reductions` frame; ``metric`` is a reduction
    name (``inference_flops``) or its column (``inference_flops_reduction``). Bars are the mean
    over seeds with the ``1.96·σ/√n`` bound; the ``baseline`` method is the 1× line, not a bar.
    """
    column = metric if metric.endswith("_reduction") else f"{metric}_reduction"
    group = list(group)
    for name in (method, column, *group):
        if name not in reductions.columns:
            raise ValueError(f"the frame lacks column {name!r}; it has {list(reductions.columns)}")
    runs = reductions[reductions[method].astype(str) != baseline]
    if runs.empty:
        raise ValueError(f"cost_plot needs runs other than the baseline {baseline!r}")
    labels = ["/".join(map(str, key)) for key in runs[group].drop_duplicates().itertuples(index=False)]
    runs = runs.assign(_group=["/".join(map(str, key)) for key in runs[group].itertuples(index=False)])
    methods = method_order(runs[method])
    width = 0.8 / len(methods)
    with book_style():
        if ax is None:
            fig, (ax,) = _new_figure(1.6 + len(labels) * (0.3 + 0.25 * len(methods)) + 1.6, 3.0)
        else:
            fig = ax.figure
        positions = np.arange(len(labels))
        for i, name in enumerate(methods):
            stats = runs[runs[method].astype(str) == name].groupby("_group")[column].agg(["mean", "std", "count"])
            stats = stats.reindex(labels)
            bound = 1.96 * stats["std"].fillna(0.0) / np.sqrt(stats["count"].clip(lower=1))
            ax.bar(positions + (i - (len(methods) - 1) / 2) * width, stats["mean"], width, yerr=bound, capsize=2,
                   color=method_color(name), label=method_label(name))
        ax.axhline(1.0, color="black", linewidth=0.9, linestyle="--", label="dense baseline (1×)")
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:g}×"))
        ax.set_xticks(positions, labels)
        ax.set_ylabel(f"{column.removesuffix('_reduction').replace('_', ' ')} reduction")
        ax.grid(axis="x", visible=False)
        if title:
            ax.set_title(title)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


__all__ += ["cost_plot", "elasticity_curve_plot", "robustness_plot", "saliency_grid_plot"]
