"""AlexNet variant of Appendix L: five BN conv layers and a 4096-wide head."""

from __future__ import annotations

from torch import nn

from ._layers import PooledConvNet, classifier_head, conv_bn_act

__all__ = ["AlexNet"]


class AlexNet(PooledConvNet):
    """Appendix-L AlexNet; activations are non-inplace so forward hooks see intact tensors."""

    #: two MaxPool2d(3, 2) layers need at least 7 pixels per side.
    min_spatial: int = 7

    def __init__(self, input_shape: tuple[int, int, int], num_classes: int) -> None:
        super().__init__()
        in_channels = input_shape[0]
        self.features = nn.Sequential(
            *conv_bn_act(in_channels, 64, 5, padding=2),
            nn.MaxPool2d(kernel_size=3, stride=2),
            *conv_bn_act(64, 192, 5, padding=2),
            nn.MaxPool2d(kernel_size=3, stride=2),
            *conv_bn_act(192, 384, 3, padding=1),
            *conv_bn_act(384, 256, 3, padding=1),
            *conv_bn_act(256, 512, 3, padding=1),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((2, 2))
        self.classifier = classifier_head(512 * 2 * 2, (4096, 4096), num_classes)

