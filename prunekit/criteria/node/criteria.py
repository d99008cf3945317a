"""Node criteria behind their own registry: a node criterion scores hidden nodes, shared code prunes.

``snap-it`` (Section 3, Formula 4) and its one-shot form ``snap``; ``cnip-it`` (Appendix B), which
scores weights and nodes on one elasticity scale; ``random`` (structured random). The structured
baselines of Section 5 that prune a trained network or while it trains carry their settings here and
run in the training loop (:mod:`prunekit.pruning.nodes_after`): ``efficientconvnets`` (L1 norm of a
node's incoming weights, Li et al. 2017), ``gatedecorators`` (Taylor score of a trained gate, You et
al. 2019), ``group-hs`` (group Hoyer-square regulariser, Yang et al. 2020) and ``l0`` (hard-concrete
gates, Louizos et al. 2018).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import torch

from prunekit.criteria.base import ScoringContext
from prunekit.criteria.weight.sensitivity import scoring_mode
from prunekit.core.masks import effective_weight
from prunekit.core.schedule import DEFAULT_STEPS, check_sparsity, one_shot_schedule, snip_it_schedule
from prunekit.criteria.node.elasticity import Elasticities, gate_derivatives
from prunekit.criteria.node.gates import DEFAULT_DROPRATE_INIT, DEFAULT_TEMPERATURE, HardConcreteGates, hard_concrete_mean
from prunekit.criteria.node.grouphoyer import row_max_magnitude
from prunekit.core.node_masks import NodeSite

SCOPES = ("global", "layer")
DEFAULT_FINETUNE_FRACTION = 10 / 80  # Appendix F: after-training methods train 70 epochs, prune, fine-tune 10
DEFAULT_THRESHOLD = 1e-3  # Appendix F: Group-HS's (and HoyerSquare's) threshold
DEFAULT_GATE_STEP = 0.05  # the authors' GateDecorators: node sparsity 1 %, 6 %, 11 %, … then κ


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
    #: When the method prunes, the first being its default: "before" training, "during" or "after" it.
    timings: tuple[str, ...] = ("before",)
    #: False for methods whose node sparsity follows from a regulariser strength λ instead of a target κ.
    targets_sparsity: bool = True
    #: The method's epoch budget as a multiple of the others' (the paper: 2 for L0 and GateDecorators).
    epoch_factor: int = 1
    #: "global": nodes ranked across all hidden layers; "layer": every hidden layer loses the same share.
    scope: str = "global"

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
    timings = ("before", "during")  # during: Appendix E's abandoned variant, rounds every τ epochs of training

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
    timings = ("before",)

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


def _check_fraction(name: str, value: object, *, low: float = 0.0, high: float = 1.0) -> float:
    """Return ``value`` as a float in [low, high), else raise ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value < high:
        raise ValueError(f"{name} must be a number in [{low:g}, {high:g}), got {value!r}")
    return float(value)


def check_lambda(name: str, value: object) -> float:
    """Return a regulariser strength λ as a finite float >= 0, else raise ValueError naming the method."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0:
        raise ValueError(f"{name}'s lam (λ) must be a finite number >= 0, got {value!r}")
    return float(value)


def _check_positive(name: str, value: object) -> float:
    """Return ``value`` as a positive finite float, else raise ValueError naming it."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value <= 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


class _AfterTraining(NodeCriterion):
    """A structured baseline that prunes a trained network: train, cut at ``1 − finetune_fraction``, fine-tune."""

    needs_data = False
    timings = ("after",)

    def __init__(self, steps: int = DEFAULT_STEPS, finetune_fraction: float = DEFAULT_FINETUNE_FRACTION) -> None:
        super().__init__(steps)
        self.finetune_fraction = _check_fraction("finetune_fraction", finetune_fraction)

    def cut_epoch(self, epochs: int) -> float:
        """The (fractional) epoch after which the network is pruned."""
        return (1.0 - self.finetune_fraction) * epochs

    def round_epochs(self, sparsity: float, epochs: int) -> list[float]:
        """The (fractional) epochs after which the pruning rounds run: one round, at the cut."""
        return [self.cut_epoch(epochs)]


@register_node_criterion
class EfficientConvNets(_AfterTraining):
    """EfficientConvNets (Li et al. 2017): a node's score is the L1 norm of its weight row / filter.

    Applied to a trained network, once, after ``1 − finetune_fraction`` of the budget; like Li et al.
    and the authors' code, every hidden layer loses the same share κ of its nodes (``scope="layer"``).
    """

    name = "efficientconvnets"
    description = "L1 norm of each node's incoming weights, every layer pruned to κ after training, then fine-tuned"

    def __init__(self, steps: int = DEFAULT_STEPS, finetune_fraction: float = DEFAULT_FINETUNE_FRACTION,
                 scope: str = "layer") -> None:
        super().__init__(steps, finetune_fraction)
        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {', '.join(SCOPES)}, got {scope!r}")
        self.scope = scope

    def score(self, ctx: NodeScoringContext) -> dict[str, torch.Tensor]:
        """L1 norm of every node's masked incoming weights."""
        return {name: effective_weight(site.layer).detach().abs().flatten(1).sum(1)
                for name, site in ctx.sites.items()}


@register_node_criterion
class GateDecorators(SNAP):
    """GateDecorators (You et al. 2019, the authors' reading): Taylor score ``|φ·∂L/∂φ|`` of trained node gates φ.

    The run trains the dense network for half of its doubled budget, then attaches gates φ = 1 after
    every hidden node's BatchNorm, keeps training them with the network and prunes iteratively (node
    sparsity 1 %, 6 %, 11 %, … then κ, as the authors' code), the rounds spread evenly until
    ``1 − finetune_fraction`` of the budget; the rest fine-tunes. The score of a round is the gate
    derivative accumulated over the scoring batches (2560 samples); with φ folded into the gate
    position it equals ``|φ ⊙ ∂L/∂φ|``.
    """

    name = "gatedecorators"
    description = "Taylor score |φ·∂L/∂φ| of node gates trained after dense training, pruned iteratively, 2× epochs"
    timings = ("after",)
    epoch_factor = 2

    def __init__(self, steps: int = DEFAULT_STEPS, step: float = DEFAULT_GATE_STEP,
                 finetune_fraction: float = DEFAULT_FINETUNE_FRACTION) -> None:
        super().__init__(steps)
        self.step = _check_fraction("GateDecorators' step", step, low=1e-3)
        self.finetune_fraction = _check_fraction("finetune_fraction", finetune_fraction)

    def schedule(self, sparsity: float) -> list[float]:
        """Node sparsity 1 %, 1 % + step, … below κ, then κ (the authors' GateDecorators)."""
        kappa = check_sparsity(sparsity)
        targets, target = [], 0.01
        while target < kappa - 1e-9:
            targets.append(round(target, 10))
            target += self.step
        return targets + [kappa]

    def round_epochs(self, sparsity: float, epochs: int) -> list[float]:
        """Rounds evenly spaced after the dense half of the budget, the last at ``1 − finetune_fraction``."""
        start, end = epochs / self.epoch_factor, (1.0 - self.finetune_fraction) * epochs
        n = len(self.schedule(sparsity))
        return [start + (i + 1) * (end - start) / n for i in range(n)]

    def score(self, ctx: NodeScoringContext) -> dict[str, torch.Tensor]:
        """``|φ·∂L/∂φ|`` per node: the gate derivative at the gate position (φ = 1 where no gate is attached)."""
        return {name: d.abs() for name, d in _elasticities(ctx, with_weights=False).nodes.items()}


@register_node_criterion
class GroupHoyerSquare(_AfterTraining):
    """Group-HS (Yang et al. 2020): train with ``λ·Σ H_G``, cut nodes whose every weight has ``|w| ≤ threshold``.

    The cut keeps a node when the largest magnitude of its weight row exceeds the threshold (the
    authors' code: "any weight above 1e-3"; an ℓ∞ group norm), and every layer its best node. Its
    node sparsity follows from λ, which the paper sweeps over 10 log steps in [1e-6, 5].
    """

    name = "group-hs"
    description = "group Hoyer-square regulariser on node groups, then cut nodes with max|w| <= 1e-3 and fine-tune"
    targets_sparsity = False

    def __init__(self, steps: int = DEFAULT_STEPS, lam: float = 1e-4, threshold: float = DEFAULT_THRESHOLD,
                 finetune_fraction: float = DEFAULT_FINETUNE_FRACTION) -> None:
        super().__init__(steps, finetune_fraction)
        self.lam = check_lambda("Group-HS", lam)
        self.threshold = _check_positive("Group-HS's threshold", threshold)

    def score(self, ctx: NodeScoringContext) -> dict[str, torch.Tensor]:
        """``max |w|`` of every node's incoming weights (what the threshold is applied to)."""
        return {name: row_max_magnitude(effective_weight(site.layer)) for name, site in ctx.sites.items()}

    def threshold_keep(self, sites: dict[str, NodeSite]) -> dict[str, torch.Tensor]:
        """Keep the nodes whose row has a weight above the threshold, and at least the best node of each layer."""
        keep = {}
        for name, site in sites.items():
            magnitude = row_max_magnitude(effective_weight(site.layer))
            alive = magnitude > self.threshold
            alive[int(magnitude.argmax())] = True
            keep[name] = alive
        return keep


@register_node_criterion
class L0(NodeCriterion):
    """L0 regularisation (Louizos et al. 2018) on nodes: hard-concrete gates, loss ``L + λ·E[L0] / N_nodes``.

    Trained for twice the budget; the nodes whose test-time gate is exactly 0 are removed at the end
    and the others' gate values folded into the network. Its node sparsity follows from λ.
    """

    name = "l0"
    needs_data = False
    description = "hard-concrete gates per node with an expected-L0 penalty, 2× epochs, zero gates removed"
    timings = ("during",)
    targets_sparsity = False
    epoch_factor = 2

    def __init__(self, steps: int = DEFAULT_STEPS, lam: float = 1.0, droprate_init: float = DEFAULT_DROPRATE_INIT,
                 temperature: float = DEFAULT_TEMPERATURE) -> None:
        super().__init__(steps)
        self.lam = check_lambda("L0", lam)
        self.droprate_init = _check_fraction("droprate_init", droprate_init, low=1e-6, high=1.0)
        self.temperature = _check_positive("L0's temperature", temperature)

    def gates(self, sites: dict[str, NodeSite], generator: torch.Generator | None = None) -> HardConcreteGates:
        """Fresh, unattached hard-concrete gates for ``sites`` with this method's settings."""
        return HardConcreteGates(sites, self.droprate_init, self.temperature, generator)

    def score(self, ctx: NodeScoringContext) -> dict[str, torch.Tensor]:
        """The test-time gate of every node (0: removed); needs gates trained by L0 regularisation."""
        scores = {}
        for name, site in ctx.sites.items():
            log_alpha = getattr(site.gate_module, HardConcreteGates.attribute, None)
            if log_alpha is None:
                raise ValueError(f"L0 scores the hard-concrete gates that L0 regularisation trains, and {name} has "
                                 f"none: run it through RunConfig(criterion='l0', structured=True)")
            scores[name] = hard_concrete_mean(log_alpha.detach())
        return scores


__all__ = [
    "CNIPit",
    "DEFAULT_FINETUNE_FRACTION",
    "EfficientConvNets",
    "GateDecorators",
    "GroupHoyerSquare",
    "L0",
    "SCOPES",
    "check_lambda",
    "NodeCriterion",
    "NodeScoringContext",
    "SNAP",
    "SNAPit",
    "StructuredRandom",
    "available_node_criteria",
    "get_node_criterion",
    "register_node_criterion",
]
