"""prunekit: pruning via iterative ranking of sensitivity statistics (SNIP-it / SNAP-it)."""

from prunekit._version import __version__
from prunekit.pruning.artifact import load, save
from prunekit.criteria import available_criteria, get_criterion
from prunekit.data import dataset_info, make_batches
from prunekit.models import available_models, build_model
from prunekit.core.masks import layer_sparsity, make_permanent, prunable_layers, weight_sparsity
from prunekit.core.liveness import node_sparsity, remove_lonely_connections
from prunekit.pruning.prunability import inspect
from prunekit.pruning.before import PruneResult, PruneStep, prune
from prunekit.core.schedule import snip_it_schedule
from prunekit.pruning.targets import Target, TargetReport, TargetResult
from prunekit.training.loop import TrainConfig, evaluate, train


__all__ = [
    "__version__",
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
