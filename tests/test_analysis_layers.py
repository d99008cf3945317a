"""Facts of the per-layer analysis: kept fractions weight up to the global sparsity; interpolation is linear."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from prunekit.analysis.layers import interpolate_at, layer_remaining
from prunekit.masks import apply_mask, prunable_layers, weight_sparsity
from tests.conftest import tiny_cnn, tiny_mlp


def _randomly_pruned(model):
    g = torch.Generator().manual_seed(0)
    for i, module in enumerate(prunable_layers(model).values()):
        keep = (0.9, 0.3, 0.05)[i % 3]
        apply_mask(module, (torch.rand(module.weight.shape, generator=g) < keep).float())
    return model


@pytest.mark.parametrize("build", [tiny_mlp, tiny_cnn])
def test_count_weighted_pruned_fractions_sum_to_the_global_weight_sparsity(build):
    model = _randomly_pruned(build())
    frame = layer_remaining(model)
    weighted = ((1 - frame["remaining"]) * frame["count"]).sum() / frame["count"].sum()
    assert weighted == pytest.approx(weight_sparsity(model), abs=1e-12)
    assert frame["layer"].tolist() == list(prunable_layers(model))
    assert frame["position"].tolist() == list(range(len(frame)))
    assert (frame["kept"] == (frame["remaining"] * frame["count"]).round().astype(int)).all()


def test_an_unpruned_model_keeps_every_weight():
    frame = layer_remaining(tiny_mlp())
    assert (frame["remaining"] == 1.0).all()
    assert frame["count"].tolist() == [64 * 32, 32 * 32, 32 * 10]


def _curve() -> pd.DataFrame:
    return pd.DataFrame({"criterion": ["hoyersquare"] * 3 + ["snip"] * 2,
                         "weight_sparsity": [0.95, 0.98, 0.995, 0.9, 0.99],
                         "accuracy": [0.9, 0.8, 0.5, 0.97, 0.93]})


def test_interpolation_is_linear_between_the_two_points_around_the_target():
    out = interpolate_at(_curve(), 0.99).set_index("criterion")
    assert out.loc["hoyersquare", "accuracy"] == pytest.approx(0.8 + (0.01 / 0.015) * (0.5 - 0.8))
    assert out.loc["snip", "accuracy"] == pytest.approx(0.93)  # a stored point is returned as stored
    assert (out["weight_sparsity"] == 0.99).all()


def test_without_groups_the_whole_frame_is_one_curve():
    snip = _curve()[_curve().criterion == "snip"]
    out = interpolate_at(snip, 0.945, by=())
    assert list(out.columns) == ["weight_sparsity", "accuracy"] and out["accuracy"].iloc[0] == pytest.approx(0.95)


def test_per_layer_fractions_interpolate_per_layer():
    rows = [{"criterion": "hoyersquare", "position": p, "weight_sparsity": s, "remaining": r}
            for s, rs in ((0.98, (0.1, 0.02)), (0.995, (0.04, 0.002))) for p, r in enumerate(rs)]
    out = interpolate_at(pd.DataFrame(rows), 0.99, values=("remaining",), by=("criterion", "position"))
    assert out["remaining"].tolist() == pytest.approx([0.1 + (2 / 3) * -0.06, 0.02 + (2 / 3) * -0.018])


def test_targets_outside_the_range_need_extrapolate_which_extends_the_closest_segment():
    curve = _curve()[_curve().criterion == "hoyersquare"]
    with pytest.raises(ValueError, match=r"outside the stored range \[0.95, 0.995\]"):
        interpolate_at(curve, 0.999)
    out = interpolate_at(curve, 0.999, extrapolate=True)
    assert out["accuracy"].iloc[0] == pytest.approx(0.5 + (0.004 / 0.015) * (0.5 - 0.8))


def test_repeated_sparsities_and_single_points_are_rejected():
    repeated = pd.DataFrame({"criterion": ["a"] * 3, "weight_sparsity": [0.9, 0.9, 0.99], "accuracy": [0.1, 0.2, 0.3]})
    with pytest.raises(ValueError, match="aggregate seeds first"):
        interpolate_at(repeated, 0.95)
    with pytest.raises(ValueError, match="1 point"):
        interpolate_at(repeated.iloc[:1], 0.9)
    with pytest.raises(ValueError, match="lacks column"):
        interpolate_at(repeated, 0.95, values=("hm",))
