"""Weight masks in the ``torch.nn.utils.prune`` convention, sparsity measures and node liveness.

A pruned layer carries ``weight_orig`` (a parameter), ``weight_mask`` (a buffer) and a forward
pre-hook that sets ``weight = weight_orig * weight_mask``, exactly as ``torch.nn.utils.prune``
does, so ``prune.is_pruned`` and ``prune.remove`` keep working on our models.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils import prune

log = logging.getLogger(__name__)

PRUNABLE_TYPES: tuple[type[nn.Module], ...] = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def prunable_layers(
    model: nn.Module, include_first: bool = True, include_last: bool = True
) -> dict[str, nn.Module]:
    """Return the model's Linear/Conv layers in definition order, optionally without the outer two."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    layers = {name: m for name, m in model.named_modules() if isinstance(m, PRUNABLE_TYPES)}
    if not layers:
        raise ValueError(
            f"{type(model).__name__} has no prunable layer: prunekit prunes the weights of "
            f"{', '.join(t.__name__ for t in PRUNABLE_TYPES)} modules and found none"
        )
    names = list(layers)
    dropped = set()
    if not include_first:
        dropped.add(names[0])
    if not include_last:
        dropped.add(names[-1])
    kept = {n: layers[n] for n in names if n not in dropped}
    if not kept:
        raise ValueError(
            f"no prunable layer left after excluding the first/last layer of {type(model).__name__} "
            f"(it has only {names})"
        )
    return kept


def current_mask(module: nn.Module) -> torch.Tensor:
    """Return the module's weight mask, all ones when it is not pruned."""
    mask = getattr(module, "weight_mask", None)
    if mask is not None:
        return mask
    return torch.ones_like(module.weight)


def effective_weight(module: nn.Module) -> torch.Tensor:
    """Return the weight the layer computes with (``weight_orig * weight_mask`` when pruned)."""
    if prune.is_pruned(module) and hasattr(module, "weight_orig"):
        return module.weight_orig * module.weight_mask
    return module.weight


def apply_mask(module: nn.Module, mask: torch.Tensor) -> None:
    """AND ``mask`` into the module's weight mask, attaching one if the layer is not pruned yet."""
    weight = module.weight_orig if hasattr(module, "weight_orig") else module.weight
    if mask.shape != weight.shape:
        raise ValueError(
            f"mask of shape {tuple(mask.shape)} does not match weight of shape {tuple(weight.shape)}"
        )
    mask = mask.to(device=weight.device, dtype=weight.dtype)
    if hasattr(module, "weight_mask"):
        # Updating the buffer in place keeps one pre-hook per layer however often we prune.
        module.weight_mask.mul_(mask)
        with torch.no_grad():
            module.weight = module.weight_orig * module.weight_mask
    else:
        prune.custom_from_mask(module, "weight", mask)


def replace_mask(module: nn.Module, mask: torch.Tensor) -> None:
    """Set the module's weight mask to ``mask`` (weights pruned before may come back), attaching one if needed."""
    if hasattr(module, "weight_mask"):
        if mask.shape != module.weight_mask.shape:
            raise ValueError(f"mask of shape {tuple(mask.shape)} does not match weight of shape "
                             f"{tuple(module.weight_mask.shape)}")
        module.weight_mask.copy_(mask)
        with torch.no_grad():
            module.weight = module.weight_orig * module.weight_mask
    else:
        apply_mask(module, mask)


def apply_masks(model: nn.Module, masks: dict[str, torch.Tensor]) -> None:
    """AND each named mask into the matching layer of ``model``."""
    modules = dict(model.named_modules())
    unknown = sorted(set(masks) - set(modules))
    if unknown:
        raise ValueError(f"masks name layers that {type(model).__name__} lacks: {unknown}")
    for name, mask in masks.items():
        apply_mask(modules[name], mask)


def get_masks(model: nn.Module) -> dict[str, torch.Tensor]:
    """Return a copy of every attached weight mask, keyed by layer name."""
    return {
        name: m.weight_mask.detach().clone()
        for name, m in model.named_modules()
        if hasattr(m, "weight_mask")
    }


def make_permanent(model: nn.Module) -> nn.Module:
    """Fold masks into the weights (``prune.remove``) so the model carries plain zeros."""
    for module in model.modules():
        if prune.is_pruned(module) and hasattr(module, "weight_mask"):
            prune.remove(module, "weight")
    return model


@dataclass(frozen=True)
class LayerCount:
    """Kept and total weights of one layer."""

    kept: int
    total: int

    @property
    def sparsity(self) -> float:
        """Fraction of this layer's weights that are pruned."""
        return 1.0 - self.kept / self.total


def layer_counts(model: nn.Module, layers: dict[str, nn.Module] | None = None) -> dict[str, LayerCount]:
    """Return kept/total weight counts per prunable layer (a zero mask entry counts as pruned)."""
    layers = prunable_layers(model) if layers is None else layers
    return {
        name: LayerCount(int(current_mask(m).count_nonzero()), current_mask(m).numel())
        for name, m in layers.items()
    }


def layer_sparsity(model: nn.Module, layers: dict[str, nn.Module] | None = None) -> dict[str, float]:
    """Return the pruned fraction of each prunable layer's weights."""
    return {name: c.sparsity for name, c in layer_counts(model, layers).items()}


def weight_sparsity(model: nn.Module, layers: dict[str, nn.Module] | None = None) -> float:
    """Return pruned / prunable weights over all Linear/Conv layers (biases and BatchNorm excluded)."""
    counts = layer_counts(model, layers).values()
    total = sum(c.total for c in counts)
    return 1.0 - sum(c.kept for c in counts) / total
