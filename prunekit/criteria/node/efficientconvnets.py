"""EfficientConvNets (Li et al. 2017): after training, every layer loses the nodes with the smallest L1 row norm."""

from __future__ import annotations

import torch

from prunekit.core.masks import effective_weight
from prunekit.core.schedule import DEFAULT_STEPS
from prunekit.criteria.node.after_training import DEFAULT_FINETUNE_FRACTION, AfterTraining
from prunekit.criteria.node.base import SCOPES, NodeScoringContext, register_node_criterion


@register_node_criterion
class EfficientConvNets(AfterTraining):
    """EfficientConvNets (Li et al. 2017): a node's score is the L1 norm of its weight row / filter.

    Applied to a trained network, once, after ``1 − finetune_fraction`` of the budget; like Li et al.
    and the authors' code, every hidden layer loses the same share κ of its nodes (``scope="layer"``).
    """

    name = "efficientconvnets"
    description = "L1 norm of each node's incoming weights, every layer pruned to κ after training, then fine-tuned"

    def __init__(self, steps: int = DEFAULT_STEPS, finetune_fraction: float = DEFAULT_FINETUNE_FRACTION,
                 scope: str = "layer") -> None:
        super().__init__(steps, finetune_fraction)
        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {', '.join(SCOPES)}, got {scope!r}")
        self.scope = scope

    def score(self, ctx: NodeScoringContext) -> dict[str, torch.Tensor]:
        """L1 norm of every node's masked incoming weights."""
        return {name: effective_weight(site.layer).detach().abs().flatten(1).sum(1)
                for name, site in ctx.sites.items()}


__all__ = ["EfficientConvNets"]
