"""HoyerSquare (Yang et al. 2020, DeepHoyer): train with a Hoyer-square regulariser, prune at a threshold, fine-tune.

The regulariser of a layer's weights w is ``H_S(w) = (Σ|w_i|)² / Σw_i²``: scale-invariant, between 1
(one nonzero weight) and the number of weights (all equal), and its gradient pushes small weights to
zero. The training loss is ``L + λ·Σ_layers H_S(w_layer)``; after ``1 − finetune_fraction`` of the
budget (the paper: 70 of 80 epochs) every weight with ``|w| ≤ threshold`` (the paper's 1e-3,
Appendix F) is pruned and the remaining epochs fine-tune the survivors without the regulariser.
Its sparsity follows from λ, which the paper sweeps over 10 log steps in [1e-6, 5].
"""

from __future__ import annotations

import logging
import math

import numpy as np
import torch
from torch import nn

from prunekit.criteria.base import Criterion, ScoringContext, register
from prunekit.core.masks import effective_weight

log = logging.getLogger(__name__)

DEFAULT_LAMBDA = 1e-4
DEFAULT_THRESHOLD = 1e-3  # Appendix F: tuned over 7 log steps in [1e-5, 1e-2]
DEFAULT_FINETUNE_FRACTION = 10 / 80  # 70 epochs with the regulariser, 10 of fine-tuning
LAMBDA_GRID = tuple(float(v) for v in np.logspace(-6, math.log10(5.0), 10))  # Appendix F


class _HoyerSquare(torch.autograd.Function):
    """``(Σ|w|)² / Σw²`` with its closed-form gradient ``2·sign(w)·S1/S2 − 2·w·S1²/S2²``."""

    @staticmethod
    def forward(ctx, weight: torch.Tensor) -> torch.Tensor:
        s1 = weight.abs().sum()
        s2 = weight.square().sum()
        ctx.save_for_backward(weight, s1, s2)
        return torch.where(s2 > 0, s1.square() / s2.clamp_min(torch.finfo(weight.dtype).tiny), s2)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> torch.Tensor:
        weight, s1, s2 = ctx.saved_tensors
        if not s2 > 0:
            return torch.zeros_like(weight)
        grad = weight.sign().mul(2 * s1 / s2).sub_(weight, alpha=float(2 * s1.square() / s2.square()))
        return grad.mul_(grad_output)


def hoyer_square(weight: torch.Tensor) -> torch.Tensor:
    """The Hoyer-square measure ``(Σ|w|)² / Σw²`` of a tensor (0 for an all-zero tensor), differentiable."""
    return _HoyerSquare.apply(weight)


def hoyer_square_penalty(layers: dict[str, nn.Module]) -> torch.Tensor:
    """``Σ_layers H_S(w_layer)`` over the weights the layers compute with."""
    terms = [hoyer_square(effective_weight(m)) for m in layers.values()]
    return torch.stack(terms).sum()


def check_lambda(value: object) -> float:
    """Return λ as a finite float >= 0, else raise ValueError naming it."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0:
        raise ValueError(f"HoyerSquare's lam (λ) must be a finite number >= 0, got {value!r}")
    return float(value)


@register
class HoyerSquare(Criterion):
    """HoyerSquare: its settings (λ, threshold, fine-tuning share); the regulariser runs in the training loop."""

    name = "hoyersquare"
    needs_data = False
    description = "Hoyer-square regulariser during training, then prune |w| <= 1e-3 and fine-tune (after training)"
    timings = ("after",)
    targets_sparsity = False

    def __init__(self, steps: int = 0, lam: float = DEFAULT_LAMBDA, threshold: float = DEFAULT_THRESHOLD,
                 finetune_fraction: float = DEFAULT_FINETUNE_FRACTION) -> None:
        super().__init__(steps)
        self.lam = check_lambda(lam)
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not threshold > 0:
            raise ValueError(f"HoyerSquare's threshold must be a positive number, got {threshold!r}")
        if isinstance(finetune_fraction, bool) or not isinstance(finetune_fraction, (int, float)) \
                or not 0 <= finetune_fraction < 1:
            raise ValueError(f"finetune_fraction must be in [0, 1), got {finetune_fraction!r}")
        self.threshold = float(threshold)
        self.finetune_fraction = float(finetune_fraction)

    def score(self, ctx: ScoringContext) -> dict[str, torch.Tensor]:
        """|w| of the weights each layer computes with (what the threshold is applied to)."""
        with torch.no_grad():
            return {name: effective_weight(m).detach().abs() for name, m in ctx.layers.items()}

    def threshold_masks(self, layers: dict[str, nn.Module]) -> dict[str, torch.Tensor]:
        """Keep exactly the weights with ``|w| > threshold``."""
        with torch.no_grad():
            return {name: effective_weight(m).abs() > self.threshold for name, m in layers.items()}

    def __repr__(self) -> str:
        return f"HoyerSquare(lam={self.lam:g}, threshold={self.threshold:g}, finetune_fraction={self.finetune_fraction:g})"
