"""Facts of the fast CPU dropout: same distribution and scaling as nn.Dropout, seeded, exact in eval."""

import pytest
import torch
from torch import nn

from prunekit.core.ops import FastDropout, dropout_keep_mask


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5, 0.9])
def test_keep_probability_is_one_minus_p(p):
    torch.manual_seed(0)
    keep = dropout_keep_mask(torch.Size((1000, 1001)), p, torch.device("cpu"))
    assert keep.shape == (1000, 1001)
    assert keep.float().mean().item() == pytest.approx(1 - p, abs=2e-3)


def test_mask_lanes_are_independent_of_their_neighbours():
    torch.manual_seed(1)
    keep = dropout_keep_mask(torch.Size((400_000,)), 0.3, torch.device("cpu")).float()
    both = (keep[:-1] * keep[1:]).mean().item()
    assert both == pytest.approx(0.7 * 0.7, abs=3e-3)


def test_fast_dropout_scales_survivors_and_is_a_dropout():
    layer = FastDropout(0.3)
    assert isinstance(layer, nn.Dropout) and layer.p == 0.3
    x = torch.ones(256, 512)
    y = layer.train()(x)
    kept = y != 0
    assert torch.allclose(y[kept], torch.full_like(y[kept], 1 / 0.7))
    assert y.mean().item() == pytest.approx(1.0, abs=0.02)
    assert torch.equal(layer.eval()(x), x)


def test_gradient_flows_only_through_kept_elements_and_seed_repeats():
    layer = FastDropout(0.5).train()
    x = torch.randn(64, 64, requires_grad=True)
    torch.manual_seed(3)
    y = layer(x)
    y.sum().backward()
    torch.testing.assert_close(x.grad, (y != 0).float() * 2.0)
    torch.manual_seed(3)
    assert torch.equal(layer(x), y)
