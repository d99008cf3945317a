"""Analyses of pruned networks (paper Section 5, Appendices A and K): elasticity curves, saliency maps,
per-layer remaining weights, adversarial robustness (cost reductions are the costs chapter's: prunekit.paper.chapters.costs)."""

from prunekit.analysis.elasticity import elasticities, elasticity_curve, inelastic_fractions
from prunekit.analysis.layers import interpolate_at, layer_remaining
from prunekit.analysis.robustness import (
    InputSpec,
    attack_success,
    check_attack_inputs,
    cw_attack,
    denormalise,
    foolbox_model,
)
from prunekit.analysis.saliency import eval_mode, saliency_maps

__all__ = [
    "InputSpec",
    "attack_success",
    "check_attack_inputs",
    "cw_attack",
    "denormalise",
    "elasticities",
    "elasticity_curve",
    "eval_mode",
    "foolbox_model",
    "inelastic_fractions",
    "interpolate_at",
    "layer_remaining",
    "saliency_maps",
]
