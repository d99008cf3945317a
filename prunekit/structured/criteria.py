"""Node criteria behind their own registry: a node criterion scores hidden nodes, shared code prunes.

``snap-it`` (Section 3, Formula 4) and its one-shot form ``snap``; ``cnip-it`` (Appendix B), which
scores weights and nodes on one elasticity scale; ``random`` (structured random) and
``efficientconvnets`` (L1 norm of a node's incoming weights, Li et al. 2017; meant for trained nets).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import torch

from prunekit.criteria.base import ScoringContext
from prunekit.criteria.sensitivity import scoring_mode
from prunekit.masks import effective_weight
from prunekit.schedule import DEFAULT_STEPS, one_shot_schedule, snip_it_schedule
from prunekit.structured.elasticity import Elasticities, gate_derivatives
from prunekit.structured.nodes import NodeSite


@dataclass
class NodeScoringContext(ScoringContext):
    """A scoring context that also knows the hidden-node sites (layer + following BatchNorm)."""

    sites: dict[str, NodeSite] = field(default_factory=dict)


class NodeCriterion(ABC):
    """Scores every hidden node; higher means more important. Subclasses implement ``score``."""

    name: str = ""
    needs_data: bool = True
    description: str = ""
    #: True when the criterion ranks weights and nodes together (``score_combined``).
    combined: bool = False

    def __init__(self, steps: int = DEFAULT_STEPS) -> None:
        self.steps = steps

    def schedule(self, sparsity: float) -> list[float]:
        """Sparsity targets of the successive pruning rounds (one round by default)."""
        return one_shot_schedule(sparsity)

    @abstractmethod
    def score(self, ctx: NodeScoringContext) -> dict[str, torch.Tensor]:
        """Return one 1-D score tensor per hidden layer, one entry per node."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, steps={self.steps})"


_REGISTRY: dict[str, type[NodeCriterion]] = {}


def register_node_criterion(cls: type[NodeCriterion]) -> type[NodeCriterion]:
    """Class decorator adding a node criterion to the registry under its lower-case ``name``."""
    key = cls.name.lower()
    if not key:
        raise ValueError(f"{cls.__name__} has no name to register under")
    if key in _REGISTRY and _REGISTRY[key] is not cls:
        raise ValueError(f"a node criterion named {key!r} is already registered ({_REGISTRY[key].__name__})")
    _REGISTRY[key] = cls
    return cls


def available_node_criteria() -> list[str]:
    """Names accepted by ``get_node_criterion`` (case-insensitive)."""
    return sorted(_REGISTRY)


def get_node_criterion(name: str | NodeCriterion, **options: object) -> NodeCriterion:
    """Return a node criterion instance by name, or pass an instance through."""
    if isinstance(name, NodeCriterion):
        return name
    if not isinstance(name, str):
        raise TypeError(f"node criterion must be a name or a NodeCriterion, got {type(name).__name__}; "
                        f"known names: {', '.join(available_node_criteria())}")
    key = name.strip().lower()
    if key not in _REGISTRY:
        raise ValueError(f"unknown node criterion {name!r}; known node criteria: {', '.join(available_node_criteria())}")
    return _REGISTRY[key](**options)


def _elasticities(ctx: NodeScoringContext, with_weights: bool) -> Elasticities:
    """Gate derivatives on a fresh accumulated batch in the context's scoring mode."""
    batches = ctx.draw()
    with scoring_mode(ctx.model, ctx.score_mode):
        result = gate_derivatives(ctx.model, ctx.sites, batches, ctx.loss_fn,
                                  weight_layers=ctx.layers if with_weights else None)
    ctx.last_loss = result.loss
    return result


@register_node_criterion
class SNAP(NodeCriterion):
    """One-shot node elasticity: prune to κ in a single step."""

    name = "snap"
    description = "one-shot node elasticity |∂L/∂c|/L (gate on each node's pre-activation)"

    def score(self, ctx: NodeScoringContext) -> dict[str, torch.Tensor]:
        """Node elasticity of every hidden node on a fresh accumulated batch."""
        return _elasticities(ctx, with_weights=False).node_scores()


@register_node_criterion
class SNAPit(SNAP):
    """SNAP-it: node elasticity re-scored along the κ_i schedule of Algorithm 1 on node sparsity."""

    name = "snap-it"
    description = "iterative node elasticity, re-scored after every step of the κ_i schedule"

    def schedule(self, sparsity: float) -> list[float]:
        """The κ_i schedule of Algorithm 1."""
        return snip_it_schedule(sparsity, self.steps)


@register_node_criterion
class CNIPit(SNAPit):
    """CNIP-it (Appendix B): weights and nodes ranked together by elasticity, same schedule.

    Its target κ is the pruned fraction of the union of all prunable weights and hidden nodes.
    """

    name = "cnip-it"
    description = "iterative weight and node elasticity ranked together on one scale"
    combined = True

    def score_combined(self, ctx: NodeScoringContext) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Node scores per hidden layer and weight scores per prunable layer, on one scale."""
        result = _elasticities(ctx, with_weights=True)
        return result.node_scores(), result.weight_scores()


@register_node_criterion
class StructuredRandom(NodeCriterion):
    """Structured random: uniform random node scores from the run's seeded generator."""

    name = "random"
    needs_data = False
    description = "uniformly random node scores (structured random baseline)"

    def score(self, ctx: NodeScoringContext) -> dict[str, torch.Tensor]:
        """Independent U(0, 1) scores, reproducible from the context's generator."""
        return {name: torch.rand(site.size, generator=ctx.generator).to(ctx.device)
                for name, site in ctx.sites.items()}


@register_node_criterion
class EfficientConvNets(NodeCriterion):
    """EfficientConvNets (Li et al. 2017): a node's score is the L1 norm of its weight row / filter."""

    name = "efficientconvnets"
    needs_data = False
    description = "L1 norm of each node's incoming weights (filter norm; applied after training)"

    def score(self, ctx: NodeScoringContext) -> dict[str, torch.Tensor]:
        """L1 norm of every node's masked incoming weights."""
        return {name: effective_weight(site.layer).detach().abs().flatten(1).sum(1)
                for name, site in ctx.sites.items()}


__all__ = [
    "CNIPit",
    "EfficientConvNets",
    "NodeCriterion",
    "NodeScoringContext",
    "SNAP",
    "SNAPit",
    "StructuredRandom",
    "available_node_criteria",
    "get_node_criterion",
    "register_node_criterion",
]
