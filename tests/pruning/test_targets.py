"""Targets in the user's units: the search keeps at most the requested fraction and reports what it reached."""

from __future__ import annotations

import copy

import pytest
import torch

import prunekit
from prunekit import Target
from prunekit.measure.metrics import inference_flops
from prunekit.models import MLP5, LeNet5
from prunekit.structured import prune_nodes, shrink


def mnist_like(n: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, 1, 28, 28, generator=g), torch.randint(0, 10, (n,), generator=g)


@pytest.mark.parametrize("bad", [0, 1.5, -0.1, float("nan")])
def test_a_fraction_outside_0_1_is_refused_with_its_value(bad):
    with pytest.raises(ValueError, match=r"Target flops must (lie in \(0, 1\]|be a number)"):
        Target(flops=bad)


def test_a_target_names_exactly_one_quantity_and_parses_from_text():
    with pytest.raises(ValueError, match="exactly one of flops, params, sparsity"):
        Target(flops=0.1, params=0.1)
    assert Target.parse("params=0.05") == Target(params=0.05)
    with pytest.raises(ValueError, match="flops=F, params=F or sparsity=F, got 'latency=2'"):
        Target.parse("latency=2")


def test_weight_pruning_to_a_flops_target_keeps_at_most_that_share_and_reports_it():
    torch.manual_seed(0)
    model = LeNet5((1, 28, 28), 10)
    dense = inference_flops(model, (1, 28, 28), sparse=False)
    result = prunekit.prune(model, "snip", data=mnist_like(), target=Target(flops=0.1), samples=64, batch_size=64)
    kept = inference_flops(model, (1, 28, 28)) / dense
    assert result.model is model
    assert result.report.achieved == pytest.approx(kept) and kept <= 0.1
    assert kept >= 0.1 * 0.95 or len(result.report.probes) == 10
    assert set(result.report.per_layer) == set(prunekit.prunable_layers(model))
    assert "achieved" in result.report.lines()[0] and "10.00%" in result.report.lines()[0]


def test_node_pruning_to_a_params_target_gives_a_shrunk_network_within_it():
    torch.manual_seed(0)
    model = MLP5((1, 28, 28), 10)
    dense = sum(p.numel() for p in model.parameters())
    x, y = mnist_like()
    result = prune_nodes(model, "snap-it", data=(x, y), target=Target(params=0.05), samples=64, batch_size=64, steps=1)
    small = shrink(model, x[:2])
    assert sum(p.numel() for p in small.parameters()) / dense == pytest.approx(result.report.achieved)
    assert result.report.achieved <= 0.05


def test_an_unreachable_target_says_so_with_the_floor():
    model = MLP5((1, 28, 28), 10)
    with pytest.raises(ValueError, match=r"target params=1e-06 is unreachable: .* ask for at least 0\.0"):
        prune_nodes(model, "snap-it", data=mnist_like(), target=Target(params=1e-6), samples=64, batch_size=64, steps=1)


def test_sparsity_and_target_together_are_refused_and_sparsity_alone_works_unchanged():
    model = LeNet5((1, 28, 28), 10)
    with pytest.raises(ValueError, match="either sparsity= or target="):
        prunekit.prune(model, "random", 0.9, target=Target(flops=0.1))
    twin = copy.deepcopy(model)
    prunekit.prune(model, "random", 0.9)
    prunekit.prune(twin, "random", target=Target(sparsity=0.9))
    assert prunekit.weight_sparsity(model) == prunekit.weight_sparsity(twin) == pytest.approx(0.9, abs=1e-4)
