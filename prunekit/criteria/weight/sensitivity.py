"""Weight elasticity ``|∂L/∂θ · θ| / L`` (Formulas 1–3) and the SNIP / SNIP-it criteria built on it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

from prunekit.criteria.base import Criterion, LossFn, ScoringContext, register
from prunekit.core.sampling import Batch
from prunekit.core.schedule import snip_it_schedule

SCORE_MODES = ("eval", "train")
_NORM_TYPES = (nn.modules.batchnorm._BatchNorm,)


def scored_parameter(module: nn.Module) -> torch.Tensor:
    """The leaf tensor the optimiser updates: ``weight_orig`` when pruned, else ``weight``."""
    return module.weight_orig if hasattr(module, "weight_orig") else module.weight


@contextlib.contextmanager
def scoring_mode(model: nn.Module, mode: str = "eval") -> Iterator[None]:
    """Put the model in the scoring mode and restore every module's mode and BatchNorm statistics.

    ``eval`` (the default, as the authors' code): dropout off, BatchNorm uses its running
    statistics. ``train``: dropout off, BatchNorm normalises with batch statistics; the running
    statistics it would update are restored afterwards, so scoring leaves no trace on the model.
    """
    if mode not in SCORE_MODES:
        raise ValueError(f"score_mode must be one of {SCORE_MODES}, got {mode!r}")
    flags = {m: m.training for m in model.modules()}
    norms = [m for m in model.modules() if isinstance(m, _NORM_TYPES)]
    saved = [{k: v.clone() for k, v in m.state_dict().items()} for m in norms]
    model.eval()
    if mode == "train":
        for m in norms:
            m.train()
    try:
        yield
    finally:
        for m, state in zip(norms, saved):
            m.load_state_dict(state)
        for m, flag in flags.items():
            m.training = flag


def loss_and_gradients(
    model: nn.Module, params: list[torch.Tensor], batches: list[Batch], loss_fn: LossFn
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Summed loss over all samples and its gradient w.r.t. ``params`` (never touches ``.grad``)."""
    total = torch.zeros((), device=params[0].device)
    grads = [torch.zeros_like(p) for p in params]
    for inputs, targets in batches:
        loss = loss_fn(model(inputs), targets) * len(inputs)  # loss_fn returns a batch mean
        for acc, g in zip(grads, torch.autograd.grad(loss, params)):
            acc.add_(g)
        total += loss.detach()
    return total, grads


def weight_elasticity(
    model: nn.Module, layers: dict[str, nn.Module], batches: list[Batch], loss_fn: LossFn
) -> tuple[dict[str, torch.Tensor], float]:
    """Elasticity ``|θ ⊙ ∂L/∂θ| / L`` of the mean loss over ``batches`` for every layer's weight.

    For a pruned layer θ is the masked weight, so pruned weights score exactly zero.
    Returns the scores and the mean loss L they were divided by.
    """
    params = [scored_parameter(m) for m in layers.values()]
    loss_sum, grads = loss_and_gradients(model, params, batches, loss_fn)
    if not torch.isfinite(loss_sum) or loss_sum <= 0:
        raise ValueError(f"elasticity needs a positive finite loss, got {float(loss_sum)}")
    # Sums over samples: |θ ⊙ Σ∇ℓ| / Σℓ equals |θ ⊙ ∇L| / L for the mean loss L.
    scores = {
        name: (p.detach() * g).abs_().div_(loss_sum)
        for name, p, g in zip(layers, params, grads)
    }
    n_samples = sum(len(x) for x, _ in batches)
    return scores, float(loss_sum) / n_samples


class _ElasticityCriterion(Criterion):
    """Shared scoring of SNIP and SNIP-it: weight elasticity on one accumulated batch."""

    def score(self, ctx: ScoringContext) -> dict[str, torch.Tensor]:
        """Elasticity of every prunable weight on a fresh accumulated batch."""
        batches = ctx.draw()
        with scoring_mode(ctx.model, ctx.score_mode):
            scores, ctx.last_loss = weight_elasticity(ctx.model, ctx.layers, batches, ctx.loss_fn)
        return scores


@register
class SNIP(_ElasticityCriterion):
    """SNIP (Lee et al. 2019): prune to κ in one step by weight elasticity."""

    name = "snip"
    description = "one-shot weight elasticity |θ·∂L/∂θ|/L before training"


@register
class SNIPit(_ElasticityCriterion):
    """SNIP-it (Algorithm 1): re-score and prune along κ_i = κ − (κ − ½)·½^i, then to κ."""

    name = "snip-it"
    description = "iterative weight elasticity, re-scored after every step of the κ_i schedule"

    def schedule(self, sparsity: float) -> list[float]:
        """The κ_i schedule of Algorithm 1."""
        return snip_it_schedule(sparsity, self.steps)
