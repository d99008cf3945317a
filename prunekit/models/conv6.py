"""Conv6: three pairs of 3x3 conv layers (64, 128, 256) and a 256-256-K head."""

from __future__ import annotations

from torch import nn

from ._layers import PooledConvNet, classifier_head, conv_bn_act

__all__ = ["Conv6"]


class Conv6(PooledConvNet):
    """Appendix-L Conv6; activations are non-inplace so forward hooks see intact tensors."""

    #: two 2x2 max-pools need at least 4 pixels per side.
    min_spatial: int = 4

    def __init__(self, input_shape: tuple[int, int, int], num_classes: int) -> None:
        super().__init__()
        in_channels = input_shape[0]
        self.features = nn.Sequential(
            *conv_bn_act(in_channels, 64, 3, padding=1),
            *conv_bn_act(64, 64, 3, padding=1),
            nn.MaxPool2d(kernel_size=2, stride=2),
            *conv_bn_act(64, 128, 3, padding=1),
            *conv_bn_act(128, 128, 3, padding=1),
            nn.MaxPool2d(kernel_size=2, stride=2),
            *conv_bn_act(128, 256, 3, padding=1),
            *conv_bn_act(256, 256, 3, padding=1),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((3, 3))
        self.classifier = classifier_head(256 * 3 * 3, (256, 256), num_classes)

