"""Random pruning: every surviving weight equally likely to go (the paper's strong baseline)."""

from __future__ import annotations

import torch

from prunekit.criteria.base import Criterion, ScoringContext, register


@register
class RandomCriterion(Criterion):
    """Uniform random scores from the run's seeded generator: a global random mask."""

    name = "random"
    needs_data = False
    description = "uniformly random scores (global random mask)"

    def score(self, ctx: ScoringContext) -> dict[str, torch.Tensor]:
        """Independent U(0, 1) scores, reproducible from the context's generator."""
        return {
            name: torch.rand(m.weight.shape, generator=ctx.generator).to(m.weight.device)
            for name, m in ctx.layers.items()
        }
