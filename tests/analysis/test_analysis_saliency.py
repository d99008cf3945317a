"""Facts of the saliency maps: |∂y_c/∂x| per input, as autograd gives it sample by sample, in eval mode."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from prunekit.analysis.saliency import TOP_FRACTION, region_share, saliency_maps, top_share
from tests.helpers import tiny_cnn, toy_data


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


# ------------------------------------------------------------------------------------------- concentration


def test_top_share_of_a_uniform_map_is_the_fraction_and_of_a_few_hot_pixels_is_one():
    uniform = torch.ones(2, 20, 20)
    assert top_share(uniform, 0.05).tolist() == pytest.approx([0.05, 0.05])  # 20 of 400 pixels
    hot = torch.zeros(1, 20, 20)
    hot[0, 3, 4], hot[0, 10, 10] = 5.0, 1.0
    assert top_share(hot, 0.05).item() == 1.0


def test_top_share_sums_the_k_largest_pixels_per_map_rounding_k_up():
    maps = torch.arange(1.0, 11.0).view(1, 2, 5)  # 1..10, total 55
    assert top_share(maps, 0.15).item() == pytest.approx((10 + 9) / 55)  # ceil(1.5) = 2 pixels
    assert top_share(maps, 1.0).item() == pytest.approx(1.0)


def test_top_share_ignores_scale_and_lies_between_the_fraction_and_one():
    maps = torch.rand(8, 28, 28, generator=torch.Generator().manual_seed(0)) ** 4
    shares = top_share(maps)
    torch.testing.assert_close(top_share(maps * 37.0), shares)
    assert ((shares >= TOP_FRACTION) & (shares <= 1.0)).all()


def test_a_model_looking_at_one_pixel_concentrates_all_saliency_there():
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 2))
    with torch.no_grad():
        model[1].weight.zero_()
        model[1].weight[:, 9] = torch.tensor([1.0, -1.0])
    x, _ = toy_data(5)
    assert top_share(saliency_maps(model, x)).tolist() == pytest.approx([1.0] * 5)


def test_top_share_rejects_bad_maps_and_fractions():
    with pytest.raises(ValueError, match="fraction"):
        top_share(torch.ones(1, 4, 4), 0.0)
    with pytest.raises(ValueError, match="non-negative"):
        top_share(-torch.ones(1, 4, 4))
    with pytest.raises(TypeError, match="floating"):
        top_share(torch.ones(1, 4, 4, dtype=torch.long))


def test_a_map_that_no_pixel_reaches_has_no_concentration():
    shares = top_share(torch.stack([torch.ones(4, 4), torch.zeros(4, 4)]), 0.25)
    assert shares[0].item() == 0.25 and torch.isnan(shares[1])


def test_region_share_is_the_part_of_each_maps_total_inside_the_region():
    maps = torch.tensor([[[1.0, 3.0], [0.0, 4.0]], [[0.0, 0.0], [0.0, 0.0]]])
    region = torch.tensor([[True, False], [False, True]])
    shares = region_share(maps, region)
    assert shares[0].item() == pytest.approx(5 / 8) and torch.isnan(shares[1])
    with pytest.raises(ValueError, match="shape of one map"):
        region_share(maps, region.reshape(4))
    with pytest.raises(TypeError, match="boolean"):
        region_share(maps, region.float())
