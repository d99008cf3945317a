"""Sanity-check ablations of a pruning mask (Frankle et al. 2021, "Pruning neural networks at initialization:
why are we missing the mark?"): does a mask carry more than its per-layer ratios?

- ``shuffle``: permute each layer's mask at random (same number kept per layer, positions lost);
- ``reinit``: keep the mask, re-draw the weights from the model's initialisation with another seed;
- ``invert``: in each layer keep the weights the criterion ranks *lowest* on the unpruned network, as many
  as the real mask keeps there (for an iterative criterion this inverts its first round's ranking).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch
from torch import nn

from prunekit.core.masks import current_mask, replace_mask

log = logging.getLogger(__name__)

ABLATIONS = ("none", "shuffle", "reinit", "invert")
REINIT_SEED_OFFSET = 7_919  # the re-drawn weights must differ from the ones the mask was found on


def check_ablation(name: object) -> str:
    """Return the lower-case ablation name, else raise ValueError listing the accepted ones."""
    key = name.strip().lower() if isinstance(name, str) else None
    if key not in ABLATIONS:
        raise ValueError(f"ablation must be one of {', '.join(ABLATIONS)}; got {name!r}")
    return key


def shuffle_masks(layers: dict[str, nn.Module], generator: torch.Generator) -> None:
    """Permute every layer's mask uniformly at random (its kept count is unchanged)."""
    for module in layers.values():
        mask = current_mask(module)
        order = torch.randperm(mask.numel(), generator=generator).to(mask.device)
        replace_mask(module, mask.reshape(-1)[order].reshape(mask.shape).clone())


@torch.no_grad()
def reinitialise_weights(model: nn.Module, fresh: nn.Module) -> None:
    """Copy every parameter and buffer of ``fresh`` (an unpruned model of the same architecture) into
    ``model``, keeping ``model``'s masks."""
    source = fresh.state_dict()
    for key, target in model.state_dict(keep_vars=True).items():
        if key.endswith("_mask"):
            continue
        plain = key[: -len("_orig")] if key.endswith("weight_orig") else key
        if plain not in source or source[plain].shape != target.shape:
            raise ValueError(f"cannot re-initialise {key!r}: the fresh model has no matching tensor")
        target.copy_(source[plain])
        if key.endswith("weight_orig"):
            module = model.get_submodule(key.rsplit(".", 1)[0]) if "." in key else model
            module.weight = module.weight_orig * module.weight_mask


def invert_masks(layers: dict[str, nn.Module], dense_scores: dict[str, torch.Tensor]) -> None:
    """In each layer keep the lowest-scoring weights, as many as its current mask keeps."""
    for name, module in layers.items():
        mask = current_mask(module)
        kept = int(mask.count_nonzero())
        flat = dense_scores[name].reshape(-1).float()
        inverted = torch.zeros(flat.numel(), dtype=mask.dtype, device=mask.device)
        inverted[torch.sort(flat, stable=True).indices[:kept].to(mask.device)] = 1
        replace_mask(module, inverted.reshape(mask.shape))


def apply_ablation(name: str, model: nn.Module, layers: dict[str, nn.Module], *, seed: int,
                   fresh_model: Callable[[int], nn.Module] | None = None,
                   dense_scores: dict[str, torch.Tensor] | None = None) -> None:
    """Apply the named ablation to a pruned model in place (``none`` does nothing)."""
    name = check_ablation(name)
    if name == "shuffle":
        shuffle_masks(layers, torch.Generator().manual_seed(seed))
    elif name == "reinit":
        if fresh_model is None:
            raise ValueError("the reinit ablation needs fresh_model(seed) to draw new weights")
        reinitialise_weights(model, fresh_model(seed + REINIT_SEED_OFFSET))
    elif name == "invert":
        if dense_scores is None:
            raise ValueError("the invert ablation needs the criterion's scores on the unpruned network")
        invert_masks(layers, dense_scores)
    if name != "none":
        log.info("ablation %s applied", name)


__all__ = ["ABLATIONS", "apply_ablation", "check_ablation", "invert_masks", "reinitialise_weights", "shuffle_masks"]
