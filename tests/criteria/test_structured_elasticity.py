"""Node elasticity (Formula 4): the hook formula Σ z·∂L/∂z equals the derivative w.r.t. a real gate."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from prunekit.criteria.weight.sensitivity import scoring_mode
from prunekit.structured import apply_node_mask, gate_derivatives, node_elasticity, node_sites
from tests.helpers import tiny_cnn, tiny_mlp, toy_data


class Gate(nn.Module):
    """An explicit auxiliary gate c = 1 multiplying dimension ``dim`` of its input."""

    def __init__(self, size: int, dim: int) -> None:
        super().__init__()
        self.c = nn.Parameter(torch.ones(size))
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = [1] * x.dim()
        shape[self.dim] = -1
        return x * self.c.view(shape)


def gated_copy(model: nn.Sequential, after: dict[int, Gate]) -> nn.Sequential:
    """The same module objects with a Gate inserted after each listed position."""
    modules = []
    for index, module in enumerate(model):
        modules.append(module)
        if index in after:
            modules.append(after[index])
    return nn.Sequential(*modules)


def explicit_gate_derivative(model: nn.Sequential, gates: dict[int, Gate], batches, mode: str):
    """∂L/∂c of the mean loss, by autograd through explicitly inserted gates."""
    gated = gated_copy(model, gates)
    with scoring_mode(gated, mode):
        n = sum(len(x) for x, _ in batches)
        loss = sum(F.cross_entropy(gated(x), y) * len(x) for x, y in batches) / n
        grads = torch.autograd.grad(loss, [g.c for g in gates.values()])
    return grads, float(loss.detach())


def relu6_cnn() -> nn.Sequential:
    """A CNN with an in-place, non-homogeneous activation and a conv without BatchNorm."""
    torch.manual_seed(1)
    return nn.Sequential(
        nn.Conv2d(1, 5, 3, padding=1), nn.BatchNorm2d(5), nn.ReLU6(inplace=True),
        nn.Conv2d(5, 4, 3, padding=1), nn.Tanh(),
        nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(16, 10),
    )


def batches(n: int = 96, size: int = 32):
    x, y = toy_data(n, (1, 8, 8))
    x = x * 3  # push ReLU6 inputs past 6 somewhere
    return [(x[i : i + size], y[i : i + size]) for i in range(0, n, size)]


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_mlp_node_gate_derivative_equals_explicit_gate(mode):
    model = tiny_mlp()
    data = batches()
    # Gates sit after each BatchNorm (positions 2 and 6), on the normalised pre-activation.
    gates = {2: Gate(32, 1), 6: Gate(32, 1)}
    expected, loss = explicit_gate_derivative(model, gates, data, mode)
    sites = node_sites(model)
    with scoring_mode(model, mode):
        result = gate_derivatives(model, sites, data, F.cross_entropy)
    assert list(sites) == ["1", "5"]
    assert result.loss == pytest.approx(loss, rel=1e-5)
    for got, want in zip(result.nodes.values(), expected):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-7)


def test_cnn_channel_gate_derivative_equals_explicit_gate():
    model = tiny_cnn()
    data = batches()
    gates = {1: Gate(4, 1), 4: Gate(6, 1)}
    expected, _ = explicit_gate_derivative(model, gates, data, "eval")
    with scoring_mode(model, "eval"):
        result = gate_derivatives(model, node_sites(model), data, F.cross_entropy)
    for got, want in zip(result.nodes.values(), expected):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-7)


def test_gate_derivative_survives_inplace_activation_and_layers_without_batchnorm():
    model = relu6_cnn()
    data = batches()
    # First conv: gate after its BatchNorm (position 1); second conv has none: gate on its output.
    gates = {1: Gate(5, 1), 3: Gate(4, 1)}
    expected, _ = explicit_gate_derivative(model, gates, data, "eval")
    sites = node_sites(model)
    assert sites["0"].norm is model[1] and sites["3"].norm is None
    with scoring_mode(model, "eval"):
        result = gate_derivatives(model, sites, data, F.cross_entropy)
    for got, want in zip(result.nodes.values(), expected):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-7)


def test_node_elasticity_is_gate_derivative_over_loss_and_zero_for_pruned_nodes():
    model = tiny_mlp()
    data = batches()
    sites = node_sites(model)
    keep = torch.ones(32, dtype=torch.bool)
    keep[:5] = False
    apply_node_mask(sites["1"], keep)
    model.eval()
    scores, loss = node_elasticity(model, sites, data, F.cross_entropy)
    derivatives = gate_derivatives(model, sites, data, F.cross_entropy)
    torch.testing.assert_close(scores["1"], derivatives.nodes["1"].abs() / loss)
    assert torch.all(scores["1"][:5] == 0)
    assert torch.all(scores["1"][5:] > 0)


def test_scoring_leaves_no_hooks_and_no_grads():
    model = tiny_cnn()
    data = batches()
    model.eval()
    gate_derivatives(model, node_sites(model), data, F.cross_entropy)
    assert all(not m._forward_hooks for m in model.modules())
    assert all(p.grad is None for p in model.parameters())
