"""GateDecorators (You et al. 2019): Taylor scores of node gates trained after dense training, pruned iteratively."""

from __future__ import annotations

import torch

from prunekit.core.schedule import DEFAULT_STEPS, check_sparsity
from prunekit.criteria.node.after_training import DEFAULT_FINETUNE_FRACTION
from prunekit.criteria.node.base import NodeScoringContext, check_fraction, register_node_criterion
from prunekit.criteria.node.snap import SNAP, context_elasticities

DEFAULT_GATE_STEP = 0.05  # the authors' GateDecorators: node sparsity 1 %, 6 %, 11 %, … then κ


@register_node_criterion
class GateDecorators(SNAP):
    """GateDecorators (You et al. 2019, the authors' reading): Taylor score ``|φ·∂L/∂φ|`` of trained node gates φ.

    The run trains the dense network for half of its doubled budget, then attaches gates φ = 1 after
    every hidden node's BatchNorm, keeps training them with the network and prunes iteratively (node
    sparsity 1 %, 6 %, 11 %, … then κ, as the authors' code), the rounds spread evenly until
    ``1 − finetune_fraction`` of the budget; the rest fine-tunes. The score of a round is the gate
    derivative accumulated over the scoring batches (2560 samples); with φ folded into the gate
    position it equals ``|φ ⊙ ∂L/∂φ|``.
    """

    name = "gatedecorators"
    description = "Taylor score |φ·∂L/∂φ| of node gates trained after dense training, pruned iteratively, 2× epochs"
    timings = ("after",)
    epoch_factor = 2

    def __init__(self, steps: int = DEFAULT_STEPS, step: float = DEFAULT_GATE_STEP,
                 finetune_fraction: float = DEFAULT_FINETUNE_FRACTION) -> None:
        super().__init__(steps)
        self.step = check_fraction("GateDecorators' step", step, low=1e-3)
        self.finetune_fraction = check_fraction("finetune_fraction", finetune_fraction)

    def schedule(self, sparsity: float) -> list[float]:
        """Node sparsity 1 %, 1 % + step, … below κ, then κ (the authors' GateDecorators)."""
        kappa = check_sparsity(sparsity)
        targets, target = [], 0.01
        while target < kappa - 1e-9:
            targets.append(round(target, 10))
            target += self.step
        return targets + [kappa]

    def round_epochs(self, sparsity: float, epochs: int) -> list[float]:
        """Rounds evenly spaced after the dense half of the budget, the last at ``1 − finetune_fraction``."""
        start, end = epochs / self.epoch_factor, (1.0 - self.finetune_fraction) * epochs
        n = len(self.schedule(sparsity))
        return [start + (i + 1) * (end - start) / n for i in range(n)]

    def score(self, ctx: NodeScoringContext) -> dict[str, torch.Tensor]:
        """``|φ·∂L/∂φ|`` per node: the gate derivative at the gate position (φ = 1 where no gate is attached)."""
        return {name: d.abs() for name, d in context_elasticities(ctx, with_weights=False).nodes.items()}


__all__ = ["DEFAULT_GATE_STEP", "GateDecorators"]
