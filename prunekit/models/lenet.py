"""LeNet5 with BatchNorm, LeakyReLU(0.05), Dropout(0.3) and a (3, 3) adaptive pool."""

from __future__ import annotations

from torch import nn

from ._layers import PooledConvNet, classifier_head, conv_bn_act

__all__ = ["LeNet5"]


class LeNet5(PooledConvNet):
    """Appendix-L LeNet5; activations are non-inplace so forward hooks see intact tensors."""

    #: smallest H and W that survive conv(5,p2)-pool2-conv5-pool2-conv5.
    min_spatial: int = 28

    def __init__(self, input_shape: tuple[int, int, int], num_classes: int) -> None:
        super().__init__()
        in_channels = input_shape[0]
        self.features = nn.Sequential(
            *conv_bn_act(in_channels, 6, 5, padding=2),
            nn.MaxPool2d(kernel_size=2, stride=2),
            *conv_bn_act(6, 16, 5),
            nn.MaxPool2d(kernel_size=2, stride=2),
            *conv_bn_act(16, 120, 5),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((3, 3))
        self.classifier = classifier_head(120 * 3 * 3, (84,), num_classes)


