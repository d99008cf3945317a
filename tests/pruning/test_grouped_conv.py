"""Grouped and depthwise convolutions through ``shrink``: a channel goes only where every group loses it."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from prunekit.core.channels import cut_like, kept_channels
from prunekit.structured import apply_node_masks, node_sites, prune_nodes, shrink
from tests.pruning.test_structured_shrink import randomise_batchnorms


def grouped_net() -> nn.Module:
    """conv(3→8) → BN → conv(8→8, 2 groups) → BN → conv 1×1 → pool → Linear: one grouped layer."""
    torch.manual_seed(0)
    return randomise_batchnorms(nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1, groups=2), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 6, 1), nn.BatchNorm2d(6), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 4),
    ))


def keep_all_but(size: int, dead: list[int]) -> torch.Tensor:
    keep = torch.ones(size, dtype=torch.bool)
    keep[dead] = False
    return keep


def assert_same_function(masked: nn.Module, small: nn.Module, x: torch.Tensor) -> None:
    masked.eval()
    small.eval()
    with torch.no_grad():
        expected, got = masked(x), small(x)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4 * float(expected.abs().max()))


def test_a_grouped_conv_loses_an_input_channel_only_where_both_groups_lose_it():
    model = grouped_net()
    # channels 1 and 5 are offset 1 of groups 0 and 1; channel 2 is dead in group 0 only
    apply_node_masks(model, {"0": keep_all_but(8, [1, 5, 2]), "3": keep_all_but(8, [0, 4, 7])})
    x = torch.randn(4, 3, 12, 12)
    small = shrink(model, x)
    assert small[3].in_channels == 6 and small[3].weight.shape[1] == 3  # 1 and 5 gone, 2 stays
    assert small[0].out_channels == 6
    assert small[3].out_channels == 6 and small[3].groups == 2  # 0 and 4 gone, 7 stays
    assert kept_channels(small).kept["0"]["out"] == [0, 2, 3, 4, 6, 7]
    assert_same_function(model, small, x)


def test_the_snap_it_regnet_of_the_issue_shrinks_to_the_same_function_and_rebuilds_from_its_class():
    torch.manual_seed(0)
    model = torchvision.models.regnet_x_400mf(num_classes=10)
    x, y = torch.randn(16, 3, 32, 32), torch.randint(0, 10, (16,))
    prune_nodes(model, "snap-it", 0.7, (x, y), samples=16, batch_size=16, steps=1)
    small = shrink(model, x[:2])  # the check inside compares it with the masked network
    assert sum(p.numel() for p in small.parameters()) < sum(p.numel() for p in model.parameters())
    grouped = [m for m in small.modules() if isinstance(m, nn.Conv2d) and m.groups > 1]
    assert grouped and all(m.in_channels % m.groups == 0 and m.out_channels % m.groups == 0 for m in grouped)
    fresh = cut_like(torchvision.models.regnet_x_400mf(num_classes=10), kept_channels(small))
    fresh.load_state_dict(small.state_dict())
    assert_same_function(small, fresh, x[:4])


def test_mobilenet_v2_depthwise_convs_follow_their_input_channels():
    torch.manual_seed(0)
    model = randomise_batchnorms(torchvision.models.mobilenet_v2(num_classes=5))
    g = torch.Generator().manual_seed(0)
    apply_node_masks(model, {name: torch.rand(site.size, generator=g) > 0.5 for name, site in node_sites(model).items()})
    x = torch.randn(2, 3, 32, 32)
    small = shrink(model, x)
    block = small.features[2].conv  # expand 1×1 → depthwise 3×3 → project 1×1
    expand, depthwise = block[0][0], block[1][0]
    assert depthwise.groups == depthwise.in_channels == depthwise.out_channels == expand.out_channels
    assert depthwise.out_channels < model.features[2].conv[1][0].out_channels
    assert_same_function(model, small, x)


def test_a_conv_that_torch_pruning_would_mistake_for_depthwise_is_refused_by_name():
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 4, 3, groups=4), nn.ReLU(),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
    with pytest.raises(ValueError, match=r"convolution '2' has groups == out_channels"):
        shrink(model, torch.randn(1, 3, 10, 10))
