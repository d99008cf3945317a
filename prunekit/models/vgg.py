"""VGG16 variant of Appendix L: 13 BN conv layers (last one 512->1024) and a 4096-wide head."""

from __future__ import annotations

from torch import nn

from ._layers import PooledConvNet, classifier_head, conv_bn_act

__all__ = ["VGG16", "VGG16_CFG"]

#: conv widths; ``"M"`` is MaxPool2d(2, 2).  No pool after the last block (Appendix L).
VGG16_CFG: tuple[int | str, ...] = (
    64, 64, "M",
    128, 128, "M",
    256, 256, 256, "M",
    512, 512, 512, "M",
    512, 512, 1024,
)  # fmt: skip


class VGG16(PooledConvNet):
    """Appendix-L VGG16; activations are non-inplace so forward hooks see intact tensors."""

    #: four 2x2 max-pools need at least 16 pixels per side.
    min_spatial: int = 16

    def __init__(self, input_shape: tuple[int, int, int], num_classes: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = input_shape[0]
        for item in VGG16_CFG:
            if item == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers += conv_bn_act(channels, int(item), 3, padding=1)
                channels = int(item)
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((2, 2))
        self.classifier = classifier_head(channels * 2 * 2, (4096, 4096), num_classes)

