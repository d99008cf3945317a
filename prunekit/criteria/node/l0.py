"""L0 regularisation (Louizos et al. 2018) on nodes: hard-concrete gates with an expected-L0 penalty.

Two penalties: ``"node-share"`` (the default, ``λ·Σ_j P(z_j≠0) / N_nodes``: the expected share of hidden
nodes kept) and ``"per-weight"``, the authors' own (``L0Conv2d._reg_w`` of AMLab-Amsterdam/L0_regularization):
``(1/N)·Σ_s Σ_j P(z_j≠0)·(λ_s·n_j + ½·prior·‖θ_j‖²)`` with N the training samples, n_j and θ_j the
parameters node j's gate switches off (its weight row or filter and its bias entry).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import nn

from prunekit.core.masks import current_mask, effective_weight
from prunekit.core.node_masks import NodeSite
from prunekit.core.schedule import DEFAULT_STEPS
from prunekit.criteria.node.base import (
    NodeCriterion,
    NodeScoringContext,
    check_fraction,
    check_lambda,
    check_positive,
    register_node_criterion,
)
from prunekit.criteria.node.gates import (
    DEFAULT_DROPRATE_INIT,
    DEFAULT_TEMPERATURE,
    HardConcreteGates,
    hard_concrete_mean,
    prob_nonzero,
)

PENALTIES = ("node-share", "per-weight")


def _effective_bias(layer: nn.Module) -> torch.Tensor | None:
    """The bias the layer computes with (``bias_orig * bias_mask`` when masked), or None."""
    if getattr(layer, "bias_orig", None) is not None:
        return layer.bias_orig * layer.bias_mask
    return getattr(layer, "bias", None)


def node_parameter_counts(site: NodeSite) -> torch.Tensor:
    """n_j: the unmasked weights of node j's row (filter) plus its bias entry, the parameters its gate switches off."""
    mask = current_mask(site.layer)
    counts = mask.reshape(mask.shape[0], -1).sum(1)
    bias_mask = getattr(site.layer, "bias_mask", None)
    if bias_mask is not None:
        counts = counts + bias_mask
    elif getattr(site.layer, "bias", None) is not None:
        counts = counts + 1
    return counts.detach()


def node_squared_norms(site: NodeSite) -> torch.Tensor:
    """‖θ_j‖²: the squared norm of node j's weight row and bias entry as the layer computes with them."""
    weight = effective_weight(site.layer)
    norms = weight.reshape(weight.shape[0], -1).square().sum(1)
    bias = _effective_bias(site.layer)
    return norms if bias is None else norms + bias.square()


def per_weight_penalty(gates: HardConcreteGates, lams: Mapping[str, float], prior: float, samples: int,
                       counts: Mapping[str, torch.Tensor] | None = None) -> torch.Tensor:
    """``(1/N)·Σ_s Σ_j P(z_j≠0)·(λ_s·n_j + ½·prior·‖θ_j‖²)`` over the gated sites (N = ``samples``)."""
    terms = []
    for name, log_alpha in gates.params.items():
        site = gates.sites[name]
        cost = lams[name] * (node_parameter_counts(site) if counts is None else counts[name]).to(log_alpha)
        if prior:
            cost = cost + 0.5 * prior * node_squared_norms(site)
        terms.append((prob_nonzero(log_alpha, gates.temperature) * cost).sum())
    return torch.stack(terms).sum() / samples


def _layer_factors(layer_lams: object) -> tuple[float, ...] | None:
    """Parse ``"10,0.5,0.1"`` into per-site factors (None stays None), else raise ValueError naming the value."""
    if layer_lams is None:
        return None
    if not isinstance(layer_lams, str):
        raise ValueError(f"L0's layer_lams must be a comma-separated string of factors >= 0 (e.g. '10,0.5,0.1,10') "
                         f"or None, got {layer_lams!r}")
    factors = []
    for text in layer_lams.split(","):
        try:
            factor = float(text)
        except ValueError:
            factor = math.nan
        if not math.isfinite(factor) or factor < 0:
            raise ValueError(f"L0's layer_lams must be comma-separated finite numbers >= 0 (e.g. '10,0.5,0.1,10'), "
                             f"got {text.strip()!r} in {layer_lams!r}")
        factors.append(factor)
    return tuple(factors)


def _check_prior(prior: object) -> float:
    """The weight prior's precision as a finite float >= 0, else raise ValueError naming it."""
    ok = isinstance(prior, (int, float)) and not isinstance(prior, bool) and math.isfinite(prior)
    if not ok or prior < 0:
        raise ValueError(f"L0's prior (the weight prior's precision) must be a finite number >= 0, got {prior!r}")
    return float(prior)


@register_node_criterion
class L0(NodeCriterion):
    """L0 regularisation (Louizos et al. 2018) on nodes: hard-concrete gates and an expected-L0 penalty.

    Trained for twice the budget; the nodes whose test-time gate is exactly 0 are removed at the end
    and the others' gate values folded into the network. Its node sparsity follows from λ. Options:
    ``penalty`` "node-share" (``λ·E[L0] / N_nodes``) or "per-weight" (the authors' penalty, module docstring);
    ``layer_lams`` per-site factors on λ and ``prior`` the weight prior's precision, both per-weight only;
    ``ema`` β of an exponential moving average of all trainable parameters, loaded (bias-corrected) at the end.
    """

    name = "l0"
    needs_data = False
    description = ("hard-concrete gates per node with an expected-L0 penalty (node share, or the authors' per-weight "
                   "penalty), optional parameter EMA, 2× epochs, zero gates removed")
    timings = ("during",)
    targets_sparsity = False
    epoch_factor = 2

    def __init__(self, steps: int = DEFAULT_STEPS, lam: float = 1.0, droprate_init: float = DEFAULT_DROPRATE_INIT,
                 temperature: float = DEFAULT_TEMPERATURE, penalty: str = "node-share", layer_lams: str | None = None,
                 prior: float = 0.0, ema: float = 0.0) -> None:
        super().__init__(steps)
        self.lam = check_lambda("L0", lam)
        self.droprate_init = check_fraction("droprate_init", droprate_init, low=1e-6, high=1.0)
        self.temperature = check_positive("L0's temperature", temperature)
        if penalty not in PENALTIES:
            raise ValueError(f"L0's penalty must be one of {', '.join(map(repr, PENALTIES))}; got {penalty!r}")
        self.penalty = penalty
        self.layer_lams = layer_lams
        self.layer_factors = _layer_factors(layer_lams)
        self.prior = _check_prior(prior)
        self.ema = check_fraction("L0's ema (β of the parameter average, 0 = off)", ema)
        if penalty == "node-share" and (layer_lams is not None or self.prior != 0.0):
            raise ValueError(f"L0's layer_lams and prior act only with penalty='per-weight'; got layer_lams="
                             f"{layer_lams!r}, prior={prior!r} with penalty='node-share'")

    @property
    def per_weight(self) -> bool:
        """True when the penalty is the authors' per-weight expected L0."""
        return self.penalty == "per-weight"

    def site_lams(self, sites: Mapping[str, NodeSite]) -> dict[str, float]:
        """λ_s of every gated site in network order: ``lam × factor_s`` (``lam`` everywhere without layer_lams)."""
        if self.layer_factors is None:
            return {name: self.lam for name in sites}
        if len(self.layer_factors) != len(sites):
            raise ValueError(f"L0's layer_lams {self.layer_lams!r} gives {len(self.layer_factors)} factors but the "
                             f"network has {len(sites)} gated sites: {', '.join(sites)}")
        return {name: self.lam * factor for name, factor in zip(sites, self.layer_factors)}

    def gates(self, sites: dict[str, NodeSite], generator: torch.Generator | None = None) -> HardConcreteGates:
        """Fresh, unattached hard-concrete gates for ``sites`` with this method's settings."""
        return HardConcreteGates(sites, self.droprate_init, self.temperature, generator)

    def score(self, ctx: NodeScoringContext) -> dict[str, torch.Tensor]:
        """The test-time gate of every node (0: removed); needs gates trained by L0 regularisation."""
        scores = {}
        for name, site in ctx.sites.items():
            log_alpha = getattr(site.gate_module, HardConcreteGates.attribute, None)
            if log_alpha is None:
                raise ValueError(f"L0 scores the hard-concrete gates that L0 regularisation trains, and {name} has "
                                 f"none: run it through RunConfig(criterion='l0', structured=True)")
            scores[name] = hard_concrete_mean(log_alpha.detach())
        return scores


__all__ = ["L0", "PENALTIES", "node_parameter_counts", "node_squared_norms", "per_weight_penalty"]
