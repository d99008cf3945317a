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

import contextlib
from collections.abc import Iterable, Iterator

import torch
from torch import nn

from prunekit.criteria.base import Criterion, LossFn, ScoringContext, register
from prunekit.criteria.weight.sensitivity import scored_parameter, scoring_mode
from prunekit.core.sampling import Batch
from prunekit.core.schedule import DEFAULT_STEPS, snip_it_schedule

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


@contextlib.contextmanager
def effective_weights_as_leaves(modules: Iterable[nn.Module]) -> Iterator[list[torch.Tensor]]:
    """Within the block every pruned layer computes with ``weight_orig = θ ⊙ m`` and an all-ones mask, so
    derivatives w.r.t. ``weight_orig`` are taken at the effective weights (pruned positions included); yields
    each layer's initial weights ``θ₀`` and restores ``θ₀`` and the masks afterwards."""
    saved = []
    for module in modules:
        weight = scored_parameter(module)
        mask = getattr(module, "weight_mask", None)
        saved.append((module, weight.detach().clone(), None if mask is None else mask.clone()))
        if mask is not None:
            with torch.no_grad():
                weight.mul_(mask)
                mask.fill_(1)
    try:
        yield [initial for _, initial, _ in saved]
    finally:
        for module, initial, mask in saved:
            with torch.no_grad():
                scored_parameter(module).copy_(initial)
                if mask is not None:
                    module.weight_mask.copy_(mask)
                    module.weight = module.weight_orig * module.weight_mask


@register
class GraSPit(GraSP):
    """GraSP's score on SNIP-it's schedule (Appendix E's abandoned approach); ``regrow`` lets pruned weights return.

    Without regrowth pruned weights rank last (their score is 0). With ``regrow=True`` every weight competes
    each round, as in FORCE: ``Hg`` is taken at the effective weights ``θ ⊙ m`` (so a pruned position has a
    gradient too) and a pruned weight is scored with its initial value, ``θ₀ ⊙ Hg(θ ⊙ m)``.
    """

    name = "grasp-it"
    description = "GraSP re-scored on SNIP-it's schedule (Appendix E: abandoned); regrow=True re-chooses the mask"
    timings = ("before",)

    def __init__(self, steps: int = DEFAULT_STEPS, temperature: float = DEFAULT_TEMPERATURE,
                 regrow: bool = False) -> None:
        super().__init__(steps, temperature)
        if not isinstance(regrow, bool):
            raise TypeError(f"regrow must be a bool, got {type(regrow).__name__}")
        self.regrows = regrow

    def schedule(self, sparsity: float) -> list[float]:
        """SNIP-it's κ_i rounds."""
        return snip_it_schedule(sparsity, self.steps)

    def score(self, ctx: ScoringContext) -> dict[str, torch.Tensor]:
        """GraSP's ``θ ⊙ Hg``; with regrowth ``θ₀ ⊙ Hg`` at the effective weights, pruned weights included."""
        if not self.regrows:
            return super().score(ctx)
        batches = ctx.draw()
        modules = list(ctx.layers.values())
        with effective_weights_as_leaves(modules) as initial:
            params = [scored_parameter(m) for m in modules]
            with scoring_mode(ctx.model, ctx.score_mode):
                ctx.last_loss, hg = hessian_gradient_product(ctx.model, params, batches, ctx.loss_fn,
                                                             self.temperature)
        return {name: theta0 * h for name, theta0, h in zip(ctx.layers, initial, hg)}

    def __repr__(self) -> str:
        return f"GraSPit(steps={self.steps}, regrow={self.regrows})"
