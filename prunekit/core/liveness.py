"""Node liveness of masked networks: which hidden units still have incoming and outgoing weights.

A *node* is an output unit of a Linear layer or an output channel of a convolution. Which layers
read a node is found once by tracing the model with ``torch.fx``: from each prunable layer we walk
forward through parameter-free or per-channel operations (BatchNorm, activations, pooling, dropout,
flatten, residual additions) to the prunable layers that consume its output.
"""

from __future__ import annotations

import logging
import operator
from dataclasses import dataclass

import torch
from torch import fx, nn

from prunekit.core.masks import PRUNABLE_TYPES, current_mask, prunable_layers

log = logging.getLogger(__name__)

# Operations after which output channel j is still channel j (or, for flatten, block j).
_CHANNEL_BREAKING = {torch.cat, torch.stack, torch.concat, torch.split, torch.chunk, operator.getitem}
# A residual sum carries the shortcut's channel even where the branch's node is dead, so a consumer's
# weights reading it are not lonely: treat the structure past a sum as unknown.
_RESIDUAL_SUMS = {operator.add, operator.iadd, torch.add}
_RESIDUAL_METHODS = ("add", "add_")


@dataclass(frozen=True)
class Consumers:
    """Prunable layers that read a layer's output; ``reaches_output`` if it also feeds the model output."""

    layers: tuple[str, ...]
    reaches_output: bool
    known: bool = True


def _walk_from(node: fx.Node, prunable: set[str]) -> Consumers:
    """Follow the users of ``node`` until prunable modules or the graph output."""
    found: list[str] = []
    reaches_output, known = False, True
    stack, seen = list(node.users), set()
    while stack:
        user = stack.pop()
        if user in seen:
            continue
        seen.add(user)
        if user.op == "output":
            reaches_output = True
        elif user.op == "call_module" and user.target in prunable:
            found.append(str(user.target))
        else:
            if user.op in ("call_function", "call_method") and (
                user.target in _CHANNEL_BREAKING or user.target in _RESIDUAL_SUMS
                or user.target in ("split", "chunk", "view_as", *_RESIDUAL_METHODS)
            ):
                known = False
            stack.extend(user.users)
    return Consumers(tuple(sorted(set(found))), reaches_output, known)


def consumer_map(model: nn.Module) -> dict[str, Consumers] | None:
    """Map every prunable layer to the prunable layers reading its output, or None if untraceable."""
    names = {n for n, m in model.named_modules() if isinstance(m, PRUNABLE_TYPES)}
    try:
        graph = fx.Tracer().trace(model)
    except Exception as err:  # noqa: BLE001 - any tracing failure means "structure unknown"
        log.warning("could not trace %s with torch.fx (%s); outgoing liveness is not checked",
                    type(model).__name__, err)
        return None
    return {
        str(node.target): _walk_from(node, names)
        for node in graph.nodes
        if node.op == "call_module" and node.target in names
    }


def _input_alive(consumer: nn.Module, n_channels: int) -> torch.Tensor | None:
    """Per producer channel: does the consumer keep any weight reading it? None if shapes disagree."""
    mask = current_mask(consumer) != 0
    if isinstance(consumer, nn.Linear):
        fan_in = mask.shape[1]
        if fan_in % n_channels:
            return None
        return mask.any(0).reshape(n_channels, fan_in // n_channels).any(1)
    groups = consumer.groups
    out_ch, in_per_group = mask.shape[:2]
    if in_per_group * groups != n_channels:
        return None
    grouped = mask.reshape(groups, out_ch // groups, in_per_group, -1)
    return grouped.any(3).any(1).reshape(n_channels)


def _incoming_alive(module: nn.Module) -> torch.Tensor:
    """Per output node: does any incoming weight survive?"""
    mask = current_mask(module)
    return (mask.reshape(mask.shape[0], -1) != 0).any(1)


@dataclass(frozen=True)
class NodeLiveness:
    """Alive flags per hidden layer (output nodes of layers that feed the model output are excluded)."""

    alive: dict[str, torch.Tensor]

    @property
    def total(self) -> int:
        """Number of hidden nodes."""
        return sum(a.numel() for a in self.alive.values())

    @property
    def dead(self) -> int:
        """Number of hidden nodes with no incoming or no outgoing weight."""
        return sum(int((~a).sum()) for a in self.alive.values())

    @property
    def sparsity(self) -> float:
        """Fraction of hidden nodes that are dead."""
        return self.dead / self.total if self.total else 0.0


def _outgoing_alive(
    name: str, n_nodes: int, info: Consumers | None, layers: dict[str, nn.Module]
) -> torch.Tensor | None:
    """Per node: does any consuming layer keep a weight reading it? None when unknown."""
    if info is None or not info.known or not info.layers:
        return None
    read = torch.zeros(n_nodes, dtype=torch.bool, device=current_mask(layers[name]).device)
    for consumer_name in info.layers:
        reads = _input_alive(layers[consumer_name], n_nodes)
        if reads is None:
            log.debug("channel mapping %s -> %s unknown; outgoing not checked", name, consumer_name)
            return None
        read |= reads
    return read


def node_liveness(model: nn.Module, consumers: dict[str, Consumers] | None = None) -> NodeLiveness:
    """Classify every hidden node as alive (has incoming and outgoing weights) or dead."""
    layers = {n: m for n, m in model.named_modules() if isinstance(m, PRUNABLE_TYPES)}
    prunable_layers(model)  # validates that there is something to measure
    consumers = consumer_map(model) if consumers is None else consumers
    alive = {}
    for name, module in layers.items():
        info = consumers.get(name) if consumers else None
        if info is not None and info.reaches_output:
            continue  # output nodes are never counted as prunable nodes
        flags = _incoming_alive(module)
        outgoing = _outgoing_alive(name, flags.numel(), info, layers)
        alive[name] = flags if outgoing is None else flags & outgoing
    return NodeLiveness(alive)


def node_sparsity(model: nn.Module) -> float:
    """Return the fraction of hidden nodes with no incoming or no outgoing weight."""
    return node_liveness(model).sparsity


def _column_keep(consumer: nn.Module, keep_channels: torch.Tensor) -> torch.Tensor | None:
    """A mask shaped like the consumer's weight that zeroes every weight reading a dropped channel."""
    weight_shape = current_mask(consumer).shape
    keep = keep_channels.to(current_mask(consumer).dtype)
    n = keep.numel()
    if isinstance(consumer, nn.Linear):
        fan_in = weight_shape[1]
        if fan_in % n:
            return None
        return keep.repeat_interleave(fan_in // n).expand(weight_shape).clone()
    groups = consumer.groups
    out_ch, in_per_group = weight_shape[:2]
    if in_per_group * groups != n:
        return None
    per_group = keep.reshape(groups, 1, in_per_group).expand(groups, out_ch // groups, in_per_group)
    spatial = (1,) * (len(weight_shape) - 2)
    return per_group.reshape(out_ch, in_per_group, *spatial).expand(weight_shape).clone()


def remove_lonely_connections(model: nn.Module, max_rounds: int = 100) -> int:
    """Prune weights into nodes nobody reads and out of nodes nothing feeds; return how many.

    A node without incoming weights still emits a constant (its bias after BatchNorm and the
    activation); like the authors' code we treat it as dead, which drops that constant.
    """
    from prunekit.core.masks import apply_mask  # local import keeps masks.py free of graph logic

    layers = {n: m for n, m in model.named_modules() if isinstance(m, PRUNABLE_TYPES)}
    consumers = consumer_map(model)
    if consumers is None:
        return 0
    removed = 0
    for _ in range(max_rounds):
        before = sum(int(current_mask(m).count_nonzero()) for m in layers.values())
        for name, module in layers.items():
            info = consumers.get(name)
            if info is None or info.reaches_output or not info.known:
                continue
            incoming = _incoming_alive(module)
            outgoing = _outgoing_alive(name, incoming.numel(), info, layers)
            if outgoing is not None and not bool(outgoing.all()):
                row_keep = outgoing.to(current_mask(module).dtype)
                shape = (-1,) + (1,) * (current_mask(module).dim() - 1)
                apply_mask(module, row_keep.reshape(shape).expand_as(current_mask(module)).clone())
            if not bool(incoming.all()):
                for consumer_name in info.layers:
                    keep = _column_keep(layers[consumer_name], incoming)
                    if keep is not None:
                        apply_mask(layers[consumer_name], keep)
        after = sum(int(current_mask(m).count_nonzero()) for m in layers.values())
        removed += before - after
        if after == before:
            break
    return removed
