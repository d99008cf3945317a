"""Structured random: every alive hidden node equally likely to go (the structured random baseline)."""

from __future__ import annotations

import torch

from prunekit.criteria.node.base import NodeCriterion, NodeScoringContext, register_node_criterion


@register_node_criterion
class StructuredRandom(NodeCriterion):
    """Structured random: uniform random node scores from the run's seeded generator."""

    name = "random"
    needs_data = False
    description = "uniformly random node scores (structured random baseline)"

    def score(self, ctx: NodeScoringContext) -> dict[str, torch.Tensor]:
        """Independent U(0, 1) scores, reproducible from the context's generator."""
        return {name: torch.rand(site.size, generator=ctx.generator).to(ctx.device)
                for name, site in ctx.sites.items()}


__all__ = ["StructuredRandom"]
