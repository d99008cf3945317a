"""Explicit auxiliary gates ``c = 1`` over weights: the definition the sensitivity criterion starts from.

SNIP defines a weight's sensitivity as ``∂L(θ ⊙ c)/∂c`` at ``c = 1`` (paper, Section 3). By the
chain rule this is ``θ ⊙ ∂L/∂θ`` (Formula 1), which is how :func:`weight_elasticity` computes it.
This module computes the gate derivative literally, with real gate tensors, as an independent
check of that identity; it is not used for pruning.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call

from prunekit.criteria.base import LossFn
from prunekit.core.sampling import Batch


def _weight_name(module: nn.Module) -> str:
    """The leaf parameter that holds the layer's weights (``weight_orig`` once pruned)."""
    return "weight_orig" if hasattr(module, "weight_orig") else "weight"


def gate_derivative(
    model: nn.Module, layers: dict[str, nn.Module], batches: list[Batch], loss_fn: LossFn
) -> tuple[dict[str, torch.Tensor], float]:
    """``∂L(θ ⊙ c)/∂c`` at ``c = 1`` for every layer's weight, with L the mean loss over ``batches``.

    Returns the signed derivatives (one tensor per layer, shaped like its weight) and L.
    The model's parameters and ``.grad`` fields are left untouched.
    """
    if not batches:
        raise ValueError("gate_derivative needs at least one (inputs, targets) batch")
    modules = dict(model.named_modules())
    unknown = sorted(set(layers) - set(modules))
    if unknown:
        raise ValueError(f"layers names modules that {type(model).__name__} lacks: {unknown}")
    keys = {name: f"{name}.{_weight_name(module)}" for name, module in layers.items()}
    weights = {name: getattr(module, _weight_name(module)).detach() for name, module in layers.items()}
    gates = {name: torch.ones_like(w, requires_grad=True) for name, w in weights.items()}
    n_samples = sum(len(inputs) for inputs, _ in batches)
    total = torch.zeros((), device=next(iter(weights.values())).device)
    for inputs, targets in batches:
        gated = {keys[name]: weights[name] * gates[name] for name in layers}
        outputs = functional_call(model, gated, (inputs,), strict=False)
        total = total + loss_fn(outputs, targets) * len(inputs)
    loss = total / n_samples
    grads = torch.autograd.grad(loss, [gates[name] for name in layers])
    return dict(zip(layers, grads)), float(loss.detach())


def gate_elasticity(
    model: nn.Module, layers: dict[str, nn.Module], batches: list[Batch], loss_fn: LossFn
) -> tuple[dict[str, torch.Tensor], float]:
    """Elasticity from explicit gates, ``|∂L/∂c| / L``: the quantity ``weight_elasticity`` returns."""
    derivatives, loss = gate_derivative(model, layers, batches, loss_fn)
    return {name: d.abs() / loss for name, d in derivatives.items()}, loss


__all__ = ["gate_derivative", "gate_elasticity"]
