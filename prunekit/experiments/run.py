"""One experiment run: ``run()`` takes a ``RunConfig`` through data → model → pruning plan → training → record."""

from __future__ import annotations

import copy
import logging
import os

import torch
from torch import nn

from prunekit.core.determinism import deterministic_algorithms
from prunekit.core.labels import check_labels
from prunekit.core.timing import Stopwatch
from prunekit.data import dataset_info
from prunekit.experiments.config import RunConfig
from prunekit.experiments.loading import RunData, load_run_data
from prunekit.experiments.outcome import (
    dense_reference,
    final_scores,
    run_metrics,
    run_resources,
    training_memory,
)
from prunekit.experiments.plan import prune_weights_before, pruning_plan
from prunekit.experiments.record import RunRecord, json_safe, provenance
from prunekit.experiments.runcount import note_runs
from prunekit.measure.memory import MemorySampler
from prunekit.models import build_model
from prunekit.training.loop import TrainConfig, resolve_device, seed_everything, train

log = logging.getLogger(__name__)


def initial_model(config: RunConfig, data: RunData, device: torch.device) -> nn.Module:
    """The run's network at initialisation: seeded exactly as ``run`` seeds it."""
    info = dataset_info(config.dataset)
    seed_everything(config.seed)
    return build_model(config.model, info.input_shape, info.num_classes).to(device)


def training_start(config: RunConfig, data_root: str | os.PathLike | None = None) -> tuple[nn.Module, nn.Module]:
    """The unpruned network of a run and the one its training starts with (pruned, and shrunk for a structured
    run, when it prunes before training; the unpruned one itself otherwise), as ``run`` builds them."""
    device = resolve_device(config.device)
    data = load_run_data(config, device, data_root)
    model = initial_model(config, data, device)
    dense = copy.deepcopy(model)
    start, _ = pruning_plan(config).at_start(model, data.scoring)
    return dense, start


def pruned_at_init(config: RunConfig, data_root: str | os.PathLike | None = None) -> nn.Module:
    """The network a before-training run starts training from (same seed, data stream and mask as ``run``);
    its ``mask_digest`` equals the stored record's."""
    if config.prune_at != "before":
        raise ValueError(f"pruned_at_init needs a config that prunes before training, got prune_at {config.prune_at!r}")
    device = resolve_device(config.device)
    data = load_run_data(config, device, data_root)
    model = initial_model(config, data, device)
    prune_weights_before(model, config, data.scoring)
    return model


def _train_config(config: RunConfig, progress: bool) -> TrainConfig:
    """The training-loop settings of a run."""
    return TrainConfig(epochs=config.epochs, lr=config.lr, weight_decay=config.weight_decay,
                       grad_clip=config.grad_clip, amp=config.amp, device=config.device, progress=progress,
                       precision=config.precision)


def _reset_peak_memory(device: torch.device) -> None:
    """Start CUDA peak-memory accounting afresh (process RSS on CPU cannot be reset)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def run(config: RunConfig, *, progress: bool = True, data_root: str | os.PathLike | None = None,
        keep_model: bool = False) -> RunRecord:
    """Build, prune (if asked), train and evaluate one configuration; return everything it measured
    (and, with ``keep_model``, the trained network as ``record.model``). With ``config.deterministic`` the
    run uses deterministic kernels and the global switches are restored afterwards."""
    with deterministic_algorithms(config.deterministic):
        return _run(config, progress=progress, data_root=data_root, keep_model=keep_model)


def _run(config: RunConfig, *, progress: bool, data_root: str | os.PathLike | None, keep_model: bool) -> RunRecord:
    """``run`` inside its determinism switches."""
    config = config.resolved()  # the record states the device and numeric mode the run computed in
    device = torch.device(config.device)
    total = Stopwatch(device).start()
    data = load_run_data(config, device, data_root)
    model = initial_model(config, data, device)
    check_labels(model, data.train, data.test)
    dense = dense_reference(model, dataset_info(config.dataset).input_shape)
    dense_memory = training_memory(model, config)
    log.info("run %s: %s on %s, %s at %.4f (%s), %d epochs, seed %d", config.key, config.model, config.dataset,
             config.criterion, config.sparsity, config.prune_at, config.epochs, config.seed)

    plan = pruning_plan(config)
    with Stopwatch(device) as prune_watch:
        model, steps = plan.at_start(model, data.scoring)
    start_memory = training_memory(model, config)
    _reset_peak_memory(device)  # after the probes above, which run the dense network at batch size

    pruner = plan.callback(data.scoring)
    # The meter comes after the pruner: it measures the masks each epoch starts with, after any pruning at
    # its end, so the training FLOPs of a "during" run fall step by step.
    meter = plan.flops_meter(pruner, data.train.num_samples)
    sampler = MemorySampler()  # memory during training, every few optimiser steps (median: Figure 21)
    callbacks = [c for c in (pruner, meter, sampler) if c is not None]
    with Stopwatch(device) as train_watch:
        history = train(model, data.train, data.test, _train_config(config, progress), callbacks)
    model = plan.at_finish(model, pruner)
    prune_seconds = prune_watch.seconds
    if pruner is not None:
        steps = list(pruner.steps_done)
        prune_seconds = sum(s.seconds for s in steps)  # also inside train_seconds

    with Stopwatch(device) as eval_watch:
        scores = final_scores(history, model, data, config)
    memory = {"train_memory_bytes": start_memory, "dense_train_memory_bytes": dense_memory}
    metrics, layers = run_metrics(model, config, data, dense, scores, sum(meter.per_epoch), memory)
    seconds = {"prune_seconds": prune_seconds, "train_seconds": train_watch.seconds,
               "eval_seconds": eval_watch.seconds}
    resources = run_resources(model, config, seconds, total, sampler)
    record = RunRecord(config, json_safe(metrics), layers, json_safe(history.as_records()),
                       json_safe([s.as_dict() for s in steps]), resources, provenance(device),
                       model=model if keep_model else None)
    log.info("run %s done: accuracy %.4f, weight sparsity %.4f, %.1fs", config.key, scores.accuracy,
             metrics["weight_sparsity"], resources["total_seconds"])
    note_runs(trained=1)
    return record


__all__ = ["initial_model", "pruned_at_init", "run", "training_start"]
