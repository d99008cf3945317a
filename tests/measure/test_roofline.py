"""The roofline model: per-layer bounds from injected rates (no timing), layer profiling, rates from probe times."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from prunekit.core.masks import apply_mask
from prunekit.measure.roofline import (
    LayerWork,
    MachineRates,
    Probe,
    ShapeClass,
    bucket,
    layer_bound,
    profile_layers,
    rates_from_times,
    roofline,
    shape_class,
)


def test_a_layer_with_tiny_flops_and_big_activations_is_memory_bound():
    rates = MachineRates.uniform(flops_per_s=1e11, bytes_per_s=1e10, call_overhead_s=1e-6)
    work = LayerWork("bn", "BatchNorm2d", flops=1_000, bytes=400_000_000, calls=1)
    bound = layer_bound(work, rates)
    assert bound.limit == "memory"
    assert bound.seconds == pytest.approx(0.04 + 1e-6)


def test_a_big_gemm_is_arithmetic_bound_and_a_tiny_call_overhead_bound():
    rates = MachineRates.uniform(flops_per_s=1e11, bytes_per_s=1e10, call_overhead_s=5e-6)
    assert layer_bound(LayerWork("fc", "Linear", 10**11, 10**6, 1), rates).limit == "arithmetic"
    assert layer_bound(LayerWork("act", "ReLU", 0, 1_000, 1), rates).limit == "overhead"


def test_the_bound_of_a_two_layer_mlp_is_the_hand_computed_sum():
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(8, 4), nn.ReLU(), nn.Linear(4, 2))
    works = profile_layers(mlp, torch.randn(3, 8))
    # FLOPs 2·3·8·4 and 2·3·4·2; bytes: x, W, b, y of each Linear (float32) and the ReLU's in/out
    assert [(w.name, w.flops, w.bytes, w.calls) for w in works] == [
        ("0", 192, 4 * (24 + 32 + 4 + 12), 1), ("1", 0, 4 * (12 + 12), 1), ("2", 48, 4 * (12 + 8 + 2 + 6), 1)]
    rates = MachineRates.uniform(flops_per_s=100.0, bytes_per_s=1000.0, call_overhead_s=0.1)
    bound = roofline(works, rates)
    assert [layer.limit for layer in bound.layers] == ["arithmetic", "overhead", "arithmetic"]
    assert bound.seconds == pytest.approx((1.92 + 0.1) + (0.096 + 0.1) + (0.48 + 0.1))
    assert bound.flops == 240


def test_operations_outside_leaf_modules_are_their_parents_functional_layer():
    class Residual(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(x) + x

    works = profile_layers(Residual(), torch.randn(2, 4))
    assert [(w.name, w.kind, w.bytes) for w in works][1] == ("(functional)", "functional", 3 * 2 * 4 * 4)


def test_masked_weights_are_counted_as_zeros_still_multiplied():
    layer = nn.Linear(10, 10)
    mask = torch.zeros(10, 10)
    mask[:, :3] = 1
    apply_mask(layer, mask)
    (work,) = profile_layers(layer, torch.randn(2, 10))
    assert work.masked_fraction == pytest.approx(0.7)
    assert work.flops == 2 * 2 * 10 * 10  # the masked layer still does the dense work


def test_shape_classes_round_channels_up_to_16_and_keep_the_problem():
    conv = nn.Conv2d(3, 13, 3, stride=2, padding=1)
    assert shape_class(conv, (8, 3, 32, 32)) == ShapeClass("conv", 8, 16, 16, (32, 32), (3, 3), (2, 2), (1, 1),
                                                            (1, 1), 1)
    assert shape_class(nn.Linear(50, 59), (4, 7, 50)) == ShapeClass("linear", 28, 64, 64)
    assert shape_class(nn.ReLU(), (4, 50)) is None
    depthwise = shape_class(nn.Conv2d(20, 20, 3, groups=20), (1, 20, 8, 8))
    assert (depthwise.in_channels, depthwise.groups) == (32, 32)


def test_bandwidth_is_read_at_the_working_set_size_class():
    rates = MachineRates({}, {2**16: 50e9, 2**20: 20e9, 2**24: 10e9}, 1e-6, 1e9)
    assert bucket(3000) == 2**16 and bucket(2**20) == 2**20 and bucket(2**20 + 1) == 2**21
    assert rates.bytes_per_s(1000) == 50e9
    assert rates.bytes_per_s(2**20 + 1) == 10e9  # the next larger class measured
    assert rates.bytes_per_s(2**27) == 10e9  # beyond the largest: the largest
    with pytest.raises(KeyError, match="linear"):
        MachineRates({}, {2**16: 1.0}, 0.0).rate(ShapeClass("linear", 1, 16, 16))


def test_rates_come_from_the_best_repeat_less_the_call_overhead():
    gemm = ShapeClass("linear", 1, 16, 16)
    probes = [Probe("overhead", 1.0, lambda: 0.0, calls=10), Probe(gemm, 1e6, lambda: 0.0),
              Probe(2**20, 2**20, lambda: 0.0)]
    times = [[2e-5, 1e-5], [3e-3, 1.001e-3], [1e-4, 2e-4]]
    rates = rates_from_times(probes, times)
    assert rates.call_overhead_s == pytest.approx(1e-6)
    assert rates.rate(gemm) == pytest.approx(1e6 / 1e-3)
    assert rates.bytes_per_s(2**20) == pytest.approx(2**20 / (1e-4 - 1e-6))
    tiny = rates_from_times(probes[:2] + probes[2:], [[1e-3], [1e-4], [1e-4]])  # overhead > probe time: floored
    assert tiny.rate(gemm) == pytest.approx(1e6 / (0.25 * 1e-4))
