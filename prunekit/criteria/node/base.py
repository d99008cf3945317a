"""The node criterion: a Criterion of granularity "node" that scores hidden nodes; shared code prunes them.

``get_node_criterion``, ``available_node_criteria`` and ``register_node_criterion`` are the one registry of
:mod:`prunekit.criteria.base` seen at granularity ``"node"``. The option checks here are shared by the
methods' settings (fractions of the budget, regulariser strengths λ, thresholds).
"""

from __future__ import annotations

import math
from abc import abstractmethod
from dataclasses import dataclass, field

import torch

from prunekit.core.node_masks import NodeSite
from prunekit.criteria.base import Criterion, ScoringContext, available_criteria, get_criterion, register

SCOPES = ("global", "layer")


@dataclass
class NodeScoringContext(ScoringContext):
    """A scoring context that also knows the hidden-node sites (layer + following BatchNorm)."""

    sites: dict[str, NodeSite] = field(default_factory=dict)


class NodeCriterion(Criterion):
    """Scores every hidden node; higher means more important. Subclasses implement ``score``."""

    granularity = "node"
    #: True when the criterion ranks weights and nodes together (``score_combined``).
    combined: bool = False
    #: When the method prunes, the first being its default: "before" training, "during" or "after" it.
    timings: tuple[str, ...] = ("before",)
    #: The method's epoch budget as a multiple of the others' (the paper: 2 for L0 and GateDecorators).
    epoch_factor: int = 1
    #: "global": nodes ranked across all hidden layers; "layer": every hidden layer loses the same share.
    scope: str = "global"

    @abstractmethod
    def score(self, ctx: NodeScoringContext) -> dict[str, torch.Tensor]:
        """Return one 1-D score tensor per hidden layer, one entry per node."""


def register_node_criterion(cls: type[NodeCriterion]) -> type[NodeCriterion]:
    """Class decorator adding a node criterion to the registry under its lower-case ``name``."""
    if not (isinstance(cls, type) and issubclass(cls, NodeCriterion)):
        raise TypeError(f"register_node_criterion takes a NodeCriterion subclass, got {cls!r}")
    return register(cls)


def available_node_criteria() -> list[str]:
    """Names accepted by ``get_node_criterion`` (case-insensitive)."""
    return available_criteria("node")


def get_node_criterion(name: str | NodeCriterion, **options: object) -> NodeCriterion:
    """Return a node criterion instance by name, or pass an instance through."""
    return get_criterion(name, granularity="node", **options)


def check_fraction(name: str, value: object, *, low: float = 0.0, high: float = 1.0) -> float:
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


def check_positive(name: str, value: object) -> float:
    """Return ``value`` as a positive finite float, else raise ValueError naming it."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value <= 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


__all__ = ["SCOPES", "NodeCriterion", "NodeScoringContext", "available_node_criteria", "check_fraction",
           "check_lambda", "check_positive", "get_node_criterion", "register_node_criterion"]
