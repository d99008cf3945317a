"""Grouped convolutions (RegNet, ResNeXt) under physical shrinking: which channels may go without breaking them.

A convolution with ``g`` groups stores one dense ``(out/g, in/g, k, k)`` block per group, so every group must
keep the same number of input and of output channels. torch-pruning's per-layer cut keeps the channels at the
same *offsets* of every group; it is correct only when the removed channels are whole offsets: channel ``j``
of every group at once. :func:`whole_offsets` restricts a set of removable channels to those, so a channel
is removed only when it is dead in all ``g`` groups (the others stay and keep computing zeros, as a residual
partner's channels do). Depthwise convolutions (``groups == in == out``) need none of this: each channel is
its own group and follows its input channel. A convolution with ``groups == out_channels < in_channels`` is
refused by name: torch-pruning would treat it as depthwise and cut it wrongly.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch_pruning as tp
from torch import nn

_CONV_TYPES = (nn.Conv1d, nn.Conv2d, nn.Conv3d)


def is_depthwise(module: nn.Module) -> bool:
    """True for a convolution whose every channel is its own group (``groups == in == out > 1``)."""
    return (isinstance(module, _CONV_TYPES) and module.groups > 1
            and module.groups == module.in_channels == module.out_channels)


def is_grouped(module: nn.Module) -> bool:
    """True for a convolution with several groups of more than one channel (not depthwise)."""
    return isinstance(module, _CONV_TYPES) and module.groups > 1 and not is_depthwise(module)


def check_shrinkable_convs(model: nn.Module) -> None:
    """Raise ValueError naming a convolution torch-pruning would mistake for a depthwise one."""
    for name, module in model.named_modules():
        if isinstance(module, _CONV_TYPES) and module.groups > 1 and module.groups == module.out_channels \
                and module.in_channels != module.out_channels:
            raise ValueError(f"cannot shrink {type(model).__name__}: convolution {name!r} has groups == out_channels "
                             f"== {module.groups} but {module.in_channels} input channels; torch-pruning handles such a "
                             "layer as depthwise and would cut it wrongly (exclude it or keep the network masked)")


def _whole_offset_positions(positions: Iterable[int], size: int, groups: int) -> set[int]:
    """The positions among ``positions`` whose offset is present in every one of the ``groups`` blocks."""
    block = size // groups
    present = set(positions)
    offsets = [j for j in range(block) if all(k * block + j in present for k in range(groups))]
    return {k * block + j for j in offsets for k in range(groups)}


def whole_offsets(graph: tp.DependencyGraph, group: object, roots: list[int]) -> list[int]:
    """The subset of the root channels ``roots`` whose removal cuts every grouped conv of ``group`` at whole offsets."""
    removable = set(roots)
    changed = True
    while changed:  # one grouped conv's restriction may break another's symmetry: repeat until stable
        changed = False
        for item in group:
            conv = item.dep.target.module
            if not is_grouped(conv):
                continue
            out = graph.is_out_channel_pruning_fn(item.dep.handler)
            size = conv.out_channels if out else conv.in_channels
            pairs = [(int(i), r) for i, r in zip(item.idxs, item.root_idxs) if r in removable]
            allowed = _whole_offset_positions((i for i, _ in pairs), size, conv.groups)
            dropped = {r for i, r in pairs if i not in allowed}
            if dropped:
                removable -= dropped
                changed = True
    return [r for r in roots if r in removable]


__all__ = ["check_shrinkable_convs", "is_depthwise", "is_grouped", "whole_offsets"]
