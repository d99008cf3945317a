"""Which channels a shrunk network kept, numbered as in the unshrunk network, and how to cut a fresh one alike.

:func:`prunekit.pruning.shrink` notes every removal torch-pruning makes and leaves the result on the
small network (attribute :data:`KEPT_ATTRIBUTE`). A freshly constructed network of the same class is then
cut the same way with :func:`cut_like`, module by module, with no tracing and no example inputs: that is
how a portable artifact (:mod:`prunekit.pruning.artifact`) rebuilds a shrunk network from the user's own class.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch_pruning as tp
from torch import nn

log = logging.getLogger(__name__)

KEPT_ATTRIBUTE = "prunekit_kept_channels"
KINDS = ("out", "in")


@dataclass
class KeptChannels:
    """Tensor shapes of the unshrunk network and, per module, the original indices of its kept channels."""

    original_shapes: dict[str, list[int]]
    kept: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    unsupported: list[str] = field(default_factory=list)  # pruned things that cut_like cannot replay

    def as_dict(self) -> dict:
        """Plain-dict (JSON) form."""
        return {"original_shapes": self.original_shapes, "kept": self.kept, "unsupported": self.unsupported}

    @classmethod
    def from_dict(cls, data: Mapping) -> KeptChannels:
        """Inverse of :meth:`as_dict`."""
        return cls({k: list(v) for k, v in data["original_shapes"].items()},
                   {m: {k: list(v) for k, v in kinds.items()} for m, kinds in data["kept"].items()},
                   list(data.get("unsupported", [])))


def kept_channels(model: nn.Module) -> KeptChannels | None:
    """The record a shrunk ``model`` carries, or None for a network that was never shrunk."""
    return getattr(model, KEPT_ATTRIBUTE, None)


def start_record(model: nn.Module) -> KeptChannels:
    """A record to extend while shrinking ``model``: its own (copied) if it was shrunk before, else a new one."""
    previous = kept_channels(model)
    if previous is not None:
        return copy.deepcopy(previous)
    return KeptChannels({name: list(t.shape) for name, t in model.state_dict().items()})


def _pruned_size(graph: tp.DependencyGraph, module: nn.Module, kind: str) -> int:
    """Current number of output (``out``) or input (``in``) channels of ``module``."""
    pruner = graph.get_pruner_of_module(module)
    return pruner.get_out_channels(module) if kind == "out" else pruner.get_in_channels(module)


def note_group(record: KeptChannels, graph: tp.DependencyGraph, group: object, names: Mapping[nn.Module, str]) -> None:
    """Record the channels a pruning group is about to remove (call before ``group.prune()``)."""
    for item in group:
        module = item.dep.target.module
        name = names.get(module)
        if name is None:
            if isinstance(module, nn.Parameter) or (isinstance(module, nn.Module) and any(True for _ in module.parameters())):
                record.unsupported.append(str(graph._param_to_name.get(module, type(module).__name__)))
            continue  # a stateless op of the traced graph (add, concat, activation): nothing to cut
        kind = "out" if graph.is_out_channel_pruning_fn(item.dep.handler) else "in"
        kept = record.kept.setdefault(name, {}).setdefault(kind, list(range(_pruned_size(graph, module, kind))))
        for position in sorted({int(i) for i in item.idxs}, reverse=True):
            del kept[position]


def attach(model: nn.Module, record: KeptChannels) -> None:
    """Leave ``record`` on the shrunk ``model`` (a plain attribute: copied with it, not in its state dict)."""
    object.__setattr__(model, KEPT_ATTRIBUTE, record)


def check_original_shapes(model: nn.Module, record: KeptChannels) -> None:
    """Raise ValueError naming the first tensor of ``model`` whose name or shape is not the recorded original."""
    found = {name: list(t.shape) for name, t in model.state_dict().items()}
    for name, shape in record.original_shapes.items():
        if name not in found:
            raise ValueError(f"the spec does not fit {type(model).__name__}: layer {name.rpartition('.')[0]!r} has no "
                             f"tensor {name!r} (spec shape {shape})")
        if found[name] != shape:
            raise ValueError(f"the spec does not fit {type(model).__name__}: layer {name.rpartition('.')[0]!r} has "
                             f"{name} of shape {found[name]}, the spec expects {shape}")
    extra = [name for name in found if name not in record.original_shapes]
    if extra:
        raise ValueError(f"the spec does not fit {type(model).__name__}: layer {extra[0].rpartition('.')[0]!r} "
                         f"({extra[0]}) is not in the spec")


def _cut(graph: tp.DependencyGraph, name: str, module: nn.Module, kind: str, kept: list[int]) -> None:
    """Remove from ``module`` every ``kind`` channel not in ``kept`` (original numbering)."""
    pruner = graph.get_pruner_of_module(module)
    if pruner is None:
        raise ValueError(f"cannot cut layer {name!r}: torch-pruning has no pruner for {type(module).__name__}")
    size = _pruned_size(graph, module, kind)
    if kept and (max(kept) >= size or min(kept) < 0):
        raise ValueError(f"the spec does not fit layer {name!r}: it keeps {kind}put channel {max(kept)} of a layer "
                         f"with {size}")
    removed = sorted(set(range(size)) - set(kept))
    if removed:
        (pruner.prune_out_channels if kind == "out" else pruner.prune_in_channels)(module, removed)


def cut_like(model: nn.Module, record: KeptChannels) -> nn.Module:
    """Cut a fresh, unshrunk ``model`` in place to the channels ``record`` kept; returns it."""
    if record.unsupported:
        raise ValueError(f"the spec records pruned tensors that cannot be replayed: {record.unsupported}")
    check_original_shapes(model, record)
    modules = dict(model.named_modules())
    graph = tp.DependencyGraph()  # only its registry of per-module pruners is used: no tracing
    for name, kinds in record.kept.items():
        if name not in modules:
            raise ValueError(f"the spec does not fit {type(model).__name__}: it has no layer {name!r}")
        for kind in KINDS:
            if kind in kinds:
                _cut(graph, name, modules[name], kind, kinds[kind])
    attach(model, copy.deepcopy(record))
    log.debug("cut %d layers of %s to their kept channels", len(record.kept), type(model).__name__)
    return model


__all__ = ["KEPT_ATTRIBUTE", "KeptChannels", "attach", "check_original_shapes", "cut_like", "kept_channels",
           "note_group", "start_record"]
