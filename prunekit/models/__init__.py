"""The six networks of the SNIP-it paper (Appendix L) behind a name registry.

All networks use LeakyReLU(0.05), Dropout(0.3) and BatchNorm after every
hidden Linear/Conv layer.  Activations are deliberately **not** inplace: an
inplace LeakyReLU overwrites the tensor seen by forward hooks, which breaks
the node-gradient statistics computed by the pruning criteria.  Every model
maps a float ``(N, C, H, W)`` tensor to raw logits ``(N, K)`` and traces with
``torch.fx``.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from prunekit.core.determinism import single_threaded

from ._layers import DROPOUT_P, NEGATIVE_SLOPE
from .alexnet import AlexNet
from .conv6 import Conv6
from .init import init_orthogonal_, leaky_relu_gain
from .lenet import LeNet5
from .mlp import MLP5
from .resnet import BasicBlock, ResNet18
from .vgg import VGG16

__all__ = [
    "DROPOUT_P",
    "MODEL_NAMES",
    "NEGATIVE_SLOPE",
    "AlexNet",
    "BasicBlock",
    "Conv6",
    "LeNet5",
    "MLP5",
    "ResNet18",
    "VGG16",
    "available_models",
    "build_model",
    "init_orthogonal_",
    "leaky_relu_gain",
]

_REGISTRY: dict[str, Callable[..., nn.Module]] = {
    "mlp5": MLP5,
    "lenet5": LeNet5,
    "conv6": Conv6,
    "resnet18": ResNet18,
    "vgg16": VGG16,
    "alexnet": AlexNet,
}

MODEL_NAMES: tuple[str, ...] = tuple(_REGISTRY)


def available_models() -> list[str]:
    """Return the accepted model names (lower case, in paper order)."""
    return list(MODEL_NAMES)


def _is_int(value: object) -> bool:
    """True for ints that are not bools."""
    return isinstance(value, int) and not isinstance(value, bool)


def _check_input_shape(input_shape: object) -> tuple[int, int, int]:
    """Validate ``(C, H, W)`` and return it as a tuple of ints."""
    if (
        not isinstance(input_shape, (tuple, list))
        or len(input_shape) != 3
        or not all(_is_int(v) and v > 0 for v in input_shape)
    ):
        raise ValueError(
            f"input_shape must be (C, H, W) with three positive ints, got {input_shape!r}"
        )
    c, h, w = input_shape
    return int(c), int(h), int(w)


def build_model(name: str, input_shape: tuple[int, int, int], num_classes: int) -> nn.Module:
    """Build the Appendix-L network ``name`` for ``input_shape`` (C, H, W) and ``num_classes``.

    The name is case-insensitive.  The returned model is orthogonally
    initialised (see :func:`init_orthogonal_`), hence deterministic given
    ``torch.manual_seed``.  Raises ``ValueError`` for an unknown name, a
    malformed input shape, ``num_classes < 2`` or an image too small for the
    network's pooling stack.
    """
    key = name.lower() if isinstance(name, str) else None
    if key not in _REGISTRY:
        raise ValueError(f"unknown model name {name!r}; accepted names: {', '.join(MODEL_NAMES)}")
    shape = _check_input_shape(input_shape)
    if not _is_int(num_classes) or num_classes < 2:
        raise ValueError(f"num_classes must be an int >= 2, got {num_classes!r}")
    cls = _REGISTRY[key]
    min_side = int(getattr(cls, "min_spatial", 1))
    _, h, w = shape
    if h < min_side or w < min_side:
        raise ValueError(
            f"input_shape {input_shape!r} is too small for {key}: "
            f"height and width must be at least {min_side}"
        )
    with single_threaded():  # LAPACK's QR splits its work by thread count: same weights on any count
        model = cls(shape, num_classes)
        return init_orthogonal_(model)
