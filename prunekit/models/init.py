"""Orthogonal initialisation used for every network of the paper."""

from __future__ import annotations

from torch import nn

from ._layers import NEGATIVE_SLOPE

__all__ = ["init_orthogonal_", "leaky_relu_gain"]

_BN_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def leaky_relu_gain(negative_slope: float = NEGATIVE_SLOPE) -> float:
    """Return ``nn.init.calculate_gain('leaky_relu', negative_slope)``."""
    return nn.init.calculate_gain("leaky_relu", negative_slope)


def init_orthogonal_(model: nn.Module, negative_slope: float = NEGATIVE_SLOPE) -> nn.Module:
    """Initialise ``model`` in place and return it.

    Every ``nn.Linear`` / ``nn.Conv2d`` (any ``_ConvNd``) weight gets
    ``nn.init.orthogonal_`` scaled by the LeakyReLU gain (conv kernels are
    flattened to ``(out, in * k * k)`` by ``orthogonal_``); their biases are
    zeroed.  Affine BatchNorm layers get weight 1 and bias 0.  The result is
    deterministic given ``torch.manual_seed``.
    """
    gain = leaky_relu_gain(negative_slope)
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.modules.conv._ConvNd)):
            nn.init.orthogonal_(module.weight, gain=gain)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, _BN_TYPES) and module.affine:
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    return model
