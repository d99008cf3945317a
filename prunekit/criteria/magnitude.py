"""Magnitude at initialisation: keep the largest |θ| (data-free, one shot)."""

from __future__ import annotations

import torch

from prunekit.criteria.base import Criterion, ScoringContext, register
from prunekit.masks import effective_weight


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
