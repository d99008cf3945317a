"""Facts of the Appendix-L tables: layer shapes, weight and parameter counts, FLOPs, and the paper's layers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from prunekit.paper.chapters.architectures import (PAPER_DATASETS, architecture_summary, compare_layers, head_resolution,
                                    input_shapes, layer_overview, layer_table, paper_layers, shape_model)
from prunekit.core.masks import prunable_layers
from prunekit.models import available_models, build_model
from prunekit.measure.network import parameter_count
from tests.helpers import tiny_cnn


def test_a_linear_layer_costs_two_flops_per_input_output_pair():
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    table = layer_table(model, (1, 8, 8))
    assert table["flops"].tolist() == [2 * 64 * 32, 2 * 32 * 10]
    assert table["weight_shape"].tolist() == [(32, 64), (10, 32)]
    assert table["biases"].tolist() == [32, 10]
    assert table["output_shape"].tolist() == [(32,), (10,)]


def test_a_convolution_costs_two_flops_per_weight_and_output_position():
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.Conv2d(4, 6, 3, stride=2, padding=1, bias=False))
    table = layer_table(model, (1, 8, 8))
    assert table["weight_shape"].tolist() == [(4, 1, 3, 3), (6, 4, 3, 3)]
    assert table["output_shape"].tolist() == [(4, 8, 8), (6, 4, 4)]
    assert table["flops"].tolist() == [2 * 4 * 1 * 9 * 8 * 8, 2 * 6 * 4 * 9 * 4 * 4]
    assert table["biases"].tolist() == [4, 0]


def test_weights_are_the_numel_of_every_prunable_weight_and_parameters_add_up():
    for model, shape in ((tiny_cnn(), (1, 8, 8)), (build_model("lenet5", (1, 28, 28), 10), (1, 28, 28))):
        table = layer_table(model, shape)
        assert table["weights"].sum() == sum(m.weight.numel() for m in prunable_layers(model).values())
        batchnorm = sum(p.numel() for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
                        for p in m.parameters())
        assert table["weights"].sum() + table["biases"].sum() + batchnorm == parameter_count(model)


def test_the_table_does_not_change_the_models_mode():
    model = tiny_cnn().train()
    layer_table(model, (1, 8, 8))
    assert model.training and all(m.training for m in model.modules())


def test_a_shape_model_holds_no_storage_but_the_true_shapes():
    meta = shape_model("lenet5", (1, 28, 28), 10)
    real = build_model("lenet5", (1, 28, 28), 10)
    assert all(p.device.type == "meta" for p in meta.parameters())
    assert parameter_count(meta) == parameter_count(real)
    assert layer_table(meta, (1, 28, 28)).equals(layer_table(real, (1, 28, 28)))


def test_paper_layers_resolve_the_input_and_class_symbols():
    mlp = paper_layers("mlp5", (3, 32, 32), 7)
    assert mlp["weight_shape"].iloc[0] == (512, 3 * 32 * 32)  # MLP5 flattens: I = C·H·W
    assert mlp["weight_shape"].iloc[-1] == (7, 512)
    lenet = paper_layers("lenet5", (3, 32, 32), 7)
    assert lenet["weight_shape"].iloc[0] == (6, 3, 5, 5)  # a convolution reads I = C channels
    assert lenet["weight_shape"].iloc[3] == (84, 1080)


def test_resnet18_blocks_expand_into_two_convolutions_and_three_projections():
    layers = paper_layers("resnet18", (3, 32, 32), 10)
    convs = layers[layers["type"] == "Conv2d"]
    assert len(convs) == 1 + 8 * 2 + 3  # stem, two 3x3 per block, a 1x1 shortcut where a block downsamples
    assert sum(shape[2:] == (1, 1) for shape in convs["weight_shape"]) == 3
    assert not layers["biases"].iloc[:-2].any()  # bias-free convolutions, as printed for the stem
    assert len(layers) == len(prunable_layers(build_model("resnet18", (3, 32, 32), 10)))


@pytest.mark.parametrize("name", available_models())
def test_our_network_has_appendix_ls_layers_at_every_paper_input_shape(name):
    summary = architecture_summary([name], PAPER_DATASETS)
    assert summary["layers_match"].all()
    assert (summary["weights"] == summary["paper_weights"]).all()
    assert (summary["parameters"] == summary["paper_parameters"]).all()
    assert (summary["flops"] == summary["counted_flops"]).all()  # hook count == FlopCounterMode on the dense net


def test_a_layer_that_differs_from_the_paper_is_flagged():
    model = shape_model("mlp5", (1, 28, 28), 10)
    with torch.device("meta"):
        model.classifier[-1] = nn.Linear(512, 9)
    table = compare_layers("mlp5", (1, 28, 28), 10, model)
    assert table["match"].tolist() == [True, True, True, True, False]


def test_datasets_sharing_an_input_shape_share_a_row():
    groups = input_shapes(["mnist", "fashion-mnist", "cifar10"])
    assert groups == {((1, 28, 28), 10): ["mnist", "fashion-mnist"], ((3, 32, 32), 10): ["cifar10"]}
    summary = architecture_summary(["lenet5"], ["mnist", "fashion-mnist"])
    assert summary["datasets"].tolist() == ["mnist, fashion-mnist"]


def test_bad_names_and_shapes_are_refused():
    with pytest.raises(ValueError, match="unknown model name 'lenet6'.*mlp5"):
        paper_layers("lenet6", (1, 28, 28), 10)
    with pytest.raises(ValueError, match="input_shape"):
        layer_table(tiny_cnn(), (8, 8))
    with pytest.raises(ValueError, match="unknown dataset"):
        input_shapes(["svhn"])
    with pytest.raises(ValueError, match="at least one dataset"):
        input_shapes([])


def test_the_layer_overview_has_one_column_group_per_input_shape():
    overview = layer_overview("lenet5", PAPER_DATASETS)
    groups = list(dict.fromkeys(overview.columns.get_level_values(0)))
    assert groups == ["", "1×28×28 (mnist)", "3×32×32 (cifar10)", "3×128×128 (imagenette)"]
    assert overview[("", "as App. L")].all()
    assert overview[("1×28×28 (mnist)", "weight shape")].iloc[0] == (6, 1, 5, 5)
    assert overview[("3×128×128 (imagenette)", "output")].iloc[0] == (6, 128, 128)


def test_the_head_resolution_is_the_last_map_and_the_positions_the_first_linear_reads():
    lenet = layer_table(shape_model("lenet5", (1, 28, 28), 10), (1, 28, 28))
    assert head_resolution(lenet) == ((1, 1), 9)  # a 1×1 map pooled up to 3×3: Linear(1080) reads 120 values 9×
    cifar = layer_table(shape_model("conv6", (3, 32, 32), 10), (3, 32, 32))
    assert head_resolution(cifar) == ((8, 8), 9)
    assert head_resolution(layer_table(shape_model("mlp5", (1, 28, 28), 10), (1, 28, 28))) == (None, None)


def test_the_cost_plot_draws_one_point_per_network_and_shape():
    from prunekit.paper.plots.setup import architecture_cost_plot

    summary = architecture_summary(["mlp5", "lenet5"], ["mnist", "cifar10"])
    ax = architecture_cost_plot(summary).axes[0]
    points = [line for line in ax.lines if line.get_marker() not in ("None", None, "") and len(line.get_xdata())]
    assert len(points) == 4 and ax.get_xscale() == ax.get_yscale() == "log"
    with pytest.raises(ValueError, match="flops"):
        architecture_cost_plot(summary.drop(columns=["flops"]))
