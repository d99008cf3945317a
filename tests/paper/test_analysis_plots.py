"""Facts of the analysis figures: each draws exactly the data given, as a Figure unknown to pyplot."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from prunekit.analysis import elasticity_curve, layer_remaining, saliency_maps  # noqa: E402
from prunekit.paper.plots import (  # noqa: E402
    cost_plot,
    elasticity_curve_plot,
    layer_remaining_plot,
    method_color,
    robustness_plot,
    saliency_grid_plot,
)
from tests.helpers import tiny_cnn, tiny_mlp, toy_data  # noqa: E402


def test_elasticity_plot_draws_each_curve_on_a_log_axis_with_threshold_lines():
    rng = np.random.default_rng(0)
    curves = {"mnist": elasticity_curve(rng.exponential(1e-3, 500), points=100),
              "cifar10": elasticity_curve(np.r_[0.0, rng.exponential(1e-2, 500)], points=None)}
    before = plt.get_fignums()
    ax = elasticity_curve_plot(curves).axes[0]
    assert plt.get_fignums() == before
    lines = {line.get_label(): line for line in ax.get_lines()}
    np.testing.assert_allclose(lines["mnist"].get_ydata(), curves["mnist"]["elasticity"])
    assert len(lines["cifar10"].get_ydata()) == 500  # the zero is left off the log axis
    assert ax.get_yscale() == "log"
    assert sorted(line.get_ydata()[0] for line in ax.get_lines() if line.get_linestyle() == ":") == [1e-3, 1e-2, 1.0]


def test_saliency_grid_has_an_input_row_and_one_row_per_method():
    x, _ = toy_data(3)
    maps = {"snip-it": saliency_maps(tiny_cnn(0), x), "snip": saliency_maps(tiny_cnn(1), x)}
    fig = saliency_grid_plot(x, maps)
    assert len(fig.axes) == 3 * 3
    assert [fig.axes[3 * r].get_ylabel() for r in range(3)] == ["input", "SNIP", "SNIP-it"]
    shown = fig.axes[3].get_images()[0].get_array()
    assert float(shown.max()) == pytest.approx(1.0)  # each map scaled by its own maximum
    np.testing.assert_allclose(shown, maps["snip"][0].numpy() / maps["snip"][0].numpy().max(), rtol=1e-6)
    with pytest.raises(ValueError, match="N = 3"):
        saliency_grid_plot(x, {"snip": maps["snip"][:2]})


def test_layer_remaining_frames_draw_with_the_layer_plot():
    frames = []
    for criterion, model in (("snip", tiny_mlp()), ("random", tiny_mlp(1))):
        frames.append(layer_remaining(model).assign(criterion=criterion))
    ax = layer_remaining_plot(pd.concat(frames)).axes[0]
    assert len(ax.patches) == 2 * 3 and all(p.get_height() == 1.0 for p in ax.patches)


def test_robustness_plot_draws_success_against_epsilon_per_method():
    frame = pd.DataFrame({"criterion": ["snip"] * 3 + ["snip-it"] * 3, "epsilon": [0.0, 0.5, 1.0] * 2,
                          "success_rate": [0.02, 0.4, 0.9, 0.02, 0.2, 0.7]})
    ax = robustness_plot(frame).axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    np.testing.assert_allclose(lines["SNIP-it"].get_ydata(), [0.02, 0.2, 0.7])
    np.testing.assert_allclose(lines["SNIP-it"].get_xdata(), [0.0, 0.5, 1.0])
    assert lines["SNIP"].get_color() == method_color("snip")


def test_cost_plot_draws_the_mean_reduction_per_setup_and_method_with_a_1x_line():
    frame = pd.DataFrame({"model": ["mlp5"] * 5, "dataset": ["mnist"] * 5,
                          "criterion": ["none", "snip", "snip", "snip-it", "snip-it"],
                          "inference_flops_reduction": [1.0, 10.0, 30.0, 50.0, 50.0]})
    ax = cost_plot(frame, "inference_flops").axes[0]
    assert sorted(p.get_height() for p in ax.patches) == [20.0, 50.0]  # the baseline is a line, not a bar
    assert ax.get_yscale() == "log"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["mlp5/mnist"]
    assert any(list(line.get_ydata()) == [1.0, 1.0] for line in ax.get_lines())
    with pytest.raises(ValueError, match="disk_reduction"):
        cost_plot(frame, "disk")
