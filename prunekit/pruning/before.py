"""The one-call pruning API: score with a criterion, rank globally, mask, repeat along a schedule."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from prunekit.criteria.base import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_SAMPLES,
    Criterion,
    LossFn,
    ScoringBudget,
    ScoringContext,
    get_criterion,
    scoring_budget,
)
from prunekit.core.determinism import single_threaded
from prunekit.core.labels import check_labels
from prunekit.core.masks import apply_mask, current_mask, prunable_layers, replace_mask, weight_sparsity
from prunekit.core.liveness import node_sparsity
from prunekit.pruning.prunability import log_summary
from prunekit.core.sampling import SampleStream
from prunekit.core.schedule import DEFAULT_STEPS, check_sparsity
from prunekit.pruning.targets import Target, TargetResult, check_one_of, prune_weights_to_target
from prunekit.core.timing import Stopwatch, model_device

log = logging.getLogger(__name__)

DEFAULT_SPARSITY = 0.98


@dataclass(frozen=True)
class PruneStep:
    """What one pruning round did."""

    round: int
    target: float
    sparsity: float
    kept: int
    total: int
    loss: float
    seconds: float
    removed: int = 0  # weights alive before the round and pruned by it
    revived: int = 0  # weights pruned before the round and alive after it (criteria that regrow)

    def as_dict(self) -> dict:
        """Plain-dict form for JSON records."""
        return asdict(self)


class PruneResult(NamedTuple):
    """The pruned model (masks attached) and the record of its pruning rounds."""

    model: nn.Module
    steps: list[PruneStep]


def kept_count(sparsity: float, total: int) -> int:
    """Number of weights a global ranking keeps at ``sparsity``: ``round((1 − κ)·N)``."""
    return int(round((1.0 - sparsity) * total))


def global_keep_masks(
    layers: dict[str, nn.Module], scores: dict[str, torch.Tensor], sparsity: float, *, regrow: bool = False
) -> dict[str, torch.Tensor]:
    """Keep the ``round((1 − κ)·N)`` highest-scoring surviving weights across all layers.

    Already-pruned weights rank last, so masks only ever shrink, unless ``regrow`` (FORCE), where every
    weight competes; ties go to the earlier weight (layer order, then flat index), which makes the
    result deterministic.
    """
    flat_scores, flat_alive, shapes = [], [], []
    for name, module in layers.items():
        score = scores[name]
        if score.shape != current_mask(module).shape:
            raise ValueError(f"score for {name} has shape {tuple(score.shape)}, expected "
                             f"{tuple(current_mask(module).shape)}")
        flat_scores.append(score.detach().reshape(-1).float())
        flat_alive.append(current_mask(module).reshape(-1).to(score.device) != 0)
        shapes.append(score.shape)
    flat = torch.cat(flat_scores)
    if torch.isnan(flat).any():
        raise ValueError("the criterion produced NaN scores; check the loss and the data")
    if not regrow:
        flat = torch.where(torch.cat(flat_alive), flat, torch.full_like(flat, -math.inf))
    keep = torch.zeros(flat.numel(), dtype=torch.bool, device=flat.device)
    order = torch.sort(flat, descending=True, stable=True).indices
    keep[order[: kept_count(sparsity, flat.numel())]] = True
    masks, offset = {}, 0
    for name, shape in zip(layers, shapes):
        size = math.prod(shape)
        masks[name] = keep[offset : offset + size].reshape(shape)
        offset += size
    return masks


def resolve_criterion(criterion: str | Criterion, steps: int = DEFAULT_STEPS) -> Criterion:
    """A criterion instance: a name is looked up with ``steps``; an instance passes through."""
    return get_criterion(criterion, steps=steps) if isinstance(criterion, str) else get_criterion(criterion)


def check_prunes_before(crit: Criterion) -> None:
    """Raise ValueError if ``crit`` is not a method that prunes before training."""
    if "before" not in crit.timings:
        where = {"during": "during training (PruneDuringTraining, RunConfig(prune_at='during'))",
                 "after": "after training (RunConfig(prune_at='after'))"}[crit.timings[0]]
        raise ValueError(f"criterion {crit.name!r} does not prune before training; it prunes {where}")


def check_data(crit: Criterion, data: object) -> None:
    """Raise ValueError if ``crit`` scores on data and none was given."""
    if crit.needs_data and data is None:
        raise ValueError(f"criterion {crit.name!r} scores on data: pass data=(a DataLoader or (x, y) tensors)")


def scoring_context(model: nn.Module, crit: Criterion, data: object, budget: ScoringBudget | None = None,
                    **changes: object) -> ScoringContext:
    """The scoring context shared by every round of ``prune()`` (and by pruning during training).

    ``budget`` (default: the paper's) with any :class:`ScoringBudget` field changed by keyword.
    """
    budget = scoring_budget(budget, **changes)
    layers = prunable_layers(model, include_first=budget.include_first, include_last=budget.include_last)
    check_data(crit, data)
    stream = SampleStream(data, budget.samples, budget.batch_size) if data is not None else None
    return ScoringContext(
        model=model,
        layers=layers,
        loss_fn=budget.loss_fn or F.cross_entropy,
        stream=stream,
        generator=torch.Generator().manual_seed(budget.seed),
        device=model_device(model),
        score_mode=budget.score_mode,
    )


def prune(
    model: nn.Module,
    criterion: str | Criterion = "snip-it",
    sparsity: float | None = None,
    data: object = None,
    *,
    samples: int = DEFAULT_SAMPLES,
    batch_size: int = DEFAULT_BATCH_SIZE,
    steps: int = DEFAULT_STEPS,
    loss_fn: LossFn | None = None,
    include_first: bool = True,
    include_last: bool = True,
    score_mode: str = "eval",
    seed: int = 0,
    on_round: Callable[[PruneStep], None] | None = None,
    target: Target | None = None,
) -> PruneResult | TargetResult:
    """Prune ``model``'s Linear/Conv weights to ``sparsity`` with a named criterion, in place.

    ``data`` is any iterable of ``(inputs, targets)`` batches (a DataLoader, ``TensorBatches``,
    a list) or an ``(inputs, targets)`` tuple; each scoring round draws ``samples`` fresh samples
    from it (the paper's 2560 = 5 × 512). The model comes back in the train/eval mode it was given.
    ``sparsity`` defaults to 0.98; instead, ``target=Target(flops=0.1)`` (or ``params=``) searches the
    least sparsity that keeps at most that fraction and returns a ``TargetResult`` with its report.
    """
    check_one_of(sparsity, target)
    budget = ScoringBudget(samples=samples, batch_size=batch_size, steps=steps, loss_fn=loss_fn,
                           include_first=include_first, include_last=include_last, score_mode=score_mode, seed=seed)
    if target is not None:
        return prune_weights_to_target(model, criterion, data, target, on_round=on_round, **budget.options())
    crit = resolve_criterion(criterion, budget.steps)
    check_prunes_before(crit)
    kappa = check_sparsity(DEFAULT_SPARSITY if sparsity is None else sparsity)
    ctx = scoring_context(model, crit, data, budget)
    check_labels(model, data, loss_fn=loss_fn)
    log_summary(model, ctx.layers)
    was_training = model.training
    record: list[PruneStep] = []
    try:
        for index, target in enumerate(crit.schedule(kappa)):
            record.append(prune_round(ctx, crit, index, target))
            if on_round is not None:  # e.g. to look at the masks between rounds
                on_round(record[-1])
    finally:
        model.train(was_training)
    log.info("%s pruned %s to %.4f weight sparsity (%.4f node sparsity) in %d rounds",
             crit.name, type(model).__name__, record[-1].sparsity, node_sparsity(model), len(record))
    return PruneResult(model, record)


def prune_round(ctx: ScoringContext, crit: Criterion, index: int, target: float) -> PruneStep:
    """Score, rank globally and AND the new masks in (replace them, for a criterion that regrows)."""
    watch = Stopwatch(model_device(ctx.model)).start()
    with single_threaded():  # the same mask on any thread count
        scores = crit.score(ctx)
    masks = global_keep_masks(ctx.layers, scores, target, regrow=crit.regrows)
    removed = revived = 0
    for name, module in ctx.layers.items():
        before = current_mask(module) != 0
        (replace_mask if crit.regrows else apply_mask)(module, masks[name])
        after = current_mask(module) != 0
        removed += int((before & ~after).sum())
        revived += int((~before & after).sum())
    achieved = weight_sparsity(ctx.model, ctx.layers)
    total = sum(current_mask(m).numel() for m in ctx.layers.values())
    step = PruneStep(
        round=index,
        target=target,
        sparsity=achieved,
        kept=total - int(round(achieved * total)),
        total=total,
        loss=ctx.last_loss,
        seconds=watch.stop(),
        removed=removed,
        revived=revived,
    )
    log.debug("round %d: target %.4f reached %.4f (loss %.4f)", index, target, achieved, step.loss)
    return step

