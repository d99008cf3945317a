"""The criterion protocol and its registry: a criterion scores weights, shared code prunes."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from prunekit.core.sampling import Batch, SampleStream
from prunekit.core.schedule import DEFAULT_STEPS, one_shot_schedule

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class ScoringContext:
    """Everything a criterion may use to score: the model, its prunable layers and a data stream."""

    model: nn.Module
    layers: dict[str, nn.Module]
    loss_fn: LossFn
    stream: SampleStream | None
    generator: torch.Generator
    device: torch.device
    score_mode: str = "eval"
    last_loss: float = field(default=float("nan"))

    def draw(self) -> list[Batch]:
        """Fresh batches totalling the scoring budget, already on the model's device."""
        if self.stream is None:
            raise ValueError("this criterion scores on data, but prune() was called with data=None")
        return [
            (x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True))
            for x, y in self.stream.draw()
        ]


class Criterion(ABC):
    """Scores every prunable weight; higher means more important. Subclasses implement ``score``."""

    name: str = ""
    needs_data: bool = True
    description: str = ""
    # When the method prunes, the first being its default: "before" training (at initialisation),
    # "during" training (τ epochs between rounds) or "after" training (HoyerSquare's threshold).
    timings: tuple[str, ...] = ("before", "during")
    # False: already-pruned weights rank last, so masks only shrink. True (FORCE): every round re-chooses
    # the mask among all weights, so a weight pruned earlier may come back.
    regrows: bool = False
    # False for methods whose sparsity follows from a regulariser strength instead of a target κ.
    targets_sparsity: bool = True

    def __init__(self, steps: int = DEFAULT_STEPS) -> None:
        self.steps = steps

    def schedule(self, sparsity: float) -> list[float]:
        """Sparsity targets of the successive pruning rounds (one round by default)."""
        return one_shot_schedule(sparsity)

    @abstractmethod
    def score(self, ctx: ScoringContext) -> dict[str, torch.Tensor]:
        """Return one score tensor per layer, shaped like its weight."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, steps={self.steps})"


_REGISTRY: dict[str, type[Criterion]] = {}


def register(cls: type[Criterion]) -> type[Criterion]:
    """Class decorator adding a criterion to the registry under its lower-case ``name``."""
    key = cls.name.lower()
    if not key:
        raise ValueError(f"{cls.__name__} has no name to register under")
    if key in _REGISTRY and _REGISTRY[key] is not cls:
        raise ValueError(f"a criterion named {key!r} is already registered ({_REGISTRY[key].__name__})")
    _REGISTRY[key] = cls
    return cls


def available_criteria() -> list[str]:
    """Names accepted by ``get_criterion`` (case-insensitive)."""
    return sorted(_REGISTRY)


def get_criterion(name: str | Criterion, **options: object) -> Criterion:
    """Return a criterion instance by name, or pass an instance through."""
    if isinstance(name, Criterion):
        return name
    if not isinstance(name, str):
        raise TypeError(f"criterion must be a name or a Criterion, got {type(name).__name__}")
    key = name.strip().lower()
    if key not in _REGISTRY:
        raise ValueError(f"unknown criterion {name!r}; known criteria: {', '.join(available_criteria())}")
    return _REGISTRY[key](**options)
