"""Node elasticity (Formula 4) from forward hooks, without touching the user's modules.

SNAP-it places an auxiliary gate ``c = 1`` on each node's pre-activation, ``h(c ⊙ z)``, and ranks
nodes by ``|∂L/∂c| / L``. Since ``∂(c ⊙ z)/∂c = z``, the chain rule gives
``∂L/∂c_j = Σ_{batch, spatial} z_j · ∂L/∂z_j``: a forward hook captures ``z`` and autograd gives
``∂L/∂z``, so no gate parameter is ever inserted.

Gate position: where a BatchNorm directly follows the layer, ``z`` is the BatchNorm output (the
normalised pre-activation that enters ``h``); otherwise it is the layer output ``Θx + b``. The
paper gates ``Θx + b``; with BatchNorm in eval mode (the default scoring mode) the two differ only
by the per-channel affine map, but a gate before a batch-statistics BatchNorm would score every
node ~0 (the normalisation cancels any scaling), and the gate after it is exactly what node
pruning zeroes (see :mod:`prunekit.core.node_masks`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from prunekit.criteria.base import LossFn
from prunekit.criteria.weight.sensitivity import scored_parameter
from prunekit.core.masks import current_mask
from prunekit.core.sampling import Batch
from prunekit.core.node_masks import NodeSite


def _channel_dim(module: nn.Module) -> int:
    """Dimension of a module's output that indexes its nodes (features last for Linear, else dim 1)."""
    return -1 if isinstance(module, nn.Linear) else 1


def _gate_sum(z: torch.Tensor, grad: torch.Tensor, dim: int) -> torch.Tensor:
    """``Σ z·∂L/∂z`` over every dimension except the node dimension ``dim``."""
    product = (z.detach() * grad).movedim(dim, 0)
    return product.reshape(product.shape[0], -1).sum(1)


class _Capture:
    """Forward hooks that record each gate site's output during one forward pass."""

    def __init__(self, sites: dict[str, NodeSite]) -> None:
        self.outputs: dict[str, list[torch.Tensor]] = {name: [] for name in sites}
        self.handles = [site.gate_module.register_forward_hook(self._hook(name)) for name, site in sites.items()]

    def _hook(self, name: str):
        def record(module: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
            self.outputs[name].append(output)
            # A fresh tensor downstream keeps z intact if a consumer works in place (ReLU(inplace=True)).
            return output.clone()

        return record

    def clear(self) -> None:
        """Forget the outputs of the last forward pass."""
        for captured in self.outputs.values():
            captured.clear()

    def remove(self) -> None:
        """Detach every hook from the model."""
        for handle in self.handles:
            handle.remove()


@dataclass(frozen=True)
class Elasticities:
    """Signed gate derivatives of the mean loss: per node, and ``θ ⊙ ∂L/∂θ`` per weight if asked."""

    nodes: dict[str, torch.Tensor]
    weights: dict[str, torch.Tensor]
    loss: float

    def node_scores(self) -> dict[str, torch.Tensor]:
        """Node elasticity ``|∂L/∂c| / L``."""
        return {name: d.abs() / self.loss for name, d in self.nodes.items()}

    def weight_scores(self) -> dict[str, torch.Tensor]:
        """Weight elasticity ``|θ·∂L/∂θ| / L`` (zero for pruned weights)."""
        return {name: d.abs() / self.loss for name, d in self.weights.items()}


def gate_derivatives(
    model: nn.Module,
    sites: dict[str, NodeSite],
    batches: list[Batch],
    loss_fn: LossFn,
    weight_layers: dict[str, nn.Module] | None = None,
) -> Elasticities:
    """``∂L/∂c`` of the mean loss over ``batches`` for every node gate (and every weight gate if asked).

    The caller chooses the train/eval mode; parameters and their ``.grad`` are left untouched.
    """
    if not batches:
        raise ValueError("gate_derivatives needs at least one (inputs, targets) batch")
    weight_layers = weight_layers or {}
    params = [scored_parameter(m) for m in weight_layers.values()]
    node_sums = {name: torch.zeros(site.size, device=current_mask(site.layer).device) for name, site in sites.items()}
    weight_grads = [torch.zeros_like(p) for p in params]
    total, n_samples = 0.0, 0
    capture = _Capture(sites)
    try:
        for inputs, targets in batches:
            capture.clear()
            loss = loss_fn(model(inputs), targets) * len(inputs)  # loss_fn returns a batch mean
            outputs = [(name, z) for name, zs in capture.outputs.items() for z in zs]
            grads = torch.autograd.grad(loss, [z for _, z in outputs] + params, allow_unused=True)
            for (name, z), g in zip(outputs, grads[: len(outputs)]):
                if g is not None:
                    node_sums[name] += _gate_sum(z, g, _channel_dim(sites[name].gate_module))
            for acc, g in zip(weight_grads, grads[len(outputs):]):
                if g is not None:
                    acc.add_(g)
            total += float(loss.detach())
            n_samples += len(inputs)
    finally:
        capture.remove()
    mean_loss = total / n_samples
    if not mean_loss > 0 or mean_loss == float("inf"):
        raise ValueError(f"elasticity needs a positive finite loss, got {mean_loss}")
    nodes = {name: s / n_samples for name, s in node_sums.items()}
    weights = {name: p.detach() * g / n_samples for name, p, g in zip(weight_layers, params, weight_grads)}
    return Elasticities(nodes, weights, mean_loss)


def node_elasticity(
    model: nn.Module, sites: dict[str, NodeSite], batches: list[Batch], loss_fn: LossFn
) -> tuple[dict[str, torch.Tensor], float]:
    """Node elasticity ``|∂L/∂c| / L`` (Formula 4) of every hidden node, and the mean loss L."""
    result = gate_derivatives(model, sites, batches, loss_fn)
    return result.node_scores(), result.loss
