"""Shared layer factories and hyper-parameters for the Appendix-L networks."""

from __future__ import annotations

from torch import nn

from prunekit.ops import FastDropout

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
