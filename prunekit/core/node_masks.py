"""Node masks: pruning whole output units of Linear layers and output channels of convolutions.

A *node* is an output feature of a Linear layer or an output channel of a convolution. Pruning
a node zeroes its row of the layer's weight mask (the ``torch.nn.utils.prune`` convention of
:mod:`prunekit.core.masks`, so weight-sparsity and FLOPs metrics keep working), its bias entry, and,
where a BatchNorm directly follows the layer, that BatchNorm's weight and bias entries. The node's
normalised pre-activation is then exactly zero for any input, in train and eval mode, so removing
it physically (:func:`prunekit.pruning.shrink`) computes the same function whenever the
activation maps 0 to 0 (ReLU, LeakyReLU, ReLU6, ...).

Hidden nodes are the outputs of every prunable layer except the output layer(s), whose outputs
reach the model output without passing another prunable layer (found with torch.fx; the last
defined layer if the model cannot be traced). The inputs of the first layer are not nodes of any
layer, so they are never pruned.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import torch
from torch import fx, nn
from torch.nn.utils import prune

from prunekit.core.masks import apply_mask, current_mask, prunable_layers
from prunekit.core.liveness import consumer_map

log = logging.getLogger(__name__)

_NORM_TYPES = (nn.modules.batchnorm._BatchNorm,)


@dataclass(frozen=True)
class NodeSite:
    """A hidden layer, the BatchNorm that directly follows it (if any) and its number of nodes."""

    name: str
    layer: nn.Module
    norm: nn.Module | None

    @property
    def size(self) -> int:
        """Number of nodes (output features / channels) of the layer."""
        return int(current_mask(self.layer).shape[0])

    @property
    def gate_module(self) -> nn.Module:
        """Where the auxiliary gate sits: on the BatchNorm output if one follows, else the layer output."""
        return self.norm if self.norm is not None else self.layer


def output_layers(model: nn.Module) -> list[str]:
    """Prunable layers whose outputs are the model's outputs (found by torch.fx; else the last one)."""
    layers = prunable_layers(model)
    consumers = consumer_map(model)
    outputs = [name for name, info in (consumers or {}).items() if info.reaches_output]
    return outputs or [list(layers)[-1]]


def hidden_layers(model: nn.Module) -> dict[str, nn.Module]:
    """Prunable layers whose outputs are hidden nodes: every Linear/Conv but the output layer(s)."""
    layers = prunable_layers(model)
    outputs = set(output_layers(model))
    hidden = {name: m for name, m in layers.items() if name not in outputs}
    if not hidden:
        raise ValueError(
            f"{type(model).__name__} has no hidden nodes to prune: the outputs of its prunable layers "
            f"{list(layers)} are the model's outputs (the classes)"
        )
    return hidden


def _norm_after_fx(model: nn.Module, names: set[str]) -> dict[str, str] | None:
    """Map each named layer to the BatchNorm that alone reads its output, via torch.fx; None if untraceable."""
    try:
        graph = fx.Tracer().trace(model)
    except Exception as err:  # noqa: BLE001 - any tracing failure falls back to definition order
        log.warning("could not trace %s with torch.fx (%s); pairing BatchNorms by definition order",
                    type(model).__name__, err)
        return None
    modules = dict(model.named_modules())
    found = {}
    for node in graph.nodes:
        if node.op != "call_module" or node.target not in names or len(node.users) != 1:
            continue
        user = next(iter(node.users))
        if user.op == "call_module" and isinstance(modules[str(user.target)], _NORM_TYPES):
            found[str(node.target)] = str(user.target)
    return found


def _norm_after_order(model: nn.Module, names: set[str]) -> dict[str, str]:
    """Fallback pairing: a BatchNorm defined right after the layer (next leaf module) follows it."""
    found, previous = {}, None
    for name, module in model.named_modules():
        if next(module.children(), None) is not None:
            continue
        if previous in names and isinstance(module, _NORM_TYPES):
            found[previous] = name
        previous = name
    return found


def node_sites(model: nn.Module) -> dict[str, NodeSite]:
    """Every hidden layer with the BatchNorm that directly follows it, in definition order."""
    layers = hidden_layers(model)
    pairs = _norm_after_fx(model, set(layers))
    if pairs is None:
        pairs = _norm_after_order(model, set(layers))
    modules = dict(model.named_modules())
    sites = {}
    for name, layer in layers.items():
        norm = modules.get(pairs[name]) if name in pairs else None
        if norm is not None and (norm.num_features != current_mask(layer).shape[0] or not norm.affine):
            log.warning("BatchNorm %s after %s cannot zero its nodes (affine=%s, %d features); gating "
                        "the layer output instead", pairs[name], name, norm.affine, norm.num_features)
            norm = None
        sites[name] = NodeSite(name, layer, norm)
    return sites


def node_alive(site: NodeSite) -> torch.Tensor:
    """Boolean flags: which nodes of the site keep at least one incoming weight."""
    mask = current_mask(site.layer)
    return (mask.reshape(mask.shape[0], -1) != 0).any(1)


def node_masks(model: nn.Module, sites: dict[str, NodeSite] | None = None) -> dict[str, torch.Tensor]:
    """Alive flags of every hidden layer's nodes, keyed by layer name."""
    sites = node_sites(model) if sites is None else sites
    return {name: node_alive(site) for name, site in sites.items()}


def and_parameter_mask(module: nn.Module, name: str, keep: torch.Tensor) -> None:
    """AND ``keep`` into the ``torch.nn.utils.prune`` mask of ``module.<name>``, attaching one if needed."""
    mask = getattr(module, f"{name}_mask", None)
    if mask is not None:
        mask.mul_(keep.to(mask))
        with torch.no_grad():
            setattr(module, name, getattr(module, f"{name}_orig") * mask)
    else:
        param = getattr(module, name)
        prune.custom_from_mask(module, name, keep.to(device=param.device, dtype=param.dtype))


def _row_mask(layer: nn.Module, keep: torch.Tensor) -> torch.Tensor:
    """A weight-shaped mask that keeps whole rows (output nodes) where ``keep`` is True."""
    shape = current_mask(layer).shape
    rows = keep.to(device=current_mask(layer).device, dtype=current_mask(layer).dtype)
    return rows.reshape(-1, *([1] * (len(shape) - 1))).expand(shape).clone()


def apply_node_mask(site: NodeSite, keep: torch.Tensor) -> None:
    """AND a node mask into the site: weight rows, bias entries and the following BatchNorm's affine."""
    keep = keep.to(torch.bool)
    if keep.shape != (site.size,):
        raise ValueError(f"node mask for {site.name} has shape {tuple(keep.shape)}, expected ({site.size},)")
    apply_mask(site.layer, _row_mask(site.layer, keep))
    if getattr(site.layer, "bias", None) is not None:
        and_parameter_mask(site.layer, "bias", keep)
    if site.norm is not None:
        and_parameter_mask(site.norm, "weight", keep)
        and_parameter_mask(site.norm, "bias", keep)


def apply_node_masks(
    model: nn.Module, masks: dict[str, torch.Tensor], sites: dict[str, NodeSite] | None = None
) -> None:
    """AND each named node mask into the matching hidden layer of ``model`` (masks only shrink)."""
    sites = node_sites(model) if sites is None else sites
    unknown = sorted(set(masks) - set(sites))
    if unknown:
        raise ValueError(f"node masks name layers that are not hidden layers of {type(model).__name__}: "
                         f"{unknown}; hidden layers: {list(sites)}")
    for name, keep in masks.items():
        apply_node_mask(sites[name], keep)


@dataclass(frozen=True)
class NodeCount:
    """Alive and total nodes of one hidden layer."""

    alive: int
    total: int

    @property
    def sparsity(self) -> float:
        """Fraction of this layer's nodes that are pruned."""
        return 1.0 - self.alive / self.total


def pruned_node_counts(model: nn.Module, sites: dict[str, NodeSite] | None = None) -> dict[str, NodeCount]:
    """Alive/total nodes per hidden layer (a node with an all-zero weight-mask row counts as pruned)."""
    return {name: NodeCount(int(alive.sum()), alive.numel()) for name, alive in node_masks(model, sites).items()}


def pruned_node_sparsity(model: nn.Module, sites: dict[str, NodeSite] | None = None) -> float:
    """Pruned / total hidden nodes, from the weight masks (cf. liveness in :mod:`prunekit.core.liveness`)."""
    counts = pruned_node_counts(model, sites).values()
    return 1.0 - sum(c.alive for c in counts) / sum(c.total for c in counts)


def check_channel_multiple(value: object) -> int:
    """Return ``value`` if it is a positive int, else raise ValueError naming it."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"channel_multiple must be a positive int (1 = no rounding), got {value!r}")
    return value


def _revive_nodes(site: NodeSite, nodes: torch.Tensor) -> None:
    """Un-prune the given nodes of a site: weight rows, bias entries and BatchNorm affine come back."""
    with torch.no_grad():
        for module, names in ((site.layer, ("weight", "bias")), (site.norm, ("weight", "bias"))):
            for name in names if module is not None else ():
                mask = getattr(module, f"{name}_mask", None)
                if mask is not None:
                    mask[nodes] = 1
                    setattr(module, name, getattr(module, f"{name}_orig") * mask)


def _original_row_norms(site: NodeSite) -> torch.Tensor:
    """L1 norm of every node's original (unmasked) incoming weights."""
    weight = getattr(site.layer, "weight_orig", site.layer.weight).detach()
    return weight.reshape(weight.shape[0], -1).abs().sum(1)


def round_kept_channels(model: nn.Module, multiple: int) -> dict[str, int]:
    """Un-prune each hidden layer's best pruned nodes until its kept count is a multiple of ``multiple``.

    Returns how many nodes each layer got back. A layer never exceeds its original width.
    """
    check_channel_multiple(multiple)
    revived = {}
    for name, site in node_sites(model).items():
        alive = node_alive(site)
        kept = int(alive.sum())
        extra = min(site.size, math.ceil(kept / multiple) * multiple) - kept
        if extra > 0:
            norms = torch.where(alive, -math.inf, _original_row_norms(site))
            _revive_nodes(site, torch.topk(norms, extra).indices)
        revived[name] = max(extra, 0)
    log.info("rounding to multiples of %d revived %d nodes", multiple, sum(revived.values()))
    return revived
