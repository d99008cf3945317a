"""L0 regularisation (Louizos et al. 2018) on nodes: hard-concrete gates with an expected-L0 penalty."""

from __future__ import annotations

import torch

from prunekit.core.node_masks import NodeSite
from prunekit.core.schedule import DEFAULT_STEPS
from prunekit.criteria.node.base import (
    NodeCriterion,
    NodeScoringContext,
    check_fraction,
    check_lambda,
    check_positive,
    register_node_criterion,
)
from prunekit.criteria.node.gates import DEFAULT_DROPRATE_INIT, DEFAULT_TEMPERATURE, HardConcreteGates, hard_concrete_mean


@register_node_criterion
class L0(NodeCriterion):
    """L0 regularisation (Louizos et al. 2018) on nodes: hard-concrete gates, loss ``L + λ·E[L0] / N_nodes``.

    Trained for twice the budget; the nodes whose test-time gate is exactly 0 are removed at the end
    and the others' gate values folded into the network. Its node sparsity follows from λ.
    """

    name = "l0"
    needs_data = False
    description = "hard-concrete gates per node with an expected-L0 penalty, 2× epochs, zero gates removed"
    timings = ("during",)
    targets_sparsity = False
    epoch_factor = 2

    def __init__(self, steps: int = DEFAULT_STEPS, lam: float = 1.0, droprate_init: float = DEFAULT_DROPRATE_INIT,
                 temperature: float = DEFAULT_TEMPERATURE) -> None:
        super().__init__(steps)
        self.lam = check_lambda("L0", lam)
        self.droprate_init = check_fraction("droprate_init", droprate_init, low=1e-6, high=1.0)
        self.temperature = check_positive("L0's temperature", temperature)

    def gates(self, sites: dict[str, NodeSite], generator: torch.Generator | None = None) -> HardConcreteGates:
        """Fresh, unattached hard-concrete gates for ``sites`` with this method's settings."""
        return HardConcreteGates(sites, self.droprate_init, self.temperature, generator)

    def score(self, ctx: NodeScoringContext) -> dict[str, torch.Tensor]:
        """The test-time gate of every node (0: removed); needs gates trained by L0 regularisation."""
        scores = {}
        for name, site in ctx.sites.items():
            log_alpha = getattr(site.gate_module, HardConcreteGates.attribute, None)
            if log_alpha is None:
                raise ValueError(f"L0 scores the hard-concrete gates that L0 regularisation trains, and {name} has "
                                 f"none: run it through RunConfig(criterion='l0', structured=True)")
            scores[name] = hard_concrete_mean(log_alpha.detach())
        return scores


__all__ = ["L0"]
