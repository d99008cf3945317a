"""Gradient saliency maps (Simonyan et al. 2014) of Figure 3: ``|∂ score_class / ∂ input|`` per pixel.

The gradient is taken w.r.t. the tensor the model receives (for prunekit's datasets the
normalised image ``(x − mean) / std``); per channel this differs from the gradient w.r.t. the raw
image only by the constant ``1/std``. The class is the model's prediction unless ``classes`` is
given (the authors' code used the prediction). The model runs in eval mode (dropout off, BatchNorm
running statistics), so each map depends on its own image only; every module's mode is restored.
Pass the same ``inputs`` for every method so their maps compare.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from prunekit.training.loop import eval_mode

CHANNEL_REDUCTIONS = ("max", None)
TOP_FRACTION = 0.05  # Figure 3's concentration measure: the share of a map's total held by its top 5 % of pixels


def _check_classes(classes: torch.Tensor, n: int, num_classes: int) -> torch.Tensor:
    """``classes`` as int64 of shape (n,) with values in [0, num_classes), else ValueError/TypeError."""
    if not isinstance(classes, torch.Tensor):
        raise TypeError(f"classes must be a torch.Tensor of class indices, got {type(classes).__name__}")
    if classes.dtype.is_floating_point or classes.dtype == torch.bool:
        raise TypeError(f"classes must be an integer tensor, got dtype {classes.dtype}")
    if tuple(classes.shape) != (n,):
        raise ValueError(f"classes must have shape ({n},), one per input, got {tuple(classes.shape)}")
    if len(classes) and (classes.min() < 0 or classes.max() >= num_classes):
        raise ValueError(f"classes must lie in [0, {num_classes}), got range "
                         f"[{int(classes.min())}, {int(classes.max())}]")
    return classes.long()


def saliency_maps(
    model: nn.Module,
    inputs: torch.Tensor,
    classes: torch.Tensor | None = None,
    channel_reduce: str | None = "max",
) -> torch.Tensor:
    """``|∂ y_c / ∂ x|`` for each input ``x`` and its class ``c`` (predicted unless given), on the inputs' device.

    ``channel_reduce="max"`` returns (N, H, W) maps, the maximum over channels as Simonyan et al.;
    ``None`` keeps the input's shape. The model's parameter gradients are not touched.
    """
    if not isinstance(inputs, torch.Tensor) or not inputs.dtype.is_floating_point:
        raise TypeError(f"inputs must be a floating-point torch.Tensor, got {getattr(inputs, 'dtype', type(inputs))}")
    if inputs.dim() < 2 or len(inputs) == 0:
        raise ValueError(f"inputs must be a non-empty batch (N, ...), got shape {tuple(inputs.shape)}")
    if channel_reduce not in CHANNEL_REDUCTIONS:
        raise ValueError(f"channel_reduce must be one of {CHANNEL_REDUCTIONS}, got {channel_reduce!r}")
    if channel_reduce == "max" and inputs.dim() != 4:
        raise ValueError(f"channel_reduce='max' needs (N, C, H, W) inputs, got shape {tuple(inputs.shape)}")
    x = inputs.detach().clone().requires_grad_(True)
    with eval_mode(model), torch.enable_grad():
        scores = model(x)
        if scores.dim() != 2:
            raise ValueError(f"the model must return (N, classes) scores, got shape {tuple(scores.shape)}")
        chosen = scores.argmax(1) if classes is None else _check_classes(classes.to(scores.device), len(x),
                                                                         scores.shape[1])
        # In eval mode samples do not interact, so the gradient of the sum splits into per-sample gradients.
        picked = scores.gather(1, chosen.view(-1, 1)).sum()
        (grad,) = torch.autograd.grad(picked, x)
    maps = grad.abs()
    return maps.amax(dim=1) if channel_reduce == "max" else maps


def top_share(maps: torch.Tensor, fraction: float = TOP_FRACTION) -> torch.Tensor:
    """Per map, the share of its total saliency held by its ``ceil(fraction · pixels)`` most salient pixels.

    ``maps`` is (N, ...) non-negative (e.g. :func:`saliency_maps`); the result is (N,) in
    ``[k / pixels, 1]``: ``fraction`` (rounded up to whole pixels) for a uniform map, 1 for a map
    that is zero outside ``k`` pixels. A high share means a model that looks at few pixels. A map
    that is zero everywhere (a class score that no input pixel reaches, e.g. an output unit pruned
    off every path from the input) has no concentration: NaN.
    """
    if not isinstance(maps, torch.Tensor) or not maps.dtype.is_floating_point:
        raise TypeError(f"maps must be a floating-point torch.Tensor, got {getattr(maps, 'dtype', type(maps))}")
    if maps.dim() < 2 or len(maps) == 0 or maps[0].numel() == 0:
        raise ValueError(f"maps must be a non-empty batch (N, ...) of maps, got shape {tuple(maps.shape)}")
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    flat = maps.detach().flatten(1).to(torch.float64)
    if (flat < 0).any():
        raise ValueError("maps must be non-negative (absolute gradients), got negative values")
    totals = flat.sum(1)
    k = min(flat.shape[1], math.ceil(fraction * flat.shape[1] - 1e-9))
    shares = flat.topk(k, dim=1).values.sum(1) / totals
    return torch.where(totals > 0, shares, torch.full_like(shares, math.nan))


def region_share(maps: torch.Tensor, region: torch.Tensor) -> torch.Tensor:
    """Per map, the share of its total saliency that falls inside ``region`` (a boolean mask of one map's shape);
    NaN for a map that is zero everywhere."""
    if not isinstance(maps, torch.Tensor) or not maps.dtype.is_floating_point:
        raise TypeError(f"maps must be a floating-point torch.Tensor, got {getattr(maps, 'dtype', type(maps))}")
    if not isinstance(region, torch.Tensor) or region.dtype != torch.bool:
        raise TypeError(f"region must be a boolean torch.Tensor, got {getattr(region, 'dtype', type(region))}")
    if maps.dim() < 2 or tuple(region.shape) != tuple(maps.shape[1:]):
        raise ValueError(f"region must have the shape of one map, {tuple(maps.shape[1:])}, got {tuple(region.shape)}")
    flat = maps.detach().flatten(1).to(torch.float64)
    totals = flat.sum(1)
    inside = flat[:, region.reshape(-1).to(flat.device)].sum(1)
    return torch.where(totals > 0, inside / totals, torch.full_like(totals, math.nan))


__all__ = ["TOP_FRACTION", "eval_mode", "region_share", "saliency_maps", "top_share"]
