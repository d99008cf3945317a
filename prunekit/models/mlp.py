"""MLP5: four 512-wide hidden layers (Linear-BN-LeakyReLU-Dropout) and a linear output."""

from __future__ import annotations

import torch
from torch import nn

from ._layers import dropout, linear_bn_act

__all__ = ["MLP5"]

HIDDEN: int = 512


class MLP5(nn.Module):
    """Appendix-L MLP5; activations are non-inplace so forward hooks see intact tensors."""

    min_spatial: int = 1

    def __init__(self, input_shape: tuple[int, int, int], num_classes: int) -> None:
        super().__init__()
        c, h, w = input_shape
        layers: list[nn.Module] = []
        in_features = c * h * w
        for _ in range(4):
            layers += [*linear_bn_act(in_features, HIDDEN), dropout()]
            in_features = HIDDEN
        layers.append(nn.Linear(HIDDEN, num_classes))
        self.classifier = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(N, C, H, W)`` images to ``(N, K)`` logits."""
        x = torch.flatten(x, 1)
        return self.classifier(x)
