"""Facts of the tuning figures: every grid value is written in its cell; the chosen threshold is marked."""

from __future__ import annotations

import pandas as pd
import pytest

from prunekit.paper.plots.tuning import grid_heatmap, threshold_sweep_plot


def test_heatmap_writes_every_value_and_marks_the_chosen_cell():
    table = pd.DataFrame([[0.9, 0.8], [0.7, 0.95]], index=[4.0, 6.0], columns=[0.0, 6.0])
    fig = grid_heatmap(table, xlabel="e_k", ylabel="τ", marked=(6.0, 6.0))
    ax = fig.axes[0]
    assert sorted(t.get_text() for t in ax.texts) == ["70.00", "80.00", "90.00", "95.00"]
    (box,) = ax.patches
    assert box.get_xy() == (0.5, 0.5)  # column 6.0, row 6.0
    with pytest.raises(ValueError, match="non-empty"):
        grid_heatmap(table.iloc[:0], xlabel="", ylabel="")


def test_threshold_plot_has_three_curves_on_a_log_axis_and_the_choice():
    table = pd.DataFrame({"threshold": [1e-4, 1e-3], "accuracy": [0.9, 0.8], "weight_sparsity": [0.3, 0.9],
                          "hm": [0.45, 0.85]})
    ax = threshold_sweep_plot(table, chosen=1e-3).axes[0]
    assert ax.get_xscale() == "log" and len(ax.lines) == 4
    assert list(ax.lines[2].get_ydata()) == [45.0, 85.0]
