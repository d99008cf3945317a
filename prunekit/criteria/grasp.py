"""GraSP (Wang et al. 2020): prune to preserve gradient flow, scored by the Hessian-gradient product.

Sign convention. GraSP's score is ``S(θ) = −θ ⊙ Hg`` with ``g = ∇_θ L`` and ``H = ∇²_θ L``, and
GraSP *removes* the weights with the highest S (those whose removal reduces gradient flow least,
or increases it). prunekit's driver keeps the *highest* scores, so this criterion returns
``−S = θ ⊙ Hg``: keeping the highest ``θ ⊙ Hg`` is removing the highest ``S``.

Details follow the authors' code (github.com/alecwangcq/GraSP): logits are divided by the
temperature T = 200 in both passes; ``g`` is detached after the first pass; ``Hg = ∇_θ (g · ∇_θ L)``
from a second, double-backward pass; θ is the effective (masked) weight. Differences: the loss is
the mean over the whole scoring budget (sum of per-sample losses / n, so chunking the budget does
not change the score; the authors sum per-batch means, which only rescales it), the budget is the
driver's sample stream rather than a class-balanced draw, Linear layers are not re-initialised,
and scores are not divided by ``|Σ S|`` (a positive factor: the ranking is unchanged). Derivatives
are taken w.r.t. ``weight_orig`` of an already-pruned layer, so pruned weights carry no gradient.
"""

from __future__ import annotations

import torch

from prunekit.criteria.base import Criterion, LossFn, ScoringContext, register
from prunekit.criteria.sensitivity import scored_parameter, scoring_mode
from prunekit.sampling import Batch
from prunekit.schedule import DEFAULT_STEPS

DEFAULT_TEMPERATURE = 200.0


def hessian_gradient_product(
    model: torch.nn.Module,
    params: list[torch.Tensor],
    batches: list[Batch],
    loss_fn: LossFn,
    temperature: float = DEFAULT_TEMPERATURE,
) -> tuple[float, list[torch.Tensor]]:
    """Mean loss of the tempered logits ``model(x) / T`` over ``batches`` and ``H g`` for ``g = ∇L`` (g constant)."""
    n = sum(len(x) for x, _ in batches)
    grads = [torch.zeros_like(p) for p in params]
    total = 0.0
    for inputs, targets in batches:
        loss = loss_fn(model(inputs) / temperature, targets) * (len(inputs) / n)
        for acc, g in zip(grads, torch.autograd.grad(loss, params)):
            acc.add_(g)
        total += float(loss.detach())
    hg = [torch.zeros_like(p) for p in params]
    for inputs, targets in batches:
        loss = loss_fn(model(inputs) / temperature, targets) * (len(inputs) / n)
        first = torch.autograd.grad(loss, params, create_graph=True)
        z = sum((g * f).sum() for g, f in zip(grads, first))
        for acc, h in zip(hg, torch.autograd.grad(z, params)):
            acc.add_(h)
    return total, hg


@register
class GraSP(Criterion):
    """GraSP: one-shot pruning keeping the highest ``θ ⊙ Hg`` (= removing the highest ``−θ ⊙ Hg``)."""

    name = "grasp"
    description = "one-shot Hessian-gradient product θ·Hg (T = 200), gradient-flow preserving"

    def __init__(self, steps: int = DEFAULT_STEPS, temperature: float = DEFAULT_TEMPERATURE) -> None:
        super().__init__(steps)
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature!r}")
        self.temperature = float(temperature)

    def score(self, ctx: ScoringContext) -> dict[str, torch.Tensor]:
        """``θ ⊙ Hg`` of every prunable weight on a fresh scoring budget."""
        batches = ctx.draw()
        params = [scored_parameter(m) for m in ctx.layers.values()]
        with scoring_mode(ctx.model, ctx.score_mode):
            ctx.last_loss, hg = hessian_gradient_product(ctx.model, params, batches, ctx.loss_fn, self.temperature)
        masks = [getattr(m, "weight_mask", None) for m in ctx.layers.values()]
        return {
            name: (p.detach() if mask is None else p.detach() * mask) * h
            for name, p, mask, h in zip(ctx.layers, params, masks, hg)
        }
