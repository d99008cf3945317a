"""ResNet18 of Appendix L: standard BasicBlocks with LeakyReLU(0.05) and a dropout/BN head."""

from __future__ import annotations

import torch
from torch import nn

from ._layers import act, classifier_head

__all__ = ["BasicBlock", "ResNet18"]


class BasicBlock(nn.Module):
    """conv3x3-BN-act-conv3x3-BN plus (projection) shortcut, activation after the addition."""

    def __init__(self, in_channels: int, out_channels: int, downsample: bool) -> None:
        super().__init__()
        stride = 2 if downsample else 1
        self.conv1 = nn.Conv2d(
            in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False
        )
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.act1 = act()
        self.conv2 = nn.Conv2d(
            out_channels, out_channels, kernel_size=3, stride=1, padding=1, bias=False
        )
        self.bn2 = nn.BatchNorm2d(out_channels)
        if downsample or in_channels != out_channels:
            self.shortcut: nn.Module = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )
        else:
            self.shortcut = nn.Identity()
        self.act2 = act()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the residual block."""
        out = self.act1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.act2(out + self.shortcut(x))


#: (in_channels, out_channels, downsample) of the eight blocks, as listed in Appendix L.
RESNET18_BLOCKS: tuple[tuple[int, int, bool], ...] = (
    (64, 64, False),
    (64, 64, False),
    (64, 128, True),
    (128, 128, False),
    (128, 256, True),
    (256, 256, False),
    (256, 512, True),
    (512, 512, False),
)


class ResNet18(nn.Module):
    """Appendix-L ResNet18; activations are non-inplace so forward hooks see intact tensors."""

    #: every stride-2 layer is padded, so any positive size works.
    min_spatial: int = 1

    def __init__(self, input_shape: tuple[int, int, int], num_classes: int) -> None:
        super().__init__()
        in_channels = input_shape[0]
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False),
            nn.BatchNorm2d(64),
            act(),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        )
        self.layers = nn.Sequential(*(BasicBlock(i, o, d) for i, o, d in RESNET18_BLOCKS))
        self.avgpool = nn.AdaptiveAvgPool2d((2, 2))
        self.classifier = classifier_head(512 * 2 * 2, (256,), num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(N, C, H, W)`` images to ``(N, K)`` logits."""
        x = self.stem(x)
        x = self.layers(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)
