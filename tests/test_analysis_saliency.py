"""Facts of the saliency maps: |∂y_c/∂x| per input, as autograd gives it sample by sample, in eval mode."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from prunekit.analysis.saliency import saliency_maps
from tests.conftest import tiny_cnn, toy_data


def _per_sample_gradient(model: nn.Module, x: torch.Tensor, cls: int) -> torch.Tensor:
    model.eval()
    xi = x.unsqueeze(0).clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model(xi)[0, cls], xi)
    return grad[0]


def test_maps_equal_the_autograd_input_gradient_of_the_predicted_class():
    model = tiny_cnn()
    x, _ = toy_data(6)
    maps = saliency_maps(model, x, channel_reduce=None)
    reference = tiny_cnn()
    predicted = reference.eval()(x).argmax(1)
    for i in range(len(x)):
        expected = _per_sample_gradient(reference, x[i], int(predicted[i])).abs()
        torch.testing.assert_close(maps[i], expected)


def test_given_classes_are_used_and_max_reduction_takes_the_largest_channel():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 5))
    x = torch.randn(4, 3, 8, 8)
    classes = torch.tensor([0, 4, 2, 2])
    maps = saliency_maps(model, x, classes=classes)
    assert maps.shape == (4, 8, 8)
    for i in range(4):
        expected = _per_sample_gradient(model, x[i], int(classes[i])).abs().amax(0)
        torch.testing.assert_close(maps[i], expected)


def test_a_training_mode_model_gives_deterministic_maps_and_keeps_its_mode_and_gradients():
    model = tiny_cnn()
    model.train()
    x, _ = toy_data(4)
    first, second = saliency_maps(model, x), saliency_maps(model, x)
    assert torch.equal(first, second)
    assert model.training and all(m.training for m in model.modules())
    assert all(p.grad is None for p in model.parameters())


def test_bad_classes_and_inputs_are_rejected():
    model = tiny_cnn()
    x, _ = toy_data(3)
    with pytest.raises(ValueError, match=r"\[0, 10\)"):
        saliency_maps(model, x, classes=torch.tensor([0, 1, 10]))
    with pytest.raises(ValueError, match="shape"):
        saliency_maps(model, x, classes=torch.tensor([0, 1]))
    with pytest.raises(TypeError, match="integer"):
        saliency_maps(model, x, classes=torch.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(TypeError, match="floating"):
        saliency_maps(model, x.long())
    with pytest.raises(ValueError, match="channel_reduce"):
        saliency_maps(model, x, channel_reduce="mean")
