"""Small models and data shared by the tests (imported; fixtures live in conftest.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from torch import nn


def mnist_root() -> Path | None:
    """The data root holding MNIST/raw, or None; PRUNEKIT_REQUIRE_DATA=1 turns absence into failure."""
    root = Path(os.environ.get("PRUNEKIT_DATA", "data"))
    if (root / "MNIST" / "raw").is_dir():
        return root
    if os.environ.get("PRUNEKIT_REQUIRE_DATA") == "1":
        pytest.fail(f"PRUNEKIT_REQUIRE_DATA=1 but MNIST is missing under {root}/MNIST/raw")
    return None


def tiny_mlp(seed: int = 0) -> nn.Module:
    """A small MLP with BatchNorm and dropout, like MLP5 but fast."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Flatten(), nn.Linear(64, 32), nn.BatchNorm1d(32), nn.LeakyReLU(0.05), nn.Dropout(0.3),
        nn.Linear(32, 32), nn.BatchNorm1d(32), nn.LeakyReLU(0.05), nn.Linear(32, 10),
    )


def tiny_cnn(seed: int = 0) -> nn.Module:
    """A small CNN with a flatten into a Linear layer."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.LeakyReLU(0.05),
        nn.Conv2d(4, 6, 3, padding=1), nn.BatchNorm2d(6), nn.LeakyReLU(0.05),
        nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(24, 10),
    )


def toy_data(n: int = 600, shape: tuple[int, ...] = (1, 8, 8), seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A learnable synthetic classification set: labels depend on the input."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, *shape, generator=g)
    w = torch.randn(x[0].numel(), 10, generator=g)
    y = (x.flatten(1) @ w).argmax(1)
    return x, y


class FoolsFirst:
    """A stand-in foolbox attack that fools the first ``k · ε`` images at each ε (no model is queried)."""

    def __init__(self, k: int):
        self.k = k

    def __call__(self, fmodel, images, labels, *, epsilons):
        success = torch.zeros(len(epsilons), len(images), dtype=torch.bool)
        for i, eps in enumerate(epsilons):
            success[i, : min(len(images), int(self.k * eps))] = True
        return None, None, success
