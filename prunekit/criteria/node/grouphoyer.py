"""Group-HS (Yang et al. 2020, DeepHoyer): the group Hoyer-square regulariser over node groups.

For a weight tensor split into groups g (its rows: the nodes it feeds; or its columns: the nodes it
reads), ``H_G(w) = (Σ_g ‖w_g‖₂)² / Σ_g ‖w_g‖₂² = (Σ_g ‖w_g‖₂)² / ‖w‖₂²`` — the Hoyer-square measure of
the vector of group norms: scale-invariant, 1 when one group is nonzero, the number of groups when
all are equal. Like the authors' code (sourced from DeepHoyer), a layer's term is
``H_G(rows) + H_G(columns)`` and every Linear/Conv layer is regularised; a convolution's row is a
filter (output channel) and its column an input channel. The closed-form gradient is
``∂H_G/∂w = 2·(S₁/S₂)·w/‖w_g‖ − 2·(S₁²/S₂²)·w`` with ``S₁ = Σ_g ‖w_g‖``, ``S₂ = ‖w‖²`` (0 on an all-zero group).

The ``group-hs`` node criterion (:class:`GroupHoyerSquare`) carries the method's settings; the regulariser and
the cut run in the training loop (:mod:`prunekit.pruning.nodes_after`).
"""

from __future__ import annotations

import torch
from torch import nn

from prunekit.core.masks import effective_weight
from prunekit.core.node_masks import NodeSite
from prunekit.core.schedule import DEFAULT_STEPS
from prunekit.criteria.node.after_training import DEFAULT_FINETUNE_FRACTION, AfterTraining
from prunekit.criteria.node.base import NodeScoringContext, check_lambda, check_positive, register_node_criterion

ROWS, COLUMNS = 0, 1  # which dimension indexes the groups
DEFAULT_THRESHOLD = 1e-3  # Appendix F: Group-HS's (and HoyerSquare's) threshold


def group_norms(weight: torch.Tensor, dim: int) -> torch.Tensor:
    """The ℓ2 norm of every slice ``weight.select(dim, g)`` (rows: dim 0, columns: dim 1)."""
    if weight.dim() < 2 or dim not in (ROWS, COLUMNS):
        raise ValueError(f"group norms need a weight with >= 2 dimensions and dim 0 or 1, got shape "
                         f"{tuple(weight.shape)} and dim {dim!r}")
    return weight.movedim(dim, 0).reshape(weight.shape[dim], -1).norm(dim=1)


def _expand(norms: torch.Tensor, weight: torch.Tensor, dim: int) -> torch.Tensor:
    """Group norms broadcast back to every entry of their group."""
    shape = [1] * weight.dim()
    shape[dim] = -1
    return norms.reshape(shape)


class _GroupHoyerSquare(torch.autograd.Function):
    """``(Σ_g ‖w_g‖)² / ‖w‖²`` along one grouping dimension, with its closed-form gradient."""

    @staticmethod
    def forward(ctx, weight: torch.Tensor, dim: int) -> torch.Tensor:
        norms = group_norms(weight, dim)
        s1, s2 = norms.sum(), weight.square().sum()
        ctx.save_for_backward(weight, norms, s1, s2)
        ctx.dim = dim
        return torch.where(s2 > 0, s1.square() / s2.clamp_min(torch.finfo(weight.dtype).tiny), s2)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        weight, norms, s1, s2 = ctx.saved_tensors
        if not s2 > 0:
            return torch.zeros_like(weight), None
        inverse = torch.where(norms > 0, 1.0 / norms.clamp_min(torch.finfo(weight.dtype).tiny),
                              torch.zeros_like(norms))
        grad = weight * _expand(inverse, weight, ctx.dim) * (2 * s1 / s2) - weight * (2 * s1.square() / s2.square())
        return grad * grad_output, None


def group_hoyer_square(weight: torch.Tensor, dim: int) -> torch.Tensor:
    """``H_G`` of ``weight`` grouped along ``dim`` (0: rows, 1: columns); 0 for an all-zero tensor; differentiable."""
    group_norms(weight, dim)  # validates the shape and dim with a clear message
    return _GroupHoyerSquare.apply(weight, dim)


def layer_group_hoyer_square(weight: torch.Tensor) -> torch.Tensor:
    """One layer's Group-HS term: ``H_G(rows) + H_G(columns)`` (the authors' code)."""
    return group_hoyer_square(weight, ROWS) + group_hoyer_square(weight, COLUMNS)


def group_hoyer_square_penalty(layers: dict[str, nn.Module]) -> torch.Tensor:
    """``Σ_layers H_G(rows) + H_G(columns)`` over the weights the layers compute with."""
    return torch.stack([layer_group_hoyer_square(effective_weight(m)) for m in layers.values()]).sum()


def row_max_magnitude(weight: torch.Tensor) -> torch.Tensor:
    """``max_i |w_{j,i}|`` per row j: a node survives Group-HS's cut when this exceeds the threshold."""
    return weight.detach().abs().reshape(weight.shape[0], -1).amax(1)


@register_node_criterion
class GroupHoyerSquare(AfterTraining):
    """Group-HS (Yang et al. 2020): train with ``λ·Σ H_G``, cut nodes whose every weight has ``|w| ≤ threshold``.

    The cut keeps a node when the largest magnitude of its weight row exceeds the threshold (the
    authors' code: "any weight above 1e-3"; an ℓ∞ group norm), and every layer its best node. Its
    node sparsity follows from λ, which the paper sweeps over 10 log steps in [1e-6, 5].
    """

    name = "group-hs"
    description = "group Hoyer-square regulariser on node groups, then cut nodes with max|w| <= 1e-3 and fine-tune"
    targets_sparsity = False

    def __init__(self, steps: int = DEFAULT_STEPS, lam: float = 1e-4, threshold: float = DEFAULT_THRESHOLD,
                 finetune_fraction: float = DEFAULT_FINETUNE_FRACTION) -> None:
        super().__init__(steps, finetune_fraction)
        self.lam = check_lambda("Group-HS", lam)
        self.threshold = check_positive("Group-HS's threshold", threshold)

    def score(self, ctx: NodeScoringContext) -> dict[str, torch.Tensor]:
        """``max |w|`` of every node's incoming weights (what the threshold is applied to)."""
        return {name: row_max_magnitude(effective_weight(site.layer)) for name, site in ctx.sites.items()}

    def threshold_keep(self, sites: dict[str, NodeSite]) -> dict[str, torch.Tensor]:
        """Keep the nodes whose row has a weight above the threshold, and at least the best node of each layer."""
        keep = {}
        for name, site in sites.items():
            magnitude = row_max_magnitude(effective_weight(site.layer))
            alive = magnitude > self.threshold
            alive[int(magnitude.argmax())] = True
            keep[name] = alive
        return keep


__all__ = ["COLUMNS", "DEFAULT_THRESHOLD", "GroupHoyerSquare", "ROWS", "group_hoyer_square",
           "group_hoyer_square_penalty", "group_norms", "layer_group_hoyer_square", "row_max_magnitude"]
