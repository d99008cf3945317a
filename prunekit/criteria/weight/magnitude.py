"""Magnitude pruning: one shot at initialisation, and IMP-global's iterative version during training."""

from __future__ import annotations

import torch

from prunekit.criteria.base import Criterion, ScoringContext, register
from prunekit.core.masks import effective_weight
from prunekit.core.schedule import snip_it_schedule


@register
class Magnitude(Criterion):
    """Score every weight by the magnitude |θ| of its current (masked) value; pruned weights score 0."""

    name = "magnitude"
    needs_data = False
    description = "one-shot global magnitude |θ| of the (masked) weights"

    def score(self, ctx: ScoringContext) -> dict[str, torch.Tensor]:
        """|θ| of the effective weight of every prunable layer."""
        with torch.no_grad():
            return {name: effective_weight(m).detach().abs() for name, m in ctx.layers.items()}


@register
class IMPGlobal(Magnitude):
    """IMP-global (Frankle et al.): global magnitude pruning during training along the κ_i schedule of
    Algorithm 1; the rewinding to epoch ``e_k`` belongs to the training callback (``rewind_epoch``)."""

    name = "imp-global"
    description = "iterative global magnitude pruning during training with weight rewinding (IMP-global)"
    timings = ("during",)

    def schedule(self, sparsity: float) -> list[float]:
        """The κ_i schedule of Algorithm 1, as the paper uses for IMP to keep the comparison fair."""
        return snip_it_schedule(sparsity, self.steps)
