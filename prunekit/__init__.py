"""prunekit: pruning via iterative ranking of sensitivity statistics (SNIP-it / SNAP-it)."""

from prunekit.artifact import load, save
from prunekit.criteria import available_criteria, get_criterion
from prunekit.data import dataset_info, make_batches
from prunekit.models import available_models, build_model
from prunekit.masks import layer_sparsity, make_permanent, prunable_layers, weight_sparsity
from prunekit.nodes import node_sparsity, remove_lonely_connections
from prunekit.prunability import inspect
from prunekit.pruning import PruneResult, PruneStep, prune
from prunekit.schedule import snip_it_schedule
from prunekit.targets import Target, TargetReport, TargetResult
from prunekit.train import TrainConfig, evaluate, train

__version__ = "0.1.0"

__all__ = [
    "PruneResult",
    "PruneStep",
    "Target",
    "TargetReport",
    "TargetResult",
    "TrainConfig",
    "available_criteria",
    "available_models",
    "build_model",
    "dataset_info",
    "evaluate",
    "get_criterion",
    "inspect",
    "layer_sparsity",
    "load",
    "make_batches",
    "make_permanent",
    "node_sparsity",
    "prunable_layers",
    "prune",
    "remove_lonely_connections",
    "save",
    "snip_it_schedule",
    "train",
    "weight_sparsity",
]
