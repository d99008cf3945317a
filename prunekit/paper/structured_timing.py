"""Time columns of the structured tables: each run's final network timed side by side with the unpruned one.

A run's own timings were taken while it trained, under whatever load the machine had then, and with
the thread count of its sweep; their ratios say more about the machine than about the method. Here the
final architecture of each stored run is rebuilt from its record and every network is timed in one
process, the networks' passes interleaved, so a load change hits all of them alike:

- the per-layer widths come from the record's per-layer weight sparsities: in a chain network (every
  layer reads the previous one's outputs; MLP5, LeNet5, Conv6, VGG16, AlexNet) a layer keeps the
  fraction ``f_in · f_out`` of its weights, so the kept output fraction of each layer follows in
  order. The rebuilt network must have exactly the record's parameter count, else a ValueError names
  the run (a residual network, or a run that also pruned single weights, like CNIP-it);
- timing needs only the shapes: the rebuilt network keeps the first ``width`` nodes of each layer of
  a freshly initialised model, shrunk physically.

``inference`` is an eval-mode forward pass of a batch, ``training step`` a forward and backward pass
plus an Adam step on that batch; each is the median of ``repeats`` interleaved passes. A run's
training time follows where its network's history is known: pruned before training, it trains the
final network throughout; cut once (EfficientConvNets, Group-HS), it trains dense until the cut and
the final network after it. Where the network shrank gradually (GateDecorators, SNAP-it during) or
carried gates (L0) the final architecture alone cannot time it, and the reduction is NaN.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from prunekit.data import dataset_info
from prunekit.core.masks import prunable_layers
from prunekit.models import build_model
from prunekit.measure.network import (
    DEFAULT_BATCH_SIZE,
    batch_seconds,
    interleaved_medians,
    parameter_count,
    random_batch,
)
from prunekit.core.node_masks import apply_node_mask, node_sites
from prunekit.pruning.shrink import shrink
from prunekit.core.timing import Stopwatch

log = logging.getLogger(__name__)

DEFAULT_REPEATS = 15
_GATED = ("gatedecorators", "l0")  # train with node gates, which the rebuilt final network lacks


@dataclass(frozen=True)
class Architecture:
    """A stored run's final network: model, dataset, the kept width of every hidden layer and a network of that
    shape (freshly initialised, physically shrunk)."""

    key: str
    model: str
    dataset: str
    widths: Mapping[str, int]
    network: nn.Module


def chain_widths(net: nn.Module, layer_sparsity: Mapping[str, float]) -> dict[str, int]:
    """Kept width of every hidden layer of the unpruned chain network ``net``, from its per-layer weight sparsities."""
    sites = node_sites(net)
    missing = [name for name in prunable_layers(net) if name not in layer_sparsity]
    if missing:
        raise ValueError(f"the record has no weight sparsity for layer(s) {missing} of {type(net).__name__}")
    widths, kept_inputs = {}, 1.0
    for name in prunable_layers(net):
        if name not in sites:
            continue
        size = sites[name].size
        width = max(1, min(size, round((1.0 - float(layer_sparsity[name])) / kept_inputs * size)))
        widths[name] = width
        kept_inputs = width / size
    return widths


def _fresh(model: str, dataset: str, seed: int = 0) -> nn.Module:
    """An unpruned ``model`` for ``dataset``'s inputs, initialised from ``seed``."""
    info = dataset_info(dataset)
    torch.manual_seed(seed)
    return build_model(model, info.input_shape, info.num_classes)


def shrunk_to_widths(net: nn.Module, widths: Mapping[str, int], input_shape: Sequence[int]) -> nn.Module:
    """A physically shrunk copy of ``net`` keeping the first ``widths[name]`` nodes of each named hidden layer
    (``net`` keeps the node masks)."""
    sites = node_sites(net)
    unknown = sorted(set(widths) - set(sites))
    if unknown:
        raise ValueError(f"widths name layers that are not hidden layers of {type(net).__name__}: {unknown}; "
                         f"hidden: {list(sites)}")
    for name, width in widths.items():
        if not 1 <= int(width) <= sites[name].size:
            raise ValueError(f"width of {name} must be in [1, {sites[name].size}], got {width!r}")
        apply_node_mask(sites[name], torch.arange(sites[name].size) < int(width))
    return shrink(net, random_batch(input_shape, 2), check=False)


def build_architecture(model: str, dataset: str, widths: Mapping[str, int], seed: int = 0) -> nn.Module:
    """A freshly initialised ``model`` physically shrunk to ``widths`` (the first nodes of each hidden layer)."""
    return shrunk_to_widths(_fresh(model, dataset, seed), widths, dataset_info(dataset).input_shape)


def record_architecture(record: object) -> Architecture:
    """The final architecture of a stored structured run, checked against the record's parameter count."""
    config, metrics = record.config, record.metrics
    net = _fresh(config.model, config.dataset)
    widths = chain_widths(net, record.layer_sparsity)
    network = shrunk_to_widths(net, widths, dataset_info(config.dataset).input_shape)
    rebuilt = parameter_count(network)
    if rebuilt != int(metrics["parameters"]):
        raise ValueError(f"run {record.key} ({config.criterion}): widths read from its layer sparsities give "
                         f"{rebuilt:,} parameters, the record has {int(metrics['parameters']):,}; its network is not "
                         f"a chain of node-pruned layers (residual, or single weights pruned too)")
    return Architecture(record.key, config.model, config.dataset, widths, network)


def _step_seconds(model: nn.Module, optimizer: torch.optim.Optimizer, inputs: torch.Tensor,
                  targets: torch.Tensor) -> float:
    """Wall seconds of one training step (forward, backward, Adam) in train mode."""
    model.train()
    with Stopwatch(inputs.device) as watch:
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(inputs), targets).backward()
        optimizer.step()
    return watch.seconds


def interleaved_seconds(models: Sequence[nn.Module], inputs: torch.Tensor, repeats: int = DEFAULT_REPEATS,
                        num_classes: int = 10) -> tuple[list[float], list[float]]:
    """Median seconds of an inference pass and of a training step per model, every model's passes interleaved."""
    targets = torch.randint(0, num_classes, (inputs.shape[0],), generator=torch.Generator().manual_seed(0))
    tasks = []
    for model in models:
        optimizer = torch.optim.Adam(model.parameters())
        tasks += [lambda m=model: batch_seconds(m, inputs, repeats=1, warmup=0),
                  lambda m=model, o=optimizer: _step_seconds(m, o, inputs, targets)]
    medians = interleaved_medians(tasks, repeats)
    return medians[0::2], medians[1::2]


def training_time_reduction(record: object, dense_step: float, final_step: float, dense_epochs: int) -> float:
    """One dense run's training time (``dense_epochs`` epochs) over the run's, from per-step times of the dense and
    the final network; NaN where the run's network shrank gradually or carried gates."""
    config = record.config
    if config.prune_at == "before":
        return dense_epochs * dense_step / (config.epochs * final_step)
    if len(record.prune_steps) != 1 or config.criterion in _GATED:
        return float("nan")
    cut = float(record.prune_steps[0]["epoch"])
    return dense_epochs * dense_step / (cut * dense_step + (config.epochs - cut) * final_step)


def structured_times(records: Sequence[object], dense_epochs: int, batch_size: int = DEFAULT_BATCH_SIZE,
                     repeats: int = DEFAULT_REPEATS) -> pd.DataFrame:
    """Per stored structured run: inference-time and training-time reductions against the unpruned network, its
    final network rebuilt and timed beside the dense one now (NaN where the record cannot give its widths)."""
    archs, skipped = [], []
    for record in records:
        try:
            archs.append(record_architecture(record))
        except ValueError as err:
            skipped.append(record.key)
            log.info("not timed: %s", err)
    times = time_reductions(archs, batch_size, repeats)
    by_key = {r.key: r for r in records}
    times["training_time_reduction"] = [
        training_time_reduction(by_key[k], d, f, dense_epochs)
        for k, d, f in zip(times["key"], times["dense_train_step_seconds"], times["train_step_seconds"])]
    missing = pd.DataFrame({"key": skipped})
    return pd.concat([times, missing], ignore_index=True) if skipped else times


def time_reductions(architectures: Sequence[Architecture], batch_size: int = DEFAULT_BATCH_SIZE,
                    repeats: int = DEFAULT_REPEATS) -> pd.DataFrame:
    """Per architecture: inference and training-step seconds, its unpruned network's, and the reductions against
    them (× = dense ÷ pruned), all timed side by side."""
    rows = []
    groups: dict[tuple[str, str], list[Architecture]] = {}
    for arch in architectures:
        groups.setdefault((arch.model, arch.dataset), []).append(arch)
    for (model, dataset), members in groups.items():
        info = dataset_info(dataset)
        nets = [_fresh(model, dataset)] + [a.network for a in members]
        inputs = random_batch(info.input_shape, batch_size)
        inference, steps = interleaved_seconds(nets, inputs, repeats, info.num_classes)
        log.info("timed %d %s networks on %s side by side", len(nets), model, dataset)
        for arch, seconds, step in zip(members, inference[1:], steps[1:]):
            rows.append({"key": arch.key, "inference_seconds": seconds, "train_step_seconds": step,
                         "dense_inference_seconds": inference[0], "dense_train_step_seconds": steps[0],
                         "inference_time_reduction": inference[0] / seconds,
                         "train_step_time_reduction": steps[0] / step})
    return pd.DataFrame(rows, columns=["key", "inference_seconds", "train_step_seconds", "dense_inference_seconds",
                                       "dense_train_step_seconds", "inference_time_reduction",
                                       "train_step_time_reduction"])


__all__ = ["Architecture", "build_architecture", "chain_widths", "interleaved_seconds", "record_architecture",
           "shrunk_to_widths", "structured_times", "time_reductions", "training_time_reduction"]
