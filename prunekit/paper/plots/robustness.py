"""Figures of the robustness chapter: attack success against sparsity and against ε (Figure 5a/5b), the
per-layer kept weights at one sparsity (Figure 4) and the saliency concentration per method (Figure 3)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from prunekit.paper.plots import (
    _new_figure,
    book_style,
    layer_remaining_plot,
    method_color,
    method_label,
    method_order,
    percent_label,
    robustness_plot,
    sparsity_axis,
    tradeoff_plot,
)


def _require(frame: pd.DataFrame, columns: tuple[str, ...]) -> None:
    """Raise ValueError naming the columns ``frame`` lacks."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"the frame lacks column(s) {missing}; it has {list(frame.columns)}")


def success_at_epsilon(attacks: pd.DataFrame, checkpoints: pd.DataFrame, epsilon: float) -> pd.DataFrame:
    """Per checkpoint, the attack success at ``epsilon`` beside the network's weight sparsity (Figure 5a's points)."""
    _require(attacks, ("method", "level", "epsilon", "success_rate"))
    _require(checkpoints, ("method", "level", "weight_sparsity"))
    at = attacks[np.isclose(attacks["epsilon"].astype(float), epsilon)]
    if at.empty:
        raise ValueError(f"no attack at ε = {epsilon}; attacked at {sorted(attacks['epsilon'].unique())}")
    return at.merge(checkpoints[["method", "level", "weight_sparsity"]], on=["method", "level"])


def robustness_level_plot(attacks: pd.DataFrame, checkpoints: pd.DataFrame, level: float,
                          epsilon: float = 0.5) -> Figure:
    """One slider frame of Figure 5: success at ``epsilon`` against sparsity with ``level`` marked (5a), beside
    success against ε at ``level`` (5b)."""
    points = success_at_epsilon(attacks, checkpoints, epsilon)
    at_level = attacks[np.isclose(attacks["level"].astype(float), level)]
    if at_level.empty:
        raise ValueError(f"no attack at level {level}; levels: {sorted(attacks['level'].unique())}")
    with book_style():
        fig, (left, right) = _new_figure(8.8, 3.3, ncols=2)
        tradeoff_plot(points, method="method", x="weight_sparsity", y="success_rate", highlight=level, ax=left)
        # tick the checkpoint levels themselves (a run's measured sparsity sits a hair off its target)
        spread = pd.concat([points["level"], points["weight_sparsity"]]).astype(float)
        sparsity_axis(left, float(spread.min()), float(spread.max()))
        left.set_ylim(-0.02, 1.02)
        left.set_ylabel("attack success probability")
        left.set_title(f"(a) at ℓ2 distance ≤ {epsilon:g}")
        left.legend().remove()
        robustness_plot(at_level, method="method", ax=right, title=f"(b) at κ = {percent_label(level)}")
    return fig


def layer_profile_plot(profile: pd.DataFrame, level: float) -> Figure:
    """Figure 4 at one sparsity: the fraction of weights each layer keeps, one bar per method (log scale)."""
    _require(profile, ("method", "layer", "remaining"))
    title = f"weights kept per layer at κ = {percent_label(level)}"
    return layer_remaining_plot(profile, method="method", title=title)


def concentration_plot(table: pd.DataFrame, level: float, fraction: float = 0.05) -> Figure:
    """Bars of each method's share of total saliency on its top ``fraction`` of pixels at ``level`` (mean ± std)."""
    _require(table, ("method", "level", "top_share", "top_share_std"))
    part = table[np.isclose(table["level"].astype(float), level)].set_index("method")
    if part.empty:
        raise ValueError(f"no saliency measurement at level {level}; levels: {sorted(table['level'].unique())}")
    methods = method_order(part.index)
    with book_style():
        fig, (ax,) = _new_figure(4.6, 2.6)
        positions = np.arange(len(methods))
        ax.bar(positions, part.loc[methods, "top_share"], yerr=part.loc[methods, "top_share_std"], capsize=2,
               color=[method_color(m) for m in methods])
        ax.axhline(fraction, color="black", linestyle=":", linewidth=0.8)
        ax.set_xticks(positions, [method_label(m) for m in methods], rotation=30, ha="right")
        ax.set_ylim(0.0, 1.0)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.set_ylabel(f"saliency on top {fraction:.0%} of pixels")
        ax.set_title(f"κ = {percent_label(level)}: mean ± std over images (dotted: a uniform map)")
        ax.grid(axis="x", visible=False)
    return fig


__all__ = ["concentration_plot", "layer_profile_plot", "robustness_level_plot", "success_at_epsilon"]
