"""Facts of the Appendix B and C figures: both sparsity axes for Figure 7, memory against node sparsity, rings."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from prunekit.paper.plots.appendix_bc import memory_sparsity_plot, weight_node_tradeoff_plot  # noqa: E402
from prunekit.paper.plots.structured import MIB  # noqa: E402


def _agg() -> pd.DataFrame:
    rows = []
    for kappa in (0.5, 0.9, 0.98):
        rows.append({"criterion": "snap-it", "level": kappa, "weight_sparsity_mean": 1 - (1 - kappa) ** 2,
                     "node_sparsity_mean": kappa, "accuracy_mean": 0.97 - kappa / 10, "accuracy_bound": 0.01,
                     "train_memory_bytes_mean": 40 * MIB * (1 - kappa), "train_memory_bytes_bound": 0.0})
        rows.append({"criterion": "cnip-it", "level": kappa, "weight_sparsity_mean": kappa,
                     "node_sparsity_mean": kappa / 2, "accuracy_mean": 0.97, "accuracy_bound": 0.005,
                     "train_memory_bytes_mean": 40 * MIB * (1 - kappa / 2), "train_memory_bytes_bound": 0.0})
    for lam in (0.5, 5.0):  # a λ equal to a κ must not be taken for one
        rows.append({"criterion": "l0", "level": lam, "weight_sparsity_mean": 0.1, "node_sparsity_mean": 0.05,
                     "accuracy_mean": 0.9, "accuracy_bound": 0.02, "train_memory_bytes_mean": 40 * MIB,
                     "train_memory_bytes_bound": 0.0})
    return pd.DataFrame(rows)


def _series(ax) -> dict[str, tuple[list[float], list[float]]]:
    """Each errorbar series of ``ax`` by its legend label: (x, y) of its data line."""
    return {c.get_label(): (list(c.lines[0].get_xdata()), list(c.lines[0].get_ydata())) for c in ax.containers}


def _rings(ax) -> list[tuple[float, float]]:
    """The ringed points of ``ax``, sorted and rounded (hollow markers)."""
    return sorted((round(float(x), 6), round(float(y), 6)) for line in ax.get_lines()
                  if line.get_markerfacecolor() == "none" for x, y in zip(line.get_xdata(), line.get_ydata()))


def test_figure_7_puts_the_same_points_on_weight_and_node_sparsity():
    before = plt.get_fignums()
    agg = _agg()[lambda t: t["criterion"] != "l0"]
    fig = weight_node_tradeoff_plot(agg, baseline=0.98, title="t")
    assert plt.get_fignums() == before
    left, right = fig.axes
    assert (left.get_title(), right.get_title()) == ("(a) weight sparsity", "(b) node sparsity")
    weight, node = _series(left), _series(right)
    assert weight["CNIP-it (before)"][0] == pytest.approx([0.5, 0.9, 0.98])
    assert node["CNIP-it (before)"][0] == pytest.approx([0.25, 0.45, 0.49])
    assert node["SNAP-it (before)"] == (pytest.approx([0.5, 0.9, 0.98]), pytest.approx([0.92, 0.88, 0.872]))
    assert any(list(line.get_ydata()) == [0.98, 0.98] for line in left.get_lines())  # the dense line
    assert _rings(left) == [] and "dense (ours)" in [t.get_text() for t in fig.legends[0].get_texts()]


def test_a_highlight_rings_the_points_swept_at_that_kappa_on_both_axes():
    agg = _agg()[lambda t: t["criterion"] != "l0"]
    fig = weight_node_tradeoff_plot(agg, highlight=0.9)
    left, right = fig.axes
    assert _rings(left) == [(0.9, 0.97), (0.99, 0.88)]
    assert _rings(right) == [(0.45, 0.97), (0.9, 0.88)]
    assert "swept at κ = 90%" in [t.get_text() for t in fig.legends[0].get_texts()]


def test_memory_is_drawn_in_mib_on_a_log_axis_against_node_sparsity():
    fig = memory_sparsity_plot(_agg(), dense_memory=40 * MIB, highlight=0.5)
    ax = fig.axes[0]
    series = _series(ax)
    assert ax.get_yscale() == "log"
    assert series["SNAP-it (before)"][1] == pytest.approx([20.0, 4.0, 0.8])
    assert series["L0 (during)"] == (pytest.approx([0.05, 0.05]), pytest.approx([40.0, 40.0]))
    assert any(np.allclose(line.get_ydata(), 40.0) for line in ax.get_lines() if line.get_label() == "dense network")
    # SNAP-it and CNIP-it at κ = 50 % are ringed; L0's λ = 0.5 is not a target sparsity
    assert _rings(ax) == [(0.25, 30.0), (0.5, 20.0)]


def test_missing_columns_and_empty_frames_are_named():
    with pytest.raises(ValueError, match="node_sparsity_mean"):
        weight_node_tradeoff_plot(_agg().drop(columns="node_sparsity_mean"))
    with pytest.raises(ValueError, match="at least one"):
        weight_node_tradeoff_plot(_agg().iloc[0:0])
    with pytest.raises(ValueError, match="train_memory_bytes"):
        memory_sparsity_plot(_agg().assign(criterion="none"))
