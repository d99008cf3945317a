"""CNIP-it (Appendix B): weights and nodes ranked together by elasticity along SNIP-it's κ_i schedule."""

from __future__ import annotations

import torch

from prunekit.criteria.node.base import NodeScoringContext, register_node_criterion
from prunekit.criteria.node.snap import SNAPit, context_elasticities


@register_node_criterion
class CNIPit(SNAPit):
    """CNIP-it (Appendix B): weights and nodes ranked together by elasticity, same schedule.

    Its target κ is the pruned fraction of the union of all prunable weights and hidden nodes.
    """

    name = "cnip-it"
    description = "iterative weight and node elasticity ranked together on one scale"
    combined = True
    timings = ("before",)

    def score_combined(self, ctx: NodeScoringContext) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Node scores per hidden layer and weight scores per prunable layer, on one scale."""
        result = context_elasticities(ctx, with_weights=True)
        return result.node_scores(), result.weight_scores()


__all__ = ["CNIPit"]
