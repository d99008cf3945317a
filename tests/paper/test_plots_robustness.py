"""Facts of the robustness chapter's figures: each draws exactly the data given, as a Figure unknown to pyplot."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from prunekit.paper.plots import method_label  # noqa: E402
from prunekit.paper.plots.robustness import (  # noqa: E402
    concentration_plot,
    layer_profile_plot,
    robustness_level_plot,
    success_at_epsilon,
)

EPSILONS = (0.0, 0.5, 1.0)


def _attacks() -> pd.DataFrame:
    rows = [{"method": m, "level": level, "epsilon": e, "success_rate": base + level - 0.98 + e / 4, "n": 10}
            for m, base in (("snip", 0.3), ("snip-it", 0.1)) for level in (0.98, 0.99) for e in EPSILONS]
    return pd.DataFrame(rows)


def _checkpoints() -> pd.DataFrame:
    return pd.DataFrame({"method": ["snip", "snip", "snip-it", "snip-it"], "level": [0.98, 0.99, 0.98, 0.99],
                         "weight_sparsity": [0.98, 0.99, 0.9801, 0.9899]})


def test_success_at_epsilon_pairs_each_checkpoints_success_with_its_own_sparsity():
    points = success_at_epsilon(_attacks(), _checkpoints(), 0.5).set_index(["method", "level"])
    assert points.loc[("snip-it", 0.99), "weight_sparsity"] == 0.9899
    assert points.loc[("snip", 0.98), "success_rate"] == pytest.approx(0.3 + 0.125)
    with pytest.raises(ValueError, match="no attack at ε = 2"):
        success_at_epsilon(_attacks(), _checkpoints(), 2.0)


def test_the_figure_5_frame_draws_5a_against_sparsity_and_5b_against_epsilon_at_the_level():
    before = plt.get_fignums()
    fig = robustness_level_plot(_attacks(), _checkpoints(), 0.99, epsilon=0.5)
    assert plt.get_fignums() == before
    left, right = fig.axes[:2]
    lines = {line.get_label(): line for line in right.get_lines()}
    np.testing.assert_allclose(lines[method_label("snip-it")].get_ydata(), [0.1 + 0.01 + e / 4 for e in EPSILONS])
    np.testing.assert_allclose(lines[method_label("snip-it")].get_xdata(), EPSILONS)
    curve = next(line for line in left.get_lines() if line.get_label() == method_label("snip"))
    np.testing.assert_allclose(curve.get_xdata(), [0.98, 0.99])
    np.testing.assert_allclose(curve.get_ydata(), [0.3 + 0.125, 0.31 + 0.125])
    with pytest.raises(ValueError, match="no attack at level 0.995"):
        robustness_level_plot(_attacks(), _checkpoints(), 0.995)


def test_the_concentration_bars_are_the_tables_shares_in_method_order():
    table = pd.DataFrame({"method": ["snip-it", "snip", "snip"], "level": [0.99, 0.99, 0.98],
                          "top_share": [0.2, 0.6, 0.5], "top_share_std": [0.01, 0.02, 0.03]})
    ax = concentration_plot(table, 0.99).axes[0]
    assert [p.get_height() for p in ax.patches] == [0.6, 0.2]  # SNIP first, as in every figure
    assert [t.get_text() for t in ax.get_xticklabels()] == ["SNIP", "SNIP-it"]
    with pytest.raises(ValueError, match="no saliency measurement at level 0.5"):
        concentration_plot(table, 0.5)


def test_the_layer_profile_draws_one_bar_per_method_and_layer():
    profile = pd.DataFrame({"method": ["snip"] * 3 + ["snip-it"] * 3, "layer": ["a", "b", "c"] * 2,
                            "remaining": [0.002, 0.01, 0.3, 0.01, 0.009, 0.1]})
    ax = layer_profile_plot(profile, 0.99).axes[0]
    assert sorted(round(p.get_height(), 6) for p in ax.patches) == sorted(profile["remaining"].round(6))
    assert "99%" in ax.get_title()
