"""Facts of the path-count connectivity metric: exact counts, disconnection, untouched models."""

import pytest
import torch
from torch import nn
from torch.nn.utils import prune as torch_prune

import prunekit
from prunekit.core.connectivity import is_disconnected, path_count, path_count_fraction
from tests.helpers import tiny_cnn, tiny_mlp, toy_data


def two_three_two():
    """A 2-3-2 MLP with biases and a ReLU: 2·3·2 = 12 input→output paths."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 2))


@pytest.mark.parametrize("make_model", [tiny_mlp, tiny_cnn])
def test_an_unpruned_network_keeps_every_path(make_model):
    assert path_count_fraction(make_model(), (1, 8, 8)) == 1.0
    assert not is_disconnected(make_model(), (1, 8, 8))


def test_a_hand_counted_two_three_two_network():
    model = two_three_two()
    assert path_count(model, (2,)) == 12
    # hidden unit 0 reads input 0, unit 1 reads both, unit 2 nothing; output 0 reads units 0, 1, output 1 units 1, 2
    torch_prune.custom_from_mask(model[0], "weight", torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]]))
    torch_prune.custom_from_mask(model[2], "weight", torch.tensor([[1.0, 1.0, 0.0], [0.0, 1.0, 1.0]]))
    assert path_count(model, (2,)) == 1 * 1 + 2 * 2 + 0 * 1  # paths via unit 0, unit 1, unit 2
    assert path_count_fraction(model, (2,)) == pytest.approx(5 / 12)


def test_cutting_a_whole_layer_disconnects_the_network():
    model = two_three_two()
    torch_prune.custom_from_mask(model[2], "weight", torch.zeros(2, 3))
    assert path_count_fraction(model, (2,)) == 0.0
    assert is_disconnected(model, (2,))


def test_every_layer_can_keep_weights_and_still_be_disconnected():
    model = two_three_two()
    torch_prune.custom_from_mask(model[0], "weight", torch.tensor([[1.0, 1.0], [0.0, 0.0], [0.0, 0.0]]))
    torch_prune.custom_from_mask(model[2], "weight", torch.tensor([[0.0, 1.0, 1.0], [0.0, 1.0, 0.0]]))
    assert is_disconnected(model, (2,))  # unit 0 has inputs but no output; units 1, 2 the reverse


def test_convolution_and_max_pooling_paths_are_counted_through_the_window():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 1, 3), nn.BatchNorm2d(1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(4, 1))
    assert path_count_fraction(model, (1, 6, 6)) == 1.0
    center = torch.zeros(1, 1, 3, 3)
    center[0, 0, 1, 1] = 1.0
    torch_prune.custom_from_mask(model[0], "weight", center)
    assert path_count_fraction(model, (1, 6, 6)) == pytest.approx(1 / 9)


def test_counting_paths_leaves_the_model_untouched():
    model = prunekit.prune(tiny_cnn(), "random", 0.7, seed=0).model.train()
    model(torch.randn(2, 1, 8, 8))  # a forward pass leaves a non-leaf `weight` on pruned layers
    before = {k: v.clone() for k, v in model.state_dict().items()}
    path_count_fraction(model, (1, 8, 8))
    after = model.state_dict()
    assert all(torch.equal(after[k], v) and after[k].dtype == v.dtype for k, v in before.items())
    assert all(m.training for m in model.modules())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_snip_disconnects_the_tiny_mlp_at_99_percent_where_snip_it_and_random_at_half_do_not(seed):
    data = toy_data(1024, seed=seed)
    fractions = {}
    for name, kappa in [("snip", 0.99), ("snip-it", 0.99), ("random", 0.5)]:
        model = prunekit.prune(tiny_mlp(seed), name, kappa, data=data, samples=512, batch_size=256, seed=seed).model
        fractions[name] = path_count_fraction(model, (1, 8, 8))
    assert fractions["snip"] == 0.0
    assert fractions["snip-it"] > 0.0
    assert 0.1 < fractions["random"] < 0.15  # about 0.5³: each of three layers keeps about half
