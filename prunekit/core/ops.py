"""Small tensor operations the hot training loop needs faster than stock PyTorch offers on CPU."""

from __future__ import annotations

import torch
import torch.fx
import torch.nn.functional as F
from torch import nn

_RANDOM_BITS = 15  # per int16 lane of a random int64 (random_() leaves the top bit of each int64 at 0)


def dropout_keep_mask(shape: torch.Size, p: float, device: torch.device) -> torch.Tensor:
    """Boolean keep-mask with P(keep) = 1 − p, drawn four lanes per random int64 from torch's generator.

    CPU ``bernoulli_`` draws one Mersenne-Twister number per element and dominates a dropout MLP's
    epoch; sixteen bits per element are plenty for a dropout probability (resolution 2⁻¹⁵).
    """
    numel = 1
    for size in shape:
        numel *= size
    words = torch.empty((numel + 3) // 4, dtype=torch.int64, device=device).random_()
    lanes = words.view(torch.int16)[:numel] & ((1 << _RANDOM_BITS) - 1)
    return (lanes >= round(p * (1 << _RANDOM_BITS))).view(shape)


def fast_dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Inverted dropout with the cheap CPU mask; ``F.dropout`` off the CPU and in eval mode."""
    if not training or p == 0.0 or x.device.type != "cpu":
        return F.dropout(x, p, training)
    if p == 1.0:
        return x * 0.0
    keep = dropout_keep_mask(x.shape, p, x.device)
    return x * keep.to(x.dtype).mul_(1.0 / (1.0 - p))


# Traced graphs (torch.fx, dependency analysis) see one opaque call instead of its device branch.
torch.fx.wrap("fast_dropout")


class FastDropout(nn.Dropout):
    """``nn.Dropout`` with a cheaper CPU mask; elsewhere (and in eval mode) it is ``F.dropout``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Zero each element with probability p and scale survivors by 1/(1 − p) while training."""
        if self.inplace:
            return F.dropout(x, self.p, self.training, self.inplace)
        return fast_dropout(x, self.p, self.training)
