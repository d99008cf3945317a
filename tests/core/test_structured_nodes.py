"""Node masks: a pruned node's weight row, bias and BatchNorm entries are zero, so it outputs exactly 0."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils import prune

from prunekit.core.masks import weight_sparsity
from prunekit.core.liveness import node_sparsity as liveness_sparsity
from prunekit.structured import (
    apply_node_masks,
    hidden_layers,
    node_masks,
    node_sites,
    prune_nodes,
    pruned_node_counts,
    pruned_node_sparsity,
    shrink,
)
from tests.helpers import tiny_cnn, tiny_mlp, toy_data


def keep_first(n_total: int, n_keep: int) -> torch.Tensor:
    keep = torch.zeros(n_total, dtype=torch.bool)
    keep[:n_keep] = True
    return keep


def test_hidden_layers_exclude_the_output_layer():
    assert list(hidden_layers(tiny_mlp())) == ["1", "5"]
    assert list(hidden_layers(tiny_cnn())) == ["0", "3"]


def test_sites_pair_each_layer_with_the_batchnorm_that_follows_it():
    model = tiny_cnn()
    sites = node_sites(model)
    assert sites["0"].norm is model[1] and sites["3"].norm is model[4]
    assert sites["0"].size == 4 and sites["3"].size == 6


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_pruned_channel_outputs_exactly_zero_after_batchnorm_and_activation(mode):
    model = tiny_cnn()
    with torch.no_grad():  # non-trivial BatchNorm statistics, so zero needs the affine masks
        model[1].running_mean.uniform_(-1, 1)
        model[1].running_var.uniform_(0.5, 2)
    keep = torch.tensor([True, False, True, False])
    apply_node_masks(model, {"0": keep})
    model.train(mode == "train")
    activations = model[:3](torch.randn(8, 1, 8, 8))
    assert torch.all(activations[:, ~keep] == 0)
    assert torch.all(activations[:, keep] != 0)


def test_node_mask_zeroes_rows_bias_and_batchnorm_affine_with_prune_convention():
    model = tiny_mlp()
    apply_node_masks(model, {"1": keep_first(32, 20)})
    layer, norm = model[1], model[2]
    assert prune.is_pruned(layer) and hasattr(layer, "weight_mask") and hasattr(layer, "bias_mask")
    assert torch.all(layer.weight_mask[20:] == 0) and torch.all(layer.weight_mask[:20] == 1)
    assert torch.all(layer.bias_mask == keep_first(32, 20).float())
    assert torch.all(norm.weight_mask == keep_first(32, 20).float())
    assert torch.all(norm.bias_mask == keep_first(32, 20).float())


def test_counts_and_sparsity_over_hidden_nodes():
    model = tiny_mlp()
    apply_node_masks(model, {"1": keep_first(32, 16), "5": keep_first(32, 24)})
    counts = pruned_node_counts(model)
    assert (counts["1"].alive, counts["1"].total) == (16, 32)
    assert counts["5"].sparsity == pytest.approx(0.25)
    assert pruned_node_sparsity(model) == pytest.approx(24 / 64)
    # Rows of the weight masks are what weight-sparsity metrics see.
    assert weight_sparsity(model) == pytest.approx((16 * 64 + 8 * 32) / (64 * 32 + 32 * 32 + 32 * 10))


def test_node_masks_only_shrink():
    model = tiny_mlp()
    apply_node_masks(model, {"1": keep_first(32, 16)})
    apply_node_masks(model, {"1": ~keep_first(32, 8)})  # tries to revive 16..31
    assert node_masks(model)["1"].tolist() == [False] * 8 + [True] * 8 + [False] * 16


def test_masks_for_unknown_or_misshapen_layers_are_rejected():
    model = tiny_mlp()
    with pytest.raises(ValueError, match="hidden layers"):
        apply_node_masks(model, {"8": torch.ones(10, dtype=torch.bool)})  # the output layer
    with pytest.raises(ValueError, match=r"expected \(32,\)"):
        apply_node_masks(model, {"1": torch.ones(31, dtype=torch.bool)})


def test_a_single_layer_model_has_no_hidden_nodes():
    with pytest.raises(ValueError, match="no hidden nodes"):
        node_sites(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)))
    with pytest.raises(ValueError, match="no prunable layer"):
        node_sites(nn.Sequential(nn.ReLU()))


class HeadFirst(nn.Module):
    """Defines its output layer before its hidden layers: definition order must not decide."""

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(8, 3)
        self.body = nn.Linear(5, 8)
        self.norm = nn.BatchNorm1d(8)

    def forward(self, x):
        return self.head(torch.relu(self.norm(self.body(x))))


class Untraceable(nn.Module):
    """Data-dependent control flow defeats torch.fx."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Linear(5, 8)
        self.norm = nn.BatchNorm1d(8)
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        h = torch.relu(self.norm(self.body(x)))
        return self.head(h) if h.sum() > 0 else -self.head(h)


def test_the_output_layer_is_the_one_that_feeds_the_model_output():
    sites = node_sites(HeadFirst())
    assert list(sites) == ["body"]
    assert sites["body"].norm is not None


def test_untraceable_models_fall_back_to_definition_order(caplog):
    model = Untraceable()
    sites = node_sites(model)
    assert list(sites) == ["body"] and sites["body"].norm is model.norm
    assert "could not trace" in caplog.text


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_node_pruning_and_shrinking_run_on_cuda():
    model = tiny_cnn().cuda()
    x, y = (t.cuda() for t in toy_data(64, (1, 8, 8)))
    prune_nodes(model, "snap-it", 0.6, (x, y), samples=32, batch_size=32)
    small = shrink(model, x[:2])
    assert next(small.parameters()).is_cuda and pruned_node_sparsity(model) == pytest.approx(0.6)


def test_liveness_in_prunekit_nodes_sees_the_same_pruned_nodes():
    model = tiny_cnn()
    apply_node_masks(model, {"0": keep_first(4, 3), "3": keep_first(6, 2)})
    assert liveness_sparsity(model) == pytest.approx(pruned_node_sparsity(model)) == pytest.approx(5 / 10)
