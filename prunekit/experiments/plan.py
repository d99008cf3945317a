"""How a run prunes: a ``PruningPlan`` says what happens at the start of training, as a training-loop callback and
at its end, chosen by whether the run prunes weights or nodes and by its timing (one of its criterion's
``timings``)."""

from __future__ import annotations

import copy
import logging
from typing import Any

import torch
from torch import nn

from prunekit.core.determinism import single_threaded
from prunekit.core.masks import apply_mask, prunable_layers
from prunekit.core.timing import model_device
from prunekit.data import TensorBatches, dataset_info
from prunekit.experiments.config import NO_CRITERION, RunConfig, prunes_nodes_in_rounds
from prunekit.measure.training_flops import FlopsMeter, NodeFlopsMeter
from prunekit.models import build_model
from prunekit.pruning.ablations import apply_ablation
from prunekit.pruning.after import RegularisedThresholdPruning
from prunekit.pruning.before import PruneStep, prune, scoring_context
from prunekit.pruning.during import PruneDuringTraining
from prunekit.pruning.nodes_after import StructuredPruner, structured_pruner
from prunekit.structured import prune_nodes, shrink
from prunekit.training.loop import Callback

log = logging.getLogger(__name__)


def prune_options(config: RunConfig) -> dict[str, Any]:
    """The scoring settings shared by every way a run prunes."""
    return dict(samples=config.samples, batch_size=config.scoring_batch_size, include_first=config.include_first,
                include_last=config.include_last, score_mode=config.score_mode, seed=config.seed)


def prune_weights_before(model: nn.Module, config: RunConfig, scoring: TensorBatches) -> list[PruneStep]:
    """Prune ``model``'s weights at initialisation in place, then apply the config's ablation; the rounds it ran."""
    unpruned = copy.deepcopy(model) if config.ablation == "invert" else None
    result = prune(model, config.make_criterion(), config.sparsity, scoring, **prune_options(config))
    if config.ablation == "none":
        return result.steps
    layers = prunable_layers(model, include_first=config.include_first, include_last=config.include_last)
    dense_scores = None
    if unpruned is not None:  # scored after pruning, so the real mask is the one the plain run finds
        crit = config.make_criterion()
        with single_threaded():
            dense_scores = crit.score(scoring_context(unpruned, crit, scoring, **prune_options(config)))
    device = model_device(model)
    apply_ablation(config.ablation, model, layers, seed=config.seed, dense_scores=dense_scores,
                   fresh_model=lambda seed: _fresh_model(config, seed, device))
    return result.steps


def _fresh_model(config: RunConfig, seed: int, device: torch.device) -> nn.Module:
    """The run's architecture initialised from ``seed`` (for the reinit ablation); the global RNG is left as it was."""
    info = dataset_info(config.dataset)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_model(config.model, info.input_shape, info.num_classes).to(device)


def shrunk(model: nn.Module, config: RunConfig, keep_zero_weights: bool = False) -> nn.Module:
    """The physically smaller copy of a node-masked network (with ``keep_zero_weights``, weights that are
    exactly zero inside the surviving nodes stay masked, as CNIP-it pruned them)."""
    input_shape = dataset_info(config.dataset).input_shape
    example = torch.randn(2, *input_shape, generator=torch.Generator().manual_seed(config.seed))
    small = shrink(model, example.to(model_device(model)))
    if keep_zero_weights:
        for module in prunable_layers(small).values():
            zero = module.weight.detach() == 0
            if zero.any():
                apply_mask(module, ~zero)
    log.info("shrunk %s from %d to %d parameters", config.model, sum(p.numel() for p in model.parameters()),
             sum(p.numel() for p in small.parameters()))
    return small


class PruningPlan:
    """A run that prunes nothing; the subclasses override the moments at which theirs prunes."""

    def __init__(self, config: RunConfig) -> None:
        self.config = config

    def at_start(self, model: nn.Module, scoring: TensorBatches) -> tuple[nn.Module, list[Any]]:
        """The network training starts with and the pruning rounds run before it."""
        return model, []

    def callback(self, scoring: TensorBatches) -> Callback | None:
        """The training-loop callback that prunes during (or after) training, if any."""
        return None

    def flops_meter(self, pruner: Callback | None, samples_per_epoch: int) -> FlopsMeter:
        """The meter of the training FLOPs (registered after ``pruner``, so it sees each epoch's masks)."""
        return FlopsMeter(dataset_info(self.config.dataset).input_shape, samples_per_epoch)

    def at_finish(self, model: nn.Module, pruner: Callback | None) -> nn.Module:
        """The network as it is evaluated, once training is over."""
        return model


class WeightsBefore(PruningPlan):
    """Prune weights at initialisation (and apply the config's ablation), then train the masked network."""

    def at_start(self, model: nn.Module, scoring: TensorBatches) -> tuple[nn.Module, list[Any]]:
        """The network pruned in place and the rounds that pruned it."""
        return model, prune_weights_before(model, self.config, scoring)


class WeightsDuring(PruningPlan):
    """Prune weights in rounds every τ epochs of training (IMP rewinds the survivors)."""

    def callback(self, scoring: TensorBatches) -> Callback:
        """The pruner that scores on the same stream as pruning before training."""
        config = self.config
        return PruneDuringTraining(config.make_criterion(), config.sparsity, scoring, interval=config.prune_interval,
                                   rewind_epoch=config.rewind_epoch, **prune_options(config))


class WeightsAfter(PruningPlan):
    """Train with a regulariser, then cut the weights under its threshold."""

    def callback(self, scoring: TensorBatches) -> Callback:
        """The regularising pruner (it needs no scoring data)."""
        config = self.config
        return RegularisedThresholdPruning(config.make_criterion(), include_first=config.include_first,
                                           include_last=config.include_last)


class NodesBefore(PruningPlan):
    """Prune nodes at initialisation, then train the physically shrunk network."""

    def at_start(self, model: nn.Module, scoring: TensorBatches) -> tuple[nn.Module, list[Any]]:
        """The shrunk network and the rounds that pruned its nodes."""
        config = self.config
        crit = config.make_criterion()
        result = prune_nodes(model, crit, config.sparsity, scoring if crit.needs_data else None,
                             samples=config.samples, batch_size=config.scoring_batch_size, steps=config.steps,
                             score_mode=config.score_mode, seed=config.seed)
        return shrunk(model, config, keep_zero_weights=crit.combined), result.steps


class NodesInTraining(PruningPlan):
    """Mask nodes in the training loop (a structured baseline, or SNAP-it every τ epochs), then shrink the
    network for evaluation."""

    def callback(self, scoring: TensorBatches) -> StructuredPruner:
        """The node pruner; rounds every τ epochs only for a criterion that prunes nodes in rounds."""
        config = self.config
        crit = config.make_criterion()
        in_rounds = config.prune_at == "during" and prunes_nodes_in_rounds(crit)
        interval = config.prune_interval if in_rounds else None
        return structured_pruner(crit, config.sparsity, scoring, interval=interval, **prune_options(config))

    def flops_meter(self, pruner: Callback | None, samples_per_epoch: int) -> FlopsMeter:
        """A meter that counts each step's network as the shrunk one it equals."""
        return NodeFlopsMeter(dataset_info(self.config.dataset).input_shape, samples_per_epoch, pruner)

    def at_finish(self, model: nn.Module, pruner: Callback | None) -> nn.Module:
        """The masks made final and the network shrunk to its surviving nodes."""
        pruner.finalize(model)
        return shrunk(model, self.config)


# (structured, prune_at) → plan; prune_at is one of the criterion's timings (RunConfig checks it).
PLANS: dict[tuple[bool, str], type[PruningPlan]] = {
    (False, "none"): PruningPlan,
    (False, "before"): WeightsBefore,
    (False, "during"): WeightsDuring,
    (False, "after"): WeightsAfter,
    (True, "before"): NodesBefore,
    (True, "during"): NodesInTraining,
    (True, "after"): NodesInTraining,
}


def pruning_plan(config: RunConfig) -> PruningPlan:
    """The plan of ``config``: what its run prunes, and when."""
    plan = PLANS.get((config.structured, config.prune_at))
    if plan is None:
        raise ValueError(f"a structured run needs a node criterion, got criterion {config.criterion!r} "
                         f"(the dense baseline is criterion {NO_CRITERION!r} with structured=False)")
    return plan(config)


__all__ = [
    "PLANS",
    "NodesBefore",
    "NodesInTraining",
    "PruningPlan",
    "WeightsAfter",
    "WeightsBefore",
    "WeightsDuring",
    "prune_options",
    "prune_weights_before",
    "pruning_plan",
    "shrunk",
]
