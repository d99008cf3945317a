"""Shared layer factories and hyper-parameters for the Appendix-L networks."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from prunekit.core.ops import FastDropout

#: Negative slope of every LeakyReLU in the paper's networks (5 %).
NEGATIVE_SLOPE: float = 0.05
#: Dropout probability used throughout the paper's networks (30 %).
DROPOUT_P: float = 0.3


def act() -> nn.LeakyReLU:
    """Return a fresh, *non-inplace* LeakyReLU(0.05) (inplace breaks forward/backward hooks)."""
    return nn.LeakyReLU(negative_slope=NEGATIVE_SLOPE, inplace=False)


def dropout() -> nn.Dropout:
    """Return a fresh, non-inplace Dropout(0.3) (an ``nn.Dropout`` with a faster CPU mask)."""
    return FastDropout(p=DROPOUT_P, inplace=False)


def conv_bn_act(
    in_channels: int, out_channels: int, kernel_size: int, padding: int = 0
) -> list[nn.Module]:
    """Return ``[Conv2d, BatchNorm2d, LeakyReLU]`` (stride 1, with bias) as a list of modules."""
    return [
        nn.Conv2d(in_channels, out_channels, kernel_size=kernel_size, stride=1, padding=padding),
        nn.BatchNorm2d(out_channels),
        act(),
    ]


def linear_bn_act(in_features: int, out_features: int) -> list[nn.Module]:
    """Return ``[Linear, BatchNorm1d, LeakyReLU]`` as a list of modules."""
    return [nn.Linear(in_features, out_features), nn.BatchNorm1d(out_features), act()]


def classifier_head(in_features: int, hidden: Sequence[int], num_classes: int) -> nn.Sequential:
    """``Dropout → (Linear-BN-LeakyReLU → Dropout)* → Linear``: the heads of the paper's CNNs."""
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [dropout(), *linear_bn_act(in_features, width)]
        in_features = width
    layers += [dropout(), nn.Linear(in_features, num_classes)]
    return nn.Sequential(*layers)


class PooledConvNet(nn.Module):
    """``features → avgpool → flatten → classifier``; subclasses build the three parts."""

    features: nn.Module
    avgpool: nn.Module
    classifier: nn.Module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(N, C, H, W)`` images to ``(N, K)`` logits."""
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))
