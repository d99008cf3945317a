"""prunekit: pruning via iterative ranking of sensitivity statistics (SNIP-it / SNAP-it)."""

from prunekit.criteria import available_criteria, get_criterion
from prunekit.masks import layer_sparsity, make_permanent, prunable_layers, weight_sparsity
from prunekit.nodes import node_sparsity, remove_lonely_connections
from prunekit.pruning import PruneResult, PruneStep, prune
from prunekit.schedule import snip_it_schedule

__version__ = "0.1.0"

__all__ = [
    "PruneResult",
    "PruneStep",
    "available_criteria",
    "get_criterion",
    "layer_sparsity",
    "make_permanent",
    "node_sparsity",
    "prunable_layers",
    "prune",
    "remove_lonely_connections",
    "snip_it_schedule",
    "weight_sparsity",
]
