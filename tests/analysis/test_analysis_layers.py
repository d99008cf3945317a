"""Facts of the per-layer analysis: kept fractions weight up to the global sparsity; interpolation is linear."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from prunekit.analysis.layers import (
    earliest_hardest,
    input_conservation,
    interpolate_at,
    layer_remaining,
    parabola_like,
    remaining_at,
    run_layers,
)
from prunekit.core.masks import apply_mask, prunable_layers, weight_sparsity
from tests.helpers import tiny_cnn, tiny_mlp


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


# ------------------------------------------------------------------------------------- per method at a target


def _records():
    """Synthetic runs: SNIP at 98/99 % (two seeds), HoyerSquare at three λ whose sparsities bracket 99 % and one
    that lands past 99.5 % is not stored, so 99.5 % lies outside HoyerSquare's range."""
    from prunekit.experiments.config import RunConfig
    from tests.sweep_helpers import fake_record

    def record(criterion, seed, sparsity, layers, lam=None):
        options = {} if lam is None else {"lam": lam}
        config = RunConfig(model="mlp5", dataset="mnist", criterion=criterion, epochs=1, seed=seed, device="cpu",
                           sparsity=0.0 if lam is not None else sparsity, criterion_options=options)
        out = fake_record(config, weight_sparsity=sparsity)
        out.layer_sparsity = {name: 1.0 - r for name, r in zip(("l0", "l1", "l2"), layers)}
        return out

    return [
        record("snip", 0, 0.98, (0.01, 0.02, 0.30)), record("snip", 1, 0.98, (0.03, 0.04, 0.50)),
        record("snip", 0, 0.99, (0.002, 0.01, 0.2)), record("snip", 1, 0.99, (0.004, 0.02, 0.4)),
        record("hoyersquare", 0, 0.97, (0.05, 0.04, 0.06), lam=1e-3),
        record("hoyersquare", 0, 0.995, (0.01, 0.002, 0.012), lam=1e-2),
        record("hoyersquare", 0, 0.80, (0.3, 0.2, 0.1), lam=1e-4),
    ]


def test_run_layers_has_one_row_per_run_and_layer_with_the_method_and_swept_level():
    runs = run_layers(_records())
    assert len(runs) == 7 * 3
    hoyer = runs[runs["method"] == "hoyersquare"]
    assert sorted(hoyer["level"].unique()) == [1e-4, 1e-3, 1e-2]  # λ, not the config's sparsity 0
    assert runs[(runs["method"] == "snip") & (runs["layer"] == "l2")]["remaining"].tolist() == pytest.approx(
        [0.3, 0.5, 0.2, 0.4])


def test_a_stored_level_gives_the_seed_mean():
    out = remaining_at(run_layers(_records()), 0.99)
    snip = out[out["method"] == "snip"]
    assert snip["remaining"].tolist() == pytest.approx([0.003, 0.015, 0.3])
    assert set(snip["source"]) == {"stored"} and set(snip["n"]) == {2} and (snip["weight_sparsity"] == 0.99).all()


def test_a_lambda_method_is_interpolated_between_the_levels_closest_below_and_above():
    out = remaining_at(run_layers(_records()), 0.99)
    hoyer = out[out["method"] == "hoyersquare"]
    w = (0.99 - 0.97) / (0.995 - 0.97)
    assert hoyer["remaining"].tolist() == pytest.approx([0.05 + w * (0.01 - 0.05), 0.04 + w * (0.002 - 0.04),
                                                         0.06 + w * (0.012 - 0.06)])
    assert set(hoyer["source"]) == {"interpolated"} and hoyer["levels"].iloc[0] == (1e-3, 1e-2)


def test_outside_a_methods_range_its_closest_level_stands_in_at_its_own_sparsity():
    out = remaining_at(run_layers(_records()), 0.998)
    hoyer = out[out["method"] == "hoyersquare"]
    assert hoyer["remaining"].tolist() == pytest.approx([0.01, 0.002, 0.012])
    assert set(hoyer["source"]) == {"closest"} and (hoyer["weight_sparsity"] == 0.995).all()
    with pytest.raises(ValueError, match="target must be a sparsity"):
        remaining_at(run_layers(_records()), 1.5)


def test_earliest_hardest_means_the_input_layer_keeps_at_most_half_of_any_other_layers_fraction():
    assert earliest_hardest([0.0018, 0.0076, 0.0131, 0.0169, 0.26])  # SNIP-like: rising with depth
    assert not earliest_hardest([0.0099, 0.0100, 0.0101, 0.0101, 0.0115])  # evenly pruned, lowest by noise only
    assert not earliest_hardest([0.004, 0.007, 0.02])  # lowest, but by less than half
    assert earliest_hardest([0.004, 0.007, 0.02], ratio=0.6)
    assert not earliest_hardest([0.02, 0.01, 0.03])
    with pytest.raises(ValueError, match="ratio must be in"):
        earliest_hardest([0.1, 0.2], ratio=0.0)


def test_parabola_like_means_both_ends_keep_more_than_every_middle_layer():
    assert parabola_like([0.015, 0.012, 0.006, 0.003, 0.09])
    assert not parabola_like([0.008, 0.0098, 0.0095, 0.0116, 0.11])  # the input layer dips below the middle
    assert not parabola_like([0.02, 0.01, 0.005])  # the output end is the lowest
    with pytest.raises(ValueError, match="at least 3 layers"):
        parabola_like([0.1, 0.2])


def test_input_conservation_is_the_first_layer_over_the_middle_mean():
    assert input_conservation([0.002, 0.01, 0.03, 0.5]) == pytest.approx(0.1)
    assert input_conservation([0.01, 0.01, 0.01, 0.01]) == 1.0
    with pytest.raises(ValueError, match="lie in \\[0, 1\\]"):
        input_conservation([0.1, 2.0, 0.1])
