"""Facts of the book's figures: they draw exactly the data given, in the book's style, without pyplot state."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from prunekit.experiments.methods import FALLBACK_COLORS  # noqa: E402
from prunekit.paper.plots import (  # noqa: E402
    STYLE,
    book_style,
    layer_remaining_plot,
    method_color,
    method_order,
    percent_label,
    schedule_plot,
    sparsity_level_plot,
    tradeoff_plot,
)
from prunekit.reference import paper_table  # noqa: E402
from prunekit.core.schedule import snip_it_schedule  # noqa: E402


def _agg() -> pd.DataFrame:
    rows = []
    for criterion, drop in (("snip", 0.03), ("snip-it", 0.01), ("random", 0.05)):
        for s in (0.9, 0.98, 0.99):
            rows.append({"criterion": criterion, "sparsity": s, "weight_sparsity_mean": s,
                         "accuracy_mean": 0.98 - drop * s, "accuracy_bound": 0.004, "accuracy_n": 3})
    return pd.DataFrame(rows)


def _layers() -> pd.DataFrame:
    rows = []
    for criterion in ("snip", "snip-it"):
        for s in (0.9, 0.98):
            for position in range(5):
                rows.append({"criterion": criterion, "sparsity": s, "layer": f"fc{position}", "position": position,
                             "remaining": (1 - s) * (1 + position)})
    return pd.DataFrame(rows)


def test_figures_are_not_registered_with_pyplot():
    before = plt.get_fignums()
    figs = [schedule_plot([0.98]), tradeoff_plot(_agg()), layer_remaining_plot(_layers()[_layers().sparsity == 0.9])]
    assert all(isinstance(f, Figure) for f in figs)
    assert plt.get_fignums() == before


def test_schedule_plot_draws_the_kappa_i_of_each_final_sparsity():
    fig = schedule_plot([0.9, 0.98])
    ax = fig.axes[0]
    curves = [line for line in ax.get_lines() if len(line.get_xdata()) > 2]
    assert [list(line.get_ydata()) for line in curves] == [snip_it_schedule(0.9), snip_it_schedule(0.98)]
    assert list(curves[1].get_xdata()) == list(range(7))


def test_schedule_plot_needs_a_sparsity():
    with pytest.raises(ValueError):
        schedule_plot([])


def test_tradeoff_plot_draws_each_method_with_its_bound_band():
    agg = _agg()
    ax = tradeoff_plot(agg).axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert {"SNIP", "SNIP-it", "Random"} <= set(lines)
    snip = agg[agg.criterion == "snip"]
    np.testing.assert_allclose(lines["SNIP"].get_ydata(), snip["accuracy_mean"])
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 3
    # every band spans mean ± bound
    ys = bands[0].get_paths()[0].vertices[:, 1]
    assert ys.max() - ys.min() == pytest.approx(
        (snip["accuracy_mean"].max() + 0.004) - (snip["accuracy_mean"].min() - 0.004))


def test_tradeoff_axis_spaces_sparsity_by_nines():
    ax = tradeoff_plot(_agg()).axes[0]
    assert ax.get_xscale() == "function"
    to_display = ax.transData.transform
    x90, x99, x999 = (to_display((s, 0.5))[0] for s in (0.9, 0.99, 0.999))
    assert x99 - x90 == pytest.approx(x999 - x99, rel=1e-6)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["90%", "95%", "98%", "99%"]


def test_tradeoff_plot_adds_the_papers_points_as_hollow_markers():
    paper = paper_table(3)
    reference = paper[paper.method.isin(["snip", "snip-it"]) & (paper.prune_at == "before")]
    ax = tradeoff_plot(_agg(), reference=reference).axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "paper: SNIP-it before" in labels and "paper: SNIP before" in labels
    markers = [line for line in ax.get_lines() if line.get_marker() == "D"]
    points = sorted((round(float(m.get_xdata()[0]), 6), round(float(m.get_ydata()[0]), 6)) for m in markers)
    assert points == [(0.96, 0.96), (0.97, 0.95)]  # Table 3: SNIP 96 % @ 96 %, SNIP-it 95 % @ 97 %


def test_tradeoff_plot_rejects_frames_without_the_columns():
    with pytest.raises(ValueError, match="method column"):
        tradeoff_plot(_agg().drop(columns="criterion"))
    with pytest.raises(ValueError, match="accuracy"):
        tradeoff_plot(_agg().drop(columns="accuracy_mean"))


def test_layer_plot_draws_one_bar_per_layer_and_method():
    layers = _layers()[_layers().sparsity == 0.9]
    ax = layer_remaining_plot(layers).axes[0]
    assert len(ax.patches) == 10
    assert ax.get_yscale() == "log"
    heights = sorted(round(p.get_height(), 6) for p in ax.patches)
    assert heights == sorted(round(v, 6) for v in layers["remaining"])


def test_sparsity_level_frame_has_curve_and_layer_panels():
    fig = sparsity_level_plot(_agg(), _layers(), 0.98, baseline=0.985)
    left, right = fig.axes
    assert "98%" in left.get_title() and "98%" in right.get_title()
    assert len(right.patches) == 10


def test_methods_keep_one_colour_and_order():
    assert method_order(["random", "snip-it", "snip", "custom"]) == ["snip", "snip-it", "random", "custom"]
    assert method_color("SNIP-it") == method_color("snip-it") != method_color("snip")
    # a method the book does not know gets a fallback colour that does not depend on how its name is cased
    assert method_color("My-Method") == method_color("my-method") in FALLBACK_COLORS


def test_percent_labels():
    assert [percent_label(v) for v in (0.5, 0.98, 0.995)] == ["50%", "98%", "99.5%"]


def test_style_is_scoped():
    before = matplotlib.rcParams["axes.spines.top"]
    with book_style():
        assert matplotlib.rcParams["axes.spines.top"] is STYLE["axes.spines.top"]
    assert matplotlib.rcParams["axes.spines.top"] == before
