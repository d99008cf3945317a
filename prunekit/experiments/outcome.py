"""What a finished run reports: its metrics against the unpruned network, its final scores and its resources."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from prunekit.core.liveness import node_sparsity
from prunekit.core.masks import current_mask, prunable_layers
from prunekit.core.timing import Stopwatch
from prunekit.data import dataset_info
from prunekit.experiments.config import RunConfig
from prunekit.experiments.loading import RunData
from prunekit.experiments.record import mask_digest
from prunekit.measure.memory import MemorySampler
from prunekit.measure.metrics import (
    TRAINING_PASSES,
    csr_size_bits,
    dense_size_bits,
    inference_flops,
    peak_memory_bytes,
)
from prunekit.measure.network import inference_seconds, training_memory_bytes
from prunekit.structured import hidden_layers
from prunekit.training.loop import History, evaluate


@dataclass(frozen=True)
class DenseReference:
    """What the unpruned network measures: the denominators of every reduction a record reports."""

    inference_flops: int
    bits: float
    layer_weights: dict[str, int]
    hidden_nodes: dict[str, int]


def dense_reference(model: nn.Module, input_shape: tuple[int, ...]) -> DenseReference:
    """Measure the network before anything is pruned."""
    return DenseReference(
        inference_flops=inference_flops(model, input_shape, sparse=False),
        bits=dense_size_bits(model),
        layer_weights={n: m.weight.numel() for n, m in prunable_layers(model).items()},
        hidden_nodes=_hidden_widths(model),
    )


def _hidden_widths(model: nn.Module) -> dict[str, int]:
    """Output width of every hidden layer ({} for a network without hidden layers)."""
    try:
        return {n: m.weight.shape[0] for n, m in hidden_layers(model).items()}
    except ValueError:
        return {}


def _kept_weights(model: nn.Module) -> dict[str, int]:
    """Surviving weights per prunable layer (unmasked weights of a shrunk layer all count)."""
    return {n: int(current_mask(m).count_nonzero()) for n, m in prunable_layers(model).items()}


def _sparsities(model: nn.Module, dense: DenseReference, structured: bool) -> tuple[float, float, dict[str, float]]:
    """Weight sparsity, node sparsity and per-layer sparsity against the unpruned network."""
    kept = _kept_weights(model)
    layers = {n: 1.0 - kept.get(n, 0) / total for n, total in dense.layer_weights.items()}
    weights = 1.0 - sum(kept.values()) / sum(dense.layer_weights.values())
    if not structured:
        return weights, node_sparsity(model), layers
    # physically removed nodes: hidden widths of the shrunk network against the unpruned ones
    widths = {n: m.weight.shape[0] for n, m in prunable_layers(model).items() if n in dense.hidden_nodes}
    nodes = 1.0 - sum(widths.values()) / sum(dense.hidden_nodes.values())
    return weights, nodes, layers


def model_metrics(model: nn.Module, input_shape: tuple[int, ...], dense: DenseReference,
                   structured: bool = False) -> tuple[dict[str, Any], dict[str, float]]:
    """Sparsity, FLOPs and size of the trained model against the unpruned one, and the per-layer sparsity."""
    weights, nodes, layers = _sparsities(model, dense, structured)
    metrics = {
        "mask_digest": mask_digest(model),
        "weight_sparsity": weights,
        "node_sparsity": nodes,
        "inference_flops": inference_flops(model, input_shape, sparse=True),
        "dense_inference_flops": dense.inference_flops,
        "csr_bits": csr_size_bits(model),
        "dense_bits": dense.bits,
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    return metrics, layers


def training_memory(model: nn.Module, config: RunConfig) -> int:
    """Bytes one training step of ``model`` holds at the run's batch size."""
    shape = dataset_info(config.dataset).input_shape
    return training_memory_bytes(model, shape, config.batch_size, seed=config.seed)


def memory_metrics(dense: nn.Module, start: nn.Module, config: RunConfig) -> dict[str, int]:
    """``train_memory_bytes`` of the network training starts with and ``dense_train_memory_bytes`` of the unpruned
    one (:func:`prunekit.measure.network.training_memory_bytes`, the run's batch size)."""
    return {"train_memory_bytes": training_memory(start, config),
            "dense_train_memory_bytes": training_memory(dense, config)}


@dataclass(frozen=True)
class Scores:
    """Loss and accuracy of the trained network: test (or held-out) and, when it trained, training."""

    test_loss: float
    accuracy: float
    train_loss: float | None
    train_accuracy: float | None


def final_scores(history: History, model: nn.Module, data: RunData, config: RunConfig) -> Scores:
    """The last epoch's scores, or an evaluation of the untrained network when it trained no epoch."""
    final = history.epochs[-1] if history.epochs else None
    if final is None:
        test_loss, accuracy = evaluate(model, data.test, torch.device(config.device), config.precision)
        return Scores(test_loss, accuracy, None, None)
    return Scores(final.test_loss, final.test_acc, final.train_loss, final.train_acc)


def run_metrics(model: nn.Module, config: RunConfig, data: RunData, dense: DenseReference, scores: Scores,
                training_flops: int, memory: dict[str, int]) -> tuple[dict[str, Any], dict[str, float]]:
    """Every metric of a record (scores, sparsity, FLOPs, size, memory, sample counts) and the per-layer sparsity."""
    input_shape = dataset_info(config.dataset).input_shape
    measured, layers = model_metrics(model, input_shape, dense, config.structured)
    samples = data.train.num_samples
    metrics = {
        "accuracy": scores.accuracy,
        "test_loss": scores.test_loss,
        "train_accuracy": scores.train_accuracy,
        "train_loss": scores.train_loss,
        **measured,
        "training_flops": training_flops,
        "dense_training_flops": TRAINING_PASSES * dense.inference_flops * samples * config.epochs,
        **memory,
        "train_samples": samples,
        "test_samples": data.test.num_samples,
    }
    return metrics, layers


def run_resources(model: nn.Module, config: RunConfig, seconds: dict[str, float], total: Stopwatch,
                  sampler: MemorySampler) -> dict[str, Any]:
    """Wall times (``seconds`` of pruning, training and evaluation; inference; the whole run) and memory."""
    device = torch.device(config.device)
    input_shape = dataset_info(config.dataset).input_shape
    return {
        **seconds,
        "inference_seconds": inference_seconds(model, input_shape, config.batch_size),
        "total_seconds": total.elapsed(),
        # on CUDA the sampler resets torch's peak counter between samples, so the run's peak is the larger one;
        # on CPU the kernel's peak RSS is exact (statm samples count pages differently and can read a hair above it)
        "peak_memory_bytes": (max(peak_memory_bytes(device), sampler.peak_bytes) if device.type == "cuda"
                              else peak_memory_bytes(device)),
        "peak_memory_kind": "cuda_allocated" if device.type == "cuda" else "process_rss",
        **sampler.as_resources(),  # median_memory_bytes, sampled_peak_memory_bytes, memory_samples, memory_kind
    }


__all__ = [
    "DenseReference",
    "Scores",
    "dense_reference",
    "final_scores",
    "memory_metrics",
    "model_metrics",
    "run_metrics",
    "run_resources",
    "training_memory",
]
