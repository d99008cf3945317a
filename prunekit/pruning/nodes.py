"""The one-call node-pruning API: score nodes, rank them globally, mask, repeat along a schedule.

Rules (Section 3): only hidden nodes are pruned (never the inputs, never the last layer's outputs,
which are the classes); every hidden layer keeps at least its best-scoring node; masks only shrink.
A round at target κ leaves exactly ``round(κ·N)`` of the N hidden nodes pruned, or as many as the
keep-one-per-layer rule allows.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, fields
from typing import NamedTuple

import torch
from torch import nn

from prunekit.criteria.base import LossFn, ScoringBudget, scoring_budget
from prunekit.criteria.weight.sensitivity import SCORE_MODES
from prunekit.core.determinism import single_threaded
from prunekit.core.labels import check_labels
from prunekit.core.masks import apply_mask, current_mask, weight_sparsity
from prunekit.pruning.prunability import log_summary
from prunekit.pruning.before import DEFAULT_BATCH_SIZE, DEFAULT_SAMPLES, scoring_context
from prunekit.core.schedule import DEFAULT_STEPS, check_sparsity
from prunekit.pruning.targets import Target, TargetResult, check_one_of, prune_nodes_to_target
from prunekit.core.timing import Stopwatch, model_device
from prunekit.criteria.node.base import NodeCriterion, NodeScoringContext, get_node_criterion
from prunekit.core.node_masks import (
    NodeSite,
    apply_node_mask,
    check_channel_multiple,
    node_alive,
    node_sites,
    round_kept_channels,
)

log = logging.getLogger(__name__)

DEFAULT_NODE_SPARSITY = 0.5



@dataclass(frozen=True)
class NodePruneStep:
    """What one node-pruning round did (``sparsity`` is the quantity the criterion targets)."""

    round: int
    target: float
    sparsity: float
    node_sparsity: float
    nodes_alive: int
    nodes_total: int
    weight_sparsity: float
    loss: float
    seconds: float

    def as_dict(self) -> dict:
        """Plain-dict form for JSON records."""
        return asdict(self)


class NodePruneResult(NamedTuple):
    """The pruned model (node masks attached) and the record of its pruning rounds."""

    model: nn.Module
    steps: list[NodePruneStep]


def _flat(tensors: dict[str, torch.Tensor], names: list[str]) -> torch.Tensor:
    """Concatenate the named tensors, flattened, as float on the CPU."""
    return torch.cat([tensors[n].detach().reshape(-1).float().cpu() for n in names])


def _check_scores(scores: dict[str, torch.Tensor], expected: dict[str, int | tuple]) -> None:
    """Raise ValueError if a score tensor is missing, misshapen or NaN."""
    for name, shape in expected.items():
        score = scores.get(name)
        want = (shape,) if isinstance(shape, int) else tuple(shape)
        if score is None or tuple(score.shape) != want:
            got = None if score is None else tuple(score.shape)
            raise ValueError(f"score for {name} has shape {got}, expected {want}")
        if torch.isnan(score).any():
            raise ValueError(f"the criterion produced NaN scores for {name}; check the loss and the data")


def _split(flat: torch.Tensor, sizes: dict[str, int]) -> dict[str, torch.Tensor]:
    """Cut a flat tensor back into named pieces of the given sizes."""
    return dict(zip(sizes, torch.split(flat, list(sizes.values()))))


def keep_nodes(alive: dict[str, torch.Tensor], scores: dict[str, torch.Tensor], sparsity: float) -> dict[str, torch.Tensor]:
    """Node masks keeping the ``N − round(κ·N)`` best alive nodes, at least the best one per layer.

    Already-pruned nodes rank last (masks only shrink); ties go to the earlier node.
    """
    names = list(alive)
    _check_scores(scores, {n: alive[n].numel() for n in names})
    flags = _flat({n: alive[n] for n in names}, names) != 0
    flat = torch.where(flags, _flat(scores, names), torch.full_like(flags, -math.inf, dtype=torch.float))
    offset = 0
    for name in names:
        size = alive[name].numel()
        block = flat[offset : offset + size]
        if flags[offset : offset + size].any():
            block[int(block.argmax())] = math.inf  # never empty a layer: its best node stays
        offset += size
    n_keep = max(flat.numel() - int(round(sparsity * flat.numel())), len(names))
    keep = torch.zeros(flat.numel(), dtype=torch.bool)
    keep[torch.sort(flat, descending=True, stable=True).indices[:n_keep]] = True
    keep &= flags
    return {n: k.to(alive[n].device) for n, k in _split(keep, {n: alive[n].numel() for n in names}).items()}


def keep_nodes_per_layer(alive: dict[str, torch.Tensor], scores: dict[str, torch.Tensor],
                         sparsity: float) -> dict[str, torch.Tensor]:
    """Node masks pruning ``round(κ·N_l)`` of every hidden layer's N_l nodes, the lowest-scoring first
    (each layer keeps at least its best alive node; already-pruned nodes count towards its share)."""
    _check_scores(scores, {n: a.numel() for n, a in alive.items()})
    return {name: keep_nodes({name: alive[name]}, {name: scores[name]}, sparsity)[name] for name in alive}


def _alive(sites: dict[str, NodeSite]) -> dict[str, torch.Tensor]:
    """Alive flags of every site's nodes."""
    return {name: node_alive(site) for name, site in sites.items()}


def combined_sparsity(layers: dict[str, nn.Module], sites: dict[str, NodeSite]) -> float:
    """CNIP-it's sparsity: pruned weights plus pruned hidden nodes over all weights plus hidden nodes."""
    weights = [current_mask(m) for m in layers.values()]
    alive_nodes = _alive(sites)
    pruned = sum(int((w == 0).sum()) for w in weights) + sum(int((~a).sum()) for a in alive_nodes.values())
    total = sum(w.numel() for w in weights) + sum(a.numel() for a in alive_nodes.values())
    return pruned / total


def _row_node_ids(layers: dict[str, nn.Module], sites: dict[str, NodeSite], n_weights: int) -> torch.Tensor:
    """For every weight, the global id (after all weights) of the hidden node its row feeds, or −1."""
    offsets, start = {}, n_weights
    for name, site in sites.items():
        offsets[name] = start
        start += site.size
    ids = []
    for name, module in layers.items():
        shape = current_mask(module).shape
        row = torch.arange(shape[0]).repeat_interleave(math.prod(shape[1:]))
        ids.append(row + offsets[name] if name in offsets else torch.full_like(row, -1))
    return torch.cat(ids)


def _protect_best(
    candidate: torch.Tensor, scores: torch.Tensor, row_node: torch.Tensor, sites: dict[str, NodeSite], n_weights: int
) -> None:
    """Take each layer's best alive node, and that node's best alive weight, out of the candidates."""
    start = n_weights
    for site in sites.values():
        block = torch.where(candidate[start : start + site.size], scores[start : start + site.size], -math.inf)
        if candidate[start : start + site.size].any():
            best = start + int(block.argmax())
            candidate[best] = False
            row = (row_node == best).nonzero().squeeze(1)
            if row.numel():
                row_scores = torch.where(candidate[row], scores[row], -math.inf)
                candidate[row[int(row_scores.argmax())]] = False
        start += site.size


def _pruning_gains(order: torch.Tensor, row_node: torch.Tensor, w_alive: torch.Tensor, n_items: int) -> torch.Tensor:
    """How many union items each step of ``order`` removes (a node takes its row's later weights along)."""
    n_weights = w_alive.numel()
    position = torch.full((n_items,), math.inf)
    position[order] = torch.arange(order.numel(), dtype=torch.float)
    has_node = row_node >= 0
    node_position = torch.where(has_node, position[row_node.clamp(min=0)], math.inf)
    weight_position = position[:n_weights]
    # A weight counts when it goes before its node; a node counts itself plus its row's later weights.
    weight_gain = (weight_position < node_position).float()
    later = w_alive & has_node & (weight_position > node_position)
    row_later = torch.zeros(n_items).index_add_(0, row_node[later], torch.ones(int(later.sum())))
    return torch.cat([weight_gain, 1.0 + row_later[n_weights:]])[order]


def combined_prune_sets(
    layers: dict[str, nn.Module],
    sites: dict[str, NodeSite],
    weight_scores: dict[str, torch.Tensor],
    node_scores: dict[str, torch.Tensor],
    sparsity: float,
) -> torch.Tensor:
    """Flags over (all weights, then all hidden nodes) of the items to prune at CNIP-it target κ.

    Items go least elastic first until ``round(κ·|U|)`` of the union U are pruned; pruning a node
    also prunes the still-alive weights of its row, which count towards the target (so the last
    node may overshoot it by part of one row). Every layer keeps its best node and that node's
    best weight; weights of the output layer have no node and are ranked on their own.
    """
    _check_scores(weight_scores, {n: current_mask(m).shape for n, m in layers.items()})
    w_alive = _flat({n: current_mask(m) for n, m in layers.items()}, list(layers)) != 0
    n_alive = _flat(_alive(sites), list(sites)) != 0
    n_weights = w_alive.numel()
    scores = torch.cat([_flat(weight_scores, list(layers)), _flat(node_scores, list(sites))])
    row_node = _row_node_ids(layers, sites, n_weights)
    candidate = torch.cat([w_alive, n_alive])
    _protect_best(candidate, scores, row_node, sites, n_weights)
    need = int(round(sparsity * scores.numel())) - int((~w_alive).sum()) - int((~n_alive).sum())
    prune = torch.zeros(scores.numel(), dtype=torch.bool)
    if need <= 0 or not candidate.any():
        return prune
    ids = candidate.nonzero().squeeze(1)
    order = ids[torch.sort(scores[ids], stable=True).indices]  # least elastic first
    gains = _pruning_gains(order, row_node, w_alive, scores.numel())
    cut = int(torch.searchsorted(gains.cumsum(0), torch.tensor([float(need)]))[0])
    prune[order[: cut + 1]] = True
    return prune


def _node_round(ctx: NodeScoringContext, crit: NodeCriterion, target: float) -> None:
    """Score nodes, rank them (globally, or within each layer for ``scope="layer"``) and AND the node masks in."""
    rank = keep_nodes_per_layer if crit.scope == "layer" else keep_nodes
    with single_threaded():  # the same mask on any thread count
        scores = crit.score(ctx)
    keep = rank(_alive(ctx.sites), scores, target)
    for name, site in ctx.sites.items():
        apply_node_mask(site, keep[name])


def _combined_round(ctx: NodeScoringContext, crit: NodeCriterion, target: float) -> None:
    """Score weights and nodes, rank them together and AND both kinds of mask in."""
    with single_threaded():
        node_scores, weight_scores = crit.score_combined(ctx)
    _check_scores(node_scores, {n: s.size for n, s in ctx.sites.items()})
    prune = combined_prune_sets(ctx.layers, ctx.sites, weight_scores, node_scores, target)
    sizes = {n: current_mask(m).numel() for n, m in ctx.layers.items()}
    n_weights = sum(sizes.values())
    for (name, module), drop in zip(ctx.layers.items(), torch.split(prune[:n_weights], list(sizes.values()))):
        apply_mask(module, (~drop).reshape(current_mask(module).shape))
    node_drop = _split(prune[n_weights:], {n: s.size for n, s in ctx.sites.items()})
    for name, site in ctx.sites.items():
        # A node whose incoming weights all went is pruned as a node too (bias and BatchNorm zeroed).
        apply_node_mask(site, ~node_drop[name] & node_alive(site))


def prune_nodes_round(ctx: NodeScoringContext, crit: NodeCriterion, index: int, target: float) -> NodePruneStep:
    """One round: score, rank, mask; return what happened."""
    watch = Stopwatch(model_device(ctx.model)).start()
    if crit.combined:
        _combined_round(ctx, crit, target)
    else:
        _node_round(ctx, crit, target)
    step = _step_record(ctx, crit, index, target, watch.stop())
    log.debug("round %d: target %.4f reached %.4f (node sparsity %.4f)", index, target, step.sparsity,
              step.node_sparsity)
    return step


def _step_record(ctx: NodeScoringContext, crit: NodeCriterion, index: int, target: float,
                 seconds: float) -> NodePruneStep:
    """What a round left: the masks' sparsities as they are now."""
    alive = _alive(ctx.sites)
    nodes_alive = sum(int(a.sum()) for a in alive.values())
    nodes_total = sum(a.numel() for a in alive.values())
    node_sp = 1.0 - nodes_alive / nodes_total
    return NodePruneStep(round=index, target=target,
                         sparsity=combined_sparsity(ctx.layers, ctx.sites) if crit.combined else node_sp,
                         node_sparsity=node_sp, nodes_alive=nodes_alive, nodes_total=nodes_total,
                         weight_sparsity=weight_sparsity(ctx.model, ctx.layers), loss=ctx.last_loss, seconds=seconds)


def _rounding_step(ctx: NodeScoringContext, crit: NodeCriterion, index: int, target: float,
                   multiple: int) -> NodePruneStep:
    """Round every hidden layer's width up to ``multiple``; recorded as one more step."""
    with Stopwatch(model_device(ctx.model)) as watch:
        round_kept_channels(ctx.model, multiple)
    return _step_record(ctx, crit, index, target, watch.seconds)


def node_scoring_context(model: nn.Module, crit: NodeCriterion, data: object, budget: ScoringBudget | None = None,
                         **changes: object) -> NodeScoringContext:
    """The context shared by every round of ``prune_nodes()``; validates model, data and mode.

    ``budget`` (default: the paper's) with any :class:`ScoringBudget` field changed by keyword. Node pruning
    scores with every prunable layer: the budget's first/last-layer switches concern weight pruning only.
    """
    budget = scoring_budget(budget, **changes)
    if budget.score_mode not in SCORE_MODES:
        raise ValueError(f"score_mode must be one of {SCORE_MODES}, got {budget.score_mode!r}")
    base = scoring_context(model, crit, data, budget, include_first=True, include_last=True)
    return NodeScoringContext(**{f.name: getattr(base, f.name) for f in fields(base)}, sites=node_sites(model))


def prune_nodes(
    model: nn.Module,
    criterion: str | NodeCriterion = "snap-it",
    node_sparsity: float | None = None,
    data: object = None,
    *,
    samples: int = DEFAULT_SAMPLES,
    batch_size: int = DEFAULT_BATCH_SIZE,
    steps: int = DEFAULT_STEPS,
    loss_fn: LossFn | None = None,
    score_mode: str = "eval",
    seed: int = 0,
    channel_multiple: int = 1,
    target: Target | None = None,
) -> NodePruneResult | TargetResult:
    """Prune ``model``'s hidden nodes to ``node_sparsity`` with a named node criterion, in place.

    ``data`` is any iterable of ``(inputs, targets)`` batches or an ``(inputs, targets)`` tuple;
    each scoring round draws ``samples`` fresh samples. For ``cnip-it`` the sparsity is that of
    the union of weights and hidden nodes. The model comes back in the mode it was given.
    ``channel_multiple=m`` then gives each hidden layer back its best pruned nodes (largest L1 norm
    of their incoming weights) until its width is a multiple of ``m`` (8 or 16 suit vector units and
    tensor cores), so the node sparsity ends at or below the target; its extra step is in the record.
    ``node_sparsity`` defaults to 0.5; instead, ``target=Target(params=0.05)`` (or ``flops=``) searches the
    least node sparsity whose shrunk network keeps at most that fraction (``TargetResult`` with its report).
    """
    check_one_of(node_sparsity, target, "node_sparsity")
    budget = ScoringBudget(samples=samples, batch_size=batch_size, steps=steps, loss_fn=loss_fn, score_mode=score_mode,
                           seed=seed)
    if target is not None:
        options = dict(samples=samples, batch_size=batch_size, steps=steps, loss_fn=loss_fn, score_mode=score_mode,
                       seed=seed, channel_multiple=channel_multiple)
        return prune_nodes_to_target(model, criterion, data, target, **options)
    crit = get_node_criterion(criterion, steps=steps) if isinstance(criterion, str) else get_node_criterion(criterion)
    kappa = check_sparsity(DEFAULT_NODE_SPARSITY if node_sparsity is None else node_sparsity, "node_sparsity")
    check_channel_multiple(channel_multiple)
    ctx = node_scoring_context(model, crit, data, budget)
    check_labels(model, data, loss_fn=loss_fn)
    log_summary(model, ctx.sites, "hidden layers prunable as nodes")
    was_training = model.training
    record: list[NodePruneStep] = []
    try:
        for index, target in enumerate(crit.schedule(kappa)):
            record.append(prune_nodes_round(ctx, crit, index, target))
        if channel_multiple > 1:
            record.append(_rounding_step(ctx, crit, len(record), kappa, channel_multiple))
    finally:
        model.train(was_training)
    log.info("%s pruned %s to %.4f node sparsity (%.4f weight sparsity) in %d rounds", crit.name,
             type(model).__name__, record[-1].node_sparsity, record[-1].weight_sparsity, len(record))
    return NodePruneResult(model, record)


__all__ = ["NodePruneResult", "NodePruneStep", "combined_prune_sets", "combined_sparsity", "keep_nodes",
           "keep_nodes_per_layer",
           "node_scoring_context", "prune_nodes", "prune_nodes_round"]
