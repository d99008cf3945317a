"""FORCE and Iter-SNIP (de Jorge et al. 2021, progressive skeletonization): SNIP-it's closest successor.

Both re-score the network along a schedule exponential in density, ``κ_i = 1 − (1 − κ)^((i+1)/T)``.
Iter-SNIP is SNIP re-scored on the pruned network (pruned weights cannot return, like SNIP-it).
FORCE scores every weight, pruned ones included, by ``|θ ⊙ ∂L/∂θ̄|`` where ``θ̄ = θ ⊙ m`` is the
pruned network the loss is computed on and θ the initial weights, and re-chooses the whole mask each
round, so a weight pruned earlier can come back. Scores are divided by the loss L like elasticities
(this does not change a round's ranking).
"""

from __future__ import annotations

import torch
from torch import nn

from prunekit.criteria.base import Criterion, LossFn, ScoringContext, register
from prunekit.criteria.weight.sensitivity import _ElasticityCriterion, scoring_mode
from prunekit.core.sampling import Batch
from prunekit.core.schedule import DEFAULT_STEPS, exponential_schedule

DEFAULT_ROUNDS = 20  # the paper's 2560-sample budget per round keeps 20 rounds near one epoch of compute


def _check_rounds(rounds: object) -> int:
    """Return ``rounds`` as a positive int, else raise ValueError naming it."""
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise ValueError(f"rounds must be a positive integer, got {rounds!r}")
    return rounds


def computed_weight_gradients(
    model: nn.Module, layers: dict[str, nn.Module], batches: list[Batch], loss_fn: LossFn
) -> tuple[dict[str, torch.Tensor], float]:
    """Gradient of the summed loss w.r.t. the weight each layer computes with (``θ ⊙ m``; nonzero at pruned
    positions too) and the summed loss."""
    captured: dict[str, torch.Tensor] = {}

    def capture(name: str):
        def hook(module: nn.Module, _inputs) -> None:
            captured[name] = module.weight  # set by the pruning pre-hook, which was registered earlier
        return hook

    handles = [m.register_forward_pre_hook(capture(n)) for n, m in layers.items()]
    grads = {n: torch.zeros_like(m.weight_orig if hasattr(m, "weight_orig") else m.weight) for n, m in layers.items()}
    total = 0.0
    try:
        for inputs, targets in batches:
            loss = loss_fn(model(inputs), targets) * len(inputs)
            names = list(captured)
            for name, g in zip(names, torch.autograd.grad(loss, [captured[n] for n in names])):
                grads[name].add_(g)
            total += float(loss.detach())
            captured.clear()
    finally:
        for handle in handles:
            handle.remove()
    return grads, total


def force_scores(
    model: nn.Module, layers: dict[str, nn.Module], batches: list[Batch], loss_fn: LossFn
) -> tuple[dict[str, torch.Tensor], float]:
    """``|θ ⊙ ∂L/∂θ̄| / L`` for every weight (pruned ones scored at their initial value) and the mean loss."""
    grads, loss_sum = computed_weight_gradients(model, layers, batches, loss_fn)
    if not loss_sum > 0:
        raise ValueError(f"FORCE needs a positive finite loss, got {loss_sum}")
    scores = {}
    for name, module in layers.items():
        theta = module.weight_orig if hasattr(module, "weight_orig") else module.weight
        scores[name] = (theta.detach() * grads[name]).abs_().div_(loss_sum)
    return scores, loss_sum / sum(len(x) for x, _ in batches)


@register
class FORCE(Criterion):
    """FORCE: progressive skeletonization with regrowth over ``rounds`` exponential steps."""

    name = "force"
    description = "progressive skeletonization: |θ·∂L/∂θ̄| on the pruned net, pruned weights may return"
    timings = ("before",)
    regrows = True

    def __init__(self, steps: int = DEFAULT_STEPS, rounds: int = DEFAULT_ROUNDS) -> None:
        super().__init__(steps)
        self.rounds = _check_rounds(rounds)

    def schedule(self, sparsity: float) -> list[float]:
        """``rounds`` targets exponential in density, ending exactly at κ."""
        return exponential_schedule(sparsity, self.rounds)

    def score(self, ctx: ScoringContext) -> dict[str, torch.Tensor]:
        """FORCE's score of every weight on a fresh accumulated batch."""
        batches = ctx.draw()
        with scoring_mode(ctx.model, ctx.score_mode):
            scores, ctx.last_loss = force_scores(ctx.model, ctx.layers, batches, ctx.loss_fn)
        return scores

    def __repr__(self) -> str:
        return f"FORCE(rounds={self.rounds})"


@register
class IterSNIP(_ElasticityCriterion):
    """Iter-SNIP: SNIP re-scored on the pruned network over ``rounds`` exponential steps, no regrowth."""

    name = "iter-snip"
    description = "SNIP re-scored over exponential steps on the pruned network (FORCE without regrowth)"
    timings = ("before",)

    def __init__(self, steps: int = DEFAULT_STEPS, rounds: int = DEFAULT_ROUNDS) -> None:
        super().__init__(steps)
        self.rounds = _check_rounds(rounds)

    def schedule(self, sparsity: float) -> list[float]:
        """``rounds`` targets exponential in density, ending exactly at κ."""
        return exponential_schedule(sparsity, self.rounds)

    def __repr__(self) -> str:
        return f"IterSNIP(rounds={self.rounds})"
