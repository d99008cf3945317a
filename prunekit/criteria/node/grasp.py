"""Structured GraSP (Appendix E: tried by the authors, "works, but doesn't yield favourable results").

GraSP's score (Wang et al. 2020, :mod:`prunekit.criteria.weight.grasp`) applied to SNAP-it's auxiliary
node gates ``c = 1`` on each node's pre-activation instead of to the weights: with ``g = ∂L/∂c`` and
``H = ∂²L/∂c²``, GraSP's score of node j is ``S_j = −c_j·(Hg)_j = −(Hg)_j``, and GraSP *removes* the nodes
with the highest S (those whose removal reduces gradient flow least, or increases it). The node driver
keeps the *highest* scores, so, as weight GraSP returns ``θ ⊙ Hg``, this criterion returns
``−S = c ⊙ Hg = Hg``: keeping the highest ``Hg`` is removing the highest ``S``.

Everything else is weight GraSP's: the same Hessian-vector product (double backprop, ``g`` detached),
the logits divided by the temperature T = 200 in both passes, the mean loss over one fresh scoring
budget, and one shot. The gates are real parameters (:class:`~prunekit.criteria.node.gates.ScaleGates`,
all ones, at :attr:`NodeSite.gate_module`) so autograd can differentiate twice; they are removed afterwards.
"""

from __future__ import annotations

import torch
from torch import nn

from prunekit.core.node_masks import NodeSite
from prunekit.core.sampling import Batch
from prunekit.core.schedule import DEFAULT_STEPS
from prunekit.criteria.base import LossFn
from prunekit.criteria.node.base import NodeCriterion, NodeScoringContext, check_positive, register_node_criterion
from prunekit.criteria.node.gates import ScaleGates
from prunekit.criteria.weight.grasp import DEFAULT_TEMPERATURE, hessian_gradient_product
from prunekit.criteria.weight.sensitivity import scoring_mode


def gate_hessian_gradient_product(
    model: nn.Module,
    sites: dict[str, NodeSite],
    batches: list[Batch],
    loss_fn: LossFn,
    temperature: float = DEFAULT_TEMPERATURE,
) -> tuple[float, dict[str, torch.Tensor]]:
    """Mean tempered loss over ``batches`` and ``c ⊙ Hg`` at the node gates ``c = 1`` (``g = ∂L/∂c``)."""
    gates = ScaleGates(sites)
    gates.attach()
    try:
        params = list(gates.params.values())
        loss, hg = hessian_gradient_product(model, params, batches, loss_fn, temperature)
    finally:
        gates.detach_from_model()
    return loss, {name: c.detach() * h for (name, c), h in zip(gates.params.items(), hg)}


@register_node_criterion
class StructuredGraSP(NodeCriterion):
    """GraSP on node gates: one-shot, keeping the highest ``Hg`` (= removing the highest ``S = −Hg``)."""

    name = "grasp"
    description = "one-shot GraSP on node gates: keep the highest c·Hg (T = 200); Appendix E, abandoned"
    timings = ("before",)

    def __init__(self, steps: int = DEFAULT_STEPS, temperature: float = DEFAULT_TEMPERATURE) -> None:
        super().__init__(steps)
        self.temperature = check_positive("temperature", temperature)

    def score(self, ctx: NodeScoringContext) -> dict[str, torch.Tensor]:
        """``c ⊙ Hg`` of every hidden node on a fresh scoring budget."""
        batches = ctx.draw()
        with scoring_mode(ctx.model, ctx.score_mode):
            ctx.last_loss, scores = gate_hessian_gradient_product(ctx.model, ctx.sites, batches, ctx.loss_fn,
                                                                  self.temperature)
        return scores

    def __repr__(self) -> str:
        return f"StructuredGraSP(temperature={self.temperature:g})"


__all__ = ["StructuredGraSP", "gate_hessian_gradient_product"]
