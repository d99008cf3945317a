"""Facts of the cost figures: what each draws for a given summary (lines, bars, labels, axes)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from prunekit.paper.plots.costs import (
    cost_label,
    cumulative_flops_plot,
    reduction_bars_plot,
    reduction_curve_plot,
    reduction_panels_plot,
    times_label,
    times_range,
)


def _summary() -> pd.DataFrame:
    rows = []
    for family, method, factor in (("unstructured", "snip-it", 1.0), ("unstructured", "snip", 0.9),
                                   ("structured", "snap-it", 2.0)):
        for kappa in (0.9, 0.98):
            value = factor / (1 - kappa)
            rows.append({"family": family, "method": method, "kappa": kappa, "weight_sparsity": kappa,
                         "node_sparsity": kappa / 2, "disk_reduction_median": value, "disk_reduction_min": value / 2,
                         "disk_reduction_max": value * 2, "inference_time_reduction_median": np.nan})
    return pd.DataFrame(rows)


def test_reduction_factors_are_written_as_the_paper_writes_them():
    assert [times_label(v) for v in (50, 0.5, 1, 2e4)] == ["50×", "0.5×", "1×", "2e+04×"]
    assert times_label(0) == "" and cost_label("run_time_reduction") == "run time"
    assert (times_range([2, 50, np.nan]), times_range([0.9996, 1.0]), times_range([])) == ("2×–50×", "1×", "—")


def test_a_curve_per_method_on_a_log_axis_with_the_dense_1x_line():
    summary = _summary()
    fig = reduction_curve_plot(summary[summary["family"] == "unstructured"], "disk")
    ax = fig.axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["SNIP", "SNIP-it", "dense (1×)"]
    assert ax.get_yscale() == "log"
    snip_it = ax.get_lines()[1]
    assert snip_it.get_ydata().tolist() == pytest.approx([10.0, 50.0])
    assert list(ax.get_lines()[-1].get_ydata()) == [1.0, 1.0]


def test_a_cost_no_run_records_says_so_instead_of_an_empty_axis():
    fig = reduction_curve_plot(_summary(), "inference_time")
    assert any("no run records its inference time" in t.get_text() for t in fig.axes[0].texts)


def test_one_panel_per_family():
    summary = _summary()
    fig = reduction_panels_plot({f: summary[summary["family"] == f] for f in ("unstructured", "structured")}, "disk",
                                x={"unstructured": "weight_sparsity", "structured": "node_sparsity"})
    assert [ax.get_title() for ax in fig.axes] == ["unstructured", "structured"]
    assert fig.axes[1].get_xlabel() == "node sparsity"


def test_bars_grow_from_1x_in_a_panel_per_cost_hatch_structured_methods_and_mark_missing_costs():
    at = _summary()
    at = at[at["kappa"] == 0.98]
    fig = reduction_bars_plot(at, ["disk", "inference_time"])
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["disk (CSR)", "inference time"]
    disk, missing = visible
    ends = {round(p.get_x() + p.get_width()): (p.get_x(), p.get_hatch()) for p in disk.patches}
    assert ends == {45: (1.0, None), 50: (1.0, None), 100: (1.0, "///")}  # SNIP, SNIP-it, SNAP-it (structured)
    assert [t.get_text() for t in missing.texts].count("n/a") == 3
    top_down = [t.get_text() for _, t in sorted(zip(disk.get_yticks(), disk.get_yticklabels()), key=lambda p: -p[0])]
    assert top_down == ["SNIP", "SNIP-it", "SNAP-it (structured)"]  # unstructured first, in the book's order


def test_cumulative_flops_draw_the_dense_line_and_one_line_per_method_and_family():
    rows = []
    for family, method, per_epoch in (("unstructured", "snip-it", 2.0), ("structured", "random", 1.0)):
        for epoch in range(3):
            rows.append({"family": family, "method": method, "epoch": epoch, "cumulative_flops": per_epoch * epoch,
                         "dense_cumulative_flops": 100.0 * epoch})
    fig = cumulative_flops_plot(pd.DataFrame(rows))
    lines = fig.axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["dense", "SNIP-it", "Random (structured)"]
    assert lines[2].get_linestyle() == ":"
    assert lines[0].get_ydata().tolist() == [100.0, 200.0]  # epoch 0 (nothing spent) is left off the log axis


def test_a_cost_figure_puts_each_family_on_its_own_sparsity_axis_and_skips_absent_families():
    from prunekit.paper.plots.costs import cost_figure

    summary = _summary()
    fig = cost_figure(summary, "disk")
    assert [(ax.get_title(), ax.get_xlabel()) for ax in fig.axes] == [
        ("unstructured (weights)", "weight sparsity"), ("structured (nodes, shrunk)", "node sparsity")]
    only = cost_figure(summary[summary["family"] == "structured"], "disk")
    assert len(only.axes) == 1
    with pytest.raises(ValueError, match="needs rows of the families"):
        cost_figure(summary[summary["family"] == "dense"], "disk")


def test_a_cost_above_the_dense_one_is_a_bar_to_the_left_of_1x():
    at = pd.DataFrame({"family": ["unstructured"], "method": ["snip-it-during"], "run_time_reduction_median": [0.25]})
    bar = reduction_bars_plot(at, ["run_time"]).axes[0].patches[0]
    assert (bar.get_x(), bar.get_x() + bar.get_width()) == (1.0, 0.25)


def test_reserved_rows_keep_the_frame_size_and_put_the_methods_at_the_top():
    at = _summary()
    at = at[at["kappa"] == 0.98]
    few = reduction_bars_plot(at.iloc[:1], ["disk"], rows=3)
    full = reduction_bars_plot(at, ["disk"])
    assert tuple(few.get_size_inches()) == tuple(full.get_size_inches())
    assert list(few.axes[0].get_yticks()) == [2]
    with pytest.raises(ValueError, match="rows must be a positive integer"):
        reduction_bars_plot(at, ["disk"], rows=0)


def test_methods_without_a_book_colour_get_distinct_ones_and_known_methods_keep_theirs():
    from prunekit.paper.plots import METHOD_COLORS
    from prunekit.paper.plots.costs import method_colors

    colors = method_colors(["snap-it", "l0", "group-hs", "efficientconvnets"])
    assert colors["snap-it"] == METHOD_COLORS["snap-it"]
    assert len(set(colors.values())) == 4
