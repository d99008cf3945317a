"""Facts of the sensitivity criterion: weight elasticity is the gate derivative divided by the loss."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from prunekit import prune
from prunekit.criteria import scoring_mode, weight_elasticity
from prunekit.criteria.weight.gates import gate_derivative, gate_elasticity
from prunekit.core.masks import prunable_layers
from tests.helpers import tiny_mlp, toy_data


def _batches():
    x, y = toy_data(256)
    return [(x[:128], y[:128]), (x[128:], y[128:])]


def test_elasticity_equals_the_explicit_gate_derivative_over_the_loss():
    model = tiny_mlp()
    layers = prunable_layers(model)
    with scoring_mode(model):
        scores, loss = weight_elasticity(model, layers, _batches(), F.cross_entropy)
        gated, gate_loss = gate_elasticity(model, layers, _batches(), F.cross_entropy)
    assert abs(loss - gate_loss) <= 1e-6 * loss
    for name in layers:
        torch.testing.assert_close(gated[name], scores[name], rtol=1e-5, atol=1e-9)


def test_gate_derivative_is_weight_times_gradient():
    model = tiny_mlp(1)
    layers = prunable_layers(model)
    batches = _batches()
    with scoring_mode(model):
        derivative, loss = gate_derivative(model, layers, batches, F.cross_entropy)
        x = torch.cat([b[0] for b in batches])
        y = torch.cat([b[1] for b in batches])
        mean_loss = F.cross_entropy(model(x), y)
        grads = torch.autograd.grad(mean_loss, [m.weight for m in layers.values()])
    assert abs(loss - float(mean_loss.detach())) < 1e-6
    for (name, module), grad in zip(layers.items(), grads):
        torch.testing.assert_close(derivative[name], module.weight.detach() * grad, rtol=1e-5, atol=1e-9)


def test_pruned_weights_have_zero_gate_derivative_and_the_model_is_untouched():
    model = tiny_mlp(2)
    prune(model, "snip", 0.8, _batches(), samples=256, batch_size=128)
    layers = prunable_layers(model)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    with scoring_mode(model):
        derivative, _ = gate_derivative(model, layers, _batches(), F.cross_entropy)
        scores, _ = weight_elasticity(model, layers, _batches(), F.cross_entropy)
    for name, module in layers.items():
        pruned = module.weight_mask == 0
        assert pruned.any()
        assert (derivative[name][pruned] == 0).all()
        torch.testing.assert_close(derivative[name].abs() / _loss(model), scores[name], rtol=1e-4, atol=1e-9)
    assert all(torch.equal(before[n], p) for n, p in model.named_parameters())
    assert all(p.grad is None for p in model.parameters())


def _loss(model):
    with scoring_mode(model), torch.no_grad():
        x, y = toy_data(256)
        return float(F.cross_entropy(model(x), y))
