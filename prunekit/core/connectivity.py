"""Connectivity of masked networks: the fraction of input→output paths that survive pruning.

Paths are counted SynFlow-style on a float64 deep copy of the model: every prunable weight is
replaced by its 0/1 mask (all ones when unpruned), biases are zero, normalisation layers, dropout
and activation modules become identities (with non-negative signals a functional ReLU is one
already), and max pooling becomes average pooling over the same window. An all-ones input then
yields, summed over the outputs, the number of surviving paths; dividing by the same count with
every mask set to one gives the fraction. For chains and residual sums of Linear/Conv layers the
count is exact; average pooling weights each path by 1/window, which cancels in the fraction when
windows are uniform (adaptive pooling with uneven bins gives a correspondingly weighted fraction).
Whether any path survives is exact in every case.
"""

from __future__ import annotations

import copy
import logging

import torch
from torch import nn

from prunekit.core.masks import PRUNABLE_TYPES
from prunekit.core.timing import model_device

log = logging.getLogger(__name__)

_IDENTITY_TYPES: tuple[type[nn.Module], ...] = (
    nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm, nn.LocalResponseNorm,
    nn.modules.dropout._DropoutNd,
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.RReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU,
    nn.Mish, nn.Tanh, nn.Sigmoid, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid, nn.Softplus, nn.Softsign,
    nn.Tanhshrink, nn.Threshold, nn.LogSigmoid, nn.Softmax, nn.LogSoftmax,
)
_MAX_TO_AVG = {nn.MaxPool1d: nn.AvgPool1d, nn.MaxPool2d: nn.AvgPool2d, nn.MaxPool3d: nn.AvgPool3d}


def detached_deepcopy(model: nn.Module) -> nn.Module:
    """``copy.deepcopy`` that also works after a forward pass of a pruned model (non-leaf ``weight``)."""
    memo: dict[int, object] = {}
    for module in model.modules():
        for value in vars(module).values():
            if isinstance(value, torch.Tensor) and not value.is_leaf:
                memo[id(value)] = value.detach().clone()
    return copy.deepcopy(model, memo)


def _linearised_pathway(model: nn.Module, ones_mask: bool) -> nn.Module:
    """Float64 copy whose weights are masks (or ones), biases zero, and non-linear modules identities."""
    twin = detached_deepcopy(model).double().eval()
    for parent in list(twin.modules()):
        for child_name, child in list(parent.named_children()):
            if isinstance(child, _IDENTITY_TYPES):
                setattr(parent, child_name, nn.Identity())
            elif type(child) in _MAX_TO_AVG:
                if child.dilation not in (1, (1,), (1, 1), (1, 1, 1)) or child.return_indices:
                    raise ValueError(f"cannot count paths through {child!r} (dilation or return_indices)")
                setattr(parent, child_name, _MAX_TO_AVG[type(child)](
                    child.kernel_size, child.stride, child.padding, ceil_mode=child.ceil_mode))
    with torch.no_grad():
        for module in twin.modules():
            if isinstance(module, PRUNABLE_TYPES):
                weight = module.weight_orig if hasattr(module, "weight_orig") else module.weight
                weight.fill_(1.0)
                if ones_mask and hasattr(module, "weight_mask"):
                    module.weight_mask.fill_(1.0)
                if hasattr(module, "weight_mask"):
                    module.weight = weight * module.weight_mask
            if isinstance(getattr(module, "bias", None), torch.Tensor):
                module.bias.zero_()
    return twin


def path_count(model: nn.Module, input_shape: tuple[int, ...], ones_mask: bool = False) -> float:
    """Number of input→output paths through the kept weights (through all weights if ``ones_mask``)."""
    twin = _linearised_pathway(model, ones_mask)
    device = model_device(twin)
    with torch.no_grad():
        return float(twin(torch.ones((1, *input_shape), dtype=torch.float64, device=device)).sum())


def path_count_fraction(model: nn.Module, input_shape: tuple[int, ...]) -> float:
    """Fraction of input→output paths that survive the masks: 1.0 unpruned, 0.0 disconnected."""
    full = path_count(model, input_shape, ones_mask=True)
    if not full > 0:
        raise ValueError(f"{type(model).__name__} has no input→output path even unpruned (count {full})")
    fraction = path_count(model, input_shape) / full
    log.debug("path fraction of %s: %.3g", type(model).__name__, fraction)
    return fraction


def is_disconnected(model: nn.Module, input_shape: tuple[int, ...]) -> bool:
    """True when pruning left no path from any input to any output."""
    return path_count(model, input_shape) == 0.0
