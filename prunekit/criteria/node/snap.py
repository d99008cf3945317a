"""SNAP-it (Section 3, Formula 4) and its one-shot form SNAP: nodes ranked by their elasticity ``|∂L/∂c| / L``."""

from __future__ import annotations

import torch

from prunekit.core.schedule import snip_it_schedule
from prunekit.criteria.node.base import NodeCriterion, NodeScoringContext, register_node_criterion
from prunekit.criteria.node.elasticity import Elasticities, gate_derivatives
from prunekit.criteria.weight.sensitivity import scoring_mode


def context_elasticities(ctx: NodeScoringContext, with_weights: bool) -> Elasticities:
    """Gate derivatives on a fresh accumulated batch in the context's scoring mode."""
    batches = ctx.draw()
    with scoring_mode(ctx.model, ctx.score_mode):
        result = gate_derivatives(ctx.model, ctx.sites, batches, ctx.loss_fn,
                                  weight_layers=ctx.layers if with_weights else None)
    ctx.last_loss = result.loss
    return result


@register_node_criterion
class SNAP(NodeCriterion):
    """One-shot node elasticity: prune to κ in a single step."""

    name = "snap"
    description = "one-shot node elasticity |∂L/∂c|/L (gate on each node's pre-activation)"

    def score(self, ctx: NodeScoringContext) -> dict[str, torch.Tensor]:
        """Node elasticity of every hidden node on a fresh accumulated batch."""
        return context_elasticities(ctx, with_weights=False).node_scores()


@register_node_criterion
class SNAPit(SNAP):
    """SNAP-it: node elasticity re-scored along the κ_i schedule of Algorithm 1 on node sparsity."""

    name = "snap-it"
    description = "iterative node elasticity, re-scored after every step of the κ_i schedule"
    timings = ("before", "during")  # during: Appendix E's abandoned variant, rounds every τ epochs of training

    def schedule(self, sparsity: float) -> list[float]:
        """The κ_i schedule of Algorithm 1."""
        return snip_it_schedule(sparsity, self.steps)


__all__ = ["SNAP", "SNAPit", "context_elasticities"]
