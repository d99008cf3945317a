"""The criterion protocol and its one registry: a criterion scores weights or nodes, shared code prunes.

Every criterion has a ``granularity``: ``"weight"`` (it scores every prunable weight, :mod:`criteria.weight`)
or ``"node"`` (it scores every hidden node, :mod:`criteria.node`). The registry is keyed by (granularity,
name), so a weight and a node criterion may share a name (``random``).
"""

from __future__ import annotations

import importlib
import pkgutil
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace

import torch
from torch import nn

from prunekit.core.sampling import Batch, SampleStream
from prunekit.core.schedule import DEFAULT_STEPS, one_shot_schedule

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

DEFAULT_SAMPLES = 2560  # the paper's accumulated batch: 5 × 512
DEFAULT_BATCH_SIZE = 512


@dataclass(frozen=True)
class ScoringBudget:
    """How a criterion scores: samples and batch size per round, rounds, loss, which layers, mode and seed."""

    samples: int = DEFAULT_SAMPLES
    batch_size: int = DEFAULT_BATCH_SIZE
    steps: int = DEFAULT_STEPS
    loss_fn: LossFn | None = None
    include_first: bool = True
    include_last: bool = True
    score_mode: str = "eval"
    seed: int = 0

    def options(self) -> dict[str, object]:
        """The budget as keyword arguments of ``prune()`` / ``prune_nodes()`` (values not copied)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def scoring_budget(budget: ScoringBudget | None = None, **changes: object) -> ScoringBudget:
    """``budget`` (default: the paper's) with the named fields changed; unknown names raise TypeError."""
    names = {f.name for f in fields(ScoringBudget)}
    unknown = sorted(set(changes) - names)
    if unknown:
        raise TypeError(f"unknown scoring setting(s) {unknown}; accepted: {', '.join(sorted(names))}")
    if budget is not None and not isinstance(budget, ScoringBudget):
        raise TypeError(f"budget must be a ScoringBudget, got {type(budget).__name__}")
    return replace(budget or ScoringBudget(), **changes)


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


# Each granularity and the base class its criteria subclass (named in error messages).
GRANULARITIES: dict[str, str] = {"weight": "Criterion", "node": "NodeCriterion"}


class Criterion(ABC):
    """Scores every prunable weight (or node); higher means more important. Subclasses implement ``score``."""

    name: str = ""
    granularity: str = "weight"
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


_REGISTRY: dict[tuple[str, str], type[Criterion]] = {}


def check_granularity(granularity: object) -> str:
    """Return ``granularity`` if it is one the registry knows, else raise ValueError listing them."""
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {', '.join(map(repr, GRANULARITIES))}, got {granularity!r}")
    return granularity


def register(cls: type[Criterion]) -> type[Criterion]:
    """Class decorator adding a criterion to the registry under its granularity and lower-case ``name``."""
    if not (isinstance(cls, type) and issubclass(cls, Criterion)):
        raise TypeError(f"only Criterion subclasses can be registered, got {cls!r}")
    key = (check_granularity(cls.granularity), cls.name.lower())
    if not key[1]:
        raise ValueError(f"{cls.__name__} has no name to register under")
    if key in _REGISTRY and _REGISTRY[key] is not cls:
        raise ValueError(f"a {_kind(key[0])} named {key[1]!r} is already registered ({_REGISTRY[key].__name__})")
    _REGISTRY[key] = cls
    return cls


def _kind(granularity: str) -> str:
    """'criterion' or 'node criterion': how messages name a criterion of this granularity."""
    return "criterion" if granularity == "weight" else f"{granularity} criterion"


def available_criteria(granularity: str = "weight") -> list[str]:
    """Names of the criteria of ``granularity`` that ``get_criterion`` accepts (case-insensitive)."""
    check_granularity(granularity)
    return sorted(name for kind, name in _REGISTRY if kind == granularity)


def criterion_class(name: str, *, granularity: str = "weight") -> type[Criterion]:
    """The registered class of criterion ``name`` (its timings, needs_data, … without building one)."""
    if not isinstance(name, str):
        raise TypeError(f"{_kind(granularity)} name must be a string, got {type(name).__name__}")
    key = name.strip().lower()
    if (check_granularity(granularity), key) in _REGISTRY:
        return _REGISTRY[(granularity, key)]
    others = [kind for kind in GRANULARITIES if kind != granularity and (kind, key) in _REGISTRY]
    hint = f" ({name!r} is a {others[0]} criterion: pass granularity={others[0]!r})" if others else ""
    raise ValueError(f"unknown {_kind(granularity)} {name!r}{hint}; known {_kind(granularity).replace('criterion', 'criteria')}: "
                     f"{', '.join(available_criteria(granularity))}")


def get_criterion(name: str | Criterion, *, granularity: str = "weight", **options: object) -> Criterion:
    """Return a criterion of ``granularity`` by name (built with ``options``), or pass an instance through."""
    check_granularity(granularity)
    if isinstance(name, Criterion) and name.granularity == granularity:
        return name
    if not isinstance(name, str):
        got = f"a {name.granularity} criterion" if isinstance(name, Criterion) else type(name).__name__
        raise TypeError(f"{_kind(granularity)} must be a name or a {GRANULARITIES[granularity]}, got {got}; "
                        f"known names: {', '.join(available_criteria(granularity))}")
    return criterion_class(name, granularity=granularity)(**options)


def register_package(package: str, path: list[str]) -> None:
    """Import every module of a criteria package, so each criterion registers itself (one file per method)."""
    for module in sorted(info.name for info in pkgutil.iter_modules(path)):
        importlib.import_module(f"{package}.{module}")
